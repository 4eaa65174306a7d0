"""The one measuring helper of the benchmarks: a command's wall time and its own peak RSS, and the machine.

``os.wait4`` gives the child's own rusage, so a figure never includes the harness. Its peak RSS
counts file pages the child has memory-mapped, which the kernel may drop and reread at will;
the peak of the child's anonymous memory (its heap: what it cannot give back) is sampled beside it.
"""

from __future__ import annotations

import os
import platform
import subprocess
import sys
import threading
import time
from importlib.metadata import version
from pathlib import Path
from typing import Any


def available_cores() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        return os.cpu_count() or 1


class AnonymousPeak(threading.Thread):
    """Samples a process's anonymous resident memory (``RssAnon``) until it exits; ``peak_mib`` is the largest seen."""

    def __init__(self, pid: int, interval_s: float = 0.02) -> None:
        super().__init__(daemon=True)
        self.path, self.interval_s, self.peak_mib = Path(f"/proc/{pid}/status"), interval_s, 0.0
        self.done = threading.Event()

    def run(self) -> None:
        while not self.done.is_set():
            try:
                for line in self.path.read_text().splitlines():
                    if line.startswith("RssAnon:"):
                        self.peak_mib = max(self.peak_mib, int(line.split()[1]) / 1024)
            except (OSError, ValueError):  # not on Linux, or the process is gone
                return
            self.done.wait(self.interval_s)


def measure(command: list[str], env: dict[str, str] | None = None, *, log: Path | None = None, cwd: Path | None = None) -> dict[str, float]:
    """Run ``command`` to completion: ``{"seconds", "peak_rss_mib", "peak_anon_mib"}``; a failure exits with the output's tail.

    With ``log``, the command's stdout and stderr go to that file; otherwise stdout is dropped.
    """
    if log is not None:
        log.parent.mkdir(parents=True, exist_ok=True)
    with open(log, "wb") if log is not None else open(os.devnull, "wb") as sink:
        started = time.perf_counter()
        process = subprocess.Popen(command, env=env, cwd=cwd, stdout=sink, stderr=subprocess.STDOUT if log is not None else subprocess.PIPE)
        anonymous = AnonymousPeak(process.pid)
        anonymous.start()
        _, status, usage = os.wait4(process.pid, 0)
        seconds = time.perf_counter() - started
        anonymous.done.set()
        anonymous.join()
    returncode = os.waitstatus_to_exitcode(status)
    if returncode != 0:
        output = log.read_text(errors="replace") if log is not None else process.stderr.read().decode(errors="replace")
        sys.exit(f"benchmark step failed ({returncode}): {' '.join(command)}" + (f"; log {log}" if log else "") + f"\n{output[-3000:]}")
    # ru_maxrss is in KiB on Linux
    return {"seconds": seconds, "peak_rss_mib": usage.ru_maxrss / 1024, "peak_anon_mib": round(anonymous.peak_mib, 1)}


def cpu_name() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def machine() -> str:
    return f"{platform.machine()} {platform.processor() or ''}, {available_cores()} cores, Python {platform.python_version()}".replace(
        "  ", " "
    )


def machine_info(threads: int) -> dict[str, Any]:
    """The machine, the threads a benchmark used and the versions of what it measured."""
    return {
        "platform": platform.platform(),
        "cpu": cpu_name(),
        "cores": available_cores(),
        "threads_used": threads,
        "python": platform.python_version(),
        "versions": {name: version(name) for name in ("mtqa", "ctranslate2", "torch", "transformers", "sentencepiece")},
    }
