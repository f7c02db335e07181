"""The result of one provisioning call (:class:`ProvisionResult`), as the backfill counts it."""

from __future__ import annotations

from dataclasses import dataclass

from ..models import LiveLikeProfile


@dataclass(frozen=True)
class ProvisionResult:
    """What one call of :func:`~livelike_profiles.provisioning.dispatch.provision` did.

    ``row`` is what ``ensure_profile`` returns; ``created`` and
    ``recovered`` say this call made the profile usable (``recovered``: by
    finding, by its custom id, a profile whose creation answer was lost);
    ``error`` is the failure this call recorded, if any.
    """

    row: LiveLikeProfile
    created: bool = False
    recovered: bool = False
    error: BaseException | None = None
