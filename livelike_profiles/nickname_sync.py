"""Keep LiveLike's nickname equal to the site's (``SYNC_NICKNAME``, off by default).

When ``LIVELIKE["NICKNAME"]`` computes a different nickname for a user whose
profile is active, the new one is pushed to LiveLike after the transaction
that saved the user commits. A failure is logged and marks the row
(``nickname_sync_due``); the push is tried again at the user's next login or
next save. Nothing here ever raises into the save.

With ``SYNC_NICKNAME`` on the site owns nicknames: a nickname the user set
through the API is replaced at their next save.
"""

from __future__ import annotations

import logging
from functools import partial
from typing import Any

from django.contrib.auth import get_user_model
from django.contrib.auth.base_user import AbstractBaseUser
from django.db import router, transaction
from django.utils import timezone

from .client import get_client
from .conf import conf
from .exceptions import LiveLikeError
from .models import LiveLikeProfile
from .provisioning import nickname_for

logger = logging.getLogger(__name__)


def user_saved(user: AbstractBaseUser, update_fields: Any = None) -> None:
    """``post_save`` of a user: push the nickname after commit if sync is on."""
    if not (conf.SYNC_NICKNAME and conf.NICKNAME):
        return
    if update_fields is not None and set(update_fields) <= {"last_login"}:
        return  # every login saves last_login: no nickname can have changed
    using = router.db_for_write(LiveLikeProfile)
    transaction.on_commit(partial(_push_by_pk, user.pk), using=using, robust=True)


def push_nickname(user: AbstractBaseUser) -> bool:
    """Push the user's computed nickname to LiveLike if it differs; ``True`` if it was pushed."""
    row = LiveLikeProfile.objects.filter(
        user_id=user.pk, status=LiveLikeProfile.Status.ACTIVE
    ).first()
    wanted = nickname_for(user)
    if row is None or not wanted:
        return False
    wanted = wanted[: conf.NICKNAME_MAX_LENGTH]
    if wanted == row.nickname and not row.nickname_sync_due:
        return False
    try:
        remote = get_client().update_own_profile(row.access_token, nickname=wanted)
    except LiveLikeError as error:
        LiveLikeProfile.objects.filter(pk=row.pk).update(nickname_sync_due=True)
        logger.warning(
            "LiveLike nickname not pushed, will retry: user=%s profile=%s error=%s",
            user.pk,
            row.profile_id,
            type(error).__name__,
        )
        return False
    LiveLikeProfile.objects.filter(pk=row.pk).update(
        nickname=(remote.nickname or wanted)[:255],
        nickname_sync_due=False,
        updated_at=timezone.now(),
    )
    logger.info("LiveLike nickname pushed: user=%s profile=%s", user.pk, row.profile_id)
    return True


def _push_by_pk(user_pk: Any) -> None:
    user = get_user_model()._default_manager.filter(pk=user_pk).first()
    if user is not None:
        push_nickname(user)
