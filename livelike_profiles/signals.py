"""The signals this app sends: a profile provisioned, provisioning failed, a guest abandoned.

Declarations only; their arguments are in docs/reference/signals.md. Receivers
of Django's own signals are in :mod:`livelike_profiles.receivers`.
"""

from django.dispatch import Signal

profile_provisioned = Signal()
provisioning_failed = Signal()
# A guest's profile that a logging-in user did not adopt (they have one already):
# sent with ``user``, ``profile_id`` (``None`` if never learned) and ``custom_id``.
guest_profile_abandoned = Signal()
