"""The scorecard of `mtqa train-eval`: report.json, report.md (shaped like the paper's tables), heatmaps."""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

import numpy as np

from ..card import markdown_table
from ..faults import crash_point
from ..formats.run_files import REPORT
from ..output import atomic_write
from ..plots import heatmap
from .lareqa import SETTINGS
from .metrics import BEIR_METRICS


def format_value(value: Any, digits: int = 3) -> str:
    if isinstance(value, float):
        return "-" if math.isnan(value) else f"{value:.{digits}f}"
    return str(value)


def set_label(name: str, item: dict[str, Any]) -> str:
    """A LAReQA set as the reader must know it to compare figures: its name, the articles and the languages evaluated."""
    articles = "all articles" if item.get("articles") in (None, "all") else f"articles {item['articles']}"
    languages = ", ".join(item.get("languages") or [])
    return f"{name} ({articles}; {languages})" if languages else f"{name} ({articles})"


def lareqa_rows(report: dict[str, Any]) -> list[list[str]]:
    """Per LAReQA set: mono, cross and multi mAP and the rank distance, formatted."""
    return [
        [
            set_label(name, item),
            format_value(item["mono_map"]),
            format_value(item["cross_map"]),
            format_value(item["multi_map"]),
            format_value(item["rank_distance"], 1),
        ]
        for name, item in report.get("evals", {}).items()
        if item["kind"] == "lareqa"
    ]


def render_markdown(report: dict[str, Any]) -> str:
    lines = [
        f"# mtqa train-eval report\n\nModel: `{report['model']}`"
        + (f", trained {report['training']['steps']} steps" if report.get("training") else " (not trained here)")
        + "\n"
    ]
    engines = sorted({item["engine"] for item in report["evals"].values() if item.get("engine")})
    if engines:
        lines.append(f"Encoded for evaluation by {', '.join(engines)}.\n")
    lareqa = {name: item for name, item in report["evals"].items() if item["kind"] == "lareqa"}
    if lareqa:
        rows = [
            [set_label(name, item), format_value(item["mono_map"]), format_value(item["cross_map"]), format_value(item["multi_map"])]
            for name, item in lareqa.items()
        ]
        lines += ["## mAP (as Table 1 of arXiv 2408.10536)\n", markdown_table(["set", "mono", "cross", "multi"], rows), ""]
        rows = [
            [
                set_label(name, item),
                *[format_value(item.get(f"{setting}_{metric}", float("nan"))) for setting in SETTINGS for metric in ("r@1", "mrr")],
            ]
            for name, item in lareqa.items()
        ]
        lines += [
            "## R@1 and MRR\n",
            markdown_table(["set", *[f"{setting} {metric.upper()}" for setting in SETTINGS for metric in ("r@1", "mrr")]], rows),
            "",
            "## Monolingual top-1 errors\n",
            "The share of the queries missed at rank 1 whose top sentence is another sentence of the gold paragraph "
            "(what in-paragraph hard negatives target).\n",
            markdown_table(["set", "errors", "from the gold paragraph"], [_error_row(name, item) for name, item in lareqa.items()]),
            "",
        ]
        rows = [[set_label(name, item), format_value(item["rank_distance"], 1)] for name, item in lareqa.items()]
        lines += [
            "## Language bias: rank distance in the multilingual pool (as Table 2; lower is better)\n",
            markdown_table(["set", "rank distance"], rows),
            "",
        ]
        for name, item in lareqa.items():
            langs = item["languages"]
            rows = [[q, *[format_value(float(value)) for value in row]] for q, row in zip(langs, map_matrix(item))]
            lines += [
                f"### {name}: mAP by query language (rows) and pool language (columns); diagonal = mono\n",
                markdown_table(["q \\ pool", *langs], rows),
                "",
            ]
    beir = {name: item for name, item in report["evals"].items() if item["kind"] == "beir"}
    if beir:
        rows = [
            [name, *[format_value(item[metric]) for metric in BEIR_METRICS], item["queries"], item["documents"]]
            for name, item in beir.items()
        ]
        lines += ["## BEIR-format sets\n", markdown_table(["set", *BEIR_METRICS, "queries", "documents"], rows), ""]
    return "\n".join(lines)


def _error_row(name: str, item: dict[str, Any]) -> list[str]:
    errors = sum(item["per_language"].get("mono_errors", {}).values())
    return [set_label(name, item), str(errors), format_value(item.get("mono_errors_same_paragraph", float("nan")))]


def map_matrix(item: dict[str, Any]) -> np.ndarray:
    """mAP by query language (rows) and pool language (columns); the diagonal is mono mAP."""
    langs = item["languages"]
    return np.array(
        [
            [item["cross_matrix"].get(q, {}).get(p, np.nan) if p != q else item["per_language"]["mono_map"].get(q, np.nan) for p in langs]
            for q in langs
        ],
        dtype=float,
    )


def write_heatmap(name: str, item: dict[str, Any], path: Path) -> None:
    langs = item["languages"]
    heatmap(map_matrix(item), langs, langs, path, title=f"{name}: mAP", xlabel="pool language", ylabel="query language", vmin=0, vmax=1)


def write_report(report: dict[str, Any], directory: Path) -> None:
    directory.mkdir(parents=True, exist_ok=True)
    atomic_write(directory / "report.md", render_markdown(report))
    for name, item in report["evals"].items():
        if item["kind"] == "lareqa":
            write_heatmap(name, item, directory / f"heatmap-{name}.png")
    crash_point("report.write")
    # Last, by rename: a run folder with report.json is complete (recipes skip it), one without is not.
    atomic_write(directory / REPORT, json.dumps(report, indent=2, ensure_ascii=False) + "\n")
