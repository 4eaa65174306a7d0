"""`mtqa translate --dry-run`: load, segment, de-duplicate and count tokens with the model's tokenizer; nothing is written."""

from __future__ import annotations

import json
from typing import Any

from ..formats.run_files import TRANSLATION_CACHE
from ..languages import Language
from ..paths import cache_root
from ..stages import StageTimer
from .align import segments_to_translate
from .backends import open_model
from .cache import TranslationCache
from .config import TranslateConfig
from .inputs import load_and_segment


def dry_run(config: TranslateConfig, source: Language, targets: list[Language]) -> dict[str, Any]:
    """Load, segment, de-duplicate and count tokens with the model's tokenizer (the model is not loaded); nothing is written."""
    from .plan import plan_pieces, summarise

    timer = StageTimer()
    loaded, records = load_and_segment(config, timer)
    opened = open_model(config, source, targets, load=False)
    tokenizer = opened.translator
    requested = [(text, language.flores) for language in targets for record in records for text in segments_to_translate(record)]
    cache_file = cache_root() / TRANSLATION_CACHE
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
    if config.filters.round_trip:
        summary["round_trip"] = round_trip_cost(summary, rate)
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


def round_trip_cost(summary: dict[str, Any], rate: float | None) -> dict[str, Any]:
    """--round-trip translates every output back: as many segments again, and (taken as) as many tokens as the outputs have.

    Back-translations already in the cache cannot be counted before the outputs exist, so none is counted as cached.
    """
    tokens = summary["total"].get("source_tokens", 0)
    return {"segments": summary["total"].get("segments", 0), "tokens_to_translate": tokens, "hours": tokens / rate / 3600 if rate else None}


RATES_FILE = "data/measured_rates.json"  # shipped with the package; `python -m bench.scorecard` rewrites it after a full make bench


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
    if (round_trip := plan.get("round_trip")) is not None:
        extra = f", about {duration(round_trip['hours'] * 3600)} more" if round_trip["hours"] is not None else ""
        lines.append(
            f"--round-trip: {round_trip['segments']} outputs translated back to English, "
            f"about {round_trip['tokens_to_translate']:,} tokens{extra} (back-translations are not counted as cached)"
        )
    return "\n".join(lines)
