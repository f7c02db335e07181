"""Every change of an erasure row's state, by name: ``LiveLikeErasure.objects``.

An attempt claims its row with one conditional ``UPDATE`` (a lease), so two
processes working the outbox at once never erase the same profile twice.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from django.db.models import F, Q, QuerySet
from django.utils import timezone

from ..conf import conf


def _at_or_before(field: str, now: datetime) -> Q:
    return Q(**{f"{field}__isnull": True}) | Q(**{f"{field}__lte": now})


class ErasureQuerySet(QuerySet[Any]):
    """The profiles to erase, and the named state changes of the outbox."""

    def record(self, entries: list[dict[str, Any]]) -> list[Any]:
        """Add the erasures of deleted rows, in one ``INSERT`` (in the deletion's transaction)."""
        return self.bulk_create([self.model(**entry) for entry in entries])

    def due(self, now: datetime, *, ignoring_backoff: bool = False) -> QuerySet[Any]:
        """Erasures an attempt may take now; ``ignoring_backoff``: failed ones too.

        Never one whose attempt is in flight (live lease), nor one whose
        profile may still be being created (``not_before``).
        """
        rows = self.filter(_at_or_before("lease_expires_at", now), _at_or_before("not_before", now))
        return rows if ignoring_backoff else rows.filter(_at_or_before("next_attempt_at", now))

    def claim(self, pk: Any, *, ignoring_backoff: bool = False) -> bool:
        """Take erasure ``pk`` for one attempt; ``False`` if it is gone, not due or taken."""
        now = timezone.now()
        lease = now + timedelta(seconds=conf.LEASE_SECONDS)
        taken = (
            self.due(now, ignoring_backoff=ignoring_backoff)
            .filter(pk=pk)
            .update(attempts=F("attempts") + 1, lease_expires_at=lease)
        )
        return bool(taken)

    def done(self, pk: Any) -> None:
        """LiveLike erased the profile, or has none: nothing is owed any more."""
        self.filter(pk=pk).delete()

    def store_profile_id(self, pk: Any, profile_id: str) -> None:
        """The profile id found by its custom id: the next attempt skips the lookup."""
        self.filter(pk=pk, profile_id="").update(profile_id=profile_id)

    def failed(self, pk: Any, reason: str, retry_at: datetime) -> None:
        """The attempt failed: say why, and when the next one is due."""
        self.filter(pk=pk).update(
            status=self.model.Status.FAILED,
            last_error=reason[: self.model._meta.get_field("last_error").max_length],
            next_attempt_at=retry_at,
            lease_expires_at=None,
        )

    def make_due_now(self, pks: list[Any]) -> int:
        """Forget the backoff of these erasures (the admin's "retry now")."""
        return self.filter(pk__in=pks).update(next_attempt_at=None)
