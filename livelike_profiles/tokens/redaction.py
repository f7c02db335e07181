"""Keeping access tokens out of error reports, whatever ``DEBUG`` says.

Django's reports ``repr()`` every frame's variables, and its filters hide them
only by name and only without ``DEBUG``. So a token is a :class:`Secret` (a
``str`` that prints masked), and :func:`forgets_frames` clears the variables of
the frames beneath a function an exception leaves. Nothing here imports Django.
"""

from __future__ import annotations

import contextlib
import functools
import sys
from collections.abc import Callable
from types import FrameType
from typing import Any, TypeVar

F = TypeVar("F", bound=Callable[..., Any])


class Secret(str):
    """A credential: the string itself everywhere, ``Secret('********')`` in any ``repr()``."""

    __slots__ = ()

    def __repr__(self) -> str:
        return "Secret('********')"


def forgets_frames(func: F) -> F:
    """Make an exception leaving ``func`` carry no variables of the frames ``func`` ran."""

    @functools.wraps(func)
    def forgetting(*args: Any, **kwargs: Any) -> Any:
        try:
            return func(*args, **kwargs)
        except BaseException as error:
            forget_variables_beneath(sys._getframe(), error)
            # This frame stays in the traceback: keep none of the call's arguments in it.
            args = kwargs = None  # type: ignore[assignment]
            raise

    return forgetting  # type: ignore[return-value]


def forget_variables_beneath(anchor: FrameType, error: BaseException) -> None:
    """Clear the variables of every frame that ran beneath ``anchor``, in ``error``'s traceback
    and in those of the exceptions chained to it (``__cause__``, ``__context__``).

    An exception that was being handled above ``anchor`` when the call began
    (the ``__context__`` of the first one raised beneath it) keeps its frames.
    """
    beneath: set[FrameType] = set()
    seen: set[int] = set()
    pending: list[BaseException | None] = [error]
    while pending:
        exc = pending.pop(0)
        if exc is None or id(exc) in seen:
            continue
        seen.add(id(exc))
        tb = exc.__traceback__
        below = False
        while tb is not None:
            frame = tb.tb_frame
            # Frames further down a traceback were called by the ones before them.
            below = below or frame in beneath or _called_from(frame, anchor)
            if below:
                beneath.add(frame)
                with contextlib.suppress(RuntimeError):  # a frame still running
                    frame.clear()
            tb = tb.tb_next
        pending += [exc.__cause__, exc.__context__]


def _called_from(frame: FrameType, anchor: FrameType) -> bool:
    caller = frame.f_back
    while caller is not None:
        if caller is anchor:
            return True
        caller = caller.f_back
    return False
