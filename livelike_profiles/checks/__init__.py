"""System checks; importing this package registers them all (``AppConfig.ready`` does).

:mod:`.settings` checks ``LIVELIKE`` as a whole and the middleware, with each
key's value checked in :mod:`.values` and the background settings in
:mod:`.tasks`; :mod:`.database` checks that the configured keys decrypt the
stored tokens.
"""

from . import database, settings

__all__ = ["database", "settings"]
