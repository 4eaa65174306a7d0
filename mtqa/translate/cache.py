"""Persistent translation cache: SQLite in WAL mode, one transaction per batch.

A key covers everything that changes a translation: the model fingerprint, the
decoding options, the source and target language and the source text. Because a
batch is committed whole or not at all, a run killed at any point leaves only
complete entries, and a rerun translates exactly what is missing.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import sqlite3
import time
import warnings
from pathlib import Path
from typing import Iterable

from ..errors import MtqaError


def translation_key(namespace: str, source_lang: str, target_lang: str, text: str) -> bytes:
    payload = json.dumps([namespace, source_lang, target_lang, text], ensure_ascii=False)
    return hashlib.sha256(payload.encode("utf-8")).digest()


DAMAGED = {getattr(sqlite3, "SQLITE_CORRUPT", 11), getattr(sqlite3, "SQLITE_NOTADB", 26)}


class TranslationCache:
    """Maps translation keys to outputs; ``None`` path gives an in-memory cache.

    A damaged database (a torn page after a power loss, a truncated copy) is detected on
    first use, moved aside with a warning, and replaced by an empty one: the cache only
    saves time, so losing it costs a re-translation, never a wrong output.
    """

    def __init__(self, path: Path | None) -> None:
        self.path = path
        try:
            if path is not None:
                path.parent.mkdir(parents=True, exist_ok=True)
        except OSError as error:
            raise MtqaError(
                f"cannot create the translation cache in {path.parent} ({error.strerror.lower()}); set MTQA_CACHE to a writable folder"
            ) from None
        try:
            self._open()
        except sqlite3.DatabaseError as error:
            self._recover(error)

    def _open(self) -> None:
        self._db = sqlite3.connect(str(self.path) if self.path else ":memory:", timeout=60)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=NORMAL")
        self._db.execute("CREATE TABLE IF NOT EXISTS translations (key BLOB PRIMARY KEY, output TEXT NOT NULL)")
        self._db.execute("CREATE TABLE IF NOT EXISTS vectors (key BLOB PRIMARY KEY, vector BLOB NOT NULL)")  # the similarity filter's
        self._db.commit()

    def _recover(self, error: sqlite3.DatabaseError) -> None:
        """Move a damaged database aside and start an empty one; any other failure is reported, the cache kept."""
        code = getattr(error, "sqlite_errorcode", None)
        damaged = code & 0xFF in DAMAGED if code is not None else any(word in str(error) for word in ("malformed", "not a database"))
        if self.path is None or not damaged:
            if code == sqlite3.SQLITE_FULL or "disk is full" in str(error):
                raise MtqaError(
                    f"no space left for the translation cache {self.path}; free space or set MTQA_CACHE elsewhere "
                    "(finished translations are kept)"
                ) from None
            raise MtqaError(f"translation cache {self.path} is unusable ({error}); set MTQA_CACHE elsewhere") from None
        with contextlib.suppress(Exception):
            self._db.close()
        quarantine = self.path.with_name(f"{self.path.name}.damaged-{time.strftime('%Y%m%d-%H%M%S')}")
        try:
            for suffix in ("", "-wal", "-shm"):
                part = Path(f"{self.path}{suffix}")
                if part.exists():
                    os.replace(part, f"{quarantine}{suffix}")
        except OSError as move_error:
            raise MtqaError(
                f"translation cache {self.path} is damaged ({error}) and cannot be moved aside "
                f"({move_error.strerror.lower()}); delete it or set MTQA_CACHE elsewhere"
            ) from None
        warnings.warn(
            f"translation cache {self.path} was damaged ({error}); moved it to {quarantine} and started an empty one "
            "(its translations will be redone)",
            stacklevel=3,
        )
        try:
            self._open()
        except sqlite3.DatabaseError as again:
            raise MtqaError(f"translation cache {self.path} is unusable ({again}); delete it or set MTQA_CACHE elsewhere") from None

    def get_many(self, keys: Iterable[bytes]) -> dict[bytes, str]:
        return self._get("translations", "output", list(keys))

    def put_many(self, items: Iterable[tuple[bytes, str]]) -> None:
        self._put("translations", "output", list(items))

    def get_vectors(self, keys: Iterable[bytes]) -> dict[bytes, bytes]:
        """Sentence vectors (float32 bytes) of the similarity filter, by key."""
        return self._get("vectors", "vector", list(keys))

    def put_vectors(self, items: Iterable[tuple[bytes, bytes]]) -> None:
        self._put("vectors", "vector", list(items))

    def _get(self, table: str, column: str, keys: list[bytes]) -> dict:
        try:
            found = {}
            for start in range(0, len(keys), 500):
                chunk = keys[start : start + 500]
                placeholders = ",".join("?" * len(chunk))
                found.update(self._db.execute(f"SELECT key, {column} FROM {table} WHERE key IN ({placeholders})", chunk))
            return found
        except sqlite3.DatabaseError as error:
            self._recover(error)
            return {}

    def _put(self, table: str, column: str, items: list[tuple[bytes, object]]) -> None:
        statement = f"INSERT OR REPLACE INTO {table} (key, {column}) VALUES (?, ?)"
        try:
            with self._db:  # one transaction: all of the batch or none of it
                self._db.executemany(statement, items)
        except sqlite3.DatabaseError as error:
            self._recover(error)
            try:
                with self._db:
                    self._db.executemany(statement, items)
            except sqlite3.DatabaseError as again:
                raise MtqaError(f"translation cache {self.path} is unusable ({again}); set MTQA_CACHE elsewhere") from None

    def __len__(self) -> int:
        return self._db.execute("SELECT COUNT(*) FROM translations").fetchone()[0]

    def close(self) -> None:
        self._db.close()
