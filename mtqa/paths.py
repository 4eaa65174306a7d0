"""Where mtqa keeps and finds things: its cache ($MTQA_CACHE), data sets, and the CPU cores it may use.

A data set named NAME is looked for in $MTQA_DATA/NAME, then in the cache
($MTQA_CACHE/data/NAME); the LAReQA sets are downloaded there from their public
release as a last resort. Every command, the demo, the
tests and the benchmarks find data through :func:`find_data` / :func:`resolve_data_set`.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import tempfile
import urllib.error
import urllib.request
from pathlib import Path

from .errors import MtqaError
from .output import atomic_write
from .stages import announced

LAREQA_BASE = os.environ.get("MTQA_LAREQA_URL", "https://raw.githubusercontent.com/google-research-datasets/lareqa/master")
PUBLIC_SETS = {
    "xquad-r": ["ar", "de", "el", "en", "es", "hi", "ru", "th", "tr", "vi", "zh"],
    "mlqa-r": ["ar", "de", "en", "es", "hi", "vi", "zh"],
}


def available_cores() -> int:
    """The CPU cores this process may use (its affinity mask where the OS has one)."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # not on Linux
        return max(1, os.cpu_count() or 1)


def hub_reachable(timeout: float = 5.0) -> bool:
    """One quick connection attempt, instead of the hub client's minute of retries."""
    import socket
    from urllib.parse import urlparse

    if os.environ.get("HF_HUB_OFFLINE", "0").lower() in {"1", "true", "yes"}:
        return False
    endpoint = urlparse(os.environ.get("HF_ENDPOINT", "https://huggingface.co"))
    try:
        socket.create_connection((endpoint.hostname, endpoint.port or 443), timeout=timeout).close()
        return True
    except OSError:
        return False


def cache_root() -> Path:
    """Converted models, the translation cache and downloaded data ($MTQA_CACHE, default ~/.cache/mtqa)."""
    return Path(os.environ.get("MTQA_CACHE") or Path.home() / ".cache" / "mtqa")


def file_sha256(path: Path) -> str:
    """A file's SHA-256, read in 4 MiB blocks."""
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 22), b""):
            digest.update(block)
    return digest.hexdigest()


HASH_MEMO = "file-hashes.json"  # in cache_root()
MEMO_MIN_BYTES = 1 << 20  # smaller files hash faster than the memo is read


def remembered_file_sha256(path: Path) -> str:
    """``file_sha256``, remembered in $MTQA_CACHE by the file's path, size, mtime and inode.

    A model's weights then name its cached vectors without being read on every run: hashing
    offline-me5's 470 MB of safetensors took about half a second of each similarity run.
    A file rewritten in place gets a new mtime, hence a new key; a memo that cannot be read
    or written is ignored.
    """
    resolved = Path(path).resolve()
    stat = resolved.stat()
    if stat.st_size < MEMO_MIN_BYTES:
        return file_sha256(resolved)
    key = f"{resolved}|{stat.st_size}|{stat.st_mtime_ns}|{stat.st_ino}"
    memo_path = cache_root() / HASH_MEMO
    try:
        memo = json.loads(memo_path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        memo = {}
    if not isinstance(memo, dict):
        memo = {}
    if isinstance(memo.get(key), str):
        return memo[key]
    digest = file_sha256(resolved)
    memo = {k: v for k, v in memo.items() if not k.startswith(f"{resolved}|")}
    memo[key] = digest
    try:
        memo_path.parent.mkdir(parents=True, exist_ok=True)
        atomic_write(memo_path, json.dumps(memo))
    except (OSError, MtqaError):
        pass  # a read-only cache: the hash is still right, only not remembered
    return digest


def data_roots() -> list[Path]:
    """Folders searched for a data set by name, in order."""
    roots = [Path(os.environ["MTQA_DATA"])] if os.environ.get("MTQA_DATA") else []
    # Nothing relative to the working directory or this package: only data the user pointed at, or mtqa downloaded.
    return roots + [cache_root() / "data"]


def local_candidates(name: str) -> list[Path]:
    return [root / name for root in data_roots()]


def find_data(name: str, marker: str = "en.json") -> Path | None:
    """The first local copy of data set ``name`` that holds ``marker``; None if there is none."""
    return next((folder for folder in local_candidates(name) if (folder / marker).is_file()), None)


def download_public(name: str, target: Path, timeout: float = 20.0) -> Path:
    """Fetch a LAReQA set file by file into a staging folder, renamed into place when complete."""
    target.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{name}-", dir=target.parent))
    try:
        with announced(f"downloaded {name} to {target}"):
            for lang in PUBLIC_SETS[name]:
                url = f"{LAREQA_BASE}/{name}/{lang}.json"
                with urllib.request.urlopen(url, timeout=timeout) as response, open(staging / f"{lang}.json", "wb") as out:
                    shutil.copyfileobj(response, out)
            os.replace(staging, target)
    except (urllib.error.URLError, OSError) as error:
        shutil.rmtree(staging, ignore_errors=True)
        reason = getattr(error, "reason", error)
        raise MtqaError(
            f"{name} is not on this machine and downloading it failed ({reason}); put the LAReQA files in "
            f"$MTQA_DATA/{name} (set MTQA_DATA to the folder holding {name}/), or pass the folder path"
        ) from None
    return target


def resolve_data_set(spec: str, option: str = "--eval") -> Path:
    """A data set's folder, for evaluation (``--eval``) and training inputs (``--input lareqa:``) alike: ``spec`` is a
    folder, or a set name such as ``xquad-r``; ``option`` names where it came from in errors."""
    path = Path(spec).expanduser()
    if path.is_dir():
        return path
    if "/" in spec or path.suffix:
        raise MtqaError(f"data folder not found: {spec}; check the {option} path")
    for candidate in local_candidates(spec):
        if candidate.is_dir() and (any(candidate.glob("*.json")) or (candidate / "corpus.jsonl").is_file()):
            return candidate
    if spec in PUBLIC_SETS:
        return download_public(spec, cache_root() / "data" / spec)
    raise MtqaError(
        f"data set {spec!r} not found in $MTQA_DATA or {cache_root() / 'data'}; set MTQA_DATA to the folder holding {spec}/, "
        "or pass its path"
    )
