"""Hugging Face dataset cards for what mtqa writes (one template for every output)."""

from __future__ import annotations

from pathlib import Path
from typing import Any


def size_category(rows: int) -> str:
    bounds = [(1_000, "n<1K"), (10_000, "1K<n<10K"), (100_000, "10K<n<100K"), (1_000_000, "100K<n<1M"), (10_000_000, "1M<n<10M")]
    for bound, label in bounds:
        if rows < bound:
            return label
    return "10M<n<100M"


def markdown_table(header: list[str], rows: list[list[Any]]) -> str:
    lines = ["| " + " | ".join(header) + " |", "|" + "|".join(" --- " for _ in header) + "|"]
    lines += ["| " + " | ".join(str(cell) for cell in row) + " |" for row in rows]
    return "\n".join(lines)


TRANSLATIONS = ("machine", "human")  # what a card says its non-English text is


def arrow_bytes(data_dir: Path, pattern: str) -> int:
    """The uncompressed size of the Parquet files matching ``pattern``, from their footers (what datasets calls num_bytes)."""
    import pyarrow.parquet as pq

    total = 0
    for path in sorted(Path(data_dir).glob(pattern)):
        metadata = pq.read_metadata(path)
        total += sum(metadata.row_group(i).total_byte_size for i in range(metadata.num_row_groups))
    return total


def render_card(
    *,
    title: str,
    languages: list[str],
    license_name: str | None,
    rows: int,
    source_datasets: list[str],
    task_categories: list[str],
    sections: list[tuple[str, str]],
    translations: list[str],
    data_files: str,
    data_dir: Path,
) -> str:
    """A Hugging Face dataset card (front matter through huggingface_hub's DatasetCardData), then the Markdown sections.

    ``translations`` names what the non-English text is (``machine``, ``human`` or both); ``data_files``
    is the glob, under ``data_dir``, that the Hub's viewer and ``datasets.load_dataset`` load as the train split.
    """
    from huggingface_hub import DatasetCard, DatasetCardData

    data = DatasetCardData(
        language=languages,
        license=license_name or "unknown",
        multilinguality="multilingual" if len(languages) > 1 else "monolingual",
        size_categories=[size_category(rows)],
        source_datasets=source_datasets,
        task_categories=task_categories,
        tags=["mtqa", *[f"{kind}-translated" for kind in TRANSLATIONS if kind in translations]],
        configs=[{"config_name": "default", "data_files": [{"split": "train", "path": data_files}]}],
        # datasets ignores a split, with a warning, unless it has all three fields.
        dataset_info={"splits": [{"name": "train", "num_bytes": arrow_bytes(data_dir, data_files), "num_examples": rows}]},
    )
    body = "\n".join(f"## {heading}\n\n{text.strip()}\n" for heading, text in sections)
    return str(DatasetCard(f"---\n{data.to_yaml()}\n---\n\n# {title}\n\n{body}"))


MT_LIMITATIONS = """\
This data was translated by a machine. Expect translationese, literal renderings
of idioms, inconsistently transliterated names, and errors that the automatic
filters (language ID, length ratio, copies, repetition loops, empty outputs)
cannot see. The filters drop the worst cases; they do not certify the rest.
Answer texts in translated languages are given only where the answer could be
found verbatim in the translated answer sentence; they are empty otherwise.
The license of the source data applies to the translations."""
