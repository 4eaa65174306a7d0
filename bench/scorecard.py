"""`make bench`: run every benchmark against its side-by-side baseline and write one scorecard.

Writes bench/results/scorecard.json (each figure as a ratio to the baseline measured in the same run, its
target and verdict, the machine and the date) and bench/results/scorecard.md (the same as a Markdown table),
and replaces the scorecard section of docs/benchmarks.md with that table.

    python -m bench.scorecard [--quick] [--only translate,train]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import time
from datetime import date
from pathlib import Path
from typing import Any

from bench import RESULTS, ROOT, WORK
from bench.figures import BENCHES
from bench.measure import available_cores, cpu_name


def machine() -> dict[str, Any]:
    import ctranslate2
    import torch

    memory = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30
    return {
        "cpu": cpu_name(),
        "cores": available_cores(),
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
        from bench.translate.memory import report as memory_report

        lines += [
            "",
            "Where translate's memory goes (`python -m bench.translate.memory`): resident set in MiB at the end of each phase, "
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
        module, to_figures = BENCHES[name]
        result_path = workdir / f"results-{name}.json"
        result_path.unlink(missing_ok=True)
        command = [sys.executable, "-m", module, "--out", str(result_path)] + (["--quick"] if quick else [])
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
    parser.add_argument("--workdir", type=Path, default=WORK)
    parser.add_argument("--out", type=Path, default=RESULTS / "scorecard.json")
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
            out, readme = args.out.with_name(f"scorecard-{'quick' if card['quick'] else 'full'}-{'-'.join(chosen)}.json"), False
    table = markdown(card)
    out.write_text(json.dumps(card, indent=2) + "\n")
    out.with_suffix(".md").write_text(table)
    if readme:
        update_readme(table)
    if not card["quick"] and "translate" in chosen and "translate" in card["raw"]:  # a kept row's rate is shipped already
        ship_translate_rate(card)
    if "batches" in chosen and "scaling" in card["raw"].get("batches", {}) and not card["quick"]:
        from bench.batches import plot_scaling

        plot_scaling(card["raw"]["batches"], RESULTS / "batches-scaling.png")
    print("\n" + table)
    print(f"wrote {out} and {out.with_suffix('.md')} in {sum(card['seconds'][name] for name in chosen) / 60:.1f} min")
    sys.exit(1 if any(name in card["failed"] for name in chosen) else 0)


if __name__ == "__main__":
    main()
