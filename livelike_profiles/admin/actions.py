"""Django 6.1's ``action_location``, passed on only to a ``get_actions`` that takes it.

Django 6.1 asks for a change form's actions too, passing ``action_location``
to ``get_actions``, and keeps calling an override with the older signature
(``get_actions(self, request)``, deprecated until 2028) without it. Ours take
the parameter; the next ``get_actions`` in a site's admin class (its own user
admin, say, after ``LiveLikeUserAdminMixin``) may not.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from django.http import HttpRequest
from django.utils.inspect import get_func_args


def parent_actions(
    get_actions: Callable[..., dict[str, Any]], request: HttpRequest, action_location: Any
) -> dict[str, Any]:
    """``get_actions(request, ...)`` (the parent's), with ``action_location`` if it takes one.

    ``action_location`` is ``None`` before Django 6.1. A parent with the old
    signature is treated as Django 6.1 treats one: no actions on a change form.
    """
    if action_location is None:
        return get_actions(request)
    if "action_location" in get_func_args(get_actions):
        return get_actions(request, action_location=action_location)
    return {} if is_change_form(action_location) else get_actions(request)


def is_change_form(action_location: Any) -> bool:
    """Whether Django 6.1 asks for a change form's actions (``None``: a change list's)."""
    return getattr(action_location, "value", None) == "CHANGE_FORM"
