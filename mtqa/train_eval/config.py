"""`mtqa train-eval`'s typed config: the training options, the evaluation sets and where the run goes (free of torch, for a fast `--help`)."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from ..devices import DEVICES
from ..encoders import POOLINGS
from ..errors import OptionError
from ..evaluate.config import CANDIDATES, DEFAULT_EVAL_ENGINE, parse_eval_spec
from ..formats.lareqa import parse_articles
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

    def __post_init__(self) -> None:
        """The options that conflict in themselves, checked once, where the user's input enters (CLI or API)."""
        if not self.eval_only and self.batches is None:
            raise OptionError("train-eval needs --batches DIR (or --eval-only to evaluate the model as it is)")
        if self.eval_only and not self.evals:
            raise OptionError("--eval-only needs at least one --eval set")
        if self.eval_only and self.train.distill_weight:
            raise OptionError("--distill-weight keeps the base model's scores while training; --eval-only trains none: drop one of them")
        _check_merge_options(self)

    @property
    def query_prefix(self) -> str:
        return self.train.query_prefix

    @property
    def passage_prefix(self) -> str:
        return self.train.passage_prefix

    @property
    def max_length(self) -> int | None:
        return self.train.max_length


def _check_merge_options(config: TrainEvalConfig) -> None:
    """--merge-base's needs, before any model loads."""
    if config.merge_base is None:
        if config.merge_dev_articles:
            raise OptionError("--merge-dev-articles chooses λ for --merge-base auto; add --merge-base auto, or drop it")
        return
    if config.eval_only:
        raise OptionError("--merge-base merges the base with the model this run trains; --eval-only trains none: drop one of them")
    if config.merge_base != "auto":
        if config.merge_dev_articles:
            raise OptionError(
                f"--merge-dev-articles chooses λ for --merge-base auto; --merge-base {config.merge_base} fixes it: drop one of them"
            )
        return
    if not config.merge_dev_articles:
        raise OptionError("--merge-base auto chooses λ on dev articles: add --merge-dev-articles, e.g. 20-23 (never the --eval-articles)")
    if not any(parse_eval_spec(raw).kind == "lareqa" for raw in config.evals):
        raise OptionError("--merge-base auto scores λ on a lareqa set's --merge-dev-articles; add --eval lareqa:NAME")
    dev, test = parse_articles(config.merge_dev_articles), parse_articles(config.eval_articles)
    if test is None or dev & test:
        shared = sorted(dev if test is None else dev & test)
        raise OptionError(
            f"--merge-dev-articles and --eval-articles share article {shared[0]}: λ must be chosen on articles the "
            "evaluation never sees; give disjoint ranges, e.g. --merge-dev-articles 20-23 --eval-articles 24-47"
        )
