"""Persistent translation cache: SQLite in WAL mode, one transaction per batch.

A key covers everything that changes a translation: the model fingerprint, the
decoding options, the source and target language and the source text. Because a
batch is committed whole or not at all, a run killed at any point leaves only
complete entries, and a rerun translates exactly what is missing.
"""

from __future__ import annotations

import hashlib
import json
import sqlite3
from pathlib import Path
from typing import Iterable

from .errors import MtqaError


def translation_key(namespace: str, source_lang: str, target_lang: str, text: str) -> bytes:
    payload = json.dumps([namespace, source_lang, target_lang, text], ensure_ascii=False)
    return hashlib.sha256(payload.encode("utf-8")).digest()


class TranslationCache:
    """Maps translation keys to outputs; ``None`` path gives an in-memory cache."""

    def __init__(self, path: Path | None) -> None:
        self.path = path
        try:
            if path is not None:
                path.parent.mkdir(parents=True, exist_ok=True)
            self._db = sqlite3.connect(str(path) if path else ":memory:", timeout=60)
            self._db.execute("PRAGMA journal_mode=WAL")
            self._db.execute("PRAGMA synchronous=NORMAL")
            self._db.execute("CREATE TABLE IF NOT EXISTS translations (key BLOB PRIMARY KEY, output TEXT NOT NULL)")
            self._db.commit()
        except sqlite3.DatabaseError as error:
            raise MtqaError(f"translation cache {path} is unusable ({error}); delete it or set MTQA_CACHE elsewhere") from None

    def get_many(self, keys: Iterable[bytes]) -> dict[bytes, str]:
        found: dict[bytes, str] = {}
        keys = list(keys)
        for start in range(0, len(keys), 500):
            chunk = keys[start:start + 500]
            placeholders = ",".join("?" * len(chunk))
            for key, output in self._db.execute(f"SELECT key, output FROM translations WHERE key IN ({placeholders})", chunk):
                found[key] = output
        return found

    def put_many(self, items: Iterable[tuple[bytes, str]]) -> None:
        with self._db:  # one transaction: all of the batch or none of it
            self._db.executemany("INSERT OR REPLACE INTO translations (key, output) VALUES (?, ?)", list(items))

    def __len__(self) -> int:
        return self._db.execute("SELECT COUNT(*) FROM translations").fetchone()[0]

    def close(self) -> None:
        self._db.close()
