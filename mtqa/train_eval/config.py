"""`mtqa train-eval`'s typed config: the training options, the evaluation sets and where the run goes (free of torch, for a fast `--help`)."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from ..devices import DEVICES
from ..encoders import POOLINGS
from ..evaluate.config import CANDIDATES, DEFAULT_EVAL_ENGINE
from ..train.config import TrainConfig


@dataclass
class TrainEvalConfig:
    model: str
    output: Path
    batches: Path | None = None
    evals: list[str] = field(default_factory=list)
    eval_only: bool = False
    eval_articles: str | None = None
    eval_langs: list[str] | None = None
    candidate: str = CANDIDATES[0]
    beir_split: str = "test"
    pooling: str = POOLINGS[0]
    encode_batch_size: int = 64
    device: str = DEVICES[0]
    eval_engine: str = DEFAULT_EVAL_ENGINE
    train: TrainConfig = field(default_factory=TrainConfig)  # also holds the prefixes and max_length evaluation uses
    merge_base: float | str | None = None  # WiSE-FT: λ in [0, 1] or "auto"; None: the fine-tuned model as it is
    merge_dev_articles: str | None = None  # with merge_base "auto": the lareqa articles that choose λ
    overwrite: bool = False  # replace an earlier run in output (never with train.resume)
    progress: bool = True
    command: list[str] | None = None  # the command line that made the run, for the model card

    @property
    def query_prefix(self) -> str:
        return self.train.query_prefix

    @property
    def passage_prefix(self) -> str:
        return self.train.passage_prefix

    @property
    def max_length(self) -> int | None:
        return self.train.max_length
