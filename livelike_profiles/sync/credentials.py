"""Whether LiveLike accepts the site's credentials: ``manage.py livelike_check_credentials``.

Each is tried without creating a profile: the application resource (so
``CLIENT_ID`` and ``API_URL``), the admin token with a lookup of a custom id
no profile has. A client secret can only be proved by using a token minted
with it, which makes LiveLike create that token's profile: that one is
checked only when asked (``minted=True``), always with the same custom id,
so every check reads the one profile the first check made.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass

from ..conf import conf
from ..exceptions import LiveLikeError, LiveLikeRejected, describe_error
from ..livelike.client import get_client
from ..tokens import minting as tokens

#: The custom id of the profile ``minted=True`` reads (and, the first time, makes).
CHECK_CUSTOM_ID = "livelike-profiles-credentials-check"


@dataclass(frozen=True)
class Finding:
    """What one check found: ``ok`` is ``None`` when it was not tried."""

    what: str
    ok: bool | None
    detail: str


def check_credentials(*, minted: bool = False) -> list[Finding]:
    """Try the application, the admin token and (``minted``) the client secret, in that order.

    Never raises for LiveLike trouble: what went wrong is in the findings.
    """
    found = [_application()]
    if not found[0].ok:  # nothing else can be asked of an application LiveLike does not know
        return found
    return [*found, _admin_token(), _client_secret(minted)]


def _application() -> Finding:
    what = "application (CLIENT_ID, API_URL)"
    try:
        get_client().get_application(refresh=True)
    except LiveLikeError as error:
        return Finding(what, False, describe_error(error, in_report=True))
    return Finding(what, True, f"LiveLike knows {conf.CLIENT_ID!r} at {conf.API_URL}")


def _admin_token() -> Finding:
    what = "admin token (API_TOKEN)"
    if not conf.API_TOKEN:
        return Finding(what, None, "not set: erasures and lookups by custom id need it")
    nobody = f"livelike-profiles-check-{secrets.token_hex(8)}"  # no profile has it
    try:
        get_client().get_profile_by_custom_id(nobody)
    except LiveLikeRejected as error:
        if error.status_code == 404 and error.errors:  # LiveLike's own "none such"
            return Finding(what, True, "accepted (a lookup of a custom id nobody has)")
        refused = "refused: " if error.status_code in (401, 403) else ""
        return Finding(what, False, refused + describe_error(error, in_report=True))
    except LiveLikeError as error:
        return Finding(what, False, describe_error(error, in_report=True))
    return Finding(what, True, "accepted")


def _client_secret(minted: bool) -> Finding:
    what = "client secret (CLIENT_SECRET)"
    if not tokens.can_mint():
        return Finding(what, None, "not set")
    if not minted:
        return Finding(
            what,
            None,
            "a minted token's first use makes its profile (--minted tries it, "
            f"with the custom id {CHECK_CUSTOM_ID!r}, one profile for every run)",
        )
    try:
        profile = get_client().get_own_profile(tokens.mint(CHECK_CUSTOM_ID).token)
    except LiveLikeError as error:
        return Finding(what, False, describe_error(error, in_report=True))
    return Finding(what, True, f"a minted token reads profile {profile.id}")
