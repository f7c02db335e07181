"""The operators' admin of LiveLike profiles: view-only rows, three actions, a masked token.

Read-only means refused, not merely hidden: nobody has the change permission on
a row here, so the change page is Django's view-only page and a POST to it is a
403 before anything is written (a save of the row as read would undo a
provisioning finishing meanwhile). The model's "change" permission is what lets
an operator run the actions. See docs/reference/admin.md.
"""

from __future__ import annotations

from typing import Any

from django.contrib import admin
from django.contrib.auth import get_user_model
from django.core.exceptions import FieldDoesNotExist, PermissionDenied
from django.db import transaction
from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponse
from django.template.response import TemplateResponse
from django.utils.text import Truncator
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _

from ..exceptions import UnreadableTokenError
from ..models import LiveLikeProfile
from ..sync.backfill import provision_users
from ..sync.refresh import refresh_profile
from ..tokens.encryption import decrypt
from .actions import parent_actions
from .repairs import repair_profiles as confirm_and_repair
from .reports import limited, report_provisioning, report_refresh

# Who may run the actions (provisioning, refreshing, repairing): it changes nothing by hand.
CHANGE_PERMISSION = "livelike_profiles.change_livelikeprofile"
MASK = "••••"


def mask_token(profile: LiveLikeProfile) -> str:
    """The token as an operator may see it: ``••••`` and its last four characters."""
    if profile.stored_token is None:  # deferred
        profile.refresh_from_db(fields=["access_token"])
    stored = profile.stored_token or ""  # the ciphertext
    if profile.uses_minted_tokens:
        # A minted token's tail would only show its signature. A token stored
        # before the site minted them may still be in the row: say so, not its tail.
        if stored:
            return gettext(
                "(minted on demand with CLIENT_SECRET; a token stored earlier is kept, unused)"
            )
        return gettext("(minted on demand with CLIENT_SECRET, never stored)")
    if not stored:
        return "—"
    try:
        # Not the attribute: for a token no key reads, it would mint one in its place.
        token = decrypt(stored)
    except UnreadableTokenError:
        return gettext("(stored, but no configured key can decrypt it)")
    # Short values (never a real LiveLike token) would give too much away.
    return MASK + token[-4:] if len(token) >= 16 else MASK


@admin.register(LiveLikeProfile)
class LiveLikeProfileAdmin(admin.ModelAdmin):
    """Operators' view of the profiles: read-only rows, and three actions."""

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
    actions = ("provision_now", "refresh_from_livelike", "repair_profiles")
    fieldsets = (
        (None, {"fields": ("user", "status", "profile_id", "masked_token", "nickname")}),
        (
            _("Provisioning"),
            {
                "fields": (
                    "shown_custom_id",
                    "attempts",
                    "last_error",
                    "next_attempt_at",
                    "lease_expires_at",
                )
            },
        ),
        (
            _("Sync"),
            {"fields": ("nickname_to_push", "synced_at", "created_at", "updated_at")},
        ),
    )

    def get_queryset(self, request: HttpRequest) -> QuerySet[LiveLikeProfile]:
        # The change page's title is the row's __str__: with the user loaded, it names them.
        return super().get_queryset(request).select_related("user")

    def get_search_fields(self, request: HttpRequest) -> list[str]:
        return user_search_fields("user__") + ["=profile_id", "=custom_id"]

    def get_readonly_fields(self, request: HttpRequest, obj: Any = None) -> list[str]:
        # Every field: rows change only through provisioning, sync and the actions.
        return [
            name
            for _title, options in self.fieldsets
            for name in options["fields"]
            if isinstance(name, str)  # all of them: no field shares a line
        ]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        # Rows change only through provisioning, sync and the actions below.
        return False

    def has_operate_permission(self, request: HttpRequest) -> bool:
        """Whether the user may run the actions: the model's "change" permission."""
        return request.user.has_perm(CHANGE_PERMISSION)

    def get_actions(self, request: HttpRequest, action_location: Any = None) -> dict[str, Any]:
        actions = parent_actions(super().get_actions, request, action_location)
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

    @admin.display(description=_("custom id"))
    def shown_custom_id(self, obj: LiveLikeProfile) -> str:
        # Until the profile exists at LiveLike, whoever knows its custom id could
        # create it first and keep its token: staff see it only once it exists.
        if obj.profile_id or obj.status == LiveLikeProfile.Status.CONFLICT or not obj.custom_id:
            return obj.custom_id or "—"
        return gettext("(hidden until the profile exists at LiveLike)")

    @admin.display(description=_("last error"), ordering="last_error")
    def short_error(self, obj: LiveLikeProfile) -> str:
        return Truncator(obj.last_error).chars(60)

    @admin.display(description=_("nickname to push"))
    def nickname_to_push(self, obj: LiveLikeProfile) -> str:
        # Words, not Django's boolean icon: its red cross for False read as an error.
        if obj.nickname_sync_due:
            return gettext("waiting to be sent")
        return gettext("up to date")

    @admin.action(description=_("Provision or retry now"), permissions=["operate"])
    def provision_now(self, request: HttpRequest, queryset: QuerySet) -> None:
        rows = limited(self, request, queryset.select_related("user"))
        if rows is None:
            return
        results = provision_users(row.user for row in rows)
        report_provisioning(self, request, results, {row.user_id: row.user for row in rows})

    @admin.action(description=_("Refresh from LiveLike"), permissions=["operate"])
    def refresh_from_livelike(self, request: HttpRequest, queryset: QuerySet) -> None:
        rows = limited(self, request, queryset.select_related("user"))
        if rows is None:
            return
        was_active = {row.pk for row in rows if row.status == LiveLikeProfile.Status.ACTIVE}
        results = [refresh_profile(row) for row in rows]
        report_refresh(self, request, rows, results, was_active)

    @admin.action(description=_("Give a working profile again…"), permissions=["operate"])
    def repair_profiles(self, request: HttpRequest, queryset: QuerySet) -> TemplateResponse | None:
        # A confirmation page first (nothing done); only its POST repairs.
        return confirm_and_repair(self, request, queryset)


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
