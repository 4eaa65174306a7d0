"""What a shard folder holds: batch types and rows per (query, positive) language pair."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from ..plots import heatmap


def language_pair_counts(manifest: dict[str, Any]) -> tuple[list[str], np.ndarray]:
    langs = sorted({code for pair in manifest["pairs"] for code in pair.split("-", 1)})
    matrix = np.zeros((len(langs), len(langs)), dtype=np.int64)
    for pair, count in manifest["pairs"].items():
        query, positive = pair.split("-", 1)
        matrix[langs.index(query), langs.index(positive)] = count
    return langs, matrix


def stats_text(manifest: dict[str, Any]) -> str:
    langs, matrix = language_pair_counts(manifest)
    total = sum(manifest["batches_by_type"].values())
    lines = ["batch types:"]
    lines += [f"  {kind:<9} {count:>8}  {count / total:6.1%}" for kind, count in manifest["batches_by_type"].items()]
    by_language = manifest.get("xx_batches_by_language")  # manifests written before it was recorded have none
    if by_language:
        schedule = manifest["config"].get("alpha_schedule", "random")
        lines.append(
            f"X-X batches by language ({schedule} schedule): " + ", ".join(f"{code} {count}" for code, count in by_language.items())
        )
    lines.append("rows by query language (rows) x positive language (columns):")
    width = max(6, len(str(matrix.max())) + 1)
    lines.append("  q\\p " + "".join(f"{code:>{width}}" for code in langs))
    for code, row in zip(langs, matrix):
        lines.append(f"  {code:<4}" + "".join(f"{value:>{width}}" for value in row))
    return "\n".join(lines)


def write_heatmap(manifest: dict[str, Any], path: Path) -> None:
    langs, matrix = language_pair_counts(manifest)
    heatmap(
        matrix,
        langs,
        langs,
        path,
        title="rows per language pair",
        xlabel="positive language",
        ylabel="query language",
        cell_format="{:.0f}",
    )
