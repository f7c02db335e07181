"""``ACCESS_TOKENS = "client-generated"``: rows usable at once, their profile id learned later.

The site mints each token (:mod:`livelike_profiles.tokens`) naming the profile
by the row's custom id, so LiveLike creates the profile at its first use,
exactly once whoever uses it first; no call is made at login.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Callable
from datetime import timedelta
from typing import Any

from django.contrib.auth.base_user import AbstractBaseUser
from django.db import IntegrityError, router, transaction
from django.utils import timezone

from .backoff import retry_delay
from .client import RemoteProfile, get_client
from .exceptions import LiveLikeError, LiveLikeRejected, LiveLikeTokenRejected
from .models import LiveLikeProfile
from .nicknames import nickname_for

# Part of provisioning: its log lines go where the README says provisioning's do.
logger = logging.getLogger("livelike_profiles.provisioning")


def make_usable(
    user: AbstractBaseUser,
    row: LiveLikeProfile | None,
    announce: Callable[[LiveLikeProfile], None],
) -> tuple[LiveLikeProfile | None, bool]:
    """Make the user's row usable at once, calling nobody; the row, and whether this call did.

    ``None`` for the row: a rival's row this transaction's snapshot cannot
    see (look again after the commit). A row from before (``"stored"``
    mode) that is ``failed``, in ``conflict`` or ``pending`` with a dead
    lease keeps its custom id, and with it its profile. A live claim (a
    create in flight in a process still in ``"stored"`` mode) is left to
    finish, and a ``revoked`` row to an operator: its profile may be gone at
    LiveLike, and a minted token would then create a second one.
    ``announce(row)`` is called for a row made usable here.
    """
    if row is None:
        row, inserted = _insert(user, announce)
        if row is None or row.is_active:
            return row, inserted
    made = _rows().make_minting(row, user)
    row = _rows().get(pk=row.pk)
    if made:
        announce(row)
    return row, made


def _insert(
    user: AbstractBaseUser, announce: Callable[[LiveLikeProfile], None]
) -> tuple[LiveLikeProfile | None, bool]:
    """INSERT the user's usable row, and ``True``; or a rival's row (``None`` if unseen).

    Inside a transaction the INSERT runs in a savepoint, so a lost race
    leaves the transaction usable; and a rival's committed row may be
    invisible to its snapshot (REPEATABLE READ).
    """
    nickname = nickname_for(user)
    try:
        with _savepoint():
            row = _rows().create_minting(user, nickname)
    except IntegrityError:
        return _rows().of_user(user.pk), False
    announce(row)
    return row, True


def learn_profile_id(row: LiveLikeProfile) -> LiveLikeProfile:
    """Store the LiveLike profile id of a row that mints its tokens, the first time it is needed.

    One call with a minted token: ``GET {profile_url}``, or the ``PATCH`` of
    the site's nickname when one is due (which answers the profile too; if
    LiveLike refuses the nickname, a ``GET`` follows). That first use is also
    what makes LiveLike create the profile. An outage or a refusal leaves the
    id unknown (logged) and is not asked again before ``next_attempt_at``
    (the backoff of a failed attempt): the token is usable all the same.
    Never raises for LiveLike trouble.
    """
    now = timezone.now()
    if row.profile_id or not row.uses_minted_tokens:
        return row
    if row.next_attempt_at is not None and row.next_attempt_at > now:
        return row
    fields: dict[str, Any] = {}
    try:
        remote = _read_own_profile(row, fields)
    except LiveLikeError as error:
        logger.warning(
            "LiveLike profile id not learned: user=%s error=%s %s",
            row.user_id,
            type(error).__name__,
            error.summary(),
        )
        delay = retry_delay(row.attempts + 1, error)
        _rows().retry_later(row, now + timedelta(seconds=delay))
        return row
    if "nickname_sync_due" in fields or not row.nickname:
        fields.setdefault("nickname", remote.nickname)
        fields.setdefault("nickname_sync_due", False)
    try:
        with _savepoint():
            learned = _rows().store_profile_id(row, remote.id, **fields)
    except IntegrityError:
        logger.error(
            "LiveLike profile id not stored: user=%s profile=%s is another row's already",
            row.user_id,
            remote.id,
        )
        return row
    if not learned:
        fresh: LiveLikeProfile = _rows().get(pk=row.pk)  # _rows() is Any to mypy
        return fresh
    logger.info("LiveLike profile id learned: user=%s profile=%s", row.user_id, remote.id)
    return row


def _read_own_profile(row: LiveLikeProfile, fields: dict[str, Any]) -> RemoteProfile:
    """The row's profile as LiveLike answers it, pushing the site's nickname if one is due.

    Adds to ``fields`` what the answer means for the row's nickname.
    """
    client = get_client()
    token = row.access_token
    if row.nickname_sync_due and row.nickname:
        try:
            remote = client.update_own_profile(token, nickname=row.nickname)
        except LiveLikeTokenRejected:
            raise
        except LiveLikeRejected as error:
            if error.status_code != 400:
                raise
            # Refused, as a create would be: keep LiveLike's own nickname.
            logger.warning(
                "LiveLike refused the nickname for user=%s: %s", row.user_id, error.summary()
            )
        else:
            fields.update(nickname=remote.nickname or row.nickname, nickname_sync_due=False)
            return remote
        fields["nickname_sync_due"] = False
    return client.get_own_profile(token)


def _db() -> str:
    return router.db_for_write(LiveLikeProfile)


def _rows() -> Any:
    """Rows on the primary: what was just written is read back."""
    return LiveLikeProfile.objects.using(_db())


def _savepoint() -> Any:
    """A savepoint inside a transaction (a failed write then spares it), nothing outside one."""
    if transaction.get_connection(_db()).in_atomic_block:
        return transaction.atomic(using=_db())
    return contextlib.nullcontext()
