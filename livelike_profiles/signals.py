"""The signals this app sends: ``profile_provisioned`` and ``provisioning_failed``.

Declarations only; their arguments are in the README ("Signals"). Receivers
of Django's own signals are in :mod:`livelike_profiles.receivers`.
"""

from django.dispatch import Signal

profile_provisioned = Signal()
provisioning_failed = Signal()
