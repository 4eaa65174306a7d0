"""The README's results table and docs/studies.md's study results, generated from the studies' run folders.

Reads ``recipes/results/<study>/<run>/report.json`` and each folder's ``machine.json`` and
``recipe_times.jsonl`` (the date), and writes the table between the README's
``<!-- results:start -->`` and ``<!-- results:end -->`` markers; each study in STUDY_REPORTS has its
``study.md`` (written by ``mtqa recipe report``) put between docs/studies.md's ``<!-- <study>:start -->``
and ``<!-- <study>:end -->``, and study v2's sweeps' table beside the main comparison's matching points between
``<!-- study-v2-sweeps:start -->`` and ``<!-- study-v2-sweeps:end -->``; the filter-signal table of
``bench/results/filter-signals.json`` goes between docs/translate.md's ``<!-- filter-signals:start -->``
and ``<!-- filter-signals:end -->``. ``--check`` fails when any is not what the results say (the docs test runs it).

    python -m mtqa.studies.results_table [--check]
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from pathlib import Path

import numpy as np

from .report import mean_std_cell

ROOT = Path(__file__).resolve().parents[2]  # the checkout: this writes the repository's README and docs
RESULTS = ROOT / "recipes" / "results"
README = ROOT / "README.md"
STUDIES = ROOT / "docs" / "studies.md"
START, END = "<!-- results:start -->", "<!-- results:end -->"
# Studies whose whole report (recipes/results/<study>/study.md) docs/studies.md shows between <!-- <study>:start/end --> markers.
STUDY_REPORTS = ("study-v2", "study-v3-dev", "study-v3-wise-dev", "study-v3-main")
SWEEPS_START, SWEEPS_END = "<!-- study-v2-sweeps:start -->", "<!-- study-v2-sweeps:end -->"
TRANSLATE_DOC = ROOT / "docs" / "translate.md"
FILTER_SIGNALS = ROOT / "bench" / "results" / "filter-signals.json"
SIGNALS_START, SIGNALS_END = "<!-- filter-signals:start -->", "<!-- filter-signals:end -->"
TT2_START, TT2_END = "<!-- translate-train-v2:start -->", "<!-- translate-train-v2:end -->"
SIGNAL_NAMES = {
    "langid": "language-ID probability (`langid`)",
    "length_ratio": "length ratio (`length_ratio`)",
    "copy": "copy rate (`copy`)",
    "similarity": "similarity cosine (`similarity`)",
    "margin": "similarity margin",
    "round_trip": "round-trip chrF (`round_trip`, new)",
}
# (sweep, point, study folder, run group); every point is read at seeds 0-2, the sweeps' seeds
SWEEP_POINTS = (
    ("α", "0 (xy)", "study-v2", "xy"),
    ("α", "0.25", "study-v2-sweeps", "hybrid-alpha25"),
    ("α", "0.5 (hybrid)", "study-v2", "hybrid"),
    ("α", "0.75", "study-v2-sweeps", "hybrid-alpha75"),
    ("α", "1 (xx)", "study-v2", "xx"),
    ("training languages", "2: en ar", "study-v2-sweeps", "hybrid-langs2"),
    ("training languages", "4: + zh de", "study-v2-sweeps", "hybrid-langs4"),
    ("training languages", "9: + hi ru es th tr", "study-v2-sweeps", "hybrid-langs9"),
    ("training languages", "11: all (hybrid)", "study-v2", "hybrid"),
)
SWEEP_SEEDS = (0, 1, 2)
# (study folder, run group, label, trained on)
ROWS = (
    ("study-v3-main", "untrained", "multilingual-e5-small, untrained", "–"),
    ("study-v3-main", "xx", "+ X-X batches, 40 steps", "human translations, 11 languages"),
    ("study-v3-main", "xy", "+ X-Y batches, 40 steps", "human translations, 11 languages"),
    ("study-v3-main", "multitask", "+ multi-task (X-X and X-Y sub-batches), 40 steps", "human translations, 11 languages"),
    ("study-v3-main", "hybrid", "+ hybrid batches, 40 steps", "human translations, 11 languages"),
    ("study-v3-main", "hybrid-kl", "+ hybrid batches and score distillation, 40 steps", "human translations, 11 languages"),
    (
        "study-v3-main",
        "hn3-t0.01-kl0.5",
        "+ hybrid batches, 3 in-paragraph hard negatives, temperature 0.01, distillation 0.5, 40 steps",
        "human translations, 11 languages",
    ),
    ("translate-train-v2", "en", "+ English-only batches, 40 steps", "English"),
    ("translate-train-v2", "human", "+ hybrid batches, 40 steps", "English + human Spanish"),
    ("translate-train-v2", "mt-unfiltered", "+ hybrid batches, 40 steps", "English + Apertium Spanish, unfiltered"),
    ("translate-train-v2", "mt", "+ hybrid batches, 40 steps", "English + Apertium Spanish, default filters"),
    ("translate-train-v2", "mt-round-trip", "+ hybrid batches, 40 steps", "English + Apertium Spanish, filters + round-trip"),
)


def measures(report: dict) -> dict[str, float]:
    item = report["evals"]["xquad-r"]
    matrix = item["cross_matrix"]
    return {
        "mono": item["mono_map"],
        "cross": item["cross_map"],
        "multi": item["multi_map"],
        "rank_distance": item["rank_distance"],
        "es_mono": item["per_language"]["mono_map"]["es"],
        "enes_cross": (matrix["en"]["es"] + matrix["es"]["en"]) / 2,
    }


def runs(study: str, group: str, seeds: tuple[int, ...] | None = None) -> list[dict[str, float]]:
    """The measures of every run of ``group`` (``group`` itself, or ``group-sN`` for N in ``seeds``, all if None)."""
    found = []
    for path in sorted((RESULTS / study).glob("*/report.json")):
        numbered = re.fullmatch(rf"{re.escape(group)}-s(\d+)", path.parent.name)
        if path.parent.name == group or (numbered and (seeds is None or int(numbered.group(1)) in seeds)):
            found.append(measures(json.loads(path.read_text())))
    return found


def dated(study: str) -> str:
    folder = RESULTS / study
    machine = (
        json.loads((folder / "machine.json").read_text())["machine"] if (folder / "machine.json").is_file() else "machine not recorded"
    )
    times = (
        [json.loads(line)["finished"][:10] for line in (folder / "recipe_times.jsonl").read_text().splitlines()]
        if (folder / "recipe_times.jsonl").is_file()
        else []
    )
    return f"{max(times) if times else 'undated'}, {machine}"


def table() -> str:
    header = ["model", "trained on", "seeds", "mono", "cross", "multi", "rank distance", "es mono", "en↔es cross", "run"]
    lines = ["| " + " | ".join(header) + " |", "| " + " | ".join(["---"] * 2 + ["---:"] * 7 + ["---"]) + " |"]
    for study, group, label, trained in ROWS:
        found = runs(study, group)
        if not found:
            lines.append(f"| {label} | {trained} | 0 | not run yet |  |  |  |  |  | {study} |")
            continue
        mean = {key: float(np.mean([run[key] for run in found])) for key in found[0]}
        cells = [
            f"{mean[key]:.1f}" if key == "rank_distance" else f"{mean[key]:.3f}"
            for key in ("mono", "cross", "multi", "rank_distance", "es_mono", "enes_cross")
        ]
        lines.append(f"| {label} | {trained} | {len(found)} | " + " | ".join(cells) + f" | {dated(study)} |")
    return "\n".join(lines)


def block() -> str:
    return (
        f"{START}\nXQuAD-R, held-out articles 24–47, all 11 languages (mAP; rank distance in the 11-language pool, "
        "lower is less language bias); means over seeds, generated by `python -m mtqa.studies.results_table` from `recipes/results/`.\n\n"
        f"{table()}\n{END}"
    )


def study_block(study: str) -> str:
    """``recipes/results/STUDY/study.md`` (written by ``mtqa recipe report``) between docs/studies.md's STUDY markers."""
    text = (RESULTS / study / "study.md").read_text(encoding="utf-8")
    body = text.split("\n", 1)[1].strip()  # its title names the recipe; the section heading above says what it is
    body = body.replace("\n## ", "\n#### ")  # its sections sit under the study's own heading
    start, end = study_markers(study)
    return (
        f"{start}\nGenerated by `python -m mtqa.studies.results_table` from "
        f"[`recipes/results/{study}/study.md`](../recipes/results/{study}/study.md) ({dated(study)}).\n\n{body}\n{end}"
    )


def study_markers(study: str) -> tuple[str, str]:
    return f"<!-- {study}:start -->", f"<!-- {study}:end -->"


def sweeps_block() -> str:
    header = "| sweep | point | seeds | mono | cross | multi | rank distance |\n| --- | --- | ---: | ---: | ---: | ---: | ---: |"
    lines = [header]
    for sweep, point, study, group in SWEEP_POINTS:
        found = runs(study, group, SWEEP_SEEDS)
        measured = (("mono", 3), ("cross", 3), ("multi", 3), ("rank_distance", 1))
        cells = [mean_std_cell([run[key] for run in found], digits) if found else "not run yet" for key, digits in measured]
        lines.append(f"| {sweep} | {point} | {len(found)} | " + " | ".join(cells) + " |")
    return (
        f"{SWEEPS_START}\nGenerated by `python -m mtqa.studies.results_table` from `recipes/results/study-v2-sweeps/` and, for α 0, 0.5 "
        f"and 1 and for 11 languages, the main comparison's seeds 0–2 in `recipes/results/study-v2/` "
        f"({dated('study-v2-sweeps')}); mean ± sample std over seeds 0–2.\n\n" + "\n".join(lines) + f"\n{SWEEPS_END}"
    )


def translate_train_v2_block() -> str:
    report = (RESULTS / "translate-train-v2" / "translate-train.md").read_text(encoding="utf-8")
    body = report.split("\n", 1)[1].strip().replace("\n## ", "\n#### ")  # its title names the recipe; its sections sit under ours
    return (
        f"{TT2_START}\nGenerated by `python -m mtqa.studies.results_table` from "
        "[`recipes/results/translate-train-v2/translate-train.md`](../recipes/results/translate-train-v2/translate-train.md) "
        f"({dated('translate-train-v2')}).\n\n{body}\n{TT2_END}"
    )


def _share(value: float | None) -> str:
    return "–" if value is None else f"{value:.2f}"


def signals_block() -> str:
    """The filter-signal table: each signal against true quality (chrF of Apertium's Spanish against the human Spanish)."""
    result = json.loads(FILTER_SIGNALS.read_text(encoding="utf-8"))
    quality = result["true_quality"]
    lines = [
        "| signal | Spearman ρ with true quality | filter at its default: drops | true quality dropped / kept (mean chrF) | "
        "worst 5%: precision / recall of the filter | of the signal's lowest 5% |",
        "| --- | ---: | ---: | ---: | ---: | ---: |",
    ]
    for name, row in result["signals"].items():
        at_default = row.get("filter_at_default")
        dropped, kept = row.get("quality_dropped"), row.get("quality_kept")
        means = f"{dropped['mean']:.1f} / {kept['mean']:.1f}" if dropped and kept else ("– / " + f"{kept['mean']:.1f}" if kept else "–")
        lowest = row["lowest_5pct"]
        lines.append(
            f"| {SIGNAL_NAMES.get(name, name)} | {row['spearman_rho']:+.3f} | {at_default['dropped'] if at_default else '–'} | {means} | "
            f"{_share(at_default['precision']) + ' / ' + _share(at_default['recall']) if at_default else '–'} | "
            f"{_share(lowest['precision'])} / {_share(lowest['recall'])} |"
        )
    return (
        f"{SIGNALS_START}\nGenerated by `python -m mtqa.studies.results_table` from `bench/results/filter-signals.json` "
        f"({result['date']}, {result['machine']}): {result['questions']} XQuAD-R questions, articles {result['articles']}; "
        f"true quality chrF mean {quality['mean']:.1f} (quartiles {quality['q1']:.1f} / {quality['median']:.1f} / {quality['q3']:.1f}); "
        f"the worst 5% are at or below chrF {result['worst_threshold_chrf']:.1f}; the round-trip threshold chosen: "
        f"{result['round_trip_threshold']:.0f}.\n\n" + "\n".join(lines) + f"\n{SIGNALS_END}"
    )


def replace_block(path: Path, start: str, end: str, fresh: str, check: bool) -> bool:
    """Put ``fresh`` between the markers (or, with ``check``, say whether it is there already)."""
    text = path.read_text(encoding="utf-8")
    if start not in text or end not in text:
        print(f"{path}: no {start} ... {end} markers", file=sys.stderr)
        return False
    current = text[text.index(start) : text.index(end) + len(end)]
    if check:
        if current != fresh:
            print(
                f"{path.name}'s generated results differ from recipes/results/: run python -m mtqa.studies.results_table", file=sys.stderr
            )
        return current == fresh
    path.write_text(text.replace(current, fresh), encoding="utf-8")
    return True


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--check", action="store_true", help="fail if the README's table or any generated study table differs from the results"
    )
    args = parser.parse_args()
    done = [
        replace_block(README, START, END, block(), args.check),
        *(replace_block(STUDIES, *study_markers(study), study_block(study), args.check) for study in STUDY_REPORTS),
        replace_block(STUDIES, SWEEPS_START, SWEEPS_END, sweeps_block(), args.check),
        replace_block(TRANSLATE_DOC, SIGNALS_START, SIGNALS_END, signals_block(), args.check),
        replace_block(STUDIES, TT2_START, TT2_END, translate_train_v2_block(), args.check),
    ]
    return 0 if all(done) else 1


if __name__ == "__main__":
    sys.exit(main())
