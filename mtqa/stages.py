"""Pipeline stages that time themselves, as datatrove's steps do.

A job wraps each stage in ``with timer.stage("name"):``; each stage's own object
(the loader's result, the translation stats, the filter chain, the aligner) counts
what it did and reports it, and the job assembles its manifest from those reports.
"""

from __future__ import annotations

import contextlib
import time
from typing import Iterator


class StageTimer:
    """Wall time per named stage, in the order the stages ran."""

    def __init__(self) -> None:
        self.seconds: dict[str, float] = {}

    @contextlib.contextmanager
    def stage(self, name: str) -> Iterator[None]:
        started = time.perf_counter()
        try:
            yield
        finally:
            self.seconds[name] = self.seconds.get(name, 0.0) + time.perf_counter() - started

    def add(self, name: str, seconds: float) -> None:
        """A stage timed by its own code (translation reports its own seconds)."""
        self.seconds[name] = self.seconds.get(name, 0.0) + seconds

    def report(self, digits: int = 3) -> dict[str, float]:
        return {name: round(value, digits) for name, value in self.seconds.items()}


@contextlib.contextmanager
def announced(done: str) -> Iterator[None]:
    """One line for a slow one-off step (a conversion, a download) once it is done, with its time:
    ``mtqa: converted X in 12.3 s``. A failed step adds nothing to its own one-line error."""
    from . import log

    started = time.perf_counter()
    yield
    log.info(f"{done} in {time.perf_counter() - started:.1f} s")
