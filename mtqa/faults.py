"""Named crash points, for the fault-injection tests.

``MTQA_CRASH_AT=NAME:N`` makes the process kill itself with SIGKILL the N-th time it
reaches crash point NAME: no cleanup handler, ``finally`` block or buffered write runs,
exactly as when the machine loses power or the OOM killer strikes. With
``MTQA_CRASH_MARKER=PATH`` too, only the one process that creates PATH first crashes:
a worker that Ray restarts does not crash again. Unset, a crash point costs one
dictionary lookup.
"""

from __future__ import annotations

import os
import signal

_target = os.environ.get("MTQA_CRASH_AT", "")
_name, _, _count = _target.rpartition(":")
_remaining = {_name: int(_count)} if _name and _count.isdigit() else {}


def crash_point(name: str) -> None:
    if name not in _remaining:
        return
    _remaining[name] -= 1
    if _remaining[name] != 0:
        return
    marker = os.environ.get("MTQA_CRASH_MARKER")
    if marker:
        try:
            os.close(os.open(marker, os.O_CREAT | os.O_EXCL | os.O_WRONLY))
        except FileExistsError:
            return
    os.kill(os.getpid(), signal.SIGKILL)
