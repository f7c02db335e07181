"""Sphinx configuration of the documentation site: ``make docs`` (warnings are errors)."""

from __future__ import annotations

import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import livelike_profiles  # noqa: E402  (after the path: the package of this checkout)

project = "django-livelike-profiles"
author = "django-livelike-profiles contributors"
copyright = "the django-livelike-profiles contributors"
release = livelike_profiles.__version__

extensions = ["myst_parser"]
source_suffix = {".md": "markdown"}
# Headings get anchors, so that pages link to each other's sections: [x](page.md#a-heading).
myst_heading_anchors = 4
myst_enable_extensions = ["colon_fence", "deflist"]
# Every page must be in a table of contents, every reference resolve: a warning fails the build.
nitpicky = True
exclude_patterns = ["_build"]

html_theme = "furo"
html_title = "django-livelike-profiles"
html_show_sourcelink = False
