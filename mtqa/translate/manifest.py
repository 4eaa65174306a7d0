"""What `mtqa translate` writes beside its corpus: the library versions, the similarity report, the dataset card, the summary table."""

from __future__ import annotations

import platform
from pathlib import Path
from typing import Any

from .. import __version__
from ..card import MT_LIMITATIONS, markdown_table, render_card
from .config import TranslateConfig
from .filters.chain import FilterChain


def versions() -> dict[str, str]:
    import ctranslate2
    import sentencepiece

    return {
        "mtqa": __version__,
        "ctranslate2": ctranslate2.__version__,
        "sentencepiece": sentencepiece.__version__,
        "python": platform.python_version(),
    }


def similarity_report(chain: FilterChain) -> dict[str, Any] | None:
    """The similarity filter's settings and, per language, its score distributions and failures (None: filter off)."""
    similarity = chain.filter("similarity")
    if similarity is None or similarity.scores is None:
        return None
    from .filters.similarity import report

    return {**similarity.report(), "languages": report(similarity.scores, chain.report().get("similarity", {}))}


def dataset_card(manifest: dict[str, Any], config: TranslateConfig, folder: Path) -> str:
    codes = manifest["languages"]
    counts = manifest["counts"]
    reasons = manifest["filters"]["dropped_examples_by_reason"]
    filter_rows = [
        [code, counts[code]["kept"], counts[code]["dropped"], *[reasons.get(name, {}).get(code, 0) for name in sorted(reasons)]]
        for code in codes
    ]
    segments = manifest["segments"]
    how = f"""\
Made with `mtqa translate` {manifest["versions"]["mtqa"]} from `{config.input}`.
English passages were split into sentences (pysbd) and every question, sentence and
answer text was translated separately with {manifest["translated_with"]}, so sentence *i*
is aligned across languages and `answer_sentence` holds in every language.
{segments["requested"]} segments were needed, {segments["unique"]} were unique
(dedup factor {segments["dedup_factor"]})."""
    fields = """\
One row per (example, language), English included:
`id`, `lang`, `title`, `question`, `context` (the translated sentences joined),
`sentences`, `answer_sentence` (index into `sentences`), `answer_text`
(English answer; in other languages only where found verbatim, else null),
`flags` (`part:filter` for each failed check; empty for clean rows)."""
    scope = "question and answer sentence" if config.filters.scope == "answer" else "question and every sentence"
    filters = (
        f"An example is kept in a language when its {scope} pass every filter"
        + ("" if config.filters.enabled else " (filtering was off: every row kept, with flags)")
        + ".\n\n"
        + markdown_table(["lang", "kept", "dropped", *sorted(reasons)], filter_rows)
        + _similarity_section(manifest.get("similarity"))
    )
    return render_card(
        title="Machine-translated parallel QA corpus",
        languages=codes,
        license_name=manifest["input"]["license"],
        rows=manifest["rows"],
        source_datasets=[config.input],
        task_categories=["question-answering", "text-retrieval"],
        sections=[("How it was made", how), ("Fields", fields), ("Filters", filters), ("Limitations", MT_LIMITATIONS)],
        translations=["machine"],
        data_files="data/*.parquet",
        data_dir=folder,
    )


def _similarity_section(similarity: dict[str, Any] | None) -> str:
    if not similarity:
        return ""

    def cell(stats: dict[str, float] | None, key: str) -> str:
        return "" if stats is None else f"{stats[key]:.3f}"

    rows = [
        [
            code,
            item["pairs"],
            cell(item["cosine"], "p5"),
            cell(item["cosine"], "p50"),
            cell(item["margin"], "p5"),
            cell(item.get("source_margin"), "p5"),
            item["failed"],
        ]
        for code, item in similarity["languages"].items()
    ]
    return (
        f"\n\nThe similarity filter encoded every source and translation with `{similarity['model']}` "
        f"({similarity.get('engine', 'torch')}) and failed a segment whose cosine with its source was below "
        f"{similarity['min_similarity']}; whose margin (that cosine minus its best cosine with another English segment "
        f"of its passage) was below {similarity['min_margin']}; or whose source margin (that cosine minus the source's "
        f"best cosine with the translation of another segment of its passage) was below {similarity.get('min_source_margin')}.\n\n"
        + markdown_table(["lang", "segments", "cosine p5", "cosine p50", "margin p5", "source margin p5", "failed"], rows)
    )


def summary_table(manifest: dict[str, Any]) -> str:
    reasons = manifest["filters"]["dropped_examples_by_reason"]
    rows = []
    for code in manifest["languages"]:
        counts = manifest["counts"][code]
        top = ", ".join(f"{name} {by_lang[code]}" for name, by_lang in reasons.items() if by_lang.get(code))
        rows.append(f"  {code:<10} kept {counts['kept']:>7}  dropped {counts['dropped']:>6}  {top}")
    segments = manifest["segments"]
    return "\n".join(
        [
            "lang        examples",
            *rows,
            f"segments: {segments['requested']} requested, {segments['unique']} unique (dedup x{segments['dedup_factor']}), "
            f"{segments['translated']} translated now, {segments['cache_hits']} from cache, {segments['split_long']} split for length",
            f"throughput: {manifest['throughput']['output_tokens_per_s']} output tokens/s; "
            + ", ".join(f"{name} {seconds:.1f}s" for name, seconds in manifest["timings_s"].items()),
        ]
    )
