"""The job's first two stages: load the English QA input and split its passages into sentences."""

from __future__ import annotations

from .. import log
from ..errors import MtqaError
from ..formats.lareqa import parse_articles
from ..formats.qa_input import LoadResult, load_records
from ..languages import get_language
from ..stages import StageTimer
from .align import segment_record
from .config import TranslateConfig
from .segment import split_sentences


def load_and_segment(config: TranslateConfig, timer: StageTimer) -> tuple[LoadResult, list[dict]]:
    """The input's records, and each with its passage's sentences and answer sentence."""
    with timer.stage("load"):
        loaded = load_records(
            config.input,
            split=config.split,
            columns=config.columns,
            on_bad_row=config.on_bad_row,
            limit=config.limit,
            articles=parse_articles(config.articles),
        )
    warn_if_not_english([record["question"] for record in loaded.records], config.input)
    if loaded.bad_rows:
        log.info(f"skipped {len(loaded.bad_rows)} bad rows, e.g. {loaded.bad_rows[0][0]}: {loaded.bad_rows[0][1]}")
    with timer.stage("segment"):
        spans_of = {context: split_sentences(context) for context in dict.fromkeys(r["context"] for r in loaded.records)}
        records = [segment_record(record, spans_of[record["context"]]) for record in loaded.records]
    return loaded, records


def warn_if_not_english(questions: list[str], spec: str) -> None:
    """One warning line when the input's questions are clearly in another language: mtqa translates from English."""
    from .filters.langid import likely_language

    found = likely_language(questions)
    if found is None or found[0] == "en" or found[1] < 0.6:
        return
    code, share = found
    try:
        name = f"{get_language(code).name} ({code})"
    except MtqaError:
        name = code
    log.warning(
        f"--input {spec} looks like {name}, not English ({share:.0%} of a sample of its questions); "
        "mtqa translate reads English sources, so check the file"
    )
