"""The parallel corpus written by `mtqa translate`: one Parquet row per (example, language).

Columns: ``id, lang, title, question, context, sentences, answer_sentence, answer_text,
flags`` (see data_cards/parallel-corpus.md). The file sits where the Hub's
``datasets.load_dataset("parquet", data_dir=DIR)`` finds it by its split name.
"""

from __future__ import annotations

from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import TYPE_CHECKING, Any, Iterator

from ..errors import MtqaError, first_line

if TYPE_CHECKING:
    import pyarrow as pa

CORPUS_FILE = "data/train-00000-of-00001.parquet"
CREATED_BY = "mtqa translate"
# What build-batches reads; `sentences` only where sentence texts are needed.
INDEX_COLUMNS = ["id", "lang", "question", "context", "sentences", "answer_sentence"]

ROW_GROUP_ROWS = 50_000  # rows per Parquet row group: readers hold one group's texts at a time


@dataclass
class CorpusRow:
    """One example in one language: the corpus's columns, in order (the Arrow schema is built from these fields)."""

    id: str
    lang: str
    title: str
    question: str
    context: str
    sentences: list[str]
    answer_sentence: int  # index into sentences
    answer_text: str | None  # the answer span where it occurs in the answer sentence, else None
    flags: list[str] = field(default_factory=list)  # "part:filter" for every check the row failed


def corpus_schema():
    import pyarrow as pa

    # CorpusRow's annotations (strings, under `from __future__ import annotations`) and their Arrow types.
    arrow = {"str": pa.string(), "str | None": pa.string(), "int": pa.int32(), "list[str]": pa.list_(pa.string())}
    return pa.schema([(column.name, arrow[column.type]) for column in fields(CorpusRow)])


def write_corpus(path: Path, rows: list[CorpusRow] | list[dict[str, Any]]) -> None:
    """Write rows (``CorpusRow``, or dicts with its fields) as the corpus's Parquet file."""
    import io
    import json

    import pyarrow.json as pa_json
    import pyarrow.parquet as pq

    path.parent.mkdir(parents=True, exist_ok=True)
    # Rows reach Arrow as JSON lines: building arrays from Python lists makes pyarrow import pandas (a third of a
    # second, a fixed cost on every run), and Arrow's JSON reader, held to the schema, builds the same table without it.
    lines = [json.dumps(row if isinstance(row, dict) else vars(row), ensure_ascii=False) for row in rows]
    block = max(1 << 20, 2 * max(map(len, lines), default=0))  # a row never straddles a block
    table = (
        corpus_schema().empty_table()
        if not lines
        else pa_json.read_json(
            io.BytesIO("\n".join(lines).encode("utf-8")),
            read_options=pa_json.ReadOptions(block_size=block),
            parse_options=pa_json.ParseOptions(explicit_schema=corpus_schema(), unexpected_field_behavior="error"),
        )
    )
    pq.write_table(table, path, compression="zstd", row_group_size=ROW_GROUP_ROWS)


def corpus_files(directory: Path) -> list[Path]:
    """The Parquet files of a translate output folder (``data/*.parquet``, or ``*.parquet`` at its top)."""
    directory = Path(directory)
    files = sorted((directory / "data").glob("*.parquet")) if (directory / "data").is_dir() else sorted(directory.glob("*.parquet"))
    if not files:
        raise MtqaError(f"{directory}: no Parquet files (expected data/*.parquet written by mtqa translate)")
    return files


def count_rows(directory: Path) -> int | None:
    """Rows in a translate output folder, from the Parquet footers (None if a file cannot say)."""
    import pyarrow.parquet as pq

    try:
        return sum(pq.ParquetFile(path).metadata.num_rows for path in corpus_files(directory))
    except Exception:  # damaged or missing files: reading them says which, in one line
        return None


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
            raise MtqaError(f"{path}: not a readable Parquet file ({first_line(error)}); rebuild it with mtqa translate") from None
