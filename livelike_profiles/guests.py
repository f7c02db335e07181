"""Guest profiles: an anonymous visitor's LiveLike profile, kept in their session.

With ``LIVELIKE["GUEST_PROFILES"]`` on, the API's ``GET`` gives an anonymous
session its guest profile (:func:`ensure_guest_profile`), the same one for
the rest of the session; ``request.livelike_profile`` reads it
(:func:`guest_profile`) and never makes one. When the visitor signs up or
logs in, a user with no profile adopts it (:func:`adopt_guest_profile`, run
at ``user_logged_in``): same custom id, profile id and token, so the points
and history earned as a guest stay theirs. A user who has a profile keeps
theirs, and the guest is abandoned (``guest_profile_abandoned``).

Only the server side of the session is read: nothing a browser sends names a
guest. A stored token is kept encrypted in the session with the app's keys
(a session may be a cookie the browser can read). A guest never adopted is
not tracked: it ends with its session.
"""

from __future__ import annotations

import logging
from datetime import timedelta
from typing import Any

from django.contrib.auth.base_user import AbstractBaseUser
from django.db import IntegrityError, router
from django.utils import timezone

from .conf import conf
from .exceptions import LiveLikeError
from .livelike.client import get_client
from .models import LiveLikeProfile
from .provisioning import user_state
from .provisioning.accounts import gets_a_profile
from .provisioning.backoff import retry_delay
from .provisioning.create_at_livelike import Unrecoverable, obtain
from .provisioning.custom_ids import new_guest_custom_id
from .provisioning.querysets import LiveLikeProfileQuerySet
from .signals import guest_profile_abandoned, profile_provisioned
from .support import notify
from .support.transactions import after_commit, savepoint
from .tokens.encryption import Ciphertext, encrypt, is_readable
from .tokens.minting import AccessToken

logger = logging.getLogger(__name__)

Status = LiveLikeProfile.Status

#: The session key of the guest: a dict of strings and ``None`` (JSON, as
#: every session serializer takes), never a plain token.
SESSION_KEY = "livelike_profiles.guest"


def guest_profile(request: Any) -> LiveLikeProfile | None:
    """The session's guest profile, or ``None``; reads the session, writes and calls nothing."""
    guest = _stored(request)
    return _as_profile(guest) if guest is not None and guest["created"] else None


async def aguest_profile(request: Any) -> LiveLikeProfile | None:
    """Async :func:`guest_profile`: the session read without blocking the event loop."""
    session = getattr(request, "session", None)
    guest = _valid(await session.aget(SESSION_KEY)) if session is not None else None
    return _as_profile(guest) if guest is not None and guest["created"] else None


def has_guest(request: Any) -> bool:
    """Whether the session holds a guest profile made already (nothing to create)."""
    guest = _stored(request)
    return guest is not None and guest["created"]


def ensure_guest_profile(request: Any) -> LiveLikeProfile:
    """The session's guest profile, made now if it has none: the API's anonymous ``GET``.

    ``"client-generated"`` tokens: a new random custom id, kept in the
    session; no call (LiveLike creates the profile at the token's first
    use). ``"stored"``: one create call by a custom id kept in the session
    first, so that a lost answer is recovered by the next ``GET`` as a
    user's would be. Never raises for LiveLike trouble: the profile then
    comes back ``failed``, with ``next_attempt_at`` saying when to ask again.
    """
    guest = _stored(request)
    if guest is not None and guest["created"]:
        return _as_profile(guest)
    if conf.CLIENT_GENERATED:
        guest = _new_guest(new_guest_custom_id(), created=True)
        _store(request, guest)
        return _as_profile(guest)
    return _create_at_livelike(request, guest)


def change_guest_nickname(request: Any, nickname: str) -> tuple[LiveLikeProfile, AccessToken]:
    """Change the session's guest's nickname at LiveLike, then in the session.

    Raises :class:`LookupError` when the session has no guest profile, and
    ``LiveLikeError`` when LiveLike fails or refuses (nothing changes then).
    """
    guest = _stored(request)
    if guest is None or not guest["created"]:
        raise LookupError("no guest profile in this session")
    credential = _as_profile(guest).credential()
    remote = get_client().update_own_profile(credential.token, nickname=nickname)
    # The answer names the profile too: a minted token's id is known from now on.
    guest.update(
        nickname=LiveLikeProfile.fit("nickname", remote.nickname or nickname),
        profile_id=remote.id or guest["profile_id"],
    )
    _store(request, guest)
    return _as_profile(guest), credential


def adopt_guest_profile(request: Any, user: AbstractBaseUser) -> LiveLikeProfile | None:
    """Give ``user`` the session's guest profile if they have none; the row, or ``None``.

    Run at ``user_logged_in``, before the first-login provisioning; call it
    yourself where an account is created without ``login()`` (a sign-up
    confirmed by e-mail, an invitation), with the request of the session
    that held the guest. The guest leaves the session either way. A user who
    has a row keeps it: the guest is abandoned, and ``guest_profile_abandoned``
    sent (with ``user``, ``profile_id`` and ``custom_id``) so that the site
    may move its points. Exactly once: the row's ``INSERT`` decides between
    sessions adopting at the same moment, and calls nobody.
    """
    guest = _stored(request)
    if guest is None:
        return None
    request.session.pop(SESSION_KEY, None)
    if not gets_a_profile(user) or (guest["token"] and not is_readable(guest["token"])):
        # An account that gets no profile adopts none; a token no key reads is lost.
        _abandon(user, guest)
        return None
    rows = _rows()
    profile = {
        "custom_id": guest["custom_id"],
        "profile_id": guest["profile_id"],
        "access_token": guest["token"],
        "nickname": guest["nickname"],
        "created": guest["created"],
    }
    row: LiveLikeProfile | None
    try:
        with savepoint(rows.db):
            row = rows.adopt(user, **profile)
    except IntegrityError:
        # Only queued for a worker (a "background" login), never sent to LiveLike: replaced.
        row = rows.adopt_in_place_of_queued(user, **profile)
    if row is None:
        mine = rows.of_user(user.pk)
        if mine is None or mine.custom_id != guest["custom_id"]:
            _abandon(user, guest)  # the user has a profile of their own
        return None  # (or this very guest is theirs already: a second login at once)
    user_state.remember(user, row)
    _announce_adoption(user, row)
    return row


def adopt_at_login(request: Any, user: AbstractBaseUser) -> None:
    """``user_logged_in``: :func:`adopt_guest_profile`, where the login has a session."""
    if getattr(request, "session", None) is not None:
        adopt_guest_profile(request, user)


# -- the session -------------------------------------------------------------------------


def _new_guest(custom_id: str, *, created: bool) -> dict[str, Any]:
    return {
        "custom_id": custom_id,
        "profile_id": None,
        "nickname": "",
        "token": "",
        "created": created,
    }


def _stored(request: Any) -> dict[str, Any] | None:
    session = getattr(request, "session", None)
    return _valid(session.get(SESSION_KEY)) if session is not None else None


def _valid(value: Any) -> dict[str, Any] | None:
    """The guest as the session holds it, or ``None`` for nothing (or something not ours)."""
    if not (isinstance(value, dict) and isinstance(value.get("custom_id"), str)):
        return None
    guest = _new_guest(value["custom_id"], created=bool(value.get("created")))
    guest.update(
        profile_id=value.get("profile_id") if isinstance(value.get("profile_id"), str) else None,
        nickname=value.get("nickname") if isinstance(value.get("nickname"), str) else "",
        token=value.get("token") if isinstance(value.get("token"), str) else "",
    )
    return guest


def _store(request: Any, guest: dict[str, Any]) -> None:
    request.session[SESSION_KEY] = guest


def _as_profile(guest: dict[str, Any], **state: Any) -> LiveLikeProfile:
    """The guest as an unsaved profile row: read like a user's, never saved (``is_guest``)."""
    profile = LiveLikeProfile(
        custom_id=guest["custom_id"],
        profile_id=guest["profile_id"],
        nickname=guest["nickname"],
        access_token=Ciphertext(guest["token"]) if guest["token"] else "",
        status=state.pop("status", Status.ACTIVE),
        **state,
    )
    profile.is_guest = True
    return profile


# -- stored mode: one create call ------------------------------------------------------


def _create_at_livelike(request: Any, guest: dict[str, Any] | None) -> LiveLikeProfile:
    # The custom id is saved in the session before LiveLike is asked: if the
    # answer is lost, the next GET asks again with it, and finds the profile (a
    # 409, then the lookup) instead of making a second one. Saved now, as the
    # middleware saves no session with a 5xx answer. (A session new with this
    # request gets its cookie with that answer only: see docs/how-to/guests.md.)
    guest = guest or _new_guest(new_guest_custom_id(), created=False)
    _store(request, guest)
    request.session.save()
    try:
        found = obtain(None, guest["custom_id"])
    except LiveLikeError as error:
        logger.warning("LiveLike guest profile not created: error=%s", type(error).__name__)
        retry_at = timezone.now() + timedelta(seconds=retry_delay(1, error))
        return _as_profile(guest, status=Status.FAILED, next_attempt_at=retry_at)
    if isinstance(found, Unrecoverable):
        # Not worth an operator: the next GET makes the session a new guest.
        logger.warning("LiveLike guest profile unrecoverable: %s", found.reason)
        request.session.pop(SESSION_KEY, None)
        retry_at = timezone.now() + timedelta(seconds=1)
        return _as_profile(guest, status=Status.FAILED, next_attempt_at=retry_at)
    remote = found.remote
    guest.update(
        created=True,
        profile_id=remote.id,
        nickname=LiveLikeProfile.fit("nickname", remote.nickname),
        # Encrypted with the app's keys: the session may be a cookie the browser reads.
        token=encrypt(remote.access_token) if remote.access_token else "",
    )
    _store(request, guest)
    logger.info(
        "LiveLike guest profile %s: profile=%s",
        "recovered" if found.recovered else "created",
        remote.id,
    )
    return _as_profile(guest)


# -- adoption ----------------------------------------------------------------------


def _rows() -> LiveLikeProfileQuerySet:
    return LiveLikeProfile.objects.using(router.db_for_write(LiveLikeProfile))


def _abandon(user: AbstractBaseUser, guest: dict[str, Any]) -> None:
    logger.info(
        "LiveLike guest profile abandoned: user=%s profile=%s", user.pk, guest["profile_id"]
    )
    notify.send(
        guest_profile_abandoned,
        LiveLikeProfile,
        user=user,
        profile_id=guest["profile_id"],
        custom_id=guest["custom_id"],
    )


def _announce_adoption(user: AbstractBaseUser, row: LiveLikeProfile) -> None:
    """Log and signal the adoption once it commits (a rollback takes the row back)."""

    def announce() -> None:
        logger.info(
            "LiveLike guest profile adopted: user=%s profile=%s", row.user_id, row.profile_id
        )
        if row.status == Status.ACTIVE:
            notify.send(
                profile_provisioned, LiveLikeProfile, profile=row, user=user, recovered=False
            )

    after_commit("livelike_profiles.guests.announce_adoption", announce, using=_rows().db)
