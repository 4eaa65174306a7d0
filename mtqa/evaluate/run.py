"""Every evaluation set of a run, scored in one pass: the sets parsed and loaded before any training (a typo
fails at once), then each distinct text encoded once, with its role's prefix."""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..errors import MtqaError
from ..formats.beir import load_beir, trec_qrels_lines
from ..output import atomic_write
from ..paths import resolve_data_set
from .beir import evaluate_beir
from .config import CANDIDATES, DEFAULT_EVAL_ENGINE, EvalSpec, parse_eval_spec
from .engine import evaluation_encoder
from .lareqa import evaluate_lareqa, load_lareqa


@dataclass(frozen=True)
class EvalSettings:
    """How a model is scored: what encodes it, where, and the prefixes and candidates the sets are read with."""

    engine: str = DEFAULT_EVAL_ENGINE
    device: str = "cpu"
    batch_size: int = 64
    progress: bool = True
    query_prefix: str = ""
    passage_prefix: str = ""
    candidate: str = CANDIDATES[0]
    articles: str | None = None  # the lareqa articles evaluated, recorded in each set's result


def prepare_sets(evals: list[str], *, articles: str | None, langs: list[str] | None, beir_split: str) -> list[tuple[EvalSpec, Any]]:
    """Parse and load every evaluation set (``--eval`` specs), so a typo fails before any training."""
    prepared = []
    for raw in evals:
        spec = parse_eval_spec(raw)
        folder = resolve_data_set(spec.source)
        if spec.kind == "lareqa":
            prepared.append((spec, load_lareqa(folder, articles=articles, langs=langs)))
        else:
            prepared.append((spec, load_beir(folder, split=beir_split)))
    names = [spec.name for spec, _ in prepared]
    if len(names) != len(set(names)):
        raise MtqaError(f"--eval: two sets share the name {next(n for n in names if names.count(n) > 1)!r}; give distinct folders")
    return prepared


def evaluate_model(
    model, prepared: list[tuple[EvalSpec, Any]], settings: EvalSettings, output: Path, *, final: bool = True
) -> dict[str, Any]:
    """Every evaluation set; each distinct text is encoded once, with its role's prefix."""
    if not prepared:
        return {}
    with evaluation_encoder(
        model, engine=settings.engine, workdir=output, device=settings.device, batch_size=settings.batch_size, progress=settings.progress
    ) as (encode, engine):
        return _evaluate_sets(encode, engine, prepared, settings, output, final)


def _evaluate_sets(
    encode, engine: str, prepared: list[tuple[EvalSpec, Any]], settings: EvalSettings, output: Path, final: bool
) -> dict[str, Any]:
    def encoder(texts: list[str], role: str):
        prefix = settings.query_prefix if role == "query" else settings.passage_prefix
        unique = list(dict.fromkeys(texts))
        vectors = encode(unique, prefix)
        if len(unique) == len(texts):
            return vectors
        position = {text: index for index, text in enumerate(unique)}
        return vectors[[position[text] for text in texts]]

    results: dict[str, Any] = {}
    for spec, data in prepared:
        started = time.perf_counter()
        if spec.kind == "lareqa":
            item = evaluate_lareqa(data, encoder, candidate=settings.candidate).summary()
        else:
            item, run = evaluate_beir(data, encoder, workdir=output)
            if final:  # the TREC files are the final model's; an evaluation during training keeps only its metrics
                atomic_write(output / f"run-{spec.name}.trec", "\n".join(run) + "\n")
                atomic_write(output / f"qrels-{spec.name}.trec", "\n".join(trec_qrels_lines(data)) + "\n")
        results[spec.name] = {
            "kind": spec.kind,
            "source": spec.source,
            **({"articles": settings.articles or "all"} if spec.kind == "lareqa" else {}),
            **item,
            "engine": engine,
            "seconds": round(time.perf_counter() - started, 2),
        }
    return results
