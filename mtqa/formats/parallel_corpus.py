"""The parallel corpus written by `mtqa translate`: one Parquet row per (example, language).

Columns: ``id, lang, title, question, context, sentences, answer_sentence, answer_text,
flags`` (see data_cards/parallel-corpus.md). The file sits where the Hub's
``datasets.load_dataset("parquet", data_dir=DIR)`` finds it by its split name.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Iterator

from ..errors import MtqaError

CORPUS_FILE = "data/train-00000-of-00001.parquet"
CREATED_BY = "mtqa translate"
# What build-batches reads; `sentences` only where sentence texts are needed.
INDEX_COLUMNS = ["id", "lang", "question", "context", "sentences", "answer_sentence"]


def corpus_schema():
    import pyarrow as pa

    return pa.schema(
        [
            ("id", pa.string()),
            ("lang", pa.string()),
            ("title", pa.string()),
            ("question", pa.string()),
            ("context", pa.string()),
            ("sentences", pa.list_(pa.string())),
            ("answer_sentence", pa.int32()),
            ("answer_text", pa.string()),
            ("flags", pa.list_(pa.string())),
        ]
    )


def write_corpus(path: Path, rows: list[dict[str, Any]]) -> None:
    import pyarrow as pa
    import pyarrow.parquet as pq

    path.parent.mkdir(parents=True, exist_ok=True)
    table = pa.Table.from_pylist(rows, schema=corpus_schema())
    pq.write_table(table, path, compression="zstd", row_group_size=50_000)


def corpus_files(directory: Path) -> list[Path]:
    """The Parquet files of a translate output folder (``data/*.parquet``, or ``*.parquet`` at its top)."""
    directory = Path(directory)
    files = sorted((directory / "data").glob("*.parquet")) if (directory / "data").is_dir() else sorted(directory.glob("*.parquet"))
    if not files:
        raise MtqaError(f"{directory}: no Parquet files (expected data/*.parquet written by mtqa translate)")
    return files


def iter_record_batches(directory: Path, columns: list[str], batch_size: int = 65_536) -> Iterator[tuple["pa.RecordBatch", str]]:
    """``(record batch, file)`` pairs of ``columns``, file by file; damage is one MtqaError naming the file."""
    import pyarrow.parquet as pq

    for path in corpus_files(directory):
        try:
            parquet = pq.ParquetFile(path)
            missing = [c for c in columns if c not in parquet.schema_arrow.names]
            if missing:
                raise MtqaError(f"{path}: missing columns {', '.join(missing)}; give a directory written by mtqa translate")
            for batch in parquet.iter_batches(batch_size=batch_size, columns=columns):
                yield batch, str(path)
        except MtqaError:
            raise
        except Exception as error:
            raise MtqaError(f"{path}: not a readable Parquet file ({str(error).splitlines()[0]}); rebuild it with mtqa translate") from None
