"""Asking LiveLike for a user's profile: create it, or find one a lost answer created."""

from __future__ import annotations

import logging
from dataclasses import dataclass

from django.contrib.auth.base_user import AbstractBaseUser

from ..exceptions import (
    LiveLikeConfigurationError,
    LiveLikeConflict,
    LiveLikeError,
    LiveLikeRejected,
    LiveLikeTokenRejected,
    LiveLikeUnavailable,
)
from ..livelike.client import RemoteProfile, get_client
from ..tokens import minting as tokens
from .nicknames import nickname_for

# Part of provisioning: its log lines go where docs/how-to/production-checklist.md says
# provisioning's do.
logger = logging.getLogger("livelike_profiles.provisioning")


@dataclass(frozen=True)
class Obtained:
    """The user's profile at LiveLike, usable: created now, or ``recovered`` by its custom id."""

    remote: RemoteProfile
    recovered: bool = False  # an earlier attempt created it, and its answer was lost


@dataclass(frozen=True)
class Unrecoverable:
    """LiveLike has a profile for the custom id that the site cannot use: an operator's.

    ``reason`` says why, and what setting would recover it.
    """

    reason: str


def obtain(user: AbstractBaseUser | None, custom_id: str | None) -> Obtained | Unrecoverable:
    """The user's profile from LiveLike (``None``: a guest's), created or found by its custom id.

    LiveLike answers a create by custom id with 409 when a profile has it
    already: an earlier attempt made it and its answer was lost, so it is
    looked up (:func:`recover`). Raises :class:`LiveLikeError` for a failure
    (an outage, a refusal, a 409 without a custom id to recover by): retried
    later.
    """
    try:
        return Obtained(create(user, custom_id))
    except LiveLikeConflict:
        if not custom_id:
            raise
    return recover(custom_id)


def create(user: AbstractBaseUser | None, custom_id: str | None) -> RemoteProfile:
    """Create the profile (by custom id when there is one), with the site's nickname if any.

    A guest (``user`` is ``None``) has none: LiveLike picks one.
    """
    client = get_client()

    def create_with(nickname: str | None) -> RemoteProfile:
        if custom_id:
            return client.create_profile_by_custom_id(custom_id, nickname=nickname)
        return client.create_profile(nickname=nickname)

    nickname = nickname_for(user) if user is not None else None
    try:
        return create_with(nickname)
    except LiveLikeRejected as error:
        if nickname is None or not error.refuses_value:
            raise
        # LiveLike refused the site's nickname (and created nothing): a user
        # without their nickname beats a user without a profile.
        logger.warning(
            "LiveLike refused the nickname for user=%s, creating without: %s",
            user.pk if user is not None else None,
            error.summary(),
        )
        return create_with(None)


def recover(custom_id: str) -> Obtained | Unrecoverable:
    """Find the profile an earlier attempt created, usable with a token.

    Raises :class:`LiveLikeUnavailable` for an outage: that is retried later
    (the 409 will come again), not a conflict.
    """
    if tokens.can_mint():
        return _recover_with_minted_token(custom_id)
    try:
        remote = get_client().get_profile_by_custom_id(custom_id)
    except LiveLikeConfigurationError:
        return Unrecoverable(
            "409 for the custom id, and no API_TOKEN to look the profile up "
            '(setting LIVELIKE["CLIENT_SECRET"] recovers it)'
        )
    except LiveLikeUnavailable:
        raise
    except LiveLikeError as error:
        return Unrecoverable(f"409 for the custom id, and the lookup failed: {error.summary()}")
    if not remote.access_token:
        return Unrecoverable(
            "409 for the custom id, and LiveLike's lookup answer has no access token "
            '(setting LIVELIKE["CLIENT_SECRET"] recovers it)'
        )
    return Obtained(remote, recovered=True)


def _recover_with_minted_token(custom_id: str) -> Obtained | Unrecoverable:
    """Read the custom id's profile with a token minted for it: the same profile, now usable.

    LiveLike's lookup by custom id answers without a token, and only LiveLike
    can issue one of its own; a token the site signs for that custom id acts
    as that very profile. The row then stores no token and mints one on use.
    """
    try:
        remote = get_client().get_own_profile(tokens.mint(custom_id).token)
    except LiveLikeUnavailable:
        raise
    except LiveLikeTokenRejected as error:
        return Unrecoverable(
            f"409 for the custom id, and LiveLike refused the minted token ({error.summary()}): "
            'check LIVELIKE["CLIENT_SECRET"] and CLIENT_ID'
        )
    except LiveLikeError as error:
        return Unrecoverable(f"409 for the custom id, and reading it failed: {error.summary()}")
    found = RemoteProfile(id=remote.id, nickname=remote.nickname, custom_id=custom_id)
    return Obtained(found, recovered=True)
