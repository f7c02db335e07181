"""Sending the app's signals (:mod:`.signals`): a receiver that raises never fails the sender."""

from __future__ import annotations

import logging
from typing import Any

from django.dispatch import Signal

# The logger docs/how-to/production-checklist.md says provisioning logs on; it sends most.
logger = logging.getLogger("livelike_profiles.provisioning")


def send(signal: Signal, sender: Any, **kwargs: Any) -> None:
    """Send ``signal`` to every receiver; one that raises is logged with its traceback."""
    for receiver, result in signal.send_robust(sender=sender, **kwargs):
        if isinstance(result, Exception):
            logger.error(
                "A receiver of a livelike_profiles signal raised: %r", receiver, exc_info=result
            )
