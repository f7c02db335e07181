"""One attempt at a user's profile, made while holding the row's claim: :class:`Attempt`.

The attempt asks LiveLike (create, or find by custom id what a lost answer
created) and records what came of it in the row, ending the claim, as long
as the claim is still its own: a lease that ran out lets another caller take
the row over, and the outcome written then is that caller's.
"""

from __future__ import annotations

import logging
import time
import uuid
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

from django.contrib.auth.base_user import AbstractBaseUser
from django.db import router
from django.dispatch import Signal
from django.utils import timezone

from ..exceptions import LiveLikeError, describe_error
from ..livelike.client import clean_text
from ..models import LiveLikeProfile
from ..signals import profile_provisioned, provisioning_failed
from ..support import notify, task_queue
from ..tokens import minting as tokens
from .backoff import backoff_seconds, retry_delay
from .create_at_livelike import Obtained, Unrecoverable, obtain
from .querysets import LiveLikeProfileQuerySet, Released
from .results import ProvisionResult

logger = logging.getLogger("livelike_profiles.provisioning")

Status = LiveLikeProfile.Status


def _rows() -> LiveLikeProfileQuerySet:
    """Rows on the primary: the outcome is written where the claim was."""
    return LiveLikeProfile.objects.using(router.db_for_write(LiveLikeProfile))


@dataclass
class Attempt:
    """The attempt that holds ``claim`` on ``user``'s ``row``; :meth:`run` makes it.

    Each outcome method (:meth:`succeeded`, :meth:`failed`,
    :meth:`in_conflict`) releases the claim with what it learned, then, only
    if that was written, logs it and sends the app's signal.
    """

    user: AbstractBaseUser
    row: LiveLikeProfile
    claim: uuid.UUID
    started: float = field(default_factory=time.monotonic)

    def run(self) -> ProvisionResult:
        """Ask LiveLike, record the outcome; never raises.

        An error nobody foresaw, in the call (an answer, a setting or a site
        callable) or in recording its outcome (the database refusing it), is
        logged with its traceback and recorded as a failure, the claim
        released. A profile created meanwhile is found again by its custom id.
        If even the failure cannot be recorded (the database itself failing),
        the claim is released when its lease ends.
        """
        try:
            return self._ask_livelike()
        except Exception as error:
            logger.error(
                "LiveLike provisioning attempt raised: user=%s attempt=%s error=%s",
                self.row.user_id,
                self.row.attempts,
                type(error).__name__,
                exc_info=True,
            )
            try:
                return self.failed(error)
            except Exception:
                logger.exception(
                    "LiveLike provisioning failure not recorded: user=%s attempt=%s (the claim "
                    "is released when its lease ends)",
                    self.row.user_id,
                    self.row.attempts,
                )
                return ProvisionResult(self.row, error=error)

    def _ask_livelike(self) -> ProvisionResult:
        try:
            found = obtain(self.user, self.row.custom_id)
        except LiveLikeError as error:  # an outage, a refusal: retried after a backoff
            return self.failed(error)
        if isinstance(found, Unrecoverable):
            return self.in_conflict(found.reason)
        return self.succeeded(found)

    # -- the outcomes --------------------------------------------------------------

    def succeeded(self, found: Obtained) -> ProvisionResult:
        """LiveLike has the profile: the row is ``active`` with its id and token."""
        remote = found.remote
        fresh, released = self._release(
            _rows().release_active(
                self.row,
                self.claim,
                profile_id=remote.id,
                access_token=remote.access_token,
                nickname=remote.nickname,
            )
        )
        if released is not Released.WRITTEN:
            if not self.row.custom_id:  # nothing can find this profile again
                logger.error(
                    "LiveLike profile orphaned: user=%s profile=%s (created after this "
                    "attempt's lease expired; LEASE_SECONDS is too short for LiveLike's latency)",
                    self.row.user_id,
                    remote.id,
                )
            return ProvisionResult(fresh)
        how = "recovered" if found.recovered else "created"
        self._report(logging.INFO, f"LiveLike profile {how}", before=f"profile={remote.id} ")
        self._send(profile_provisioned, recovered=found.recovered)
        return ProvisionResult(fresh, created=not found.recovered, recovered=found.recovered)

    def failed(self, error: Exception) -> ProvisionResult:
        """LiveLike (or this code) failed: the row is ``failed``, due again after a backoff."""
        delay = retry_delay(self.row.attempts, error)
        reason = describe_error(error)  # the traceback of an unexpected one is in the log
        retry_at = timezone.now() + timedelta(seconds=delay)
        fresh, released = self._release(
            _rows().release_unusable(self.row, self.claim, Status.FAILED, _fit(reason), retry_at)
        )
        if released is not Released.WRITTEN:
            return ProvisionResult(fresh)
        self._report(
            logging.WARNING,
            "LiveLike profile not provisioned",
            after=f" error={type(error).__name__} retry_in_s={delay:.0f}",
        )
        self._send(provisioning_failed, error=error)
        task_queue.enqueue("provision_user", self.row.user_id, run_after=retry_at)
        return ProvisionResult(fresh, error=error)

    def in_conflict(self, reason: str) -> ProvisionResult:
        """LiveLike has a profile for the custom id that cannot be used: ``conflict``.

        Left for an operator, unless a client secret can recover it: then it
        is retried with the backoff of a failure (a refused minted token is
        not asked again at every request); without one, it is due as soon as
        a secret is set.
        """
        retry_at = None
        if tokens.can_mint():
            retry_at = timezone.now() + timedelta(seconds=backoff_seconds(self.row.attempts))
        fresh, released = self._release(
            _rows().release_unusable(self.row, self.claim, Status.CONFLICT, _fit(reason), retry_at)
        )
        if released is not Released.WRITTEN:
            return ProvisionResult(fresh)
        self._report(
            logging.ERROR,
            "LiveLike profile in conflict, left for an operator",
            after=f" error=LiveLikeConflict reason={reason}",
        )
        self._send(provisioning_failed, error=None)
        if retry_at is not None:  # a client secret may recover it: tried again then
            task_queue.enqueue("provision_user", self.row.user_id, run_after=retry_at)
        return ProvisionResult(fresh)

    # -- the steps every outcome takes --------------------------------------------------

    def _release(
        self, released: tuple[LiveLikeProfile, Released]
    ) -> tuple[LiveLikeProfile, Released]:
        """What the claim's release did, with the row as it now is; a dropped outcome logged."""
        fresh, what = released
        if what is Released.ROW_DELETED:
            # The user was deleted meanwhile; the erasure recorded then finds
            # this profile by its custom id (see erasure).
            logger.info(
                "LiveLike provisioning outcome dropped: user=%s attempt=%s (the row was "
                "deleted meanwhile)",
                self.row.user_id,
                self.row.attempts,
            )
        elif what is Released.TAKEN_OVER:  # the other caller's outcome stands
            logger.warning(
                "LiveLike provisioning outcome dropped: user=%s attempt=%s status_now=%s (lease "
                "expired and the claim was taken over)",
                self.row.user_id,
                self.row.attempts,
                fresh.status,
            )
        return fresh, what

    def _report(self, level: int, what: str, *, before: str = "", after: str = "") -> None:
        """Log an outcome written: the user, the attempt's number and how long it took."""
        logger.log(
            level,
            "%s: user=%s %sattempt=%s duration_ms=%.0f%s",
            what,
            self.row.user_id,
            before,
            self.row.attempts,
            (time.monotonic() - self.started) * 1000,
            after,
        )

    def _send(self, signal: Signal, **kwargs: Any) -> None:
        notify.send(signal, LiveLikeProfile, profile=self.row, user=self.user, **kwargs)


def _fit(reason: str) -> str:
    """``reason`` made safe and short enough for the row's ``last_error``."""
    return clean_text(reason, LiveLikeProfile.max_length("last_error"))
