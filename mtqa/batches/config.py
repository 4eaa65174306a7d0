"""How batches are composed: the sampler's options, choices and defaults (kept free of NumPy for a fast `--help`)."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

MODES = ("hybrid", "xx", "xy", "xx-mixed", "en", "multitask")
POSITIVES = ("passage", "sentence", "sentence+context")
XY_SCOPES = ("example", "batch")  # X-Y: a language pair per row, or one per batch
DATASET_SAMPLINGS = ("proportional", "uniform", "temperature")
# How hybrid batches get their type (and xx batches their language): a fresh draw per batch, as in the paper,
# or exactly round(alpha * N) X-X batches in a seeded order, each X-X language its share to within one.
ALPHA_SCHEDULES = ("random", "exact")


@dataclass
class SamplerConfig:
    mode: str = MODES[0]
    mono_prob: float = 0.5  # α, `--alpha`; the name is the manifest's key, kept so shards built earlier still read
    alpha_schedule: str = ALPHA_SCHEDULES[0]
    xy_scope: str = XY_SCOPES[0]
    batch_size: int = 100
    positive: str = POSITIVES[0]
    langs: list[str] | None = None
    lang_weights: dict[str, float] | None = None
    lang_temperature: float | None = None
    dataset_sampling: str = DATASET_SAMPLINGS[0]
    dataset_temperature: float = 2.0
    epochs: int = 1
    num_batches: int | None = None
    seed: int = 0


@dataclass
class BuildConfig:
    inputs: list[str]
    output: Path
    sampler: SamplerConfig = field(default_factory=SamplerConfig)
    articles: str | None = None
    hard_negatives: int = 0  # other sentences of the positive's passage, per row
    batches_per_shard: int | None = None
    overwrite: bool = False
    progress: bool = True
