"""The one heatmap helper: language x language matrices as PNG (batch mixes, mAP by language pair)."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from .output import atomic_write


def heatmap(matrix: np.ndarray, rows: list[str], columns: list[str], path: Path, *, title: str, xlabel: str, ylabel: str,
            vmin: float | None = None, vmax: float | None = None) -> None:
    """Write ``matrix`` (rows x columns) as a labelled heatmap PNG, atomically."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    figure, axes = plt.subplots(figsize=(1.0 + 0.6 * len(columns), 0.8 + 0.55 * len(rows)))
    image = axes.imshow(np.asarray(matrix, dtype=float), cmap="viridis", vmin=vmin, vmax=vmax)
    axes.set_xticks(range(len(columns)), columns)
    axes.set_yticks(range(len(rows)), rows)
    axes.set_xlabel(xlabel)
    axes.set_ylabel(ylabel)
    axes.set_title(title)
    figure.colorbar(image, ax=axes)
    figure.tight_layout()
    atomic_write(Path(path), lambda handle: figure.savefig(handle, dpi=100, format="png"))
    plt.close(figure)
