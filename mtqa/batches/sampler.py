"""Batch composition: the method of arXiv 2408.10536 as a few small classes.

With in-batch negatives the batch *is* the training signal. A monolingual batch
(X-X) teaches ranking within one language, a cross-lingual batch (X-Y) teaches
language-agnostic matching, and the hybrid sampler mixes them per batch with
probability alpha.

Epoch: every (example, language) pair of every corpus is used as a query at
most once. A corpus's epoch ends when no further full batch can be formed from
what is left; those leftover units are counted in the manifest.

A batch never holds two rows of one source example, two positives from one
source passage or sentence (translations of each other are false negatives
too), or two identical positive texts.
"""

from __future__ import annotations

import functools
from collections import Counter
from dataclasses import dataclass, field
from typing import Callable, Iterator

import numpy as np

from ..errors import MtqaError
from .config import SamplerConfig
from .corpus_index import Corpus
from .units import Batch, BatchState, Queues

MAX_SKIPS_PER_ROW = 20


class CorpusSampler:
    """Builds batches from one corpus for one epoch, a block of candidates at a time."""

    def __init__(self, corpus: Corpus, index: int, config: SamplerConfig, rng: np.random.Generator) -> None:
        self.corpus, self.index, self.config, self.rng = corpus, index, config, rng
        self.langs = allowed_languages(corpus, config)
        self.queues = Queues(corpus, self.langs, rng)
        self.xx_exhausted: set[int] = set()
        self.fallbacks: Counter[str] = Counter()  # batch types that could not be filled, so the other type was made
        self.group, self.text = positive_keys(corpus, config.positive)
        weights = language_weights(corpus, self.langs, config)
        self.weight = np.zeros(len(corpus.langs))
        self.weight[self.langs] = [weights[lang] for lang in self.langs]

    def _choose(self, candidates: list[int]) -> int | None:
        if not candidates:
            return None
        weights = self.weight[candidates]
        return candidates[
            int(np.searchsorted(np.cumsum(weights), self.rng.random() * weights.sum(), side="right").clip(max=len(candidates) - 1))
        ]

    def _fill(
        self,
        state: BatchState,
        counts: dict[int, int],
        positive_of: Callable[[np.ndarray, np.ndarray], np.ndarray],
        size: int | None = None,
    ) -> set[int]:
        """Add ``counts[lang]`` rows with questions in each ``lang``; returns the languages that ran dry.

        Candidates for all languages are judged together, so a batch usually costs
        one round of array operations; refused ones wait for the next batch.
        """
        needed = {lang: count for lang, count in counts.items() if count > 0}
        # Rows examined per language before it counts as dry: the whole batch's ``size``, not the language's share of it.
        # Late in a mixed-language batch a language may be asked for one row that only a few of its rows can give.
        budget = (MAX_SKIPS_PER_ROW + 1) * (size or sum(needed.values()))
        refused: dict[int, list[np.ndarray]] = {lang: [] for lang in needed}
        examined = {lang: 0 for lang in needed}
        failed: set[int] = set()
        while needed:
            taken = {lang: self.queues.take(lang, count) for lang, count in needed.items()}
            for lang, count in needed.items():
                examined[lang] += len(taken[lang])
                if len(taken[lang]) < count or examined[lang] > budget:
                    failed.add(lang)
            for lang in failed & set(taken):
                self.queues.put_back(lang, np.concatenate([*refused.pop(lang), taken.pop(lang)]))
                needed.pop(lang)
            if not taken:
                break
            block = np.concatenate(list(taken.values()))
            query_langs = np.repeat(list(taken), [len(examples) for examples in taken.values()])
            positive_langs = positive_of(block, query_langs)
            partnered = positive_langs >= 0
            for lang in taken:
                self.queues.put_aside(lang, block[~partnered & (query_langs == lang)])
            block, query_langs, positive_langs = block[partnered], query_langs[partnered], positive_langs[partnered]
            rows = self.corpus.row_of[block, positive_langs]
            keys = (block, self.group[rows], self.text[rows])
            ok = state.admit(keys)
            state.add(block[ok], query_langs[ok], positive_langs[ok], tuple(key[ok] for key in keys))
            accepted = np.bincount(query_langs[ok], minlength=len(self.corpus.langs))
            for lang in taken:
                refused[lang].append(block[~ok & (query_langs == lang)])
                needed[lang] -= int(accepted[lang])
            needed = {lang: count for lang, count in needed.items() if count > 0}
        for lang, parts in refused.items():
            if parts:
                self.queues.put_back(lang, np.concatenate(parts))
        return failed

    def _same_language(self, block: np.ndarray, query_langs: np.ndarray) -> np.ndarray:
        return query_langs

    def _fixed_language(self, positive_lang: int, block: np.ndarray, query_langs: np.ndarray) -> np.ndarray:
        return np.where(self.corpus.row_of[block, positive_lang] >= 0, positive_lang, -1)

    def _other_language(self, block: np.ndarray, query_langs: np.ndarray) -> np.ndarray:
        """A weighted random partner language per example (-1 where there is none)."""
        available = (self.corpus.row_of[block] >= 0) & (self.weight > 0)
        available[np.arange(len(block)), query_langs] = False
        scores = np.where(available, self.rng.exponential(size=available.shape) / np.maximum(self.weight, 1e-300), np.inf)
        choice = scores.argmin(axis=1)
        return np.where(available.any(axis=1), choice, -1)

    def monolingual(self, size: int | None = None, prefer: str | None = None) -> Batch | None:
        """X-X: one language X for every question and positive (``prefer``: that language while it can fill a batch)."""
        size = size or self.config.batch_size
        while True:
            candidates = [lang for lang in self.langs if lang not in self.xx_exhausted and self.queues.remaining(lang) >= size]
            wanted = self.corpus.langs.index(prefer) if prefer in self.corpus.langs else None
            lang = wanted if wanted in candidates else self._choose(candidates)
            if lang is None:
                return None
            snapshot = self.queues.snapshot()
            state = BatchState()
            if not self._fill(state, {lang: size}, self._same_language):
                return state.batch(self.index, "xx")
            self.queues.restore(snapshot)
            self.xx_exhausted.add(lang)

    def cross_lingual(self, size: int | None = None) -> Batch | None:
        """X-Y: question language differs from positive language in every row."""
        if self.config.xy_scope == "batch":
            return self._cross_per_batch(size or self.config.batch_size)
        return self._mixed_languages("xy", self._other_language, size or self.config.batch_size)

    def multitask(self) -> Batch | None:
        """An X-X sub-batch and an X-Y sub-batch for one step; ``mono_prob`` is the X-X share of the rows."""
        mono, cross = multitask_sizes(self.config)
        snapshot = self.queues.snapshot()
        parts = [self.monolingual(mono) if mono else None, self.cross_lingual(cross) if cross else None]
        if (mono and parts[0] is None) or (cross and parts[1] is None):
            self.queues.restore(snapshot)  # a step is both sub-batches or nothing
            return None
        return Batch.join([part for part in parts if part is not None], "multitask")

    def mixed_monolingual(self) -> Batch | None:
        """LAReQA's X-X: same-language pairs, languages mixed inside the batch."""
        return self._mixed_languages("xx-mixed", self._same_language, self.config.batch_size)

    def _mixed_languages(self, batch_type: str, positive_of: Callable[[np.ndarray, int], np.ndarray], size: int) -> Batch | None:
        """Each row draws its own query language (by weight, among those with questions left)."""
        snapshot = self.queues.snapshot()
        state = BatchState()
        active = [lang for lang in self.langs if self.queues.remaining(lang) > 0]
        while state.size < size and active:
            weights = self.weight[active]
            draws = weighted_choice(self.rng, weights, size - state.size)
            counts = {
                lang: int(min(count, self.queues.remaining(lang))) for lang, count in zip(active, np.bincount(draws, minlength=len(active)))
            }
            failed = self._fill(state, counts, positive_of, size)
            active = [lang for lang in active if lang not in failed and self.queues.remaining(lang) > 0]
        if state.size < size:
            self.queues.restore(snapshot)
            return None
        return state.batch(self.index, batch_type)

    def _cross_per_batch(self, size: int) -> Batch | None:
        pairs = [(x, y) for x in self.langs for y in self.langs if x != y and self.queues.remaining(x) >= size]
        if not pairs:
            return None
        weights = np.array([self.weight[x] * self.weight[y] for x, y in pairs], dtype=float)
        for choice in self.rng.choice(len(pairs), size=len(pairs), replace=False, p=weights / weights.sum()):
            query_lang, positive_lang = pairs[int(choice)]
            snapshot = self.queues.snapshot()
            state = BatchState()
            if not self._fill(state, {query_lang: size}, functools.partial(self._fixed_language, positive_lang)):
                return state.batch(self.index, "xy")
            self.queues.restore(snapshot)
        return None

    def next_batch(self, planned: "Planned | None" = None) -> Batch | None:
        """The next batch of this corpus; ``planned`` (an exact schedule's entry) fixes its type and X-X language."""
        if planned is not None:
            if planned.monolingual:
                batch = self.monolingual(prefer=planned.lang)
                return batch if batch is not None or self.config.mode == "xx" else self._instead("xx", self.cross_lingual())
            return self.cross_lingual() or self._instead("xy", self.monolingual())
        mode = self.config.mode
        if mode in ("xx", "en"):
            return self.monolingual()
        if mode == "xy":
            return self.cross_lingual()
        if mode == "xx-mixed":
            return self.mixed_monolingual()
        if mode == "multitask":
            return self.multitask()
        if self.rng.random() < self.config.mono_prob:
            return self.monolingual() or self._instead("xx", self.cross_lingual())
        return self.cross_lingual() or self._instead("xy", self.monolingual())

    def _instead(self, wanted: str, batch: Batch | None) -> Batch | None:
        """``batch``, made because no ``wanted`` batch could be filled: counted, so the user can be told."""
        if batch is not None:
            self.fallbacks[wanted] += 1
        return batch


def weighted_choice(rng: np.random.Generator, weights: np.ndarray, size: int | None = None) -> np.ndarray | int:
    """``rng.choice(len(weights), size, p=weights / weights.sum())`` without its checks of ``p``.

    It draws the same uniforms and maps them through the same cumulative sums, so a seed gives
    the same picks; the checks cost more than the draw on the sampler's small per-batch calls.
    """
    cdf = np.cumsum(weights / weights.sum())
    cdf /= cdf[-1]
    return cdf.searchsorted(rng.random(size), side="right")


@dataclass(frozen=True)
class Planned:
    monolingual: bool
    lang: str | None  # the X-X language, as a code


def quotas(weights: dict[str, float], total: int) -> dict[str, int]:
    """``total`` split in proportion to ``weights``, by largest remainder: each share within one of its exact value."""
    if total == 0 or not weights:
        return {code: 0 for code in weights}
    exact = {code: total * weight / sum(weights.values()) for code, weight in weights.items()}
    counts = {code: int(np.floor(value)) for code, value in exact.items()}
    order = {code: index for index, code in enumerate(weights)}  # ties go to the earlier code in ``weights``' order
    for code in sorted(exact, key=lambda code: (counts[code] - exact[code], order[code]))[: total - sum(counts.values())]:
        counts[code] += 1
    return counts


def exact_schedule(corpora: list[Corpus], config: SamplerConfig) -> list[Planned]:
    """``--alpha-schedule exact``: round(alpha * N) X-X batches (all, in xx mode) in a seeded order, languages by quota."""
    total = config.num_batches
    monolingual = total if config.mode == "xx" else round(config.mono_prob * total)
    rng = np.random.default_rng([config.seed, 2])  # its own stream: the batches' contents are drawn as before
    codes = sorted({corpus.langs[lang] for corpus in corpora for lang in allowed_languages(corpus, config)})
    codes = [codes[i] for i in rng.permutation(len(codes))]  # so no language is always first to get a remainder
    weights = {}
    for code in codes:
        if config.lang_weights:
            weights[code] = float(config.lang_weights.get(code, 0.0)) or 1e-12
        elif config.lang_temperature:
            weights[code] = float(sum((c.row_of[:, c.langs.index(code)] >= 0).sum() for c in corpora if code in c.langs)) ** (
                1 / config.lang_temperature
            )
        else:
            weights[code] = 1.0
    langs = [code for code, count in quotas(weights, monolingual).items() for _ in range(count)]
    langs = [langs[i] for i in rng.permutation(len(langs))]
    kinds = rng.permutation([True] * monolingual + [False] * (total - monolingual))
    chosen = iter(langs)
    return [Planned(bool(kind), next(chosen) if kind else None) for kind in kinds]


def multitask_sizes(config: SamplerConfig) -> tuple[int, int]:
    """Rows of the X-X and the X-Y sub-batch of a multitask step."""
    mono = round(config.mono_prob * config.batch_size)
    return mono, config.batch_size - mono


def allowed_languages(corpus: Corpus, config: SamplerConfig) -> list[int]:
    if config.mode == "en":
        wanted = ["en"]
    else:
        wanted = config.langs or corpus.langs
    return [corpus.langs.index(code) for code in wanted if code in corpus.langs]


def language_weights(corpus: Corpus, langs: list[int], config: SamplerConfig) -> dict[int, float]:
    """Uniform by default; explicit weights; or size^(1/T) for a temperature T."""
    if config.lang_weights:
        return {lang: float(config.lang_weights.get(corpus.langs[lang], 0.0)) or 1e-12 for lang in langs}
    if config.lang_temperature:
        sizes = {lang: float((corpus.row_of[:, lang] >= 0).sum()) for lang in langs}
        return {lang: sizes[lang] ** (1.0 / config.lang_temperature) for lang in langs}
    return {lang: 1.0 for lang in langs}


def positive_keys(corpus: Corpus, positive: str) -> tuple[np.ndarray, np.ndarray]:
    """Per row: the source group of its positive (shared across translations) and its text id."""
    rows = np.arange(len(corpus.example_of))
    pivot = rows
    if "en" in corpus.langs:
        english_row = corpus.row_of[corpus.example_of, corpus.langs.index("en")]
        pivot = np.where(english_row >= 0, english_row, rows)
    if positive == "passage":
        return corpus.context[pivot], corpus.context
    # Sentence positives: the group is (source passage, sentence index).
    return corpus.context[pivot] * 4096 + corpus.answer_index[pivot], corpus.answer_sentence


def corpus_size(corpus: Corpus, config: SamplerConfig) -> int:
    langs = allowed_languages(corpus, config)
    return int((corpus.row_of[:, langs] >= 0).sum()) if langs else 0


@dataclass
class SamplingReport:
    epochs: int = 0
    leftover_units: list[int] = field(default_factory=list)
    fallbacks: Counter = field(default_factory=Counter)  # batch type that could not be filled -> batches made of the other

    def end_epoch(self, samplers: list[CorpusSampler]) -> None:
        self.epochs += 1
        self.leftover_units.append(sum(sampler.queues.total_remaining() for sampler in samplers))
        for sampler in samplers:
            self.fallbacks.update(sampler.fallbacks)


def positives_per_language(corpora: list[Corpus], config: SamplerConfig) -> int:
    """The most distinct positives (passages, or answer sentences) any one language of any input has: a batch's ceiling."""
    cap = 0
    for corpus in corpora:
        groups, _ = positive_keys(corpus, config.positive)
        for lang in allowed_languages(corpus, config):
            rows = corpus.row_of[:, lang]
            cap = max(cap, len(np.unique(groups[rows[rows >= 0]])))
    return cap


def no_full_batch(corpora: list[Corpus], config: SamplerConfig) -> MtqaError:
    """Why no batch of --batch-size fits: a batch needs that many distinct positives in one language (X-X) or pair."""
    cap = positives_per_language(corpora, config)
    kind = "passages" if config.positive == "passage" else "answer sentences"
    hint = ", use --positive sentence (sentences outnumber passages)" if config.positive == "passage" else ""
    return MtqaError(
        f"no full batch can be formed: --batch-size {config.batch_size} needs {config.batch_size} distinct positives, and the "
        f"inputs have at most {cap} distinct {kind} in one language; lower --batch-size to {cap} or less{hint}, or add data"
    )


def iterate_batches(corpora: list[Corpus], config: SamplerConfig, report: SamplingReport) -> Iterator[Batch]:
    """Yield batches epoch by epoch; each batch comes from one corpus drawn by size.

    Call :func:`validate` first: it turns impossible requests into clear errors.
    """
    rng = np.random.default_rng(config.seed)
    schedule = exact_schedule(corpora, config) if config.alpha_schedule == "exact" else None
    sizes = np.array([corpus_size(corpus, config) for corpus in corpora], dtype=float)
    if config.dataset_sampling == "uniform":
        corpus_weights = (sizes > 0).astype(float)
    elif config.dataset_sampling == "temperature":
        corpus_weights = sizes ** (1.0 / config.dataset_temperature)
    else:
        corpus_weights = sizes
    produced = 0
    while True:
        samplers = [CorpusSampler(corpus, index, config, rng) for index, corpus in enumerate(corpora)]
        active = [index for index in range(len(corpora)) if corpus_weights[index] > 0]
        in_epoch = 0
        while active:
            chosen = active[int(weighted_choice(rng, corpus_weights[active]))]
            batch = samplers[chosen].next_batch(schedule[produced] if schedule else None)
            if batch is None:
                active.remove(chosen)
                continue
            yield batch
            produced += 1
            in_epoch += 1
            if config.num_batches is not None and produced >= config.num_batches:
                report.end_epoch(samplers)
                return
        report.end_epoch(samplers)
        if in_epoch == 0:
            raise no_full_batch(corpora, config)
        if config.num_batches is None and report.epochs >= config.epochs:
            return
