"""The signals this app sends (receivers of Django's own signals are in ``receivers``).

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

from django.dispatch import Signal

profile_provisioned = Signal()
provisioning_failed = Signal()
