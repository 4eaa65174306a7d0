"""The scorecard of `mtqa train-eval`: report.json, report.md (shaped like the paper's tables), heatmaps."""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

from .card import markdown_table
from .output import atomic_write


def _fmt(value: Any, digits: int = 3) -> str:
    if isinstance(value, float):
        return "-" if math.isnan(value) else f"{value:.{digits}f}"
    return str(value)


def render_markdown(report: dict[str, Any]) -> str:
    lines = [f"# mtqa train-eval report\n\nModel: `{report['model']}`" + (f", trained {report['training']['steps']} steps" if report.get("training") else " (not trained here)") + "\n"]
    lareqa = {name: item for name, item in report["evals"].items() if item["kind"] == "lareqa"}
    if lareqa:
        rows = [[name, _fmt(item["mono_map"]), _fmt(item["cross_map"]), _fmt(item["multi_map"])] for name, item in lareqa.items()]
        lines += ["## mAP (as Table 1 of arXiv 2408.10536)\n", markdown_table(["set", "mono", "cross", "multi"], rows), ""]
        rows = [[name, _fmt(item["rank_distance"], 1)] for name, item in lareqa.items()]
        lines += ["## Language bias: rank distance in the multilingual pool (as Table 2; lower is better)\n", markdown_table(["set", "rank distance"], rows), ""]
        for name, item in lareqa.items():
            langs = item["languages"]
            matrix = item["cross_matrix"]
            rows = [[q] + [_fmt(matrix.get(q, {}).get(p, float("nan"))) if p != q else _fmt(item["per_language"]["mono_map"].get(q, float("nan"))) for p in langs] for q in langs]
            lines += [f"### {name}: mAP by query language (rows) and pool language (columns); diagonal = mono\n", markdown_table(["q \\ pool", *langs], rows), ""]
    beir = {name: item for name, item in report["evals"].items() if item["kind"] == "beir"}
    if beir:
        rows = [[name, _fmt(item["ndcg@10"]), _fmt(item["recall@100"]), _fmt(item["mrr@10"]), item["queries"], item["documents"]] for name, item in beir.items()]
        lines += ["## BEIR-format sets\n", markdown_table(["set", "nDCG@10", "Recall@100", "MRR@10", "queries", "documents"], rows), ""]
    return "\n".join(lines)


def write_heatmap(name: str, item: dict[str, Any], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import numpy as np

    langs = item["languages"]
    matrix = np.array([[item["cross_matrix"].get(q, {}).get(p, np.nan) if p != q else item["per_language"]["mono_map"].get(q, np.nan) for p in langs] for q in langs])
    figure, axes = plt.subplots(figsize=(1.0 + 0.6 * len(langs), 0.8 + 0.55 * len(langs)))
    image = axes.imshow(matrix, cmap="viridis", vmin=0, vmax=1)
    axes.set_xticks(range(len(langs)), langs)
    axes.set_yticks(range(len(langs)), langs)
    axes.set_xlabel("pool language")
    axes.set_ylabel("query language")
    axes.set_title(f"{name}: mAP")
    figure.colorbar(image, ax=axes)
    figure.tight_layout()
    atomic_write(path, lambda handle: figure.savefig(handle, dpi=100, format="png"))
    plt.close(figure)


def write_report(report: dict[str, Any], directory: Path) -> None:
    directory.mkdir(parents=True, exist_ok=True)
    atomic_write(directory / "report.json", json.dumps(report, indent=2, ensure_ascii=False) + "\n")
    atomic_write(directory / "report.md", render_markdown(report))
    for name, item in report["evals"].items():
        if item["kind"] == "lareqa":
            write_heatmap(name, item, directory / f"heatmap-{name}.png")
