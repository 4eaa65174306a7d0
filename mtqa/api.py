"""mtqa's three stages as Python functions: the typed configs the CLI builds go in, the manifest or report comes out.

    from pathlib import Path
    import mtqa

    corpus = mtqa.translate(mtqa.TranslateConfig(input="lareqa:xquad-r", articles="0-19", output=Path("out/es"),
                                                 langs=[mtqa.get_language("es")], model="apertium:eng-spa"))
    shards = mtqa.build_batches(mtqa.BuildConfig(inputs=["out/es"], output=Path("out/batches"),
                                                 sampler=mtqa.SamplerConfig(positive="sentence", batch_size=32, num_batches=20)))
    report = mtqa.train_eval(mtqa.TrainEvalConfig(model="offline-me5", batches=Path("out/batches"), output=Path("out/run"),
                                                  evals=["lareqa:xquad-r"], eval_articles="40-47"))

Each does what its command does, with the same checks: bad input raises :class:`~mtqa.errors.MtqaError`
with the one line the command would print; an output folder appears whole or not at all.
"""

from __future__ import annotations

from typing import Any

from . import API_NAMES

# Re-exported (`X as X`) for mtqa/__init__.py, which hands them out by name.
from .batches.config import BuildConfig as BuildConfig
from .batches.config import SamplerConfig as SamplerConfig
from .errors import MtqaError as MtqaError
from .languages import Language as Language
from .languages import get_language as get_language
from .train.config import TrainConfig as TrainConfig
from .train_eval.config import TrainEvalConfig as TrainEvalConfig
from .translate.config import TranslateConfig as TranslateConfig
from .translate.filters.chain import FilterOptions as FilterOptions

__all__ = list(API_NAMES)  # the one list, kept where `import mtqa` can read it without loading this module


def translate(config: TranslateConfig) -> dict[str, Any]:
    """English QA -> a filtered, sentence-aligned parallel corpus in ``config.output``; returns its manifest (`mtqa translate`)."""
    from .translate.job import run_translate

    return run_translate(config)


def build_batches(config: BuildConfig) -> dict[str, Any]:
    """Parallel corpora -> X-X / X-Y batch shards in ``config.output``; returns their manifest (`mtqa build-batches`)."""
    from .batches.job import run_build_batches

    return run_build_batches(config)


def train_eval(config: TrainEvalConfig) -> dict[str, Any]:
    """Train a bi-encoder on the shards (unless ``eval_only``) and evaluate it; returns the report (`mtqa train-eval`)."""
    from .train_eval.job import run_train_eval

    return run_train_eval(config)
