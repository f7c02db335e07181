"""Exactly one LiveLike profile per user, whatever the concurrency, crashes or outages.

The public entry point is :func:`ensure_profile` (and :func:`provision`,
which also says what the call did; :func:`provision_on_login`, the login
receiver's). The rest of the package is how it gets there: the row's claim
and its writes (:mod:`.querysets`, :mod:`.row_updates`), the attempt under
the claim (:mod:`.attempt`), asking LiveLike (:mod:`.create_at_livelike`),
the locks that wake a claim's rivals (:mod:`.claim_locks`), rows that mint
their tokens (:mod:`.client_generated`), backoff, custom ids, who gets a
profile (:mod:`.accounts`) and the row cached on the user (:mod:`.user_state`).
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # what the type checker sees; at run time they are imported on first use
    from .dispatch import ensure_profile, needs_work, provision, provision_on_login

__all__ = ["ensure_profile", "needs_work", "provision", "provision_on_login"]


def __getattr__(name: str) -> Any:
    # On first use, not at import: the models import this package's querysets while
    # they are being defined, and the entry points need the models defined.
    if name in __all__:
        return getattr(importlib.import_module(".dispatch", __name__), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
