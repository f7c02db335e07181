"""Signals this app sends, and its one receiver.

``profile_provisioned`` is sent once a user's profile became active, with:

* ``sender``: the ``LiveLikeProfile`` class;
* ``profile``: the ``LiveLikeProfile`` row, now active;
* ``user``: the user it belongs to;
* ``recovered``: ``True`` when the profile already existed at LiveLike (an
  earlier attempt created it but its answer was lost) and was found by its
  custom id rather than created by this attempt.

``provisioning_failed`` is sent when an attempt did not end with an active
profile, with:

* ``sender``: the ``LiveLikeProfile`` class;
* ``profile``: the row, in state ``failed`` (retried after ``next_attempt_at``)
  or ``conflict`` (left for an operator);
* ``user``: the user it belongs to;
* ``error``: the :class:`~livelike_profiles.exceptions.LiveLikeError` met (or
  the exception an unforeseen error raised: it is logged with its traceback
  too), or ``None`` for a conflict found without one.

Both are sent with ``send_robust``: a receiver that raises is logged, and
never breaks the login or request that triggered provisioning.
"""

from django.conf import settings
from django.contrib.auth.signals import user_logged_in
from django.db.models.signals import post_save
from django.dispatch import Signal, receiver

profile_provisioned = Signal()
provisioning_failed = Signal()


@receiver(user_logged_in, dispatch_uid="livelike_profiles.provision_on_login")
def provision_on_login(sender, user, **kwargs) -> None:
    """Provision the user's profile at login when ``PROVISION_ON_LOGIN`` is on."""
    from .provisioning import provision_on_login

    provision_on_login(user)


@receiver(post_save, sender=settings.AUTH_USER_MODEL, dispatch_uid="livelike_profiles.user_saved")
def sync_nickname_on_save(sender, instance, update_fields=None, **kwargs) -> None:
    """Push a changed nickname to LiveLike after commit when ``SYNC_NICKNAME`` is on."""
    from .nickname_sync import user_saved

    user_saved(instance, update_fields)
