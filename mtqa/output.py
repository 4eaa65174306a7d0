"""Output directories that appear complete or not at all.

Everything is written into a hidden staging directory next to the target and
renamed into place at the end; a crash leaves only the staging directory, which
the next run with the same output removes.
"""

from __future__ import annotations

import contextlib
import errno
import json
import os
import shutil
import tempfile
from pathlib import Path
from typing import Any, Iterator

from .errors import MtqaError

STAGING_PREFIX = ".mtqa-staging-"


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _remove_stale_staging(target: Path) -> None:
    for leftover in target.parent.glob(f"{STAGING_PREFIX}{target.name}-*"):
        pid = leftover.name.rsplit("-", 2)[-2]
        if not pid.isdigit() or not _pid_alive(int(pid)):
            shutil.rmtree(leftover, ignore_errors=True)


@contextlib.contextmanager
def atomic_directory(target: Path, *, overwrite: bool = False) -> Iterator[Path]:
    """Yield a staging directory that becomes ``target`` when the block succeeds."""
    target = Path(target)
    if target.exists() and not overwrite:
        raise MtqaError(f"output {target} already exists; choose another --output or pass --overwrite")
    if target.exists() and not target.is_dir():
        raise MtqaError(f"output {target} exists and is not a directory")
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        _remove_stale_staging(target)
        staging = Path(tempfile.mkdtemp(prefix=f"{STAGING_PREFIX}{target.name}-{os.getpid()}-", dir=target.parent))
    except OSError as error:
        raise MtqaError(f"cannot write to {target.parent}: {error.strerror}; choose a writable --output") from None
    try:
        yield staging
        if target.exists():
            retired = target.parent / f"{STAGING_PREFIX}{target.name}-{os.getpid()}-old"
            os.replace(target, retired)
            os.replace(staging, target)
            shutil.rmtree(retired, ignore_errors=True)
        else:
            os.replace(staging, target)
    except OSError as error:
        shutil.rmtree(staging, ignore_errors=True)
        if error.errno == errno.ENOSPC:
            raise MtqaError(f"no space left on the device holding {target}; nothing was written") from None
        raise MtqaError(f"cannot write {target}: {error.strerror}") from None
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise


def write_json(path: Path, data: Any) -> None:
    path.write_text(json.dumps(data, indent=2, ensure_ascii=False, sort_keys=False) + "\n", encoding="utf-8")


def check_writable_parent(target: Path) -> None:
    """Fail early, before hours of work, if the output location cannot be written."""
    target = Path(target)
    if target.exists() and not target.is_dir():
        raise MtqaError(f"output {target} exists and is not a directory")
    parent = target.resolve().parent
    while not parent.exists():
        parent = parent.parent
    try:
        handle, probe = tempfile.mkstemp(prefix=".mtqa-probe-", dir=parent)
        os.close(handle)
        os.unlink(probe)
    except OSError as error:
        raise MtqaError(f"cannot write to {parent} ({error.strerror.lower()}); choose a writable --output") from None
