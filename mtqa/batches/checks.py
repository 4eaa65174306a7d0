"""What build-batches checks: a request before any sampling (:func:`validate`), and whether the batches
are the mode that was asked for, said in one line before the shards are kept (:func:`check_mode_honoured`).

Hybrid mode asks for X-X and X-Y batches mixed with probability α. When one kind cannot be
filled, the sampler falls back to the other, and without a word the shards would be a different
mode from the one asked for. This module turns what the sampling saw into a refusal (the result
would be another mode), warnings (the mix is off, or most rows were never used), or nothing.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass

import numpy as np

from ..errors import MtqaError, OptionError
from .config import MODES, SamplerConfig
from .corpus_index import Corpus
from .sampler import allowed_languages, multitask_sizes, positives_per_language

NAMES = {"xx": "X-X", "xy": "X-Y"}
# Under a random schedule the X-X share is binomial; past this many standard deviations from α it is not chance.
SHARE_SIGMAS = 3.0
# Batches of the other kind past this share are reported even when the X-X share stays near α (the end of an epoch makes a few).
MANY_FALLBACKS = 0.1
MOST_LEFT_OVER = 0.5  # a share of the usable (example, language) pairs left over past which a user is told


def validate(corpora: list[Corpus], config: SamplerConfig) -> None:
    if config.mode not in MODES:
        raise OptionError(f"--mode {config.mode!r} is not one of {', '.join(MODES)}")
    known = sorted({code for corpus in corpora for code in corpus.langs})
    for code in config.langs or []:
        if code not in known:
            raise MtqaError(f"--langs: language {code!r} is in none of the inputs (they have {', '.join(known)})")
    for code in config.lang_weights or {}:
        if code not in known or (config.langs and code not in config.langs):
            where = "--langs" if code in known else "the inputs"
            raise MtqaError(
                f"--lang-weights: {code} is not among {where} ({', '.join(config.langs if code in known else known)}); "
                "weigh only languages that are used, or drop it"
            )
    if config.mode == "en" and "en" not in known:
        raise MtqaError("--mode en needs English rows, and the inputs have none; add an English input or choose another --mode")
    for corpus in corpora:
        langs = allowed_languages(corpus, config)
        if config.mode in ("hybrid", "xy", "multitask") and len(langs) < 2:
            names = ", ".join(corpus.langs[lang] for lang in langs) or "none"
            raise MtqaError(
                f"--mode {config.mode} needs at least two languages, but {corpus.name} has only {names} (after --langs); add languages or use --mode xx or en"
            )
    if config.alpha_schedule == "exact" and config.mode not in ("hybrid", "xx"):
        raise OptionError(
            f"--alpha-schedule exact fixes hybrid's X-X share and xx's languages; --mode {config.mode} has neither: "
            "drop --alpha-schedule, or use --mode hybrid or xx"
        )
    if config.alpha_schedule == "exact" and config.num_batches is None:
        raise OptionError("--alpha-schedule exact needs --num-batches N: it fixes round(alpha * N) X-X batches in advance")
    if config.mode == "multitask" and any(0 < size < 2 for size in multitask_sizes(config)):
        mono, cross = multitask_sizes(config)
        raise MtqaError(
            f"--batch-size {config.batch_size} with --alpha {config.mono_prob} gives sub-batches of {mono} X-X and "
            f"{cross} X-Y rows; a sub-batch of one row has no in-batch negatives: raise --batch-size or move --alpha"
        )
    largest = max(int((corpus.row_of[:, allowed_languages(corpus, config)] >= 0).any(axis=1).sum()) for corpus in corpora)
    if config.batch_size > largest:
        raise MtqaError(
            f"--batch-size {config.batch_size} is larger than the {largest} distinct examples of the largest input; lower --batch-size"
        )


@dataclass
class Outcome:
    """What the sampling produced: batches by type, fallbacks by the type that could not be filled, leftover units."""

    by_type: Counter
    fallbacks: Counter
    leftover: int
    usable: int


def _cause(config: SamplerConfig, ceiling: int) -> str:
    kind = "passages" if config.positive == "passage" else "answer sentences"
    return (
        f"a batch of {config.batch_size} needs {config.batch_size} distinct {kind}, and the inputs have at most {ceiling} in one language"
    )


def _fix(config: SamplerConfig) -> str:
    sentence = "use --positive sentence (sentences outnumber passages), " if config.positive == "passage" else ""
    return f"{sentence}lower --batch-size or add data"


def check_mode_honoured(outcome: Outcome, config: SamplerConfig, corpora: list[Corpus]) -> list[str]:
    """Raise when the shards would be another mode than asked for; return the warnings to show otherwise."""
    warnings: list[str] = []
    total = sum(outcome.by_type.values())
    ceiling = positives_per_language(corpora, config) if (outcome.fallbacks or total) else 0
    if config.mode == "hybrid" and total:
        for wanted, got in (("xy", "xx"), ("xx", "xy")):
            expected = (1 - config.mono_prob if wanted == "xy" else config.mono_prob) * total
            if outcome.by_type.get(wanted, 0) == 0 and outcome.fallbacks.get(wanted, 0) and expected >= 1.5:
                raise MtqaError(
                    f"--mode hybrid: all {total} batches came out {NAMES[got]}: no {NAMES[wanted]} batch could be filled "
                    f"({_cause(config, ceiling)}); {_fix(config)}, or ask for --mode {got}"
                )
        share = outcome.by_type.get("xx", 0) / total
        spread = np.sqrt(config.mono_prob * (1 - config.mono_prob) / total)
        off = total >= 10 and abs(share - config.mono_prob) > SHARE_SIGMAS * max(spread, 1e-9)
        fell = sum(outcome.fallbacks.values())
        if fell > MANY_FALLBACKS * total or (fell and off):
            kinds = ", ".join(f"{count} meant to be {NAMES[kind]}" for kind, count in sorted(outcome.fallbacks.items()))
            warnings.append(
                f"--mode hybrid: {fell} of {total} batches are of the other kind ({kinds}) because that kind could not be "
                f"filled; the X-X share is {share:.2f} for --alpha {config.mono_prob}"
            )
        elif off and config.alpha_schedule == "random":
            warnings.append(f"--mode hybrid: the X-X share is {share:.2f} for --alpha {config.mono_prob}; --alpha-schedule exact fixes it")
    if config.num_batches is None and outcome.usable and outcome.leftover > MOST_LEFT_OVER * outcome.usable:
        warnings.append(
            f"{outcome.leftover:,} of {outcome.usable:,} (example, language) pairs were never used as a query: the epoch ends when "
            f"no further full batch can be formed, and {_cause(config, ceiling)}; {_fix(config)} (--num-batches N draws "
            "fresh epochs until N batches)"
        )
    return warnings
