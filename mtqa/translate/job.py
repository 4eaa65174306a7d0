"""`mtqa translate`: load -> segment -> translate -> filter/align -> write, as one job.

The stages live beside it (inputs, backends, translator, filters, align), the dry run in
:mod:`.dry_run`, and what is written beside the corpus in :mod:`.manifest`.
"""

from __future__ import annotations

from dataclasses import asdict
from typing import Any

from .. import log
from ..errors import MtqaError, OptionError
from ..faults import crash_point
from ..formats.parallel_corpus import CORPUS_FILE, CREATED_BY, write_corpus
from ..formats.run_files import MANIFEST, TRANSLATION_CACHE
from ..languages import Language, get_language
from ..output import atomic_directory, claim_output, write_json
from ..paths import cache_root
from ..stages import StageTimer
from .align import Aligner, segments_to_translate
from .backends import back_translator, open_model
from .cache import TranslationCache
from .config import TranslateConfig
from .dry_run import dry_run
from .filters.chain import FilterChain, default_filters
from .inputs import load_and_segment
from .manifest import dataset_card, similarity_report, versions
from .model.translator import translate_segments


def run_translate(config: TranslateConfig) -> dict[str, Any]:
    """Run the whole job; returns the manifest that was written."""
    source = get_language("en")
    targets = [language for language in config.langs if language != source]
    if not targets:
        raise OptionError("--langs names no target language besides English (the source)")
    if config.executor == "ray":
        from .model.ray_executor import require_ray

        require_ray()  # before the model is fetched and converted
    if config.dry_run:
        return dry_run(config, source, targets)
    if config.filters.similarity:
        from ..encoders.ct2_encoder import converted, ct2_layout
        from ..encoders.load import check_model_source
        from .filters.similarity import OPTION

        encoder = check_model_source(config.filters.similarity_model, option=OPTION)  # a wrong path fails now, not after translating
        if config.filters.similarity_engine == "ctranslate2" and (layout := ct2_layout(encoder)) is not None:
            converted(layout)  # so does a model CTranslate2 cannot convert
    with claim_output(config.output, overwrite=config.overwrite):
        return _translate(config, source, targets)


def _translate(config: TranslateConfig, source: Language, targets: list[Language]) -> dict[str, Any]:
    timer = StageTimer()
    loaded, records = load_and_segment(config, timer)

    with timer.stage("model"):
        opened = open_model(config, source, targets)
        back = back_translator(config, opened, targets) if config.filters.round_trip else None

    requested = [(text, language.flores) for language in targets for record in records for text in segments_to_translate(record)]
    stats, chain, aligner = _translate_and_prepare_filters(config, opened, requested, records, source, targets, timer, back)

    with timer.stage("filter_align"):
        rows = [row for record in records for row in aligner.rows(record, targets)]

    codes = ["en"] + [language.code for language in targets]
    _check_what_was_kept(aligner, targets, config)
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
        "versions": versions(),
        "languages": codes,
        "counts": aligner.counts(codes),
        "rows": len(rows),
        "segments": stats.report(len(requested)),
        "filters": aligner.report(),
        "similarity": similarity_report(chain),
        "round_trip": (round_trip := chain.filter("round_trip")) and round_trip.report(),
        "timings_s": timer.report(),
        "memory_mib": timer.memory_report(),
        "throughput": {"output_tokens_per_s": round(stats.tokens_per_second, 1)},
    }

    with timer.stage("write"):
        with atomic_directory(config.output, overwrite=config.overwrite) as staging:
            write_corpus(staging / CORPUS_FILE, rows)
            crash_point("output.write")
            write_json(staging / MANIFEST, manifest)
            (staging / "README.md").write_text(dataset_card(manifest, config, staging), encoding="utf-8")
    manifest["timings_s"]["write"] = timer.report()["write"]
    manifest["memory_mib"]["write"] = timer.memory_report()["write"]
    return manifest


# Past this share of a language's rows dropped by the filters, the run says so (the manifest says by which filter).
DROPPED_SHARE_WARNING = 0.2


def _check_what_was_kept(aligner: Aligner, targets: list[Language], config: TranslateConfig) -> None:
    """A requested language the filters emptied is an error (unless --allow-empty); one they thinned is a warning."""
    for language in targets:
        kept, dropped = aligner.kept[language.code], aligner.dropped[language.code]
        reasons = ", ".join(
            f"{name} {counts[language.code]}" for name, counts in sorted(aligner.dropped_by_reason.items()) if counts.get(language.code)
        )
        if kept == 0 and dropped and not config.allow_empty:
            raise MtqaError(
                f"--langs {language.code}: the filters dropped every one of its {dropped} rows ({reasons}); nothing was written. "
                "Loosen the filter that drops them, use --no-filter to keep them flagged, or pass --allow-empty to write the rest"
            )
        if dropped > DROPPED_SHARE_WARNING * (kept + dropped):
            log.warning(
                f"{language.code}: the filters dropped {dropped} of {kept + dropped} rows ({dropped / (kept + dropped):.0%}: {reasons})"
            )


def _translate_and_prepare_filters(config: TranslateConfig, opened, requested, records, source: Language, targets: list[Language],
                                   timer: StageTimer, back=None):  # fmt: skip
    """Translate every requested segment through the cache, then let the filters see the whole run (calibration, encoding)."""
    cache = TranslationCache(cache_root() / TRANSLATION_CACHE if config.use_cache else None)
    try:
        translations, stats = translate_segments(
            opened.translator,
            cache,
            opened.namespace,
            requested,
            source.flores,
            config.decoding,
            progress=config.progress,
            executor=opened.executor,
            chunk_tokens=opened.chunk_tokens,
        )
        timer.add("translate", stats.seconds)
        back_translate = back(cache) if back is not None else None
        chain = FilterChain(
            default_filters(config.filters, cache=cache, progress=config.progress, threads=config.threads, back_translate=back_translate)
        )
        aligner = Aligner(chain, config.filters, lambda text, language: translations[(text, language.flores)])
        with timer.stage("filter_prepare"):
            aligner.prepare(records, targets)  # length calibration; the similarity filter encodes every pair here, in batches
    finally:
        cache.close()
    return stats, chain, aligner
