"""The named changes of a usable profile row: what LiveLike says of it, its nickname, its token.

Part of ``LiveLikeProfile.objects`` (:class:`~.querysets.LiveLikeProfileQuerySet`
inherits them). Each is one ``UPDATE`` whose conditions keep concurrent
writers from undoing each other's work: change them with care.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from django.db.models import QuerySet, TextField
from django.db.models.functions import Cast
from django.utils import timezone

from ..tokens.encryption import Ciphertext

if TYPE_CHECKING:  # models.py imports this module: the type checker alone may import it
    from ..models import LiveLikeProfile

# The start of last_error on an active row whose nickname LiveLike refused.
NICKNAME_REFUSED = "Nickname refused by LiveLike"


class UsableRowUpdates(QuerySet["LiveLikeProfile"]):
    """The changes of a row once it is usable."""

    # -- what LiveLike says of a profile (livelike_sync, the admin's refresh) ------

    def mark_revoked(self, row: LiveLikeProfile, reason: str) -> bool:
        """LiveLike refuses the row's token: ``revoked``, unless the row changed since read."""
        return bool(
            self._as_read(row).update(
                status=self.model.Status.REVOKED,
                last_error=self.model.fit("last_error", reason),
                updated_at=timezone.now(),
            )
        )

    def record_refresh(
        self,
        row: LiveLikeProfile,
        *,
        profile_id: str | None = None,
        restore: bool = False,
        nickname: str | None = None,
        nickname_sent: bool = False,
    ) -> bool:
        """Record a read of the profile, unless the row changed since it was read.

        ``profile_id``: learned now; ``restore``: a revoked token works again;
        ``nickname``: LiveLike's, stored only while the site has none to push,
        or (``nickname_sent``) LiveLike's answer to the site's pending nickname
        sent with the read, which settles it unless the site changed it since.
        Raises ``IntegrityError`` if another row has ``profile_id``.
        """
        now = timezone.now()
        fields: dict[str, Any] = {"synced_at": now}
        same_row = self._as_read(row)
        if profile_id is not None:
            fields.update(profile_id=profile_id, updated_at=now)
        if restore:
            fields.update(status=self.model.Status.ACTIVE, last_error="", updated_at=now)
        if nickname is not None and nickname_sent:
            fields.update(nickname=nickname, nickname_sync_due=False, updated_at=now)
            same_row = same_row.filter(nickname=row.nickname)
        elif nickname is not None:
            fields.update(nickname=nickname, updated_at=now)
            same_row = same_row.filter(nickname_sync_due=False)
        if not same_row.update(**fields):
            return False
        for name, value in fields.items():
            setattr(row, name, value)
        return True

    def _as_read(self, row: LiveLikeProfile) -> QuerySet:
        return self.filter(pk=row.pk, status=row.status, profile_id=row.profile_id)

    # -- the nickname ----------------------------------------------------------------

    def record_nickname(self, row: LiveLikeProfile, nickname: str) -> None:
        """LiveLike accepted ``nickname``: store it, with nothing left to push."""
        row.nickname = self.model.fit("nickname", nickname)
        self.filter(pk=row.pk).update(
            nickname=row.nickname, nickname_sync_due=False, updated_at=timezone.now()
        )

    def mark_nickname_due(self, row: LiveLikeProfile) -> None:
        """The push failed: try again at the user's next login or save."""
        self.filter(pk=row.pk).update(nickname_sync_due=True)

    def mark_nickname_refused(self, row: LiveLikeProfile, reason: str) -> None:
        """LiveLike refused the nickname as such: not pushed again before the next save."""
        self.filter(pk=row.pk, status=self.model.Status.ACTIVE).update(
            nickname_sync_due=False,
            last_error=self.model.fit("last_error", f"{NICKNAME_REFUSED}: {reason}"),
            updated_at=timezone.now(),
        )

    def clear_nickname_refused(self, row: LiveLikeProfile) -> None:
        """A nickname was accepted: forget an earlier refusal."""
        if row.last_error.startswith(NICKNAME_REFUSED):
            self.filter(
                pk=row.pk, status=self.model.Status.ACTIVE, last_error__startswith=NICKNAME_REFUSED
            ).update(last_error="")

    # -- the token -----------------------------------------------------------------------

    def mark_credential_problem(self, row: LiveLikeProfile, problem: str) -> None:
        """Say on the row why it has no token to hand out; the status stays."""
        self.filter(pk=row.pk).exclude(last_error=problem).update(last_error=problem)

    def clear_last_error(self, row: LiveLikeProfile) -> None:
        """Clear the error the row was read with, unless another was written since."""
        self.filter(pk=row.pk, last_error=row.last_error).update(last_error="")

    # -- an operator's repair (:mod:`.repair`): a working profile again -------------------

    def keep_profile_minting(self, row: LiveLikeProfile, profile_id: str) -> bool:
        """Make the row ``active`` on ``profile_id``, minting its tokens, unless changed since read.

        The stored token (refused, or unreadable) is dropped: with a client
        secret a row without one mints its tokens for its custom id. Raises
        ``IntegrityError`` if another row has ``profile_id``.
        """
        fields = {
            "status": self.model.Status.ACTIVE,
            "profile_id": profile_id,
            "access_token": "",
            "last_error": "",
            "next_attempt_at": None,
            "claim": None,
            "lease_expires_at": None,
            "updated_at": timezone.now(),
        }
        return self._repaired(row, fields)

    def start_over(self, row: LiveLikeProfile, custom_id: str | None, reason: str) -> bool:
        """Forget the row's profile so that the next provisioning makes a new one (``custom_id``).

        The row becomes ``failed`` and due now, as a row never provisioned;
        unless it changed since it was read. The old profile stays at LiveLike.
        """
        fields = {
            "status": self.model.Status.FAILED,
            "profile_id": None,
            "access_token": "",
            "custom_id": custom_id,
            "nickname": "",
            "nickname_sync_due": False,
            "attempts": 0,
            "last_error": self.model.fit("last_error", reason),
            "next_attempt_at": None,
            "claim": None,
            "lease_expires_at": None,
            "synced_at": None,
            "updated_at": timezone.now(),
        }
        return self._repaired(row, fields)

    def _repaired(self, row: LiveLikeProfile, fields: dict[str, Any]) -> bool:
        same_row = self._as_read(row).filter(custom_id=row.custom_id)
        if not same_row.update(**fields):
            return False
        for name, value in fields.items():
            setattr(row, name, value)
        return True

    def replace_ciphertext(self, pk: Any, ciphertext: str) -> bool:
        """Re-encrypt a stored token with the current key, if it is still ``ciphertext``."""
        # Saving a Ciphertext makes the field re-encrypt it with the first key.
        return bool(
            self.annotate(stored=Cast("access_token", TextField()))
            .filter(pk=pk, stored=str(ciphertext))
            .update(access_token=Ciphertext(ciphertext))
        )
