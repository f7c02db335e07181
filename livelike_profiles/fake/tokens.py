"""Client-generated access tokens: how the fake verifies them, and mints them for tests.

A bearer token shaped like a JWT is checked with PyJWT: HS256 only, signed with the client
secret, ``iss`` the client id, ``custom_profile_id`` a string of 1-255 characters. Then, on
the fake's own clock (see ``FakeLiveLike.clock_offset``): ``iat`` required and not in the
future, ``nbf`` too when present, ``exp`` enforced when present, with no leeway. What is
wrong is answered with a fixed message, never anything taken from the token.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from typing import Any

import jwt

from .wire import CUSTOM_ID_MAX_LENGTH, Reject, detail

#: The client secret the fake verifies minted tokens with unless told otherwise. Public on
#: purpose: a demo value, never a real application's secret.
DEMO_CLIENT_SECRET = "fake-livelike-client-secret-for-demos-only"  # noqa: S105
#: HS256 keys shorter than its digest are below RFC 7518 section 3.2 (PyJWT warns about them).
MIN_CLIENT_SECRET_BYTES = 32
TOKEN_ALGORITHM = "HS256"  # noqa: S105 - a JWT algorithm name, not a secret
DEFAULT_TOKEN_TTL = 86400  # LiveLike's example: exp = iat + 86400

# Fixed messages, most specific first: PyJWT's own texts are fine too, but a fixed text
# guarantees that nothing from the token is ever echoed.
_JWT_ERRORS: tuple[tuple[type[jwt.InvalidTokenError], str], ...] = (
    (jwt.InvalidIssuerError, "Token issuer (iss) is not this application's client id."),
    (jwt.InvalidSignatureError, "Token signature is invalid."),
    (jwt.InvalidAlgorithmError, f"Token algorithm is not allowed: {TOKEN_ALGORITHM} only."),
)


def is_jwt(token: str) -> bool:
    """Whether ``token`` is shaped like a JWT (a client-generated token)."""
    # The fake's own opaque tokens (token_urlsafe) never contain a dot.
    return token.count(".") == 2


def _jwt_error(err: jwt.InvalidTokenError) -> str:
    if isinstance(err, jwt.MissingRequiredClaimError):
        return f"Token has no {err.claim} claim."
    for kind, message in _JWT_ERRORS:
        if isinstance(err, kind):
            return message
    return "Token is invalid."


def verify(token: str, secret: str, client_id: str, now: float) -> str:
    """The custom id a client-generated token stands for; raise ``Reject`` (403) if bad.

    ``now`` is the fake's clock (Unix time), which the token's times are checked against.
    """
    try:
        claims = jwt.decode(
            token,
            secret,
            algorithms=[TOKEN_ALGORITHM],
            issuer=client_id,
            # PyJWT would check the times against the real clock: _check_times does.
            options={
                "require": ["iss", "iat", "custom_profile_id"],
                "verify_iat": False,
                "verify_nbf": False,
                "verify_exp": False,
            },
        )
    except jwt.InvalidTokenError as err:
        raise Reject(detail(403, _jwt_error(err))) from None
    except (TypeError, ValueError, OverflowError):
        # PyJWT 2.8 lets these out for claims of the wrong type.
        raise Reject(detail(403, "Token is invalid.")) from None
    _check_times(claims, now)
    custom_id = claims["custom_profile_id"]
    if not isinstance(custom_id, str) or not 1 <= len(custom_id) <= CUSTOM_ID_MAX_LENGTH:
        message = (
            f"Token custom_profile_id must be a string of 1 to {CUSTOM_ID_MAX_LENGTH} characters."
        )
        raise Reject(detail(403, message))
    return custom_id


def _check_times(claims: dict[str, Any], now: float) -> None:
    """``iat`` (and ``nbf``) not after ``now``, ``exp`` after it: no leeway."""
    issued = [_unix_time(claims, "iat")]
    if "nbf" in claims:
        issued.append(_unix_time(claims, "nbf"))
    if max(issued) > now:
        raise Reject(detail(403, "Token is not valid yet (iat or nbf is in the future)."))
    if "exp" in claims and _unix_time(claims, "exp") <= now:
        raise Reject(detail(403, "Token has expired (exp)."))


def _unix_time(claims: dict[str, Any], name: str) -> int:
    try:
        return int(claims[name])  # as PyJWT reads it
    except (TypeError, ValueError, OverflowError):
        raise Reject(detail(403, f"Token {name} must be an integer (Unix time).")) from None


def mint(
    custom_id: Any,
    *,
    client_id: str,
    client_secret: str,
    ttl: float | None,
    iat: float | None,
    secret: str | None,
    issuer: str | None,
    algorithm: str,
    omit: Sequence[str],
    extra: dict[str, Any] | None,
) -> str:
    """A token for ``custom_id``, as ``FakeLiveLike.mint`` documents it."""
    issued = int(time.time()) if iat is None else int(iat)
    claims: dict[str, Any] = {
        "iss": client_id if issuer is None else issuer,
        "iat": issued,
        "custom_profile_id": custom_id,
    }
    if ttl is not None:
        claims["exp"] = int(issued + ttl)
    claims.update(extra or {})
    for name in omit:
        claims.pop(name, None)
    key = "" if algorithm == "none" else (secret or client_secret)  # "": PyJWT's "no key"
    return jwt.encode(claims, key, algorithm=algorithm)
