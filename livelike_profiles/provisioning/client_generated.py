"""``ACCESS_TOKENS = "client-generated"``: rows usable at once, their profile id learned later.

The site mints each token (:mod:`livelike_profiles.tokens.minting`) naming the profile
by the row's custom id, so LiveLike creates the profile at its first use,
exactly once whoever uses it first; no call is made at login.
"""

from __future__ import annotations

import logging
from datetime import timedelta
from typing import Any

from django.contrib.auth.base_user import AbstractBaseUser
from django.db import IntegrityError, router, transaction
from django.utils import timezone

from ..exceptions import LiveLikeError, LiveLikeRejected, LiveLikeTokenRejected
from ..livelike.client import RemoteProfile, get_client
from ..models import LiveLikeProfile
from ..support import task_queue
from ..support.transactions import savepoint
from .backoff import retry_delay
from .nicknames import nickname_for
from .querysets import LiveLikeProfileQuerySet

# Part of provisioning: its log lines go where docs/how-to/production-checklist.md says
# provisioning's do.
logger = logging.getLogger("livelike_profiles.provisioning")


def make_usable(
    user: AbstractBaseUser, row: LiveLikeProfile | None
) -> tuple[LiveLikeProfile | None, bool]:
    """Make the user's row usable at once, calling nobody; the row, and whether this call did.

    ``None`` for the row: a rival's row this transaction's snapshot cannot
    see (look again after the commit). A row from before (``"stored"``
    mode) that is ``failed``, in ``conflict`` or ``pending`` with a dead
    lease keeps its custom id, and with it its profile. A live claim (a
    create in flight in a process still in ``"stored"`` mode) is left to
    finish, and a ``revoked`` row to an operator: its profile may be gone at
    LiveLike, and a minted token would then create a second one.
    """
    if row is None:
        row, inserted = _insert(user)
        if inserted or row is None or row.is_active:
            return row, inserted
    made = _rows().make_minting(row, user)
    return _rows().get(pk=row.pk), made


def _insert(user: AbstractBaseUser) -> tuple[LiveLikeProfile | None, bool]:
    """INSERT the user's usable row, and ``True``; or a rival's row (``None`` if unseen).

    Inside a transaction the INSERT runs in a savepoint, so a lost race
    leaves the transaction usable; and a rival's committed row may be
    invisible to its snapshot (REPEATABLE READ). Raises
    :class:`~.exceptions.UserGone` if the user no longer exists.
    """
    nickname = nickname_for(user)
    connection = transaction.get_connection(_db())
    if connection.in_atomic_block and connection.features.can_defer_constraint_checks:
        # There the foreign key is checked at the commit, not at the INSERT: a
        # gone user's row would fail the site's whole transaction. Ask first.
        _rows().raise_if_user_gone(user.pk)
    try:
        with savepoint(_db()):
            return _rows().create_minting(user, nickname), True
    except IntegrityError:
        rivals = _rows().of_user(user.pk)
        if rivals is None:  # a rival's row unseen in a snapshot, or the user is gone
            _rows().raise_if_user_gone(user.pk)
        return rivals, False


def learn_profile_id(row: LiveLikeProfile) -> LiveLikeProfile:
    """Store the LiveLike profile id of a row that mints its tokens, the first time it is needed.

    One call with a minted token (:func:`read_own_profile`): ``GET
    {profile_url}``, or the ``PATCH`` of the site's nickname when one is due.
    That first use is also what makes LiveLike create the profile. An outage
    or a refusal leaves the id unknown (logged) and is not asked again before
    ``next_attempt_at``, a backoff growing with each failure (``attempts``)
    up to ``RETRY_MAX_SECONDS``: the token is usable all the same. Never
    raises for LiveLike trouble.
    """
    now = timezone.now()
    if row.profile_id or not row.uses_minted_tokens:
        return row
    if row.next_attempt_at is not None and row.next_attempt_at > now:
        return row
    sends_nickname = sends_nickname_first(row)
    try:
        remote = read_own_profile(row, row.access_token)
    except LiveLikeError as error:
        delay = retry_delay(row.attempts + 1, error)
        logger.warning(
            "LiveLike profile id not learned: user=%s error=%s %s retry_in_s=%.0f",
            row.user_id,
            type(error).__name__,
            error.summary(),
            delay,
        )
        _rows().retry_later(row, now + timedelta(seconds=delay))
        task_queue.enqueue("learn_profile_id", row.pk, run_after=row.next_attempt_at)
        return row
    fields: dict[str, Any] = {}
    if sends_nickname or not row.nickname:
        fields = {"nickname": settled_nickname(row, remote), "nickname_sync_due": False}
    try:
        with savepoint(_db()):
            learned = _rows().store_profile_id(row, remote.id, **fields)
    except IntegrityError:
        logger.error(
            "LiveLike profile id not stored: user=%s profile=%s is another row's already",
            row.user_id,
            remote.id,
        )
        return row
    if not learned:
        return _rows().get(pk=row.pk)
    logger.info("LiveLike profile id learned: user=%s profile=%s", row.user_id, remote.id)
    return row


def sends_nickname_first(row: LiveLikeProfile) -> bool:
    """Whether reading the row's profile sends the site's nickname first.

    So it is while a minted token's profile id is unknown and the site has a
    nickname to push: that read may be LiveLike's first use of the token,
    which creates the profile, and it should carry the site's nickname rather
    than leave LiveLike's random one for other fans to see.
    """
    return (
        row.uses_minted_tokens
        and not row.profile_id
        and row.nickname_sync_due
        and bool(row.nickname)
    )


def read_own_profile(row: LiveLikeProfile, token: str) -> RemoteProfile:
    """The profile ``token`` belongs to, as LiveLike answers it; raises ``LiveLikeError``.

    A ``GET``, or where :func:`sends_nickname_first`, the ``PATCH`` of the
    site's nickname (which answers the profile too). A nickname LiveLike
    refuses as such (400) is logged and left, and a ``GET`` follows: the
    profile keeps LiveLike's own. Calls nothing but LiveLike (no query), so
    threads may run it.
    """
    client = get_client()
    if sends_nickname_first(row):
        try:
            return client.update_own_profile(token, nickname=row.nickname)
        except LiveLikeTokenRejected:
            raise
        except LiveLikeRejected as error:
            if not error.refuses_value:
                raise
            logger.warning(
                "LiveLike refused the nickname for user=%s: %s", row.user_id, error.summary()
            )
    return client.get_own_profile(token)


def settled_nickname(row: LiveLikeProfile, remote: RemoteProfile) -> str:
    """The nickname to store once :func:`read_own_profile` answered ``remote``: LiveLike's.

    That is the site's nickname when LiveLike accepted it, or LiveLike's own
    when it refused it (or none was sent).
    """
    return LiveLikeProfile.fit("nickname", remote.nickname or row.nickname)


def _db() -> str:
    return router.db_for_write(LiveLikeProfile)


def _rows() -> LiveLikeProfileQuerySet:
    """Rows on the primary: what was just written is read back."""
    return LiveLikeProfile.objects.using(_db())
