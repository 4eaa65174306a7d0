"""`make bench`: run every benchmark against its side-by-side baseline and write one scorecard.

Writes bench/results.json (each figure as a ratio to the baseline measured in the same run, its
target and verdict, the machine and the date) and bench/results.md (the same as a Markdown table),
and replaces the scorecard section of docs/benchmarks.md with that table.

    python bench/scorecard.py [--quick] [--only translate,train]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import re
import subprocess
import sys
import time
from datetime import date
from pathlib import Path
from typing import Any, Callable

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


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


BENCHES: dict[str, tuple[str, Callable[[dict[str, Any]], list[dict[str, Any]]]]] = {
    "translate": ("bench_translate.py", translate_figures),
    "translate-memory": ("bench_translate_memory.py", translate_memory_figures),
    "batches": ("bench_batches.py", batches_figures),
    "train": ("bench_train.py", train_figures),
    "eval": ("bench_eval.py", eval_figures),
    "filters": ("bench_filters.py", filters_figures),
}


def machine() -> dict[str, Any]:
    cpu = platform.processor() or platform.machine()
    try:
        names = re.findall(r"^model name\s*:\s*(.+)$", Path("/proc/cpuinfo").read_text(), flags=re.M)
        cpu = names[0].strip() if names else cpu
    except OSError:
        pass
    memory = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    import ctranslate2
    import torch

    return {
        "cpu": cpu,
        "cores": cores,
        "memory_gib": round(memory, 1),
        "gpu": torch.cuda.get_device_name(0) if torch.cuda.is_available() else None,
        "python": platform.python_version(),
        "torch": torch.__version__,
        "ctranslate2": ctranslate2.__version__,
    }


def describe(host: dict[str, Any]) -> str:
    return f"{host['cpu']}, {host['cores']} cores, {host['memory_gib']:.0f} GiB" + (f", {host['gpu']}" if host["gpu"] else ", no GPU")


def markdown(card: dict[str, Any]) -> str:
    mode = "quick" if card["quick"] else "full"
    dates = card.get("dates") or {}
    by_date: dict[str, list[str]] = {}
    for name in BENCHES:
        if name in card.get("raw", {}):
            by_date.setdefault(dates.get(name, card["date"]), []).append(name)
    when = (
        f"of {card['date']}"
        if len(by_date) <= 1
        else "of " + "; ".join(f"{', '.join(names)} {day}" for day, names in sorted(by_date.items(), reverse=True))
    )
    lines = [
        f"Scorecard {when} ({mode} mode, `make bench{' QUICK=1' if card['quick'] else ''}`) on {describe(card['machine'])}.",
        "Each figure is a ratio to a baseline measured side by side in the same run.",
        "",
        "| figure | ratio | target | met | baseline | measured |",
        "| --- | --- | --- | --- | --- | --- |",
    ]
    for item in card["figures"]:
        lines.append(
            f"| {item['figure']} | {item['value']:.3g} | {item['op']} {item['target']:g} | {'yes' if item['met'] else '**no**'} "
            f"| {item['baseline']} | {item['detail']} |"
        )
    for name, failure in card["failed"].items():
        lines.append(f"| {name} | - | - | **failed** | {failure} | |")
    if "translate-memory" in card.get("raw", {}):
        sys.path.insert(0, str(ROOT / "bench"))
        from bench_translate_memory import report as memory_report

        lines += [
            "",
            "Where translate's memory goes (`bench/bench_translate_memory.py`): resident set in MiB at the end of each phase, "
            "the peak so far in brackets.",
            "",
            memory_report(card["raw"]["translate-memory"]),
        ]
    if card["quick"]:
        lines += [
            "",
            "Quick mode shrinks the inputs (translate: a half-size model, 100 segments, so fixed costs weigh more; "
            "batches: 200,000 rows; train: 10 steps; eval: 4 articles; filters: 4 articles); the targets are set for the full run, `make bench`.",
        ]
    return "\n".join(lines) + "\n"


def _kept_figures(previous: dict[str, Any], name: str) -> list[dict[str, Any]]:
    """A kept benchmark's figures, computed again from its raw results where they allow it (so a changed
    figure definition shows at once), else as stored."""
    stored = [item for item in previous.get("figures", []) if item.get("bench") == name]
    if name not in previous.get("raw", {}):
        return stored
    try:
        return [{"bench": name, **item} for item in BENCHES[name][1](previous["raw"][name])]
    except (KeyError, TypeError, ZeroDivisionError):
        return stored


def merge(previous: dict[str, Any], fresh: dict[str, Any], chosen: list[str]) -> dict[str, Any]:
    """An --only run replaces its benchmarks' figures in the existing scorecard and keeps the others (with their date)."""
    kept = [item for name in BENCHES if name not in chosen for item in _kept_figures(previous, name)]
    order = list(BENCHES)
    figures = sorted(kept + fresh["figures"], key=lambda item: order.index(item["bench"]) if item.get("bench") in order else len(order))
    merged = {**previous, "figures": figures}
    for key in ("failed", "seconds", "raw"):
        merged[key] = {**{name: value for name, value in previous.get(key, {}).items() if name not in chosen}, **fresh[key]}
    merged["dates"] = {**previous.get("dates", {}), **{name: fresh["date"] for name in chosen}}
    merged["machines"] = {**previous.get("machines", {}), **{name: fresh["machine"] for name in chosen}}
    return merged


def ship_translate_rate(card: dict[str, Any], target: Path = ROOT / "mtqa" / "data" / "measured_rates.json") -> None:
    """The rate `mtqa translate --dry-run` estimates with, shipped inside the package (a checkout's bench/ is not installed)."""
    rate = {"tokens_per_s": float(card["raw"]["translate"]["methods"]["mtqa"]["tokens_per_s"]), "date": card["date"],
            "cores": card["machine"]["cores"], "cpu": card["machine"]["cpu"]}  # fmt: skip
    target.write_text(json.dumps({"translate_nllb_600m": rate}, indent=2) + "\n", encoding="utf-8")


def update_readme(table: str, readme: Path = ROOT / "docs" / "benchmarks.md") -> None:
    start, end = "<!-- scorecard:start -->", "<!-- scorecard:end -->"
    text = readme.read_text(encoding="utf-8")
    if start not in text or end not in text:
        return
    head, rest = text.split(start, 1)
    _, tail = rest.split(end, 1)
    readme.write_text(f"{head}{start}\n{table}{end}{tail}", encoding="utf-8")


def run_benches(chosen: list[str], workdir: Path, quick: bool) -> dict[str, Any]:
    """Run each chosen benchmark in its own process; the card of their figures, times, failures and raw results."""
    card: dict[str, Any] = {
        "date": date.today().isoformat(),
        "quick": quick,
        "machine": machine(),
        "figures": [],
        "failed": {},
        "seconds": {},
        "raw": {},
    }
    for name in chosen:
        script, to_figures = BENCHES[name]
        result_path = workdir / f"results-{name}.json"
        result_path.unlink(missing_ok=True)
        command = [sys.executable, str(ROOT / "bench" / script), "--out", str(result_path)] + (["--quick"] if quick else [])
        print(f"== bench {name}: {' '.join(command[1:])}", flush=True)
        started = time.perf_counter()
        finished = subprocess.run(command, cwd=ROOT)
        card["seconds"][name] = round(time.perf_counter() - started, 1)
        if finished.returncode != 0 or not result_path.exists():
            card["failed"][name] = f"exit status {finished.returncode}"
            continue
        result = json.loads(result_path.read_text())
        card["raw"][name] = result
        try:
            card["figures"] += [{"bench": name, **item} for item in to_figures(result)]
        except (KeyError, TypeError, ZeroDivisionError) as error:
            card["failed"][name] = f"result file lacks {error!r}"
    return card


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="small inputs: the whole card in under 10 minutes on 2 cores")
    parser.add_argument("--only", help=f"comma-separated subset of {', '.join(BENCHES)}")
    parser.add_argument("--workdir", type=Path, default=ROOT / "bench" / "work")
    parser.add_argument("--out", type=Path, default=ROOT / "bench" / "results.json")
    parser.add_argument("--no-readme", action="store_true", help="leave docs/benchmarks.md as it is")
    args = parser.parse_args()
    chosen = args.only.split(",") if args.only else list(BENCHES)
    unknown = [name for name in chosen if name not in BENCHES]
    if unknown:
        parser.error(f"unknown benchmark {', '.join(unknown)}; choose from {', '.join(BENCHES)}")
    args.workdir.mkdir(parents=True, exist_ok=True)

    card = run_benches(chosen, args.workdir, args.quick)
    out, readme = args.out, not args.no_readme
    if args.only and args.out.exists():
        previous = json.loads(args.out.read_text())
        if previous.get("quick") == card["quick"]:
            card = merge(previous, card, chosen)
        else:  # a quick figure never stands beside full ones, nor replaces them: it goes to a file of its own
            out, readme = args.out.with_name(f"results-{'quick' if card['quick'] else 'full'}-{'-'.join(chosen)}.json"), False
    table = markdown(card)
    out.write_text(json.dumps(card, indent=2) + "\n")
    out.with_suffix(".md").write_text(table)
    if readme:
        update_readme(table)
    if not card["quick"] and "translate" in chosen and "translate" in card["raw"]:  # a kept row's rate is shipped already
        ship_translate_rate(card)
    if "batches" in chosen and "scaling" in card["raw"].get("batches", {}) and not card["quick"]:
        sys.path.insert(0, str(ROOT / "bench"))
        from bench_batches import plot_scaling

        plot_scaling(card["raw"]["batches"], ROOT / "bench" / "results" / "batches-scaling.png")
    print("\n" + table)
    print(f"wrote {out} and {out.with_suffix('.md')} in {sum(card['seconds'][name] for name in chosen) / 60:.1f} min")
    sys.exit(1 if any(name in card["failed"] for name in chosen) else 0)


if __name__ == "__main__":
    main()
