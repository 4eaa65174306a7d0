"""Training options, with their defaults and choices: the one place the CLI and recipes read them from.

Kept free of torch so that `mtqa --help` answers at once.
"""

from __future__ import annotations

from dataclasses import dataclass

from ..errors import MtqaError, OptionError

PRECISIONS = ("fp32", "bf16", "fp16")
# The paper's prefixes (arXiv 2408.10536); models trained with others (e5: "query: ") say so.
QUERY_PREFIX = "Query: "
PASSAGE_PREFIX = "Passage: "


@dataclass
class TrainConfig:
    lr: float = 3e-5
    weight_decay: float = 0.01  # AdamW; biases and LayerNorm weights (1-D tensors) are not decayed
    warmup_ratio: float = 0.1
    warmup_steps: int | None = None  # overrides warmup_ratio
    max_grad_norm: float = 1.0
    max_steps: int | None = None  # default: every stored batch once; more repeats the shards in the same order
    temperature: float = 0.05
    symmetric: bool = False
    freeze_word_embeddings: bool = False  # train everything but the token embedding matrix
    distill_weight: float = 0.0  # KL(base model's in-batch scores ‖ the trained model's); 0: off
    distill_negatives: bool = True  # the KL term scores the hard-negative columns too; False: the batch's positives only
    xx_weight: float = 1.0  # multitask steps: the weight of the X-X sub-batch's loss
    xy_weight: float = 1.0  # ... and of the X-Y sub-batch's
    seed: int = 0
    grad_cache: int | None = None  # GradCache: encode in chunks of N texts, activation memory of N; None: off
    piece_size: int | None = None  # without GradCache: forward length-sorted pieces of N texts; None: 16 on CPU, whole columns on CUDA
    precision: str = "fp32"  # bf16 / fp16: autocast, CUDA only
    max_length: int | None = None  # tokens; None keeps the model's max_seq_length
    query_prefix: str = QUERY_PREFIX
    passage_prefix: str = PASSAGE_PREFIX
    save_every: int | None = 1000  # checkpoint every N steps; None: none
    keep_checkpoints: int = 2  # the newest N; 2 leaves a fallback should the newest be damaged
    eval_every: int | None = None  # call on_eval (and measure the validation loss) every N steps and at the end
    validation_batches: str | None = None  # held-out shards: their mean loss is logged at each eval
    patience: int | None = None  # stop after this many evals without a better validation loss; keep the best weights
    resume: bool = False

    def __post_init__(self) -> None:
        self.validate()  # once, as the config is made from the user's options: nothing below checks them again

    def validate(self) -> None:
        if self.precision not in PRECISIONS:
            raise OptionError(f"--precision {self.precision!r} is not one of {', '.join(PRECISIONS)}")
        for name in ("max_steps", "grad_cache", "piece_size", "save_every", "eval_every", "max_length", "warmup_steps"):
            value = getattr(self, name)
            if value is not None and value < (0 if name == "warmup_steps" else 1):
                raise OptionError(f"{name.replace('_', '-')} must be a positive number, got {value}")
        if not 0 <= self.warmup_ratio <= 1:
            raise OptionError(f"warmup ratio must be between 0 and 1, got {self.warmup_ratio}")
        if self.lr <= 0 or self.temperature <= 0:
            raise OptionError("learning rate and temperature must be positive")
        if self.xx_weight < 0 or self.xy_weight < 0 or self.xx_weight + self.xy_weight == 0:
            raise OptionError(f"--xx-weight {self.xx_weight} and --xy-weight {self.xy_weight}: weights must be >= 0 and not both 0")
        if self.distill_weight < 0:
            raise OptionError(f"--distill-weight must be >= 0 (0: off), got {self.distill_weight}")
        if self.keep_checkpoints < 1:
            raise OptionError("keep-checkpoints must be at least 1")
        if (self.validation_batches or self.patience) and not self.eval_every:
            raise OptionError("--validation-batches and --patience need --eval-every N (how often to measure)")
        if self.patience and not self.validation_batches:
            raise OptionError("--patience needs --validation-batches DIR (held-out shards to measure the loss on)")


def check_shards_fit(config: TrainConfig, manifest: dict, shards_dir: object) -> None:
    """Options the shards rule out, refused before any model loads."""
    if config.distill_weight and manifest.get("config", {}).get("mode") == "multitask":
        raise MtqaError(f"--distill-weight scores whole batches; {shards_dir} holds multitask batches: drop one of them")
