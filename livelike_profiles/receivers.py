"""Receivers of Django's signals, each one line into the service that does the work.

Connected by :func:`connect`, from ``AppConfig.ready()``; in this order, so
that provisioning at login finds the guest profile just adopted, and a
nickname retried at login the row provisioning just made.
"""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.contrib.auth.signals import user_logged_in
from django.db.models.signals import post_delete, post_save, pre_delete

from . import guests
from .erasure import erasing as erasure
from .models import LiveLikeProfile
from .provisioning import dispatch as provisioning
from .sync import push as push_to_livelike


def adopt_guest_at_login(sender: Any, user: Any, request: Any = None, **kwargs: Any) -> None:
    """``user_logged_in``: a user with no profile adopts the session's guest profile."""
    guests.adopt_at_login(request, user)


def provision_at_login(sender: Any, user: Any, **kwargs: Any) -> None:
    """``user_logged_in``: provision the profile when ``PROVISION_ON_LOGIN`` is on."""
    provisioning.provision_on_login(user)


def retry_nickname_at_login(sender: Any, user: Any, **kwargs: Any) -> None:
    """``user_logged_in``: push a nickname whose earlier push failed (``SYNC_NICKNAME``)."""
    push_to_livelike.retry_at_login(user)


def push_nickname_on_save(
    sender: Any, instance: Any, update_fields: Any = None, **kwargs: Any
) -> None:
    """``post_save`` of a user: push a changed nickname after commit (``SYNC_NICKNAME``)."""
    push_to_livelike.user_saved(instance, update_fields)


def note_erasure(sender: Any, instance: Any, using: str, origin: Any = None, **kwargs: Any) -> None:
    """``pre_delete`` of a profile row: remember the profile to erase (``ON_USER_DELETE``)."""
    erasure.note_deleted(instance, origin, using)


def record_erasures(
    sender: Any, instance: Any, using: str, origin: Any = None, **kwargs: Any
) -> None:
    """``post_delete`` of a profile row: write the erasures noted, in the same transaction."""
    erasure.record_noted(origin, using)


def connect() -> None:
    """Connect the receivers (idempotent: each has a ``dispatch_uid``)."""
    user_logged_in.connect(adopt_guest_at_login, dispatch_uid="livelike_profiles.adopt_guest")
    user_logged_in.connect(provision_at_login, dispatch_uid="livelike_profiles.provision_on_login")
    user_logged_in.connect(
        retry_nickname_at_login, dispatch_uid="livelike_profiles.retry_nickname_at_login"
    )
    post_save.connect(
        push_nickname_on_save,
        sender=settings.AUTH_USER_MODEL,
        dispatch_uid="livelike_profiles.user_saved",
    )
    pre_delete.connect(
        note_erasure, sender=LiveLikeProfile, dispatch_uid="livelike_profiles.note_erasure"
    )
    post_delete.connect(
        record_erasures, sender=LiveLikeProfile, dispatch_uid="livelike_profiles.record_erasures"
    )
