"""Training shards written by `mtqa build-batches`: numbered Parquet files and ``manifest.json``.

Each row is one (query, positive) pair; rows sharing ``batch_index`` form one training
batch, stored in training order. Columns: ``batch_index, batch_type, query_lang,
positive_lang, dataset, example_id, query, positive``, and optionally
``positive_context`` (sentence+context positives), ``negatives`` (hard negatives) and
``sub_batch`` (multitask batches: ``xx`` or ``xy``, rows with one label form one loss).
The manifest lists the shards with their row and batch counts and SHA-256 (see
data_cards/batch-shards.md). This module writes and reads both.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterator

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from ..errors import MtqaError, first_line
from ..output import write_json
from ..paths import file_sha256
from .run_files import MANIFEST

FORMAT_VERSION = 1
CREATED_BY = "mtqa build-batches"

REQUIRED_COLUMNS = ["batch_index", "batch_type", "query", "positive"]
OPTIONAL_COLUMNS = ["positive_context", "negatives", "sub_batch"]
DICTIONARY_COLUMNS = ["batch_type", "query_lang", "positive_lang", "dataset", "sub_batch"]


def shard_name(number: int) -> str:
    return f"batches-{number:05d}.parquet"


def write_shard(directory: Path, number: int, table: pa.Table, *, batches: int, row_group_size: int) -> dict[str, Any]:
    """Write shard ``number``; returns its manifest entry."""
    name = shard_name(number)
    path = Path(directory) / name
    # Dictionary pages only for the few-valued columns: long texts write faster and smaller without.
    pq.write_table(table, path, compression="zstd", row_group_size=row_group_size, use_dictionary=DICTIONARY_COLUMNS)
    return {"file": name, "rows": table.num_rows, "batches": batches, "sha256": file_sha256(path)}


def write_manifest(directory: Path, manifest: dict[str, Any]) -> dict[str, Any]:
    """Write ``manifest`` with this format's ``created_by`` and ``format_version`` first; returns what was written."""
    written = {"created_by": CREATED_BY, "format_version": FORMAT_VERSION, **manifest}
    write_json(Path(directory) / MANIFEST, written)
    return written


def read_manifest(directory: Path, option: str = "--batches") -> dict[str, Any]:
    """A shard directory's manifest; ``option`` names the option that gave the directory, in errors."""
    path = Path(directory) / MANIFEST
    if not Path(directory).is_dir():
        raise MtqaError(f"{option} {directory}: not found; give a directory written by mtqa build-batches")
    try:
        manifest = json.loads(path.read_text())
    except FileNotFoundError:
        raise MtqaError(f"{option} {directory}: no manifest.json; give a directory written by mtqa build-batches") from None
    except json.JSONDecodeError as error:
        raise MtqaError(f"{path}: not valid JSON ({error.msg}); rebuild the shards with mtqa build-batches") from None
    if manifest.get("created_by") != CREATED_BY:
        raise MtqaError(f"{path}: not written by mtqa build-batches; give {option} a directory that mtqa build-batches wrote")
    if manifest.get("format_version") != FORMAT_VERSION:
        raise MtqaError(f"{path}: shard format {manifest.get('format_version')} is not {FORMAT_VERSION}; rebuild with this mtqa version")
    for shard in manifest.get("shards", []):
        _check_footer(Path(directory) / shard["file"], shard)
    return manifest


def _check_footer(path: Path, entry: dict[str, Any]) -> None:
    """A shard that is missing, truncated or of another size fails here, from its footer alone, before any model loads."""
    if not path.is_file():
        raise MtqaError(f"{path}: shard listed in manifest.json is missing; rebuild the shards")
    try:
        rows = pq.read_metadata(path).num_rows
    except (pa.ArrowException, OSError) as error:
        raise MtqaError(f"{path}: unreadable shard ({first_line(error)}); rebuild the shards") from None
    if rows != entry["rows"]:
        raise MtqaError(f"{path}: {rows} rows, the manifest says {entry['rows']}; rebuild the shards")


@dataclass
class TrainBatch:
    """One stored batch: row i's query, positive and (optional) context, hard negatives and sub-batch label."""

    index: int
    batch_type: str
    queries: list[str]
    positives: list[str]
    positive_context: list[str] | None = None
    negatives: list[list[str]] | None = None
    sub_batch: list[str] | None = None

    def __len__(self) -> int:
        return len(self.queries)

    def positive_texts(self) -> list[str]:
        """What the encoder sees as positives.

        ``sentence+context`` shards encode the answer sentence followed by its passage,
        as LAReQA's "sentence + context" candidates do. LAReQA feeds the context as a
        second segment; a plain concatenation is the model-agnostic equivalent, and it
        keeps the sentence first, so truncation at max_length cuts context, never the sentence.
        """
        if self.positive_context is None:
            return self.positives
        return [_with_context(text, context) for text, context in zip(self.positives, self.positive_context)]

    def negative_texts(self) -> list[str]:
        """The batch's hard negatives, flattened; with contexts, each gets its row's passage.

        A hard negative is another sentence of the positive's own passage, so it shares
        that context; without it, "has a context" alone would tell positives from negatives.
        """
        if not self.negatives:
            return []
        contexts = self.positive_context or [None] * len(self.negatives)
        return [_with_context(text, context) for row, context in zip(self.negatives, contexts) for text in row or []]


def _with_context(text: str, context: str | None) -> str:
    return f"{text} {context}" if context else text


def iter_batches(shards_dir: Path, start: int = 0, manifest: dict[str, Any] | None = None) -> Iterator[TrainBatch]:
    """Yield the batches of a build-batches directory in stored order, beginning at batch ``start``.

    One shard is in memory at a time; shards before ``start`` are skipped unread.
    """
    shards_dir = Path(shards_dir)
    manifest = manifest or read_manifest(shards_dir)
    skip = start
    for shard in manifest["shards"]:
        if skip >= shard["batches"]:
            skip -= shard["batches"]
            continue
        columns = _read_shard(shards_dir / shard["file"], shard)
        index = np.asarray(columns["batch_index"])
        starts = np.flatnonzero(np.r_[True, index[1:] != index[:-1]])
        if len(starts) != shard["batches"]:
            raise MtqaError(
                f"{shards_dir / shard['file']}: {len(starts)} batches, the manifest says {shard['batches']}; rebuild the shards"
            )
        ends = np.r_[starts[1:], len(index)]
        for begin, end in zip(starts[skip:], ends[skip:]):
            rows = slice(int(begin), int(end))
            yield TrainBatch(
                index=int(index[begin]),
                batch_type=columns["batch_type"][begin],
                queries=columns["query"][rows],
                positives=columns["positive"][rows],
                positive_context=columns["positive_context"][rows] if "positive_context" in columns else None,
                negatives=columns["negatives"][rows] if "negatives" in columns else None,
                sub_batch=columns["sub_batch"][rows] if "sub_batch" in columns else None,
            )
        skip = 0


def _read_shard(path: Path, entry: dict[str, Any]) -> dict[str, list]:
    if not path.is_file():
        raise MtqaError(f"{path}: shard listed in manifest.json is missing; rebuild the shards")
    try:
        schema = pq.read_schema(path)
        missing = [name for name in REQUIRED_COLUMNS if name not in schema.names]
        if missing:
            raise MtqaError(f"{path}: no column {', '.join(missing)}; rebuild the shards with mtqa build-batches")
        table = pq.read_table(path, columns=[name for name in REQUIRED_COLUMNS + OPTIONAL_COLUMNS if name in schema.names])
    except (pa.ArrowException, OSError) as error:
        raise MtqaError(f"{path}: unreadable shard ({first_line(error)}); rebuild the shards") from None
    if table.num_rows != entry["rows"]:
        raise MtqaError(f"{path}: {table.num_rows} rows, the manifest says {entry['rows']}; rebuild the shards")
    return {name: table.column(name).to_pylist() for name in table.column_names}
