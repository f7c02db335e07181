"""``python -m livelike_profiles.fake --port 8765 ...``: see ``cli.main``."""

from .cli import main

raise SystemExit(main())
