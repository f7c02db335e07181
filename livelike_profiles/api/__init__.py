"""The DRF API: the caller's own profile (views, serializers, parsers, errors, schema)."""
