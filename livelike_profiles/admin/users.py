"""The LiveLike profile on the site's user admin: an inline and a "Provision" action.

A site adds :class:`LiveLikeUserAdminMixin` to its own user admin, or sets
``LIVELIKE["USER_ADMIN"] = True`` to have Django's default ``UserAdmin``
swapped for :class:`LiveLikeUserAdmin`. Nothing changes the site's user admin
unless it asks.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from django.contrib import admin
from django.contrib.auth import get_user_model
from django.contrib.auth.admin import UserAdmin  # registered now, whatever the app order
from django.core.exceptions import PermissionDenied
from django.db import transaction
from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponse
from django.utils.translation import gettext_lazy as _

from ..conf import conf
from ..models import LiveLikeProfile
from ..sync.backfill import provision_users
from .actions import parent_actions
from .profiles import CHANGE_PERMISSION, mask_token
from .reports import limited, report_provisioning


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

    def get_queryset(self, request: HttpRequest) -> QuerySet[LiveLikeProfile]:
        # The row's heading is its __str__: with the user loaded, it names them.
        return super().get_queryset(request).select_related("user")

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        # View-only: Django then never saves these forms, whatever a POST holds.
        return False

    @admin.display(description=_("access token"))
    def masked_token(self, obj: LiveLikeProfile) -> str:
        return mask_token(obj)


PROVISION_DESCRIPTION = _("Provision LiveLike profiles")


@admin.action(description=PROVISION_DESCRIPTION)
def provision_livelike_profiles(modeladmin: Any, request: HttpRequest, queryset: QuerySet) -> None:
    """The user admin's action: ensure each selected user has their one profile.

    Deactivated users selected are provisioned too: the operator chose them.
    """
    if not request.user.has_perm(CHANGE_PERMISSION):
        raise PermissionDenied
    users = limited(modeladmin, request, queryset)
    if users is None:
        return
    results = provision_users(users)
    report_provisioning(modeladmin, request, results, {user.pk: user for user in users})


# The mixin's methods extend a ModelAdmin's: say so to the type checker only.
if TYPE_CHECKING:
    _UserAdminBase = admin.ModelAdmin
else:
    _UserAdminBase = object


class LiveLikeUserAdminMixin(_UserAdminBase):
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
        inlines = list(super().get_inlines(request, obj))
        if obj is not None and self.livelike_inline not in inlines:
            inlines.append(self.livelike_inline)
        return inlines

    def get_actions(self, request: HttpRequest, action_location: Any = None) -> dict[str, Any]:
        actions = parent_actions(super().get_actions, request, action_location)
        if request.user.has_perm(CHANGE_PERMISSION):
            # Django's own form of an action: a tuple before 6.1, an Action since, and
            # None for a change form (the action is for the change list only).
            location = {} if action_location is None else {"action_location": action_location}
            entry = self.get_action(provision_livelike_profiles, **location)
            if entry is not None:
                actions[provision_livelike_profiles.__name__] = entry
        return actions

    @transaction.non_atomic_requests
    def changelist_view(self, request: HttpRequest, extra_context: Any = None) -> HttpResponse:
        return super().changelist_view(request, extra_context)


class LiveLikeUserAdmin(LiveLikeUserAdminMixin, UserAdmin):
    """Django's ``UserAdmin`` with the LiveLike inline and action."""


def register_on_default_user_admin(site: admin.AdminSite = admin.site) -> bool:
    """Swap Django's default ``UserAdmin`` for :class:`LiveLikeUserAdmin`, if it is the one in use.

    Only when the site asks, with ``LIVELIKE["USER_ADMIN"] = True`` (default
    ``False``). Any other user admin (a subclass included) is the site's own:
    left alone.
    """
    if not conf.USER_ADMIN:
        return False
    user_model = get_user_model()
    if type(site._registry.get(user_model)) is not UserAdmin:
        return False
    site.unregister(user_model)
    site.register(user_model, LiveLikeUserAdmin)
    return True
