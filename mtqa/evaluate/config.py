"""`mtqa train-eval`'s options: choices, defaults and the typed config (kept free of NumPy and torch for a fast `--help`)."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from ..encoders import POOLINGS
from ..errors import MtqaError
from ..train.config import TrainConfig

CANDIDATES = ("sentence", "sentence+context")  # a LAReQA candidate's text: its sentence, or the sentence then its passage
EVAL_KINDS = ("lareqa", "beir")
DEVICES = ("cpu", "cuda")
# What encodes the evaluation sets (mtqa.evaluate.engine): PyTorch, or on CPU a float32 CTranslate2 copy
# of the model (the same vectors to about 1e-7); the first is the default.
EVAL_ENGINES = ("torch", "ctranslate2")


@dataclass(frozen=True)
class EvalSpec:
    kind: str
    source: str

    @property
    def name(self) -> str:
        return Path(self.source.rstrip("/")).name or self.source


def parse_eval_spec(spec: str) -> EvalSpec:
    kind, sep, source = spec.partition(":")
    if not sep or kind not in EVAL_KINDS or not source:
        raise MtqaError(
            f"--eval {spec!r}: expected KIND:PATH_OR_NAME with KIND one of {', '.join(EVAL_KINDS)} (e.g. lareqa:xquad-r, beir:./miracl-de)"
        )
    return EvalSpec(kind, source)


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
    eval_engine: str = EVAL_ENGINES[0]
    train: TrainConfig = field(default_factory=TrainConfig)  # also holds the prefixes and max_length evaluation uses
    merge_base: float | str | None = None  # WiSE-FT: λ in [0, 1] or "auto"; None: the fine-tuned model as it is
    merge_dev_articles: str | None = None  # with merge_base "auto": the lareqa articles that choose λ
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
