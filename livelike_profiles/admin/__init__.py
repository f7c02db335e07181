"""The admin: LiveLike profiles for operators and, when the site asks, on its user admin.

- :mod:`.profiles`: the profiles' own admin (view-only rows, two actions).
- :mod:`.users`: the inline and action for the site's user admin (opt-in).
- :mod:`.erasures`: deleted users' profiles still to erase at LiveLike.
- :mod:`.reports`: what the actions tell the operator.
"""

from .erasures import LiveLikeErasureAdmin
from .profiles import LiveLikeProfileAdmin, mask_token, user_search_fields
from .reports import MAX_ROWS_PER_ACTION
from .users import (
    LiveLikeProfileInline,
    LiveLikeUserAdmin,
    LiveLikeUserAdminMixin,
    provision_livelike_profiles,
    register_on_default_user_admin,
)

__all__ = [
    "MAX_ROWS_PER_ACTION",
    "LiveLikeErasureAdmin",
    "LiveLikeProfileAdmin",
    "LiveLikeProfileInline",
    "LiveLikeUserAdmin",
    "LiveLikeUserAdminMixin",
    "mask_token",
    "provision_livelike_profiles",
    "register_on_default_user_admin",
    "user_search_fields",
]

# Only with LIVELIKE["USER_ADMIN"] = True: otherwise the site's user admin is left as it is.
register_on_default_user_admin()
