"""The one measuring helper of the benchmarks: a command's wall time and its own peak RSS, and the machine.

``os.wait4`` gives the child's own rusage, so a figure never includes the harness.
"""

from __future__ import annotations

import os
import platform
import subprocess
import sys
import time
from pathlib import Path


def available_cores() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        return os.cpu_count() or 1


def measure(command: list[str], env: dict[str, str] | None = None, *, log: Path | None = None, cwd: Path | None = None) -> dict[str, float]:
    """Run ``command`` to completion: ``{"seconds", "peak_rss_mib"}``; a failure exits with the output's tail.

    With ``log``, the command's stdout and stderr go to that file; otherwise stdout is dropped.
    """
    if log is not None:
        log.parent.mkdir(parents=True, exist_ok=True)
    with open(log, "wb") if log is not None else open(os.devnull, "wb") as sink:
        started = time.perf_counter()
        process = subprocess.Popen(command, env=env, cwd=cwd, stdout=sink, stderr=subprocess.STDOUT if log is not None else subprocess.PIPE)
        _, status, usage = os.wait4(process.pid, 0)
        seconds = time.perf_counter() - started
    returncode = os.waitstatus_to_exitcode(status)
    if returncode != 0:
        output = log.read_text(errors="replace") if log is not None else process.stderr.read().decode(errors="replace")
        sys.exit(f"benchmark step failed ({returncode}): {' '.join(command)}" + (f"; log {log}" if log else "") + f"\n{output[-3000:]}")
    return {"seconds": seconds, "peak_rss_mib": usage.ru_maxrss / 1024}  # ru_maxrss is in KiB on Linux


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
