"""Database -> LiveLike: push the site's nickname for a user (``SYNC_NICKNAME``, off by default).

After the commit that saved a user, or at login when an earlier push failed.
Never raises into the save or the login (see ``SYNC_NICKNAME`` in docs/reference/settings.md).
"""

from __future__ import annotations

import logging
from datetime import timedelta
from typing import Any

from django.contrib.auth import get_user_model
from django.contrib.auth.base_user import AbstractBaseUser
from django.db import router
from django.utils import timezone

from ..conf import conf
from ..exceptions import LiveLikeError, LiveLikeRejected, UnreadableTokenError
from ..livelike.client import get_client
from ..models import LiveLikeProfile
from ..provisioning.backoff import retry_delay
from ..provisioning.nicknames import nickname_for
from ..provisioning.user_state import cached_profile
from ..support import task_queue
from ..support.transactions import after_commit

logger = logging.getLogger("livelike_profiles.push_to_livelike")

Status = LiveLikeProfile.Status


def user_saved(user: AbstractBaseUser, update_fields: Any = None) -> None:
    """``post_save`` of a user: push the nickname after commit if sync is on."""
    if not (conf.SYNC_NICKNAME and conf.NICKNAME):
        return
    if update_fields is not None and set(update_fields) <= {"last_login"}:
        return  # every login saves last_login: no nickname can have changed
    using = router.db_for_write(LiveLikeProfile)
    user_pk = user.pk

    after_commit(
        "livelike_profiles.sync.push.push_after_commit",
        lambda: _push_by_pk(user_pk),
        using=using,
    )


def retry_at_login(user: AbstractBaseUser) -> None:
    """At login, after provisioning: push a nickname whose earlier push failed.

    Reads the row provisioning left on the user (no query). Not before the
    profile id is known: with client-generated tokens a first login calls
    nobody (the id is learned when first needed).
    """
    row = cached_profile(user)
    if not (conf.PROVISION_ON_LOGIN and row is not None and row.nickname_sync_due):
        return
    if not (row.is_active and row.profile_id):
        return
    try:
        push_nickname(user)
    except Exception:
        # A nickname is never worth a failed login; the row stays due.
        logger.exception("LiveLike nickname push failed at login: user=%s", user.pk)


def push_nickname(user: AbstractBaseUser, *, attempt: int = 0) -> bool:
    """Push the user's computed nickname to LiveLike if it differs; ``True`` if it was pushed.

    Never raises for LiveLike trouble or an unreadable token. A failed push
    is tried again at the next login or save, and (with a ``TASK_BACKEND``)
    by a task after a backoff growing with ``attempt``, the failures so far.
    """
    row = LiveLikeProfile.objects.filter(user_id=user.pk, status=Status.ACTIVE).first()
    wanted = nickname_for(user)
    if row is None or not wanted:
        return False
    wanted = wanted[: conf.NICKNAME_MAX_LENGTH]
    if wanted == row.nickname and not row.nickname_sync_due:
        return False
    try:
        remote = get_client().update_own_profile(row.access_token, nickname=wanted)
    except LiveLikeRejected as error:
        if not error.refuses_value:
            return _push_failed(user, row, error, attempt)
        # LiveLike refuses this nickname as such: asking again at every login
        # would only be refused again. The next save of the user tries anew.
        LiveLikeProfile.objects.mark_nickname_refused(row, error.summary())
        logger.warning(
            "LiveLike refused the nickname, not retried until the user is saved again: "
            "user=%s profile=%s error=%s",
            user.pk,
            row.profile_id,
            error.summary(),
        )
        return False
    except (LiveLikeError, UnreadableTokenError) as error:
        return _push_failed(user, row, error, attempt)
    LiveLikeProfile.objects.record_nickname(row, remote.nickname or wanted)
    LiveLikeProfile.objects.clear_nickname_refused(row)
    logger.info("LiveLike nickname pushed: user=%s profile=%s", user.pk, row.profile_id)
    return True


def _push_failed(
    user: AbstractBaseUser, row: LiveLikeProfile, error: Exception, attempt: int
) -> bool:
    """Mark the push due again (next login or save, or a task) and say why in the log."""
    LiveLikeProfile.objects.mark_nickname_due(row)
    retry_at = timezone.now() + timedelta(seconds=retry_delay(attempt + 1, error))
    task_queue.enqueue("push_nickname", user.pk, attempt + 1, run_after=retry_at)
    logger.warning(
        "LiveLike nickname not pushed, will retry: user=%s profile=%s error=%s",
        user.pk,
        row.profile_id,
        type(error).__name__,
    )
    return False


def _push_by_pk(user_pk: Any) -> None:
    user = get_user_model()._default_manager.filter(pk=user_pk).first()
    if user is not None:
        push_nickname(user)
