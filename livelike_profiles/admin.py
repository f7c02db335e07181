"""The admin: LiveLike profiles for operators, and a user-side inline and action.

Nothing here can create a second profile for a user: provisioning goes
through :func:`~livelike_profiles.provisioning.ensure_profile` only; rows
cannot be added, edited or deleted by hand (a deleted row would let the next
login create a new profile; a profile row goes only with its user); ``conflict``
and ``revoked`` rows are reported, never "fixed" by creating another profile.

Read-only means refused, not merely hidden: nobody has the change permission
on a row here, so the change page is Django's view-only page and a POST to it
is a 403 before anything is written (a save of the row as read would undo a
provisioning finishing meanwhile). The model's "change" permission is what
lets an operator run the actions (:meth:`LiveLikeProfileAdmin.has_operate_permission`).

The access token is never in a page: only a mask (``••••`` and its last four
characters) is rendered, read-only, and no action message carries it.

Actions call LiveLike from the request, so the views that run them are made
non-atomic even under ``ATOMIC_REQUESTS`` (``ensure_profile`` inside a
transaction would only schedule itself), and a request handles at most
``MAX_ROWS_PER_ACTION`` rows: more is a job for ``manage.py livelike_provision``
or ``livelike_sync``.

Sites with their own user admin add :class:`LiveLikeUserAdminMixin` to it; on
Django's default ``UserAdmin`` it is added automatically (see the bottom).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

from django.contrib import admin, messages
from django.contrib.admin.models import CHANGE, LogEntry
from django.contrib.auth import get_user_model
from django.contrib.auth.admin import UserAdmin  # registered now, whatever the app order
from django.core.exceptions import FieldDoesNotExist, PermissionDenied
from django.db import transaction
from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponse
from django.utils.text import Truncator
from django.utils.translation import gettext, ngettext
from django.utils.translation import gettext_lazy as _

from .backfill import Outcome, UserResult, provision_users
from .conf import conf
from .exceptions import UnreadableTokenError
from .models import LiveLikeProfile
from .refresh_from_livelike import SyncOutcome, SyncResult, refresh_profile

MAX_ROWS_PER_ACTION = 100
_CHANGE_PERMISSION = "livelike_profiles.change_livelikeprofile"
MAX_NAMED_PER_MESSAGE = 20
MASK = "••••"


def mask_token(profile: LiveLikeProfile) -> str:
    """The token as an operator may see it: ``••••`` and its last four characters."""
    if profile.uses_minted_tokens:
        # Nothing stored; a minted token's tail would only show its signature.
        return gettext("(minted on demand with CLIENT_SECRET, never stored)")
    try:
        token = profile.access_token
    except UnreadableTokenError:
        return gettext("(stored, but no configured key can decrypt it)")
    if not token:
        return "—"
    # Short values (never a real LiveLike token) would give too much away.
    return MASK + token[-4:] if len(token) >= 16 else MASK


# -- the profile admin ---------------------------------------------------------------


@admin.register(LiveLikeProfile)
class LiveLikeProfileAdmin(admin.ModelAdmin):
    """Operators' view of the profiles: read-only rows, and two actions."""

    list_display = (
        "user",
        "profile_id",
        "nickname",
        "status",
        "attempts",
        "short_error",
        "updated_at",
    )
    list_filter = ("status",)
    list_select_related = ("user",)
    raw_id_fields = ("user",)
    ordering = ("-pk",)
    # A million rows: no second COUNT(*) over the whole table on each search.
    show_full_result_count = False
    actions = ("provision_now", "refresh_from_livelike")
    fieldsets = (
        (None, {"fields": ("user", "status", "profile_id", "masked_token", "nickname")}),
        (
            _("Provisioning"),
            {
                "fields": (
                    "custom_id",
                    "attempts",
                    "last_error",
                    "next_attempt_at",
                    "lease_expires_at",
                )
            },
        ),
        (
            _("Sync"),
            {"fields": ("nickname_sync_due", "synced_at", "created_at", "updated_at")},
        ),
    )

    def get_search_fields(self, request: HttpRequest) -> list[str]:
        return user_search_fields("user__") + ["=profile_id", "=custom_id"]

    def get_readonly_fields(self, request: HttpRequest, obj: Any = None) -> list[str]:
        # Every field: rows change only through provisioning, sync and the actions.
        return [name for _title, options in self.fieldsets for name in options["fields"]]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        # Rows change only through provisioning, sync and the actions below.
        return False

    def has_operate_permission(self, request: HttpRequest) -> bool:
        """Whether the user may run the actions: the model's "change" permission."""
        return request.user.has_perm(_CHANGE_PERMISSION)

    def get_actions(self, request: HttpRequest) -> dict[str, Any]:
        actions = super().get_actions(request)
        actions.pop("delete_selected", None)
        return actions

    def change_view(
        self,
        request: HttpRequest,
        object_id: str,
        form_url: str = "",
        extra_context: dict[str, Any] | None = None,
    ) -> HttpResponse:
        # The delete permission stays (see delete_view): hide the link it would show.
        return super().change_view(
            request, object_id, form_url, {"show_delete": False, **(extra_context or {})}
        )

    def delete_view(self, request: HttpRequest, object_id: str, extra_context: Any = None) -> Any:
        # Deleting a row would let the next login create a new profile (and,
        # without custom ids, a second one at LiveLike). The delete permission
        # itself stays, so deleting a *user* still removes their row.
        raise PermissionDenied

    @transaction.non_atomic_requests
    def changelist_view(self, request: HttpRequest, extra_context: Any = None) -> HttpResponse:
        return super().changelist_view(request, extra_context)

    @admin.display(description=_("access token"))
    def masked_token(self, obj: LiveLikeProfile) -> str:
        return mask_token(obj)

    @admin.display(description=_("last error"), ordering="last_error")
    def short_error(self, obj: LiveLikeProfile) -> str:
        return Truncator(obj.last_error).chars(60)

    @admin.action(description=_("Provision or retry now"), permissions=["operate"])
    def provision_now(self, request: HttpRequest, queryset: QuerySet) -> None:
        rows = _limited(self, request, queryset.select_related("user"))
        if rows is None:
            return
        results = provision_users(row.user for row in rows)
        _report_provisioning(self, request, results, {row.user_id: row.user for row in rows})

    @admin.action(description=_("Refresh from LiveLike"), permissions=["operate"])
    def refresh_from_livelike(self, request: HttpRequest, queryset: QuerySet) -> None:
        rows = _limited(self, request, queryset.select_related("user"))
        if rows is None:
            return
        by_pk = {row.pk: row for row in rows}
        # History for status changes only (a row found still revoked is not one).
        was_active = {
            pk for pk, row in by_pk.items() if row.status == LiveLikeProfile.Status.ACTIVE
        }
        results = [refresh_profile(row) for row in rows]
        for outcome, group in _grouped(results, lambda r: r.outcome).items():
            level, text = _SYNC_MESSAGES[outcome]
            named = _named(text, [by_pk[r.profile_pk].user for r in group], group)
            self.message_user(request, named, level)
        for outcome in (SyncOutcome.REVOKED, SyncOutcome.RESTORED):
            changed = [
                by_pk[r.profile_pk]
                for r in results
                if r.outcome == outcome
                and (outcome != SyncOutcome.REVOKED or r.profile_pk in was_active)
            ]
            _log(request, changed, _SYNC_MESSAGES[outcome][1])


def user_search_fields(prefix: str = "") -> list[str]:
    """Search fields for the user model: its ``USERNAME_FIELD``, and its e-mail field if any."""
    model = get_user_model()
    names = [model.USERNAME_FIELD]
    email = model.get_email_field_name()
    try:
        model._meta.get_field(email)
    except FieldDoesNotExist:
        pass
    else:
        if email not in names:
            names.append(email)
    return [prefix + name for name in names]


# -- the user side -------------------------------------------------------------------


class LiveLikeProfileInline(admin.StackedInline):
    """A read-only summary of the user's LiveLike profile on the user's change page."""

    model = LiveLikeProfile
    fk_name = "user"
    can_delete = False
    extra = 0
    max_num = 1
    verbose_name = _("LiveLike profile")
    verbose_name_plural = _("LiveLike profile")
    fields = readonly_fields = (
        "status",
        "profile_id",
        "masked_token",
        "nickname",
        "attempts",
        "last_error",
        "next_attempt_at",
        "synced_at",
        "updated_at",
    )

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        # View-only: Django then never saves these forms, whatever a POST holds.
        return False

    @admin.display(description=_("access token"))
    def masked_token(self, obj: LiveLikeProfile) -> str:
        return mask_token(obj)


@admin.action(description=_("Provision LiveLike profiles"))
def provision_livelike_profiles(modeladmin: Any, request: HttpRequest, queryset: QuerySet) -> None:
    """The user admin's action: ensure each selected user has their one profile."""
    if not request.user.has_perm(_CHANGE_PERMISSION):
        raise PermissionDenied
    users = _limited(modeladmin, request, queryset)
    if users is None:
        return
    results = provision_users(users)
    _report_provisioning(modeladmin, request, results, {user.pk: user for user in users})


class LiveLikeUserAdminMixin:
    """Add to your user admin: the LiveLike inline on the change page, and the action.

    ::

        from django.contrib.auth.admin import UserAdmin
        from livelike_profiles.admin import LiveLikeUserAdminMixin

        @admin.register(User)
        class MyUserAdmin(LiveLikeUserAdminMixin, UserAdmin):
            ...
    """

    livelike_inline = LiveLikeProfileInline

    def get_inlines(self, request: HttpRequest, obj: Any) -> list[Any]:
        inlines = list(super().get_inlines(request, obj))  # type: ignore[misc]
        if obj is not None and self.livelike_inline not in inlines:
            inlines.append(self.livelike_inline)
        return inlines

    def get_actions(self, request: HttpRequest) -> dict[str, Any]:
        actions = super().get_actions(request)  # type: ignore[misc]
        if request.user.has_perm(_CHANGE_PERMISSION):
            action = provision_livelike_profiles
            actions[action.__name__] = (action, action.__name__, action.short_description)
        return actions

    @transaction.non_atomic_requests
    def changelist_view(self, request: HttpRequest, extra_context: Any = None) -> HttpResponse:
        return super().changelist_view(request, extra_context)  # type: ignore[misc]


# -- reporting ----------------------------------------------------------------------

_PROVISION_MESSAGES = {
    Outcome.CREATED: (messages.SUCCESS, _("LiveLike profile created")),
    Outcome.ACTIVE: (messages.INFO, _("Already active, nothing to do")),
    Outcome.FAILED: (messages.ERROR, _("Failed, will be retried")),
    Outcome.CONFLICT: (
        messages.WARNING,
        _("In conflict: left for an operator, never solved by creating another profile"),
    ),
    Outcome.REVOKED: (
        messages.WARNING,
        _("Token revoked: replacing the profile is an explicit operator decision"),
    ),
    Outcome.BUSY: (messages.INFO, _("Being created by another request right now")),
    Outcome.SCHEDULED: (messages.INFO, _("Scheduled for when the current transaction commits")),
}

_SYNC_MESSAGES = {
    SyncOutcome.REFRESHED: (messages.SUCCESS, _("Refreshed from LiveLike")),
    SyncOutcome.REVOKED: (messages.WARNING, _("LiveLike refuses the token: marked revoked")),
    SyncOutcome.RESTORED: (messages.SUCCESS, _("The token works again: active again")),
    SyncOutcome.MISMATCH: (messages.ERROR, _("The token reads another profile: left as it is")),
    SyncOutcome.UNREADABLE: (
        messages.ERROR,
        _("The stored token cannot be decrypted (a key is missing)"),
    ),
    SyncOutcome.ERROR: (messages.ERROR, _("LiveLike failed: left as it is")),
    SyncOutcome.CHANGED: (messages.INFO, _("Changed meanwhile: left as it is")),
    SyncOutcome.SKIPPED: (messages.INFO, _("Not active: nothing to refresh")),
}


def _limited(modeladmin: Any, request: HttpRequest, queryset: QuerySet) -> list[Any] | None:
    """The selected objects, or ``None`` (with a message) when there are too many for a request."""
    objects = list(queryset[: MAX_ROWS_PER_ACTION + 1])
    if len(objects) > MAX_ROWS_PER_ACTION:
        modeladmin.message_user(
            request,
            gettext(
                "At most %(limit)d rows at a time here; nothing was done. For more, use "
                "manage.py livelike_provision or livelike_sync."
            )
            % {"limit": MAX_ROWS_PER_ACTION},
            messages.ERROR,
        )
        return None
    return objects


def _report_provisioning(
    modeladmin: Any, request: HttpRequest, results: list[UserResult], users: dict[Any, Any]
) -> None:
    """One message per outcome naming its users; a history entry on each profile created."""
    for outcome, group in _grouped(results, lambda r: r.outcome).items():
        level, text = _PROVISION_MESSAGES[outcome]
        named = _named(text, [users.get(r.user_pk) for r in group], group)
        modeladmin.message_user(request, named, level)
    created = [r.user_pk for r in results if r.outcome == Outcome.CREATED]
    _log(
        request,
        LiveLikeProfile.objects.filter(user_id__in=created),
        _("Provisioned from the admin"),
    )


def _log(request: HttpRequest, rows: Iterable[LiveLikeProfile], message: Any) -> None:
    """Admin history entries for ``rows`` (who did what; never anything secret)."""
    rows = list(rows)
    if rows:
        LogEntry.objects.log_actions(
            user_id=request.user.pk, queryset=rows, action_flag=CHANGE, change_message=str(message)
        )


def _grouped(results: Iterable[Any], key: Callable[[Any], Any]) -> dict[Any, list[Any]]:
    grouped: dict[Any, list[Any]] = {}
    for result in results:
        grouped.setdefault(key(result), []).append(result)
    return grouped


def _named(text: Any, users: list[Any], results: list[UserResult | SyncResult]) -> str:
    """``text``, then the users it applies to (and their error, for failures), capped."""
    parts = []
    for user, result in list(zip(users, results, strict=True))[:MAX_NAMED_PER_MESSAGE]:
        name = user.get_username() if user is not None else str(result.user_pk)
        detail = getattr(result, "detail", "")
        parts.append(f"{name} ({detail})" if detail else name)
    more = len(users) - MAX_NAMED_PER_MESSAGE
    if more > 0:
        parts.append(ngettext("and %d more", "and %d more", more) % more)
    return f"{text}: {', '.join(parts)}"


# -- Django's default UserAdmin gets the mixin; a site's own user admin adds it itself.


class LiveLikeUserAdmin(LiveLikeUserAdminMixin, UserAdmin):
    """Django's ``UserAdmin`` with the LiveLike inline and action."""


def register_on_default_user_admin(site: admin.AdminSite = admin.site) -> bool:
    """Swap Django's default ``UserAdmin`` for :class:`LiveLikeUserAdmin`, if it is the one in use.

    Only when ``LIVELIKE["USER_ADMIN"]`` is on (the default). Any other user
    admin (a subclass included) is the site's own: left alone.
    """
    if not conf.USER_ADMIN:
        return False
    user_model = get_user_model()
    if type(site._registry.get(user_model)) is not UserAdmin:
        return False
    site.unregister(user_model)
    site.register(user_model, LiveLikeUserAdmin)
    return True


register_on_default_user_admin()
