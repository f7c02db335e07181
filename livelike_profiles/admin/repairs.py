"""The admin's "Give a working profile again…": a confirmation page, then the repair.

Like Django's "Delete selected": the action first answers a page saying, row
by row, what would be done and what would be lost (it asks LiveLike, and
writes nothing); only that page's POST (``post=yes``) repairs, and a row needs
a new profile only where its checkbox allowing new profiles was ticked. See
:mod:`livelike_profiles.sync.repair`.
"""

from __future__ import annotations

from typing import Any

from django.contrib.admin import helpers
from django.db.models import QuerySet
from django.http import HttpRequest
from django.template.response import TemplateResponse
from django.utils.translation import gettext_lazy as _

from ..sync.repair import Action, Plan, plan, repair
from .reports import limited, report_repair

ALLOW_NEW_PROFILES = "allow_new_profiles"
TEMPLATE = "admin/livelike_profiles/livelikeprofile/repair_confirmation.html"

_SHOWN_ACTIONS = {
    Action.SAME_PROFILE: _("Keep the same profile: tokens minted for it from now on"),
    Action.NEW_PROFILE: _("Start over with a new profile (only if allowed below)"),
    Action.NOTHING: _("Nothing"),
    Action.UNKNOWN: _("Nothing now: LiveLike could not be asked"),
}


def repair_profiles(
    modeladmin: Any, request: HttpRequest, queryset: QuerySet
) -> TemplateResponse | None:
    """The action: the confirmation page, or (its POST) the repair of each selected row."""
    rows = limited(modeladmin, request, queryset.select_related("user"))
    if rows is None:
        return None
    if request.POST.get("post") != "yes":
        return confirmation(modeladmin, request, [plan(row) for row in rows])
    allow = request.POST.get(ALLOW_NEW_PROFILES) == "yes"
    results = [repair(row, allow_new_profiles=allow) for row in rows]
    report_repair(modeladmin, request, rows, results)
    return None


def confirmation(modeladmin: Any, request: HttpRequest, plans: list[Plan]) -> TemplateResponse:
    """The page listing each row, what would be done to it and what is lost; nothing written."""
    opts = modeladmin.model._meta
    context = {
        **modeladmin.admin_site.each_context(request),
        "title": _("Give a working LiveLike profile again"),
        "opts": opts,
        "media": modeladmin.media,
        "plans": [
            {
                "plan": plan,
                "pk": plan.row.pk,
                "user": plan.row.user,
                "status": plan.row.get_status_display(),
                "action": _SHOWN_ACTIONS[plan.action],
            }
            for plan in plans
        ],
        "new_profiles": sum(plan.action == Action.NEW_PROFILE for plan in plans),
        "to_do": sum(plan.action in (Action.SAME_PROFILE, Action.NEW_PROFILE) for plan in plans),
        "action_checkbox_name": helpers.ACTION_CHECKBOX_NAME,
        "allow_new_profiles": ALLOW_NEW_PROFILES,
    }
    request.current_app = modeladmin.admin_site.name
    return TemplateResponse(request, TEMPLATE, context)
