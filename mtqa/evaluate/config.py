"""`mtqa train-eval`'s options: choices, defaults and the typed config (kept free of NumPy and torch for a fast `--help`)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from ..errors import OptionError

CANDIDATES = ("sentence", "sentence+context")  # a LAReQA candidate's text: its sentence, or the sentence then its passage
EVAL_KINDS = ("lareqa", "beir")
# What encodes the evaluation sets (mtqa.evaluate.engine), one of encoders.ENCODER_ENGINES: PyTorch by default,
# the model exactly as trained; on CPU a float32 CTranslate2 copy gives the same vectors to rounding.
DEFAULT_EVAL_ENGINE = "torch"


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
        raise OptionError(
            f"--eval {spec!r}: expected KIND:PATH_OR_NAME with KIND one of {', '.join(EVAL_KINDS)} (e.g. lareqa:xquad-r, beir:./miracl-de)"
        )
    return EvalSpec(kind, source)
