"""How long to wait before asking LiveLike again: capped exponential backoff with jitter."""

from __future__ import annotations

import math
import random

from ..conf import MAX_SECONDS, conf
from ..exceptions import LiveLikeRateLimited
from ..livelike.client import MAX_RETRY_AFTER

# The longest backoff ever written, whatever the settings say: the longest
# RETRY_MAX_SECONDS the checks accept, and far from datetime's limits.
_LONGEST_DELAY = float(MAX_SECONDS)
# Past this many failures the backoff is at its cap for any sane settings;
# capping the exponent keeps 2 ** attempts from overflowing a float.
_MAX_BACKOFF_EXPONENT = 32


def backoff_seconds(attempts: int) -> float:
    """Delay before retry number ``attempts + 1``: capped exponential, with jitter.

    The jitter (a random half to all of the step) keeps many users who failed
    in the same outage from all retrying in the same second.
    """
    exponent = min(max(0, attempts - 1), _MAX_BACKOFF_EXPONENT)
    step = min(conf.RETRY_MAX_SECONDS, conf.RETRY_BASE_SECONDS * 2.0**exponent)
    return step * random.uniform(0.5, 1.0)  # noqa: S311 - not for security


def retry_delay(attempts: int, error: BaseException) -> float:
    """Seconds before the next attempt after ``error``: the backoff, or a longer ``Retry-After``.

    Always finite and bounded, whatever the error carries.
    """
    delay = backoff_seconds(attempts)
    retry_after = error.retry_after if isinstance(error, LiveLikeRateLimited) else None
    if retry_after is not None and not math.isnan(retry_after):
        delay = max(delay, min(retry_after, MAX_RETRY_AFTER))
    if not math.isfinite(delay):  # only absurd settings get here
        delay = _LONGEST_DELAY
    return min(max(0.0, delay), _LONGEST_DELAY)
