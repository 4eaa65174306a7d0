"""The inputs of ``bench.translate.run``: XQuAD-R English as plain SQuAD, and the exact segments mtqa translates."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Callable

from mtqa.translate.model.translator import DecodingOptions

MAX_INPUT_TOKENS = DecodingOptions.max_input_tokens  # mtqa's --max-input-tokens default


def write_squad(xquad: Path, destination: Path, limit: int | None = None) -> dict[str, int]:
    """Write the first ``limit`` (default all) XQuAD-R English examples as plain SQuAD JSON.

    XQuAD-R uses LAReQA's layout (SQuAD plus ``sentences``/``sentence_breaks``); only
    the SQuAD fields are kept, so mtqa segments the passages itself.
    """
    document = json.loads(xquad.read_text(encoding="utf-8"))
    articles: list[dict[str, Any]] = []
    examples = passages = 0
    for article in document["data"]:
        if limit is not None and examples >= limit:
            break
        paragraphs: list[dict[str, Any]] = []
        articles.append({"title": article.get("title", ""), "paragraphs": paragraphs})
        for paragraph in article["paragraphs"]:
            if limit is not None and examples >= limit:
                break
            qas = [{"id": qa["id"], "question": qa["question"], "answers": qa["answers"][:1]} for qa in paragraph["qas"]]
            if limit is not None:
                qas = qas[: limit - examples]
            paragraphs.append({"context": paragraph["context"], "qas": qas})
            examples += len(qas)
            passages += 1
    destination.write_text(json.dumps({"version": "bench", "data": articles}, ensure_ascii=False), encoding="utf-8")
    return {"examples": examples, "passages": passages}


def segmented_records(squad_file: Path) -> list[dict[str, Any]]:
    """Records as `mtqa translate` sees them: loaded and split into sentences by mtqa itself."""
    from mtqa.formats.qa_input import load_records
    from mtqa.translate.align import segment_record
    from mtqa.translate.segment import split_sentences

    records = load_records(str(squad_file)).records
    spans = {context: split_sentences(context) for context in dict.fromkeys(r["context"] for r in records)}
    return [segment_record(record, spans[record["context"]]) for record in records]


def add_pieces(pieces: dict[str, None], record: dict[str, Any], count_tokens: Callable[[str], int]) -> None:
    """Add the texts mtqa sends to the model for ``record`` (stripped, split for length, unique)."""
    from mtqa.translate.align import segments_to_translate
    from mtqa.translate.plan import split_to_fit

    for text in segments_to_translate(record):
        stripped = text.strip()
        if stripped:
            for part in split_to_fit(stripped, count_tokens, MAX_INPUT_TOKENS):
                pieces.setdefault(part)


def make_inputs(
    xquad: Path, wanted: int, spm_model: Path, inputs_dir: Path
) -> tuple[Path, dict[str, int], list[str], Path, dict[str, int]]:
    """The SQuAD file for (a) (whole examples up to ``wanted`` unique segments), the segment list for (b) and (c), and the whole-file SQuAD input."""
    import sentencepiece

    sp = sentencepiece.SentencePieceProcessor(model_file=str(spm_model))

    def count_tokens(text: str) -> int:  # as mtqa counts: pieces + language code + </s>
        return len(sp.encode(text)) + 2

    inputs_dir.mkdir(parents=True, exist_ok=True)
    full_input = inputs_dir / "xquad-r-en.squad.json"
    full_counts = write_squad(xquad, full_input)
    # Whole examples in file order until they need `wanted` unique segments.
    pieces: dict[str, None] = {}
    examples = 0
    for examples, record in enumerate(segmented_records(full_input), start=1):
        add_pieces(pieces, record, count_tokens)
        if len(pieces) >= wanted:
            break
    bench_input = inputs_dir / f"bench-{wanted}.squad.json"
    subset_counts = write_squad(xquad, bench_input, limit=examples)
    # Recomputed from the file (a) reads, so (b) and (c) get exactly mtqa's list.
    segments: dict[str, None] = {}
    for record in segmented_records(bench_input):
        add_pieces(segments, record, count_tokens)
    return bench_input, subset_counts, list(segments), full_input, full_counts
