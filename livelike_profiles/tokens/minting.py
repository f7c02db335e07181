"""Client-generated access tokens: profile tokens the site signs itself (PyJWT, HS256).

Nothing minted is stored, logged or cached: a token is made for one answer and
returned as a :class:`~livelike_profiles.tokens.redaction.Secret`. The claims and the
HS256 assumption are in docs/how-to/token-modes.md and docs/explanation/livelike-api.md.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from datetime import UTC, datetime

import jwt

from ..conf import conf
from ..exceptions import LiveLikeConfigurationError
from .redaction import Secret, forgets_frames

ALGORITHM = "HS256"
# HS256 keys shorter than its digest are below RFC 7518 section 3.2; PyJWT warns at each signing.
MIN_SECRET_BYTES = 32
# iat is backdated by this much: LiveLike refuses a token issued in its future, so a
# clock of its a little behind ours would refuse every fresh token (common JWT practice).
IAT_BACKDATE_SECONDS = 30


@dataclass(frozen=True)
class AccessToken:
    """A profile access token, and when it expires (``None``: it does not)."""

    token: Secret
    expires_at: datetime | None = None

    def __repr__(self) -> str:
        return f"AccessToken(token=Secret('********'), expires_at={self.expires_at!r})"


def can_mint() -> bool:
    """Whether a client secret is configured, so tokens can be minted."""
    return bool(conf.CLIENT_SECRET)


@forgets_frames  # an error report must not show the secret in PyJWT's frames or ours
def mint(custom_id: str) -> AccessToken:
    """A new access token for the profile whose custom id is ``custom_id``.

    Signed with ``LIVELIKE["CLIENT_SECRET"]`` (HS256); ``iat`` is
    ``IAT_BACKDATE_SECONDS`` ago; expires ``TOKEN_TTL`` seconds from now, or
    never when it is ``None``.
    """
    secret = conf.CLIENT_SECRET
    if not secret:
        raise LiveLikeConfigurationError(
            'LIVELIKE["CLIENT_SECRET"] is needed to mint LiveLike access tokens.'
        )
    if not custom_id:
        raise ValueError("a minted token needs the profile's custom id")
    now = int(time.time())
    claims: dict[str, object] = {
        "iss": conf.CLIENT_ID,
        "iat": now - IAT_BACKDATE_SECONDS,
        "custom_profile_id": custom_id,
    }
    ttl = conf.TOKEN_TTL
    expires_at = None
    if ttl is not None:
        # From now, not from iat: the lifetime the API reports stays TOKEN_TTL.
        claims["exp"] = now + ttl
        expires_at = datetime.fromtimestamp(now + ttl, tz=UTC)
    return AccessToken(Secret(jwt.encode(claims, secret, algorithm=ALGORITHM)), expires_at)
