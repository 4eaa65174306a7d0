"""`mtqa translate`: load -> segment -> translate -> filter/align -> write, as one job."""

from __future__ import annotations

import json
import platform
import sys
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from .. import __version__
from ..card import MT_LIMITATIONS, markdown_table, render_card
from ..errors import MtqaError
from ..faults import crash_point
from ..formats.lareqa import parse_articles
from ..formats.parallel_corpus import CORPUS_FILE, CREATED_BY, write_corpus
from ..formats.qa_input import load_records
from ..languages import Language, get_language
from ..output import atomic_directory, claim_output, write_json
from ..paths import cache_root
from ..stages import StageTimer
from .align import Aligner, segment_record, segments_to_translate
from .backends import open_model
from .cache import TranslationCache
from .ct2_model import DEFAULT_MODEL, QUANTIZATIONS
from .filters import FilterChain, FilterOptions, default_filters
from .segment import split_sentences
from .translator import DecodingOptions, translate_segments

ENGINES = ("local", "ray")  # where chunks are translated: this process, or a Ray cluster
DEVICES = ("auto", "cpu", "cuda")


@dataclass
class TranslateConfig:
    input: str
    output: Path | None
    langs: list[Language]
    split: str = "train"
    columns: str | None = None
    on_bad_row: str = "fail"
    limit: int | None = None
    articles: str | None = None  # SQuAD .json inputs: article indices, e.g. 0-19
    model: str = DEFAULT_MODEL
    revision: str | None = None
    quantization: str = QUANTIZATIONS[0]
    device: str = DEVICES[0]
    compute_type: str = "default"
    threads: int | None = None
    max_batch_tokens: int = 4096
    engine: str = ENGINES[0]
    ray_address: str | None = None
    ray_workers: int | None = None
    decoding: DecodingOptions = field(default_factory=DecodingOptions)
    filters: FilterOptions = field(default_factory=FilterOptions)
    use_cache: bool = True
    license: str | None = None
    overwrite: bool = False
    progress: bool = True
    dry_run: bool = False
    assume_tokens_per_second: float | None = None


def _versions() -> dict[str, str]:
    import ctranslate2
    import sentencepiece

    return {
        "mtqa": __version__,
        "ctranslate2": ctranslate2.__version__,
        "sentencepiece": sentencepiece.__version__,
        "python": platform.python_version(),
    }


def run_translate(config: TranslateConfig) -> dict[str, Any]:
    """Run the whole job; returns the manifest that was written."""
    source = get_language("en")
    targets = [language for language in config.langs if language != source]
    if not targets:
        raise MtqaError("--langs names no target language besides English (the source)")
    if config.engine == "ray":
        from .ray_engine import require_ray

        require_ray()  # before the model is fetched and converted
    if config.dry_run:
        return dry_run(config, source, targets)
    if config.filters.similarity:
        from ..encoders.ct2_encoder import converted, ct2_layout
        from ..encoders.load import check_model_source
        from .similarity import OPTION

        encoder = check_model_source(config.filters.similarity_model, option=OPTION)  # a wrong path fails now, not after translating
        if config.filters.similarity_engine == "ctranslate2" and (layout := ct2_layout(encoder)) is not None:
            converted(layout)  # so does a model CTranslate2 cannot convert
    with claim_output(config.output, overwrite=config.overwrite):
        return _translate(config, source, targets)


def _load_and_segment(config: TranslateConfig, timer: StageTimer):
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
        print(f"mtqa: skipped {len(loaded.bad_rows)} bad rows, e.g. {loaded.bad_rows[0][0]}: {loaded.bad_rows[0][1]}", file=sys.stderr)
    with timer.stage("segment"):
        spans_of = {context: split_sentences(context) for context in dict.fromkeys(r["context"] for r in loaded.records)}
        records = [segment_record(record, spans_of[record["context"]]) for record in loaded.records]
    return loaded, records


def warn_if_not_english(questions: list[str], spec: str) -> None:
    """One warning line when the input's questions are clearly in another language: mtqa translates from English."""
    from .langid import likely_language

    found = likely_language(questions)
    if found is None or found[0] == "en" or found[1] < 0.6:
        return
    code, share = found
    try:
        name = f"{get_language(code).name} ({code})"
    except MtqaError:
        name = code
    print(
        f"mtqa: warning: --input {spec} looks like {name}, not English ({share:.0%} of a sample of its questions); "
        "mtqa translate reads English sources, so check the file",
        file=sys.stderr,
    )


def dry_run(config: TranslateConfig, source: Language, targets: list[Language]) -> dict[str, Any]:
    """Load, segment, de-duplicate and count tokens with the model's tokenizer (the model is not loaded); nothing is written."""
    from .plan import plan_pieces, summarise

    timer = StageTimer()
    loaded, records = _load_and_segment(config, timer)
    opened = open_model(config, source, targets, load=False)
    tokenizer = opened.translator
    requested = [(text, language.flores) for language in targets for record in records for text in segments_to_translate(record)]
    cache_file = cache_root() / "translations.sqlite"
    cache = TranslationCache(cache_file if config.use_cache and cache_file.is_file() else None)  # a dry run creates nothing
    try:
        with timer.stage("plan"):
            plan = plan_pieces(
                lambda text: tokenizer.tokenize(text, source.flores, targets[0].flores),
                cache,
                opened.namespace,
                list(dict.fromkeys(requested)),
                source.flores,
                config.decoding.max_input_tokens,
            )
    finally:
        cache.close()
    rate, rate_source = config.assume_tokens_per_second, "--assume-tokens-per-second"
    if rate is None:
        rate, rate_source = measured_tokens_per_second()
    summary = summarise(plan, [language.flores for language in targets], rate)
    if not config.use_cache:
        cache_reason = "--no-cache"
    elif cache.path is None:
        cache_reason = f"no translation cache yet at {cache_file}"
    elif opened.namespace is None:
        cache_reason = "the model is not converted yet, and cached translations are keyed by the converted model"
    else:
        cache_reason = None
    if rate_source and rate_source != "--assume-tokens-per-second" and tokenizer.family != "nllb":
        label = tokenizer.tokenizer.family.label if hasattr(tokenizer, "tokenizer") else "Apertium"
        rate_source += f"; measured for NLLB, not {label}: pass --assume-tokens-per-second for this model's rate"
    return {
        "dry_run": True,
        "examples": len(records),
        "requested": len(requested),
        "languages": [t.code for t in targets],
        "cache_consulted": cache_reason is None,
        "cache_reason": cache_reason,
        "tokens_per_second": rate,
        "rate_source": rate_source,
        **summary,
        "timings_s": timer.report(),
    }


RATES_FILE = "data/measured_rates.json"  # shipped with the package; bench/scorecard.py rewrites it after a full make bench


def measured_tokens_per_second() -> tuple[float | None, str | None]:
    """mtqa's output tokens/s in the last full `make bench` (NLLB-600M shape on that machine), as the package ships it."""
    from importlib import resources

    try:
        rate = json.loads(resources.files("mtqa").joinpath(RATES_FILE).read_text("utf-8"))["translate_nllb_600m"]
        return float(rate["tokens_per_s"]), (
            f"the full make bench of {rate['date']}: NLLB-600M shape, greedy, {rate['cores']} cores, {rate['cpu']}; beam search is slower"
        )
    except (OSError, ValueError, KeyError, TypeError):
        return None, None


def duration(seconds: float) -> str:
    """``2.4 h``, ``35 min`` or ``12 s``: a plan's time in the unit a reader wants."""
    if seconds >= 3600:
        return f"{seconds / 3600:,.1f} h"
    return f"{seconds / 60:.0f} min" if seconds >= 60 else f"{seconds:.0f} s"


def dry_run_table(plan: dict[str, Any]) -> str:
    lines = ["target      segments   pieces  source tokens  cached pieces  tokens to translate"]
    for target, row in plan["per_target"].items():
        lines.append(
            f"  {target:<10}{row['segments']:>8}{row['pieces']:>9}{row['source_tokens']:>15,}{row['cached_pieces']:>15}{row['tokens_to_translate']:>21,}"
        )
    total = plan["total"]
    lines.append(
        f"  {'total':<10}{total['segments']:>8}{total['pieces']:>9}{total['source_tokens']:>15,}{total['cached_pieces']:>15}{total['tokens_to_translate']:>21,}"
    )
    lines.append(
        f"{plan['examples']} examples; {plan['requested']} segments requested, {plan['total']['segments']} unique; "
        f"{plan['split_long']} split for length"
    )
    if not plan["cache_consulted"]:
        lines.append(f"cache: not consulted ({plan['cache_reason']}): every piece counted as to translate")
    if plan["hours"] is not None:
        rate = plan["tokens_per_second"]
        lines.append(
            f"expected: {duration(plan['hours'] * 3600)} at {f'{rate:,.0f}' if rate >= 100 else f'{rate:.3g}'} output tokens/s ({plan['rate_source']}), "
            "taking as many output tokens as source tokens"
        )
    else:
        lines.append("expected time: pass --assume-tokens-per-second N (output tokens/s), or run make bench first")
    return "\n".join(lines)


def _translate(config: TranslateConfig, source: Language, targets: list[Language]) -> dict[str, Any]:
    timer = StageTimer()
    loaded, records = _load_and_segment(config, timer)

    with timer.stage("model"):
        opened = open_model(config, source, targets)
        translator = opened.translator

    requested = [(text, language.flores) for language in targets for record in records for text in segments_to_translate(record)]
    cache = TranslationCache(cache_root() / "translations.sqlite" if config.use_cache else None)
    try:
        translations, stats = translate_segments(
            translator,
            cache,
            opened.namespace,
            requested,
            source.flores,
            config.decoding,
            progress=config.progress,
            engine=opened.engine,
            chunk_tokens=opened.chunk_tokens,
        )
        timer.add("translate", stats.seconds)
        chain = FilterChain(default_filters(config.filters, cache=cache, progress=config.progress, threads=config.threads))
        aligner = Aligner(chain, config.filters, lambda text, language: translations[(text, language.flores)])
        with timer.stage("filter_prepare"):
            aligner.prepare(records, targets)  # length calibration; the similarity filter encodes every pair here, in batches
    finally:
        cache.close()

    with timer.stage("filter_align"):
        rows = [row for record in records for row in aligner.rows(record, targets)]

    codes = ["en"] + [language.code for language in targets]
    manifest = {
        "created_by": CREATED_BY,
        "translated_with": opened.described,
        "input": {
            "spec": config.input,
            "split": config.split if config.input.startswith("hf:") else None,
            **loaded.report(),
            "license": config.license or loaded.license,
        },
        "model": opened.report,
        "options": {"decoding": asdict(config.decoding), "filters": asdict(config.filters), "max_batch_tokens": config.max_batch_tokens},
        "versions": _versions(),
        "languages": codes,
        "counts": aligner.counts(codes),
        "rows": len(rows),
        "segments": stats.report(len(requested)),
        "filters": aligner.report(),
        "similarity": similarity_report(chain),
        "timings_s": timer.report(),
        "throughput": {"output_tokens_per_s": round(stats.tokens_per_second, 1)},
    }

    with timer.stage("write"):
        with atomic_directory(config.output, overwrite=config.overwrite) as staging:
            write_corpus(staging / CORPUS_FILE, rows)
            crash_point("output.write")
            write_json(staging / "manifest.json", manifest)
            (staging / "README.md").write_text(_card(manifest, config), encoding="utf-8")
    manifest["timings_s"]["write"] = timer.report()["write"]
    return manifest


def similarity_report(chain: FilterChain) -> dict[str, Any] | None:
    """The similarity filter's settings and, per language, its score distributions and failures (None: filter off)."""
    similarity = chain.filter("similarity")
    if similarity is None or similarity.scores is None:
        return None
    from .similarity import report

    return {**similarity.report(), "languages": report(similarity.scores, chain.report().get("similarity", {}))}


def _card(manifest: dict[str, Any], config: TranslateConfig) -> str:
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
