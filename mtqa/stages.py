"""Pipeline stages that time themselves, as datatrove's steps do.

A job wraps each stage in ``with timer.stage("name"):``; each stage's own object
(the loader's result, the translation stats, the filter chain, the aligner) counts
what it did and reports it, and the job assembles its manifest from those reports.
The timer also notes the process's memory as each stage ends: the resident set
then, and its peak so far, so the stage where the peak rises is the one to look at.
"""

from __future__ import annotations

import contextlib
import ctypes
import resource
import sys
import time
from pathlib import Path
from typing import Iterator


def memory_now() -> dict[str, float]:
    """This process's resident set and its peak so far, in MiB (Linux's /proc; elsewhere the peak alone)."""
    try:
        status = dict(line.split(":", 1) for line in Path("/proc/self/status").read_text().splitlines() if ":" in line)
        return {
            "rss_mib": round(int(status["VmRSS"].split()[0]) / 1024, 1),
            "peak_rss_mib": round(int(status["VmHWM"].split()[0]) / 1024, 1),
        }
    except (OSError, KeyError, ValueError):
        return {"peak_rss_mib": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)}  # KiB on Linux, bytes on macOS


def release_free_memory() -> None:
    """Give freed heap pages back to the system: glibc's arenas keep them, and so does Arrow's pool.

    After a step that allocates and frees many mid-sized blocks (loading a model, indexing a
    corpus), what it freed would otherwise stay resident for the rest of the run.
    """
    if "pyarrow" in sys.modules:
        sys.modules["pyarrow"].default_memory_pool().release_unused()
    try:
        ctypes.CDLL("libc.so.6").malloc_trim(0)
    except (OSError, AttributeError):  # not glibc
        pass


class StageTimer:
    """Wall time per named stage, in the order the stages ran, and the memory as each ended."""

    def __init__(self) -> None:
        self.seconds: dict[str, float] = {}
        self.memory: dict[str, dict[str, float]] = {}

    @contextlib.contextmanager
    def stage(self, name: str) -> Iterator[None]:
        started = time.perf_counter()
        try:
            yield
        finally:
            self.add(name, time.perf_counter() - started)

    def add(self, name: str, seconds: float) -> None:
        """A stage timed by its own code (translation reports its own seconds)."""
        self.seconds[name] = self.seconds.get(name, 0.0) + seconds
        self.memory[name] = memory_now()

    def report(self, digits: int = 3) -> dict[str, float]:
        return {name: round(value, digits) for name, value in self.seconds.items()}

    def memory_report(self) -> dict[str, dict[str, float]]:
        return dict(self.memory)


@contextlib.contextmanager
def announced(done: str) -> Iterator[None]:
    """One line for a slow one-off step (a conversion, a download) once it is done, with its time:
    ``mtqa: converted X in 12.3 s``. A failed step adds nothing to its own one-line error."""
    from . import log

    started = time.perf_counter()
    yield
    log.info(f"{done} in {time.perf_counter() - started:.1f} s")
