"""The erasure outbox for operators: what is still owed to LiveLike, and "Retry now".

Rows are view-only (they come from user deletions and leave once LiveLike has
erased the profile); the action needs the model's "change" permission.
"""

from __future__ import annotations

from typing import Any

from django.contrib import admin, messages
from django.db import transaction
from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponse
from django.utils.text import Truncator
from django.utils.translation import gettext, ngettext
from django.utils.translation import gettext_lazy as _

from ..erasure.erasing import Erased, erase
from ..models import LiveLikeErasure
from .reports import limited

ERASURE_CHANGE_PERMISSION = "livelike_profiles.change_livelikeerasure"


@admin.register(LiveLikeErasure)
class LiveLikeErasureAdmin(admin.ModelAdmin):
    """Deleted users' profiles still to erase at LiveLike: view-only, and one action."""

    list_display = (
        "profile_id",
        "user_pk",
        "status",
        "attempts",
        "short_error",
        "requested_at",
        "next_attempt_at",
    )
    list_filter = ("status",)
    search_fields = ("=profile_id", "=custom_id", "=user_pk")
    ordering = ("requested_at", "pk")
    actions = ("retry_now",)
    fields = readonly_fields = (
        "user_pk",
        "profile_id",
        "custom_id",
        "status",
        "attempts",
        "last_error",
        "requested_at",
        "not_before",
        "next_attempt_at",
        "lease_expires_at",
    )

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False  # rows change only by erasing

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False  # deleting one would forget a profile owed to LiveLike

    def has_operate_permission(self, request: HttpRequest) -> bool:
        """Whether the user may run "Retry now": the model's "change" permission."""
        return request.user.has_perm(ERASURE_CHANGE_PERMISSION)

    @transaction.non_atomic_requests
    def changelist_view(self, request: HttpRequest, extra_context: Any = None) -> HttpResponse:
        # The action calls LiveLike: never inside a transaction.
        return super().changelist_view(request, extra_context)

    @admin.display(description=_("last error"), ordering="last_error")
    def short_error(self, obj: LiveLikeErasure) -> str:
        return Truncator(obj.last_error).chars(60)

    @admin.action(description=_("Retry now"), permissions=["operate"])
    def retry_now(self, request: HttpRequest, queryset: QuerySet[Any]) -> None:
        rows = limited(self, request, queryset)
        if rows is None:
            return
        outcomes = [erase(row.pk, ignoring_backoff=True) for row in rows]
        done = sum(outcome in (Erased.ERASED, Erased.GONE) for outcome in outcomes)
        failed = outcomes.count(Erased.FAILED)
        if done:
            text = ngettext(
                "%d profile erased at LiveLike.", "%d profiles erased at LiveLike.", done
            )
            self.message_user(request, text % done, messages.SUCCESS)
        if failed:
            text = gettext("%d erasure(s) failed again; see their last error.") % failed
            self.message_user(request, text, messages.ERROR)
        if len(rows) - done - failed:
            busy = len(rows) - done - failed
            text = gettext("%d erasure(s) not tried: in progress elsewhere or not due yet.") % busy
            self.message_user(request, text, messages.INFO)
