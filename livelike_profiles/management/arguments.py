"""Options the bulk commands share: how many threads, and how many rows a batch."""

from __future__ import annotations

from typing import Any

from django.core.management.base import CommandError, CommandParser

from livelike_profiles.client import POOL_SIZE


def add_worker_arguments(parser: CommandParser, *, concurrency_help: str, batch_help: str) -> None:
    """``--concurrency N`` (1 to the client's pool size, default 4) and ``--batch-size N``."""
    parser.add_argument(
        "--concurrency",
        type=int,
        default=4,
        metavar="N",
        help=f"{concurrency_help} (1 to {POOL_SIZE}; default 4).",
    )
    parser.add_argument(
        "--batch-size", type=int, default=200, metavar="N", help=f"{batch_help} (default 200)."
    )


def worker_options(options: dict[str, Any]) -> tuple[int, int]:
    """The validated ``(concurrency, batch_size)``, or a ``CommandError`` naming the option."""
    concurrency, batch_size = options["concurrency"], options["batch_size"]
    if not 1 <= concurrency <= POOL_SIZE:
        raise CommandError(f"--concurrency must be between 1 and {POOL_SIZE}")
    if batch_size < 1:
        raise CommandError("--batch-size must be at least 1")
    return concurrency, batch_size
