"""The app's tables: each user's LiveLike profile, and the profiles to erase at LiveLike."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from .conf import conf
from .erasure.outbox import ErasureQuerySet
from .exceptions import UnreadableTokenError
from .fields import EncryptedTokenField, ciphertext_as_is, stored_value
from .provisioning.querysets import LiveLikeProfileQuerySet
from .tokens import minting as tokens
from .tokens.encryption import decrypt
from .tokens.minting import AccessToken
from .tokens.redaction import Secret


class LiveLikeProfile(models.Model):
    """Exactly one per user: the LiveLike profile id, its access token (encrypted), and state.

    The row is claimed (``pending``) before LiveLike is asked to create the
    profile, so the database, not a process, decides who makes that call.
    """

    class Status(models.TextChoices):
        PENDING = "pending", _("Pending")
        ACTIVE = "active", _("Active")
        FAILED = "failed", _("Failed")
        CONFLICT = "conflict", _("Conflict")
        REVOKED = "revoked", _("Token revoked")

    user = models.OneToOneField(
        settings.AUTH_USER_MODEL,
        on_delete=models.CASCADE,
        related_name="livelike_profile",
        verbose_name=_("user"),
    )
    status = models.CharField(
        _("status"), max_length=16, choices=Status.choices, default=Status.PENDING, db_index=True
    )
    # "No id yet" is NULL, not "": every database lets NULLs repeat under a
    # plain unique constraint, while MariaDB/MySQL cannot build the
    # conditional one that "" would need.
    profile_id = models.CharField(
        _("LiveLike profile id"),
        max_length=64,
        null=True,
        blank=True,
        default=None,
        unique=True,
        editable=False,
    )
    access_token = EncryptedTokenField(
        _("access token"),
        blank=True,
        default="",
        editable=False,
        help_text=_("Stored encrypted; reads as the plain token in Python."),
    )
    nickname = models.CharField(_("nickname"), max_length=255, blank=True, default="")
    custom_id = models.CharField(
        _("custom id"),
        max_length=255,
        null=True,
        blank=True,
        default=None,
        unique=True,
        editable=False,
        help_text=_(
            "Made once for this row (keyed hash of the user's primary key and a random "
            "nonce); sent to LiveLike as the custom id."
        ),
    )
    attempts = models.PositiveIntegerField(_("attempts"), default=0, editable=False)
    last_error = models.CharField(_("last error"), max_length=255, blank=True, default="")
    next_attempt_at = models.DateTimeField(_("next attempt at"), null=True, blank=True)
    lease_expires_at = models.DateTimeField(
        _("lease expires at"),
        null=True,
        blank=True,
        editable=False,
        help_text=_("While pending: when another process may take the claim over."),
    )
    claim = models.UUIDField(_("claim"), null=True, blank=True, editable=False)
    nickname_sync_due = models.BooleanField(
        _("nickname to push"),
        default=False,
        help_text=_("The site's nickname for the user changed and LiveLike is not yet told."),
    )
    synced_at = models.DateTimeField(
        _("last synced"),
        null=True,
        blank=True,
        help_text=_("When livelike_sync last read this profile from LiveLike."),
    )
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)
    updated_at = models.DateTimeField(_("updated at"), auto_now=True)

    objects = LiveLikeProfileQuerySet.as_manager()

    #: True for an anonymous visitor's guest profile: never saved, it lives in
    #: the session (see :mod:`livelike_profiles.guests`).
    is_guest = False

    class Meta:
        verbose_name = _("LiveLike profile")
        verbose_name_plural = _("LiveLike profiles")

    def __str__(self) -> str:
        if self.is_guest:
            return f"LiveLike guest profile {self._shown_id()}"
        # Never the token, and never a query: the user's own __str__ only when
        # the user is loaded already (the admin loads it), else their id.
        user = self.user if type(self).user.is_cached(self) else self.user_id
        return f"LiveLike profile {self._shown_id()} of user {user}"

    def save(self, *args: Any, **kwargs: Any) -> None:
        """Save the row; a guest profile, which lives in a session, refuses."""
        if self.is_guest:
            raise TypeError("A guest profile lives in the visitor's session and is never saved.")
        super().save(*args, **kwargs)

    def _shown_id(self) -> str:
        if self.profile_id:
            return self.profile_id
        if self.status in (self.Status.PENDING, self.Status.FAILED):
            return "(not provisioned yet)"
        # Active with minted tokens: LiveLike makes the profile at a token's
        # first use, which also tells its id. Conflict: it exists, id unknown.
        return "(id not learned yet)"

    def refresh_from_db(self, *args: Any, **kwargs: Any) -> None:
        """Reload from the database, even when no configured key can decrypt the token."""
        # Django copies each value from a fresh instance with getattr(), which
        # would decrypt the token: copy the ciphertext as it is instead.
        with ciphertext_as_is():
            super().refresh_from_db(*args, **kwargs)

    @classmethod
    def max_length(cls, name: str) -> int:
        """The ``max_length`` of the field ``name``."""
        field = cls._meta.get_field(name)
        # Asked only of this model's CharFields, which all have one.
        if not isinstance(field, models.CharField) or field.max_length is None:
            raise TypeError(f"{name} is not a field with a max_length")
        return field.max_length

    @classmethod
    def fit(cls, name: str, text: str) -> str:
        """``text`` cut to what the field ``name`` holds."""
        return text[: cls.max_length(name)]

    @property
    def is_active(self) -> bool:
        """Whether the profile is usable: active, with its token stored or mintable by the site.

        An active row with no stored token (it mints one) is not usable while
        no ``CLIENT_SECRET`` is set: nothing could hand the SDK a token.
        """
        if self.status != self.Status.ACTIVE:
            return False
        stored = self.stored_token
        if stored is None:  # deferred: not known without a query
            return True
        return bool(stored) or self._mints(stored)

    @property
    def stored_token(self) -> str | None:
        """The access token as stored: its ciphertext, ``""`` when none is, ``None`` if deferred.

        Never decrypted, never minted: what the database holds, for code that
        must tell "stored" from "minted" or show a mask.
        """
        return stored_value(self, "access_token")

    @property
    def uses_minted_tokens(self) -> bool:
        """Whether reading ``access_token`` mints a fresh token rather than decrypting one."""
        return self._mints(self.stored_token or "")

    def credential(self) -> AccessToken:
        """The access token to hand the SDK, with when it expires (``None`` for a stored one).

        Raises :class:`~livelike_profiles.exceptions.UnreadableTokenError` for a
        stored token no configured key can decrypt (and nothing to mint instead).
        """
        stored = self.stored_token
        if stored is None:  # deferred
            self.refresh_from_db(fields=["access_token"])
            stored = self.stored_token or ""
        return self.credential_from(stored)

    def credential_from(self, stored: str) -> AccessToken:
        """The token ``stored`` (ciphertext or ``""``) stands for: minted, or decrypted.

        The one rule both ``access_token`` and :meth:`credential` read by. A
        token is minted for an active row with a custom id when a client
        secret is set: always in ``"client-generated"`` mode; in ``"stored"``
        mode only when LiveLike gave no token to store (a recovered lost
        answer), or when no configured key can decrypt the stored one. Either
        names the same profile.
        """
        custom_id = self._minting_for(stored)
        if custom_id:
            return tokens.mint(custom_id)
        try:
            return AccessToken(Secret(decrypt(stored)) if stored else Secret(""))
        except UnreadableTokenError:
            custom_id = self._minting_for("")
            if custom_id:  # a token for the same profile, without the lost key
                return tokens.mint(custom_id)
            raise

    def read_access_token(self, stored: str) -> str:
        """What the ``access_token`` attribute reads (the field asks): see credential_from()."""
        return self.credential_from(stored).token

    def mints_instead_of_unreadable(self) -> bool:
        """Whether a stored token no configured key can decrypt gives way to a minted one.

        As ``credential()`` and the field do then: for an active row with a
        custom id, while a client secret is set (the token names the same profile).
        """
        return self._mints("")

    def _mints(self, stored: str) -> bool:
        return self._minting_for(stored) is not None

    def _minting_for(self, stored: str) -> str | None:
        """The custom id to mint a token for instead of reading ``stored``, or ``None``."""
        if not (self.custom_id and self.status == self.Status.ACTIVE and tokens.can_mint()):
            return None
        # Never a decryption here: this runs on every read of the token.
        return self.custom_id if conf.CLIENT_GENERATED or not stored else None


class LiveLikeErasure(models.Model):
    """A LiveLike profile to erase, recorded in the transaction that deleted its user.

    The outbox of ``ON_USER_DELETE = "delete"``: written with the deletion (a
    rollback takes it back), worked off after the commit and by
    ``livelike_sync``, removed once LiveLike has erased the profile (or has
    none). Never holds a token.
    """

    class Status(models.TextChoices):
        PENDING = "pending", _("To erase")
        FAILED = "failed", _("Failed, retried later")

    user_pk = models.CharField(_("deleted user's id"), max_length=255)
    # "" while unknown: nothing here is unique (a profile may be owed twice).
    profile_id = models.CharField(_("LiveLike profile id"), max_length=64, blank=True, default="")
    custom_id = models.CharField(_("custom id"), max_length=255, blank=True, default="")
    status = models.CharField(
        _("status"), max_length=16, choices=Status.choices, default=Status.PENDING
    )
    requested_at = models.DateTimeField(_("requested at"), default=timezone.now)
    not_before = models.DateTimeField(
        _("not before"),
        null=True,
        blank=True,
        help_text=_("A create was in flight: its outcome is known only after its lease."),
    )
    attempts = models.PositiveIntegerField(_("attempts"), default=0)
    last_error = models.CharField(_("last error"), max_length=255, blank=True, default="")
    next_attempt_at = models.DateTimeField(_("next attempt at"), null=True, blank=True)
    lease_expires_at = models.DateTimeField(
        _("lease expires at"),
        null=True,
        blank=True,
        help_text=_("While an attempt is in flight: when another process may try instead."),
    )

    objects = ErasureQuerySet.as_manager()

    class Meta:
        verbose_name = _("LiveLike erasure")
        verbose_name_plural = _("LiveLike erasures")
        ordering = ("requested_at", "pk")

    def __str__(self) -> str:
        return (
            f"LiveLike erasure of profile {self.profile_id or self.custom_id} (user {self.user_pk})"
        )
