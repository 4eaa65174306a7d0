"""Stopping a run on purpose (Ctrl-C, SIGTERM): where it may stop, and what the user is told to do next.

A stop is a ``KeyboardInterrupt`` or :class:`Terminated`, raised where the run is, so its staging
folders and locks are removed on the way out. A stage that kept something worth continuing from
attaches the advice to the stop (:func:`advise`); the CLI prints it.
"""

from __future__ import annotations

import contextlib
import signal
import threading
from typing import Iterable, Iterator

STOPS = (signal.SIGINT, signal.SIGTERM)


class Terminated(BaseException):
    """SIGTERM, raised where the run is (as Ctrl-C raises KeyboardInterrupt)."""


def is_stop(error: BaseException) -> bool:
    return isinstance(error, (KeyboardInterrupt, Terminated))


def advise(stop: BaseException, *, resume: bool, what: str) -> None:
    """Attach to ``stop`` what was kept (``what``) and whether the same command continues with ``--resume``."""
    stop.mtqa_advice = (resume, what)  # type: ignore[attr-defined]


def advice_of(stop: BaseException | None) -> tuple[bool, str] | None:
    """The advice attached to ``stop``, or to the stop it was raised from (click turns Ctrl-C into its Abort)."""
    while stop is not None:
        if hasattr(stop, "mtqa_advice"):
            return stop.mtqa_advice
        stop = stop.__cause__ or stop.__context__
    return None


def let_stops_into_backward(parameters: Iterable) -> list:
    """Ctrl-C and SIGTERM stop a backward pass within a layer, not at its end; returns the hooks' handles.

    Python acts on a signal only between bytecodes, and a step's backward pass is one C++ call that runs
    no Python: a stop would wait for the whole pass. A pass-through hook on every trainable parameter
    runs Python as each gradient is computed, so the stop is raised there. The interrupted step is lost,
    not half-applied: the optimizer has not run, and the next step clears the gradients.
    """
    return [parameter.register_hook(_pass_through) for parameter in parameters if parameter.requires_grad]


def _pass_through(gradient):
    return gradient


@contextlib.contextmanager
def uninterrupted() -> Iterator[None]:
    """Ctrl-C and SIGTERM wait for the block to end, then take effect: for short updates (an optimizer step)
    that must not be left half-done, so the weights always match a step a checkpoint can name."""
    if threading.current_thread() is not threading.main_thread():  # handlers can only be set there; nothing to hold
        yield
        return
    held: list[int] = []
    previous = {number: signal.signal(number, lambda signum, frame: held.append(signum)) for number in STOPS}
    try:
        yield
    finally:
        for number, handler in previous.items():
            signal.signal(number, signal.SIG_DFL if handler is None else handler)
        if held:
            signal.raise_signal(held[0])  # now, through the handler the run had
