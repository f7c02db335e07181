"""What Django keeps on a user instance: whether it was saved, and its cached row.

The row cached as ``user.livelike_profile`` is read and written here only,
without a query: a row loaded once (or known to be missing) costs nothing to
read again. A user object that is no model instance (a stateless JWT user,
simplejwt's ``TokenUser``) caches nothing.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from ..models import LiveLikeProfile

# The OneToOneField's related_name: Django caches the reverse relation under it.
_NAME = "livelike_profile"


def _cache(user: Any) -> dict[str, Any] | None:
    state = getattr(user, "_state", None)
    return state.fields_cache if state is not None else None


def is_saved(user: Any) -> bool:
    """Whether ``user`` was saved (has a primary key, and is no instance being added)."""
    state = getattr(user, "_state", None)
    return user.pk is not None and not (state is not None and state.adding)


def is_known(user: Any) -> bool:
    """Whether the user's row, or that there is none, is cached."""
    cache = _cache(user)
    return cache is not None and _NAME in cache


def cached_profile(user: Any) -> LiveLikeProfile | None:
    """The cached row; ``None`` if there is none, or if it is not cached (see :func:`is_known`)."""
    cache = _cache(user)
    return cache.get(_NAME) if cache is not None else None


def remember(user: Any, row: LiveLikeProfile | None) -> None:
    """Cache ``row`` (``None``: the user has none) on the user, if it is a model instance.

    Never a placeholder without a primary key (a rival's row unseen): the next
    read must look again.
    """
    cache = _cache(user)
    if cache is not None and (row is None or row.pk is not None):
        cache[_NAME] = row


def forget(user: Any) -> None:
    """Drop what is cached: the next read queries."""
    cache = _cache(user)
    if cache is not None:
        cache.pop(_NAME, None)
