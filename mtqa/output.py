"""Output directories that appear complete or not at all.

Everything is written into a hidden staging directory next to the target and
renamed into place at the end; a crash leaves only the staging directory, which
the next run with the same output removes.
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import json
import os
import shutil
import tempfile
import time
from pathlib import Path
from typing import IO, Any, Callable, Iterator

from .errors import MtqaError
from .faults import crash_point

STAGING_PREFIX = ".mtqa-staging-"
LOCK_PREFIX = ".mtqa-lock-"
NO_SPACE = {errno.ENOSPC, errno.EDQUOT, errno.EFBIG}


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def remove_stale(folder: Path, prefix: str) -> None:
    """Remove ``PREFIX<pid>-*`` folders whose process is gone (a run killed before it cleaned up)."""
    for leftover in Path(folder).glob(f"{prefix}*"):
        pid = leftover.name[len(prefix) :].split("-", 1)[0]
        if not pid.isdigit() or not _pid_alive(int(pid)):
            shutil.rmtree(leftover, ignore_errors=True)


def _remove_stale_staging(target: Path) -> None:
    remove_stale(target.parent, f"{STAGING_PREFIX}{target.name}-")


@contextlib.contextmanager
def atomic_directory(target: Path, *, overwrite: bool = False) -> Iterator[Path]:
    """Yield a staging directory that becomes ``target`` when the block succeeds."""
    target = Path(target)
    if target.exists() and not overwrite:
        raise MtqaError(f"output {target} already exists; choose another --output or pass --overwrite")
    if target.exists() and not target.is_dir():
        raise MtqaError(f"output {target} exists and is not a directory; choose another --output")
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        _remove_stale_staging(target)
        staging = Path(tempfile.mkdtemp(prefix=f"{STAGING_PREFIX}{target.name}-{os.getpid()}-", dir=target.parent))
        os.chmod(staging, 0o777 & ~current_umask())  # mkdtemp makes it 0700: the output follows the umask, as any folder does
    except OSError as error:
        raise MtqaError(f"cannot write to {target.parent}: {error.strerror}; choose a writable --output") from None
    try:
        yield staging
        follow_umask(staging)
        crash_point("output.commit")
        if target.exists():
            retired = target.parent / f"{STAGING_PREFIX}{target.name}-{os.getpid()}-old"
            os.replace(target, retired)
            os.replace(staging, target)
            shutil.rmtree(retired, ignore_errors=True)
        else:
            os.replace(staging, target)
    except OSError as error:
        shutil.rmtree(staging, ignore_errors=True)
        raise write_error(target, error) from None
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise


def follow_umask(folder: Path) -> None:
    """Every file and folder under ``folder`` as the umask would make it.

    Some writers make their files private whatever the umask (safetensors writes model weights 0600
    through a temporary file), which would leave a shared output folder with one file nobody else can read.
    """
    mask = current_umask()
    for root, folders, files in os.walk(folder):
        for name in folders:
            os.chmod(os.path.join(root, name), 0o777 & ~mask)
        for name in files:
            path = os.path.join(root, name)
            if not os.path.islink(path):
                os.chmod(path, (0o666 | (os.stat(path).st_mode & 0o111)) & ~mask)


def current_umask() -> int:
    """The process's umask (reading it means setting it; it is set straight back)."""
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


def atomic_write(path: Path, content: str | Callable[[Any], None]) -> None:
    """Write a file through a temp file and a rename: readers see the old file or the whole new one.

    ``content`` is text, or a function that writes bytes to the open file.
    """
    path = Path(path)
    temporary = path.with_name(f".{path.name}.tmp-{os.getpid()}")
    try:
        with open(temporary, "wb") as handle:
            if callable(content):
                content(handle)
            else:
                handle.write(content.encode("utf-8"))
        os.replace(temporary, path)
    except OSError as error:
        with contextlib.suppress(OSError):
            os.unlink(temporary)
        raise write_error(path, error) from None


def write_json(path: Path, data: Any) -> None:
    path.write_text(json.dumps(data, indent=2, ensure_ascii=False, sort_keys=False) + "\n", encoding="utf-8")


def check_writable_parent(target: Path) -> None:
    """Fail early, before hours of work, if the output location cannot be written."""
    target = Path(target)
    if target.exists() and not target.is_dir():
        raise MtqaError(f"output {target} exists and is not a directory; choose another --output")
    parent = target.resolve().parent
    while not parent.exists():
        parent = parent.parent
    try:
        handle, probe = tempfile.mkstemp(prefix=".mtqa-probe-", dir=parent)
        os.close(handle)
        os.unlink(probe)
    except OSError as error:
        raise MtqaError(f"cannot write to {parent} ({error.strerror.lower()}); choose a writable --output") from None


def write_error(target: Path, error: OSError) -> MtqaError:
    """The one-line error for a failed write; the caller has already removed what it staged."""
    if error.errno in NO_SPACE:
        return MtqaError(
            f"no space left for {target} ({error.strerror.lower()}); nothing was written; free space or choose another --output"
        )
    return MtqaError(f"cannot write {target} ({(error.strerror or str(error)).lower()}); nothing was written; choose a writable --output")


# A run killed while it was starting a child leaves that child holding the lock until it execs, a moment later.
DEAD_HOLDER_GRACE_S = 5.0


def _holder_gone(holder: str) -> bool:
    return holder.isdigit() and not _pid_alive(int(holder))


def _unwritable_folder(folder: Path, error: OSError) -> MtqaError:
    return MtqaError(f"cannot write to {folder} ({error.strerror.lower()}); choose a writable --output")


def _open_lock_file(path: Path) -> IO[str]:
    try:
        return open(path, "a+", encoding="utf-8")
    except OSError as error:
        raise _unwritable_folder(path.parent, error) from None


def _acquire(path: Path, target: Path) -> IO[str]:
    """An open handle on ``path`` holding its flock; refuses a live holder at once and waits briefly for a dead one's."""
    deadline = time.monotonic() + DEAD_HOLDER_GRACE_S
    while True:
        handle = _open_lock_file(path)
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            handle.seek(0)
            holder = handle.read().strip() or "unknown"
            handle.close()
            if _holder_gone(holder) and time.monotonic() < deadline:
                time.sleep(0.05)
                continue
            raise MtqaError(
                f"output {target} is being written by another mtqa run (pid {holder}); wait for it to finish or choose another --output"
            ) from None
        # The previous holder may have unlinked the file between our open and our lock: retry on the new one.
        try:
            same = os.fstat(handle.fileno()).st_ino == os.stat(path).st_ino
        except FileNotFoundError:
            same = False
        if same:
            return handle
        handle.close()


@contextlib.contextmanager
def output_lock(target: Path) -> Iterator[None]:
    """Hold an exclusive lock on ``target`` for a whole run, so two runs never interleave their writes.

    The lock is an ``flock`` on a hidden file beside the target: the kernel drops it when the
    holder dies, so a crashed run never leaves a stale lock behind.
    """
    target = Path(target)
    path = target.parent / f"{LOCK_PREFIX}{target.name}"
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
    except OSError as error:
        raise _unwritable_folder(target.parent, error) from None
    handle = _acquire(path, target)
    try:
        handle.seek(0)
        handle.truncate()
        handle.write(str(os.getpid()))
        handle.flush()
        yield
    finally:
        with contextlib.suppress(OSError):
            os.unlink(path)
        handle.close()


@contextlib.contextmanager
def claim_output(target: Path, *, overwrite: bool) -> Iterator[None]:
    """Check, before any work, that ``target`` may be written, and hold its lock until the run ends."""
    check_writable_parent(target)
    if Path(target).exists() and not overwrite:
        raise MtqaError(f"output {target} already exists; choose another --output or pass --overwrite")
    with output_lock(target):
        yield
