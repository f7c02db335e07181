"""Options the bulk commands share: which users, how many threads, how many rows a batch."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from django.contrib.auth import get_user_model
from django.core.exceptions import ValidationError
from django.core.management.base import CommandError, CommandParser
from django.db import connections, router

from livelike_profiles.livelike.client import POOL_SIZE


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


def add_users_argument(parser: CommandParser, *, help: str) -> None:
    """``--users ID [ID ...]``: user primary keys, spaces or commas between them."""
    parser.add_argument("--users", nargs="+", metavar="ID", help=help)


def users_option(options: dict[str, Any], *, must_exist: bool = False) -> list[Any] | None:
    """The ``--users`` primary keys (``None`` if not given), or a ``CommandError`` naming bad ones.

    ``must_exist``: an id that matches no user is an error too. No id at all (``--users ,``)
    is a usage error (status 2).
    """
    if not options["users"]:
        return None
    raw = [part for arg in options["users"] for part in arg.split(",") if part.strip()]
    if not raw:
        # Only commas (a script's empty list, say) must not run as "nobody, all done":
        # a usage error, as --users without an id is to argparse, so status 2 as well.
        raise CommandError("--users: no user id given", returncode=2)
    try:
        pks = parse_user_ids(raw)
        if must_exist:
            _check_users_exist(pks)
    except ValueError as error:
        raise CommandError(f"--users: {error}") from None
    return pks


def parse_user_ids(raw: Iterable[str]) -> list[Any]:
    """User primary keys from text (``"12"``, a UUID...); ``ValueError`` names invalid ones.

    An integer beyond what the key's column holds is invalid too: some
    database drivers (SQLite's) raise ``OverflowError`` on it in a query.
    """
    model = get_user_model()
    pk_field = model._meta.pk
    bounds = _integer_bounds(model)
    pks, invalid = [], []
    for value in raw:
        try:
            pk = pk_field.to_python(value.strip())
        except ValidationError:
            invalid.append(value)
            continue
        if bounds and isinstance(pk, int) and not bounds[0] <= pk <= bounds[1]:
            invalid.append(value)
        else:
            pks.append(pk)
    if invalid:
        raise ValueError(f"not a valid user id: {_some(invalid)}")
    return list(dict.fromkeys(pks))


def _integer_bounds(model: Any) -> tuple[int, int] | None:
    """The range of the user model's integer primary key column; ``None`` if not an integer."""
    field = model._meta.pk
    while field.is_relation:  # multi-table inheritance: the parent's key
        field = field.target_field
    ops = connections[router.db_for_read(model)].ops
    try:
        low, high = ops.integer_field_range(field.get_internal_type())
    except KeyError:
        return None
    # None means unbounded on that database.
    return (-(2**63) if low is None else low, 2**63 - 1 if high is None else high)


def _check_users_exist(pks: list[Any]) -> None:
    """``ValueError`` naming the ids of ``pks`` that match no user."""
    users = get_user_model()._default_manager.filter(pk__in=pks)
    found = {str(pk) for pk in users.values_list("pk", flat=True)}
    missing = [str(pk) for pk in pks if str(pk) not in found]
    if missing:
        raise ValueError(f"no user with id {_some(missing)}")


def _some(values: list[str], limit: int = 10) -> str:
    shown = ", ".join(values[:limit])
    return shown + (f" and {len(values) - limit} more" if len(values) > limit else "")
