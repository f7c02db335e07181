"""A module whose import raises (not ImportError): a dotted path into it is a bad setting."""

raise RuntimeError("tests.fails_on_import fails on import, as it is meant to")
