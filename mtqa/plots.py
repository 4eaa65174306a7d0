"""The one heatmap helper: language x language matrices as PNG (batch mixes, mAP by language pair)."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from .output import atomic_write


def heatmap(
    matrix: np.ndarray,
    rows: list[str],
    columns: list[str],
    path: Path,
    *,
    title: str,
    xlabel: str,
    ylabel: str,
    vmin: float | None = None,
    vmax: float | None = None,
    cell_format: str = "{:.2f}",
) -> None:
    """Write ``matrix`` (rows x columns) as a labelled heatmap PNG, atomically, each cell showing its value."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    figure, axes = plt.subplots(figsize=(1.0 + 0.6 * len(columns), 0.8 + 0.55 * len(rows)))
    values = np.asarray(matrix, dtype=float)
    image = axes.imshow(values, cmap="viridis", vmin=vmin, vmax=vmax)
    low, high = image.norm.vmin, image.norm.vmax
    for (row, column), value in np.ndenumerate(values):
        if np.isfinite(value):  # light text on the dark end of viridis, dark on the light end
            light = high == low or (value - low) / (high - low) < 0.6
            axes.text(column, row, cell_format.format(value), ha="center", va="center", fontsize=7, color="white" if light else "black")
    axes.set_xticks(range(len(columns)), columns)
    axes.set_yticks(range(len(rows)), rows)
    axes.set_xlabel(xlabel)
    axes.set_ylabel(ylabel)
    axes.set_title(title)
    figure.colorbar(image, ax=axes)
    figure.tight_layout()
    fmt = Path(path).suffix.lstrip(".").lower() or "png"  # the file's extension says the format, as savefig(path) would
    atomic_write(Path(path), lambda handle: figure.savefig(handle, dpi=100, format=fmt))
    plt.close(figure)
