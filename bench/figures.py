"""The scorecard's figures: each benchmark's raw results turned into ratios, each with its target and verdict."""

from __future__ import annotations

from typing import Any, Callable


def _figure(name: str, value: float, op: str, target: float, baseline: str, detail: str = "") -> dict[str, Any]:
    met = value >= target if op == ">=" else value <= target
    return {"figure": name, "value": round(value, 3), "op": op, "target": target, "met": met, "baseline": baseline, "detail": detail}


def translate_filter_figures(result: dict[str, Any]) -> list[dict[str, Any]]:
    """The filter stage against the translation step: without the similarity filter, and (full runs) with it."""
    ratios, targets = result["ratios"], result["targets"]
    figures = []
    if "filter_vs_translate_s" in ratios:
        figures.append(
            _figure(
                "translate: filter stage / translation step, time",
                ratios["filter_vs_translate_s"],
                "<=",
                targets["filter_vs_translate_s"],
                "mtqa's own translation step, same run",
                "median over the mtqa runs; similarity filter off (the default)",
            )
        )
    # quick runs leave it out: the encoder's load dominates
    if "filter_with_similarity_vs_translate_s" in ratios and result.get("mode") == "full":
        run = ratios["similarity_run"]
        figures.append(
            _figure(
                "translate: filter stage with --similarity / translation step, time",
                ratios["filter_with_similarity_vs_translate_s"],
                "<=",
                targets["filter_vs_translate_s"],
                "mtqa's own translation step, same run",
                f"(a)'s filter stage + the similarity filter ({run['engine']}, {run['texts_encoded']} "
                f"texts: the same English segments and as many German XQuAD-R ones): {run['filter_s']} s vs "
                f"{run['translate_s']} s translating",
            )
        )
    return figures


def translate_figures(result: dict[str, Any]) -> list[dict[str, Any]]:
    ratios, targets, methods = result["ratios"], result["targets"], result["methods"]

    def rate(key: str) -> str:
        return f"{methods[key]['tokens_per_s']:.1f} tok/s"

    paired = (
        f"median of paired runs {', '.join(f'{r:.3f}' for r in ratios['paired_runs']['end_to_end'])}; " if "paired_runs" in ratios else ""
    )
    figures = [
        _figure(
            "translate: mtqa / plain CTranslate2, tokens/s",
            ratios["mtqa_vs_ctranslate2_tokens_per_s"],
            ">=",
            targets["mtqa_vs_ctranslate2_tokens_per_s"],
            "plain CTranslate2 translate_batch, same model and input",
            paired + f"fastest {rate('mtqa')} vs {rate('ctranslate2')}",
        ),
        *translate_filter_figures(result),
        _figure(
            "translate: mtqa / transformers fp32, tokens/s",
            ratios["mtqa_vs_transformers_tokens_per_s"],
            ">=",
            targets["mtqa_vs_transformers_tokens_per_s"],
            "transformers generate, float32",
            f"{rate('mtqa')} vs {rate('transformers')}",
        ),
        # Peak memory has its own benchmark (translate-memory): mtqa and plain CTranslate2 by phase and batch size.
    ]
    if "ray" in result:
        ray = result["ray"]
        figures.append(
            _figure(
                "translate: executor ray / executor local, wall time",
                ray["time_ratio"],
                "<=",
                ray["target"],
                "mtqa translate --executor local, same input",
                ray["detail"],
            )
        )
    return figures


def batches_figures(result: dict[str, Any]) -> list[dict[str, Any]]:
    targets = result["targets"]
    detail = f"{result['rows']:,} rows, {result['positive']} positives"
    figures = [
        _figure(
            "build-batches: time / plain pyarrow read+write",
            result["time_ratio"],
            "<=",
            targets["time_ratio_max"],
            "pyarrow read + write of the same rows",
            detail,
        ),
        _figure(
            "build-batches: peak RSS / 2 GiB budget",
            result["build_batches"]["peak_rss_mib"] / targets["peak_rss_mib_max"],
            "<=",
            1.0,
            "a 2 GiB memory budget",
            f"{result['build_batches']['peak_rss_mib']:.0f} MiB at {result['rows']:,} rows",
        ),
    ]
    if "scaling" not in result:
        return figures
    largest, first = result["sizes"][-1], result["sizes"][0]
    rows = f"{largest['rows']:,} rows"
    return figures + [
        _figure(
            f"build-batches at {rows}: heap peak / 4 GiB budget",
            largest["build_batches"]["peak_anon_mib"] / targets["largest_peak_anon_mib_max"],
            "<=",
            1.0,
            "a 4 GiB memory budget",
            f"{largest['build_batches']['peak_anon_mib']:.0f} MiB anonymous; RSS with the memory-mapped texts "
            f"{largest['build_batches']['peak_rss_mib']:.0f} MiB; {largest['build_batches']['seconds']:.0f} s",
        ),
        _figure(
            f"build-batches: time per row at {rows} / at {first['rows']:,}",
            result["scaling"]["time_per_row"],
            "<=",
            targets["per_row_ratio_max"],
            f"the same at {first['rows']:,} rows, same run",
            f"{largest['build_batches']['us_per_row']:.2f} vs {first['build_batches']['us_per_row']:.2f} µs per row; "
            "bench/results/batches-scaling.png",
        ),
        _figure(
            f"build-batches: heap per row at {rows} / at {first['rows']:,}",
            result["scaling"]["memory_per_row"],
            "<=",
            targets["per_row_ratio_max"],
            f"the same at {first['rows']:,} rows, same run",
            f"{largest['build_batches']['anon_bytes_per_row']:.0f} vs {first['build_batches']['anon_bytes_per_row']:.0f} bytes per row",
        ),
    ]


def translate_memory_figures(result: dict[str, Any]) -> list[dict[str, Any]]:
    ratios, targets, transformers = result["ratios"], result["targets"], result["transformers"]["peak_rss_mib"]
    floor = {run["max_batch_tokens"]: run for run in result["plain_ctranslate2"]}
    figures = []
    for run in result["mtqa"]:
        tokens = run["max_batch_tokens"]
        figures.append(
            _figure(
                f"translate: mtqa --max-batch-tokens {tokens} / transformers fp32, peak RSS",
                ratios[f"mtqa_{tokens}_vs_transformers_rss"],
                "<=",
                targets["mtqa_vs_transformers_rss"],
                "transformers generate, float32, same segments",
                f"{run['peak_rss_mib']:.0f} vs {transformers:.0f} MiB; plain CTranslate2 at {tokens} tokens: "
                f"{floor[tokens]['peak_rss_mib']:.0f} MiB; {run['tokens_per_s']:.1f} tok/s",
            )
        )
        figures.append(
            _figure(
                f"translate: mtqa / plain CTranslate2 at {tokens} tokens a batch, peak RSS",
                ratios[f"mtqa_{tokens}_vs_plain_ctranslate2_rss"],
                "<=",
                targets["mtqa_vs_plain_ctranslate2_rss"],
                "a plain ctranslate2.Translator on the same folder, fresh process",
                f"{run['peak_rss_mib']:.0f} vs {floor[tokens]['peak_rss_mib']:.0f} MiB",
            )
        )
    return figures


def train_figures(result: dict[str, Any]) -> list[dict[str, Any]]:
    targets = result["targets"]
    mtqa, st = result["mtqa"], result["sentence-transformers"]
    return [
        _figure(
            "train: mtqa / sentence-transformers MNRL, samples/s",
            result["speed_ratio"],
            ">=",
            targets["speed_ratio_min"],
            "sentence-transformers MultipleNegativesRankingLoss loop",
            f"{mtqa['samples_per_s']:.1f} vs {st['samples_per_s']:.1f} samples/s",
        ),
        _figure(
            "train: mtqa / sentence-transformers MNRL, peak RSS",
            result["memory_ratio"],
            "<=",
            targets["memory_ratio_max"],
            "sentence-transformers MultipleNegativesRankingLoss loop",
            f"{mtqa['peak_rss_mib']:.0f} vs {st['peak_rss_mib']:.0f} MiB",
        ),
    ]


def eval_figures(result: dict[str, Any]) -> list[dict[str, Any]]:
    return [
        _figure(
            "evaluate: scoring time / encoding time",
            result["scoring_share_of_encoding"],
            "<=",
            result["target"],
            "encoding the same questions and candidates",
            f"{result['scoring_seconds']:.1f} s vs {result['encode_seconds']:.1f} s, {result['questions']} questions",
        )
    ] + (
        [
            _figure(
                "evaluate: --eval-engine ctranslate2 / torch, encoding time",
                result["engines"]["ratio"],
                "<=",
                result["engines"]["target"],
                "PyTorch encoding the same texts, same run",
                f"offline-me5, {result['engines']['texts']:,} texts of articles {result['engines']['articles']}: "
                f"{result['engines']['ctranslate2_seconds']:.1f} s (conversion included) vs {result['engines']['torch_seconds']:.1f} s; "
                f"vectors within {result['engines']['max_abs_diff']:.0e}",
            )
        ]
        if "engines" in result
        else []
    )


def filters_figures(result: dict[str, Any]) -> list[dict[str, Any]]:
    targets = result["targets"]
    size = f"{result['good']:,} good, {result['examples'] - result['good']:,} corrupted; {len(result['languages'])} languages"
    return [
        _figure(
            "filters: chain recall, worst corruption kind",
            result["worst_recall"],
            ">=",
            targets["recall_min"],
            "labelled corruptions of XQuAD-R human translations",
            f"{result['worst_recall_kind']}; {size}",
        ),
        _figure(
            "filters: chain false drops, worst language",
            result["worst_false_drop"],
            "<=",
            targets["false_drop_max"],
            "XQuAD-R human translations",
            result["worst_false_drop_language"],
        ),
    ]


# Each benchmark: the module that runs it (python -m) and what figures its results give.
BENCHES: dict[str, tuple[str, Callable[[dict[str, Any]], list[dict[str, Any]]]]] = {
    "translate": ("bench.translate.run", translate_figures),
    "translate-memory": ("bench.translate.memory", translate_memory_figures),
    "batches": ("bench.batches", batches_figures),
    "train": ("bench.train", train_figures),
    "eval": ("bench.evaluate", eval_figures),
    "filters": ("bench.filters.labelled", filters_figures),
}
