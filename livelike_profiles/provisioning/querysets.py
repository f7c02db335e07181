"""Every change of a profile row's state, by name: ``LiveLikeProfile.objects``.

Each write is one ``INSERT`` or ``UPDATE`` whose conditions (on the claim,
the status, the profile id, the nickname still to push...) are what keep
concurrent writers from undoing each other's work: change them with care.
"""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta
from enum import Enum
from typing import TYPE_CHECKING, Any

from django.contrib.auth import get_user_model
from django.db import IntegrityError, OperationalError
from django.db.models import F, Q
from django.utils import timezone

from ..conf import conf
from ..exceptions import UserGone
from ..tokens import minting as tokens
from ..tokens.encryption import Ciphertext, FreshCiphertext
from .custom_ids import new_custom_id
from .row_updates import UsableRowUpdates

if TYPE_CHECKING:  # models.py imports this module: the type checker alone may import it
    from ..models import LiveLikeProfile


class Released(Enum):
    """What became of an attempt's outcome (:meth:`LiveLikeProfileQuerySet.release`)."""

    WRITTEN = "written"  # recorded, the claim ended
    TAKEN_OVER = "taken over"  # our lease ran out and another caller claimed the row
    ROW_DELETED = "row deleted"  # the user was deleted meanwhile

    def __bool__(self) -> bool:
        """True only when written: ``row, written = rows.release(...)`` reads as it did."""
        return self is Released.WRITTEN


class LiveLikeProfileQuerySet(UsableRowUpdates):
    """The rows, and the named state changes every writer in the package goes through.

    Those of a row being provisioned are here; those of a usable row (what
    LiveLike says of it, its nickname, its token) in :mod:`.row_updates`.
    """

    # -- reading ----------------------------------------------------------------------

    def queue(self, user: Any) -> bool:
        """INSERT the user's row as queued for a worker; ``False`` if the user already has one.

        ``pending`` with no claim and no attempt (:func:`is_queued`): never
        sent to LiveLike, claimable at once by whoever comes first (the task,
        or the profile's first use). Run in autocommit, like :meth:`claim`:
        a rival login's refused ``INSERT`` tells it the work is queued.
        """
        custom_id = {"custom_id": new_custom_id(user)} if conf.CUSTOM_IDS else {}
        try:
            self.create(user_id=user.pk, status=self.model.Status.PENDING, **custom_id)
        except IntegrityError:
            return False  # a rival inserted it first (or the user is gone): nothing to add
        return True

    def of_user(self, user_pk: Any) -> LiveLikeProfile | None:
        """The user's row, or ``None``: one ``SELECT`` by the unique ``user_id``.

        Not ``.first()``: its ``ORDER BY`` is pointless on a unique column, and
        compiling it cost more CPU than the rest of the query (this read is on
        every login and every request that uses the profile).
        """
        return next(iter(self.filter(user_id=user_pk)[:1]), None)

    def raise_if_user_gone(self, user_pk: Any) -> None:
        """Raise :class:`~.exceptions.UserGone` if no user has ``user_pk`` (one query).

        Asked only once a write for that user was refused, never on the way to one.
        """
        users = get_user_model()._base_manager  # the model's user is AUTH_USER_MODEL
        if not users.using(self.db).filter(pk=user_pk).exists():
            raise UserGone(f"No user has the primary key {user_pk!r}")

    def of_pk(self, pk: Any) -> LiveLikeProfile | None:
        """The row with this primary key, or ``None`` (see :meth:`of_user`)."""
        return next(iter(self.filter(pk=pk)[:1]), None)

    # -- who may claim a row -------------------------------------------------------
    # Failed and past its backoff, or pending with a dead lease (its process
    # died); a conflict whose profile has a custom id too, once a client
    # secret is set (a token minted for that custom id recovers it). The same
    # rule twice: in SQL here (where it decides), and in Python in
    # is_claimable() below the class (to skip a pointless write).

    # (is_claimable() and has_live_claim(), below the class, are this rule in Python.)

    def claimable_q(self, now: datetime, *, ignoring_backoff: bool = False) -> Q:
        """The SQL of :meth:`is_claimable`; ``ignoring_backoff``: due or not (an operator asks)."""
        status = self.model.Status
        due = Q() if ignoring_backoff else _at_or_before("next_attempt_at", now)
        claimable = Q(status=status.FAILED) & due | _lease_dead(status, now)
        if tokens.can_mint():
            claimable |= Q(status=status.CONFLICT, custom_id__isnull=False) & due
        return claimable

    # -- provisioning: claim, then release with the outcome ------------------------

    def claim(self, user: Any, *, has_row: bool) -> tuple[LiveLikeProfile | None, uuid.UUID | None]:
        """Claim the user's row for one attempt: the row and our claim id, or the row and ``None``.

        Inserts the row (``has_row`` false) or takes it over with one
        conditional ``UPDATE`` if claimable: the database lets exactly one
        caller win. Run in autocommit, so the claim is committed at once.
        ``(None, None)``: the row vanished meanwhile (look again). Raises
        :class:`~.exceptions.UserGone` when the user itself is gone.
        """
        status = self.model.Status
        now = timezone.now()
        claim = uuid.uuid4()
        claimed = {
            "status": status.PENDING,
            "claim": claim,
            "lease_expires_at": now + timedelta(seconds=conf.LEASE_SECONDS),
            "updated_at": now,
        }
        if not has_row:
            # The custom id is made here, once for the row's life (see new_custom_id).
            custom_id = {"custom_id": new_custom_id(user)} if conf.CUSTOM_IDS else {}
            try:
                return self.create(user_id=user.pk, attempts=1, **custom_id, **claimed), claim
            except IntegrityError:
                pass  # another caller inserted it first: take it over only if due
        try:
            taken = self.filter(self.claimable_q(now), user_id=user.pk).update(
                attempts=F("attempts") + 1, **claimed
            )
        except OperationalError:
            # REPEATABLE READ / SERIALIZABLE: a rival's concurrent claim made ours
            # fail to serialize. That rival holds the claim; we lost it.
            taken = 0
        row = self.of_user(user.pk)
        if row is None:
            # Our INSERT was refused and there is no row: its user is gone (the
            # foreign key refused it), unless a rival's row was deleted meanwhile.
            self.raise_if_user_gone(user.pk)
            return None, None
        if not taken:
            return row, None
        if conf.CUSTOM_IDS and not row.custom_id:
            # First claimed while CUSTOM_IDS was off: from now on keep one id.
            row.custom_id = new_custom_id(user)
            self.filter(pk=row.pk, claim=claim).update(custom_id=row.custom_id)
        return row, claim

    def release(
        self, row: LiveLikeProfile, claim: uuid.UUID, **outcome: Any
    ) -> tuple[LiveLikeProfile, Released]:
        """Write an attempt's outcome and end its claim, if we still hold it.

        Returns the row as it now is (``row`` itself, with the outcome, when
        written; unchanged when deleted), and what became of the outcome.
        """
        outcome.update(claim=None, lease_expires_at=None, updated_at=timezone.now())
        if self.filter(pk=row.pk, claim=claim).update(**outcome):
            for name, value in outcome.items():
                setattr(row, name, value)
            return row, Released.WRITTEN
        fresh = self.of_pk(row.pk)
        if fresh is None:
            return row, Released.ROW_DELETED
        return fresh, Released.TAKEN_OVER

    def release_active(
        self,
        row: LiveLikeProfile,
        claim: uuid.UUID,
        *,
        profile_id: str,
        access_token: str,
        nickname: str,
    ) -> tuple[LiveLikeProfile, Released]:
        """:meth:`release` with the profile LiveLike made (or an earlier attempt did)."""
        return self.release(
            row,
            claim,
            status=self.model.Status.ACTIVE,
            profile_id=profile_id,
            # Encrypted once, for the UPDATE and the row alike (the field would
            # encrypt a plain token for each).
            access_token=FreshCiphertext.of(access_token) if access_token else "",
            nickname=self.model.fit("nickname", nickname),
            last_error="",
            next_attempt_at=None,
        )

    def release_unusable(
        self,
        row: LiveLikeProfile,
        claim: uuid.UUID,
        status: str,
        reason: str,
        retry_at: datetime | None,
    ) -> tuple[LiveLikeProfile, Released]:
        """:meth:`release` as ``failed`` or ``conflict``, saying why and when to try again."""
        return self.release(
            row,
            claim,
            status=status,
            last_error=self.model.fit("last_error", reason),
            next_attempt_at=retry_at,
        )

    def make_due_now(self, user_pk: Any) -> int:
        """Let a ``failed`` row (or a recoverable ``conflict``) be claimed now, backoff or not.

        Never a ``pending`` row: its lease protects a create in flight.
        """
        retryable = self.claimable_q(timezone.now(), ignoring_backoff=True)
        retryable &= ~Q(status=self.model.Status.PENDING)
        return self.filter(retryable, user_id=user_pk).update(next_attempt_at=None)

    # -- a guest's profile, adopted at login -------------------------------------------

    def adopt(
        self,
        user: Any,
        *,
        custom_id: str,
        profile_id: str | None,
        access_token: str,
        nickname: str,
        created: bool,
    ) -> LiveLikeProfile:
        """INSERT the user's row with a guest's profile; ``IntegrityError`` if the user has one.

        ``created``: LiveLike answered its creation, and the row is ``active``
        at once. Otherwise (stored mode, the answer was lost) the row is
        ``failed`` and due now: the next attempt finds the profile by its
        custom id, as it would a user's. ``access_token`` is a ciphertext
        (``""``: none stored, the row mints its tokens).
        """
        fields = self._adopted(custom_id, profile_id, access_token, nickname, created)
        return self.create(user_id=user.pk, **fields)

    def adopt_in_place_of_queued(
        self,
        user: Any,
        *,
        custom_id: str,
        profile_id: str | None,
        access_token: str,
        nickname: str,
        created: bool,
    ) -> LiveLikeProfile | None:
        """:meth:`adopt` over the user's row if it is only queued (:meth:`queue`); else ``None``.

        A queued row was never sent to LiveLike: the guest's profile, with its
        points, takes its place (one conditional ``UPDATE``; the claim decides
        against a worker taking the row at the same moment).
        """
        fields = self._adopted(custom_id, profile_id, access_token, nickname, created)
        queued = Q(status=self.model.Status.PENDING, attempts=0, claim__isnull=True)
        if not self.filter(queued, user_id=user.pk, lease_expires_at__isnull=True).update(
            updated_at=timezone.now(), **fields
        ):
            return None
        return self.of_user(user.pk)

    def _adopted(
        self,
        custom_id: str,
        profile_id: str | None,
        access_token: str,
        nickname: str,
        created: bool,
    ) -> dict[str, Any]:
        """The row's fields for a guest's profile (see :meth:`adopt`)."""
        status = self.model.Status
        return {
            "custom_id": custom_id,
            "profile_id": profile_id or None,
            "access_token": Ciphertext(access_token) if access_token else "",
            "nickname": self.model.fit("nickname", nickname),
            "status": status.ACTIVE if created else status.FAILED,
            "attempts": 0 if created else 1,
        }

    # -- client-generated tokens: usable at once, profile id learned later ----------

    def create_minting(self, user: Any, nickname: str | None) -> LiveLikeProfile:
        """INSERT the user's row, usable at once (it mints tokens); ``IntegrityError`` if any."""
        return self.create(
            user_id=user.pk,
            custom_id=new_custom_id(user),
            status=self.model.Status.ACTIVE,
            # The site's nickname reaches LiveLike with the first call that
            # learns the profile id, never at login.
            nickname=nickname or "",
            nickname_sync_due=bool(nickname),
        )

    def make_minting(self, row: LiveLikeProfile, user: Any) -> bool:
        """Make a ``failed``, ``conflict`` or dead ``pending`` row active, minting its tokens.

        Never gives a fresh custom id to a row that already names a profile;
        a live claim is left to finish, a ``revoked`` row to an operator.
        """
        status = self.model.Status
        now = timezone.now()
        takeable = Q(status__in=[status.FAILED, status.CONFLICT]) | _lease_dead(status, now)
        takeable &= Q(custom_id__isnull=False) | Q(profile_id__isnull=True)
        if not row.custom_id and row.profile_id is None:  # first claimed with CUSTOM_IDS off
            self.filter(takeable, pk=row.pk, custom_id__isnull=True).update(
                custom_id=new_custom_id(user)
            )
        return bool(
            self.filter(takeable, pk=row.pk).update(
                status=status.ACTIVE,
                claim=None,
                lease_expires_at=None,
                next_attempt_at=None,
                last_error="",
                updated_at=now,
            )
        )

    def store_profile_id(self, row: LiveLikeProfile, profile_id: str, **fields: Any) -> bool:
        """Store the profile id LiveLike answered (and ``fields``), unless the row has one already.

        Raises ``IntegrityError`` if another row has that id.
        """
        fields.update(profile_id=profile_id, updated_at=timezone.now(), next_attempt_at=None)
        if not self.filter(pk=row.pk, profile_id__isnull=True).update(**fields):
            return False
        for name, value in fields.items():
            setattr(row, name, value)
        return True

    def retry_later(self, row: LiveLikeProfile, at: datetime) -> None:
        """Count a failed call for this row, and ask LiveLike again not before ``at``."""
        self.filter(pk=row.pk).update(attempts=F("attempts") + 1, next_attempt_at=at)
        row.attempts += 1
        row.next_attempt_at = at


def _at_or_before(name: str, now: datetime) -> Q:
    return Q(**{f"{name}__isnull": True}) | Q(**{f"{name}__lte": now})


def _lease_dead(status: Any, now: datetime) -> Q:
    return Q(status=status.PENDING) & _at_or_before("lease_expires_at", now)


def is_claimable(row: LiveLikeProfile, now: datetime) -> bool:
    """Whether ``row`` may be claimed now: the rule of :meth:`~.claimable_q`, in Python."""
    status = row.Status
    due = row.next_attempt_at is None or row.next_attempt_at <= now
    if row.status == status.FAILED:
        return due
    if row.status == status.PENDING:
        return row.lease_expires_at is None or row.lease_expires_at <= now
    if row.status == status.CONFLICT:
        return due and bool(row.custom_id) and tokens.can_mint()
    return False


def is_queued(row: LiveLikeProfile, now: datetime) -> bool:
    """Whether ``row`` waits for its first attempt, queued (:meth:`~.queue`) less than a lease ago.

    Older than that, its task may have been lost: a login enqueues another
    (the claim lets only one of them create the profile).
    """
    return (
        row.status == row.Status.PENDING
        and row.lease_expires_at is None
        and row.attempts == 0
        and row.updated_at > now - timedelta(seconds=conf.LEASE_SECONDS)
    )


def has_live_claim(row: LiveLikeProfile | None, now: datetime) -> bool:
    """Whether ``row`` is ``pending`` with a lease still running: a create in flight."""
    return row is not None and row.status == row.Status.PENDING and not is_claimable(row, now)
