"""Run a command and report its wall time and peak RSS (os.wait4 gives the child's own rusage)."""

from __future__ import annotations

import os
import subprocess
import sys
import time


def measure(command: list[str], env: dict[str, str] | None = None) -> dict[str, float]:
    started = time.perf_counter()
    process = subprocess.Popen(command, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    _, status, usage = os.wait4(process.pid, 0)
    seconds = time.perf_counter() - started
    stderr = process.stderr.read().decode(errors="replace") if process.stderr else ""
    process.returncode = os.waitstatus_to_exitcode(status)
    if process.returncode != 0:
        sys.exit(f"benchmark step failed ({process.returncode}): {' '.join(command)}\n{stderr[-2000:]}")
    return {"seconds": seconds, "peak_rss_mib": usage.ru_maxrss / 1024}


def machine() -> str:
    import platform

    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    return f"{platform.machine()} {platform.processor() or ''}, {cores} cores, Python {platform.python_version()}".replace("  ", " ")
