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

from dataclasses import dataclass, field
from typing import Callable, Iterator

import numpy as np

from .corpus_index import Corpus
from .errors import MtqaError

MODES = ("hybrid", "xx", "xy", "xx-mixed", "en")
POSITIVES = ("passage", "sentence", "sentence+context")
MAX_SKIPS_PER_ROW = 20


@dataclass(frozen=True)
class Row:
    example: int
    query_lang: int
    positive_lang: int


@dataclass
class Batch:
    corpus: int
    batch_type: str
    rows: list[Row]


@dataclass
class SamplerConfig:
    mode: str = "hybrid"
    mono_prob: float = 0.5
    xy_scope: str = "example"
    batch_size: int = 100
    positive: str = "passage"
    langs: list[str] | None = None
    lang_weights: dict[str, float] | None = None
    lang_temperature: float | None = None
    dataset_sampling: str = "proportional"
    dataset_temperature: float = 2.0
    epochs: int = 1
    num_batches: int | None = None
    seed: int = 0


class _BatchState:
    """Rows of the batch being built, and what they already use."""

    def __init__(self) -> None:
        self.rows: list[Row] = []
        self.examples: set[int] = set()
        self.groups: set[int] = set()
        self.texts: set[int] = set()

    def try_add(self, example: int, query_lang: int, positive_lang: int, group: int, text: int) -> bool:
        if example in self.examples or group in self.groups or text in self.texts:
            return False
        self.rows.append(Row(example, query_lang, positive_lang))
        self.examples.add(example)
        self.groups.add(group)
        self.texts.add(text)
        return True


class _Queues:
    """The unused query units of one corpus in this epoch: one shuffled queue per language."""

    def __init__(self, corpus: Corpus, langs: list[int], rng: np.random.Generator) -> None:
        self.queues = {lang: rng.permutation(np.flatnonzero(corpus.row_of[:, lang] >= 0)) for lang in langs}
        self.position = {lang: 0 for lang in langs}
        self.deferred: dict[int, list[int]] = {lang: [] for lang in langs}

    def remaining(self, lang: int) -> int:
        return len(self.queues[lang]) - self.position[lang] + len(self.deferred[lang])

    def total_remaining(self) -> int:
        return sum(self.remaining(lang) for lang in self.queues)

    def snapshot(self) -> tuple[dict[int, int], dict[int, list[int]]]:
        return dict(self.position), {lang: list(items) for lang, items in self.deferred.items()}

    def restore(self, state: tuple[dict[int, int], dict[int, list[int]]]) -> None:
        self.position, self.deferred = state

    def draw(self, lang: int, count: int, accept: Callable[[int], bool]) -> bool:
        """Take ``count`` examples of ``lang`` that ``accept`` admits; refused ones wait for a later batch."""
        deferred, queue = self.deferred[lang], self.queues[lang]
        taken = skipped = 0
        refused: list[int] = []
        index, position = 0, self.position[lang]
        while taken < count:
            if index < len(deferred):
                example = deferred[index]
                index += 1
            elif position < len(queue):
                example = int(queue[position])
                position += 1
            else:
                return False
            if accept(example):
                taken += 1
            else:
                refused.append(example)
                skipped += 1
                if skipped > MAX_SKIPS_PER_ROW * count:
                    return False
        self.deferred[lang] = refused + deferred[index:]
        self.position[lang] = position
        return True


class CorpusSampler:
    """Builds batches from one corpus for one epoch."""

    def __init__(self, corpus: Corpus, index: int, config: SamplerConfig, rng: np.random.Generator) -> None:
        self.corpus, self.index, self.config, self.rng = corpus, index, config, rng
        self.langs = allowed_languages(corpus, config)
        self.queues = _Queues(corpus, self.langs, rng)
        self.xx_exhausted: set[int] = set()
        self.group, self.text = positive_keys(corpus, config.positive)
        self.base_weight = language_weights(corpus, self.langs, config)

    def _choose(self, candidates: list[int]) -> int | None:
        """One language, by weight (a hot path: plain Python beats numpy's choice for ~10 items)."""
        if not candidates:
            return None
        weights = [self.base_weight[lang] for lang in candidates]
        point = self.rng.random() * sum(weights)
        for lang, weight in zip(candidates, weights):
            point -= weight
            if point < 0:
                return lang
        return candidates[-1]

    def _accept(self, state: _BatchState, query_lang: int, positive_lang: int) -> Callable[[int], bool]:
        def accept(example: int) -> bool:
            row = self.corpus.row_of[example, positive_lang]
            return row >= 0 and state.try_add(example, query_lang, positive_lang, int(self.group[row]), int(self.text[row]))

        return accept

    def monolingual(self, langs: list[int] | None = None) -> Batch | None:
        """X-X: one language X for every question and positive."""
        size = self.config.batch_size
        while True:
            candidates = [lang for lang in (langs or self.langs) if lang not in self.xx_exhausted and self.queues.remaining(lang) >= size]
            lang = self._choose(candidates)
            if lang is None:
                return None
            state = _BatchState()
            if self.queues.draw(lang, size, self._accept(state, lang, lang)):
                return Batch(self.index, "xx", state.rows)
            self.xx_exhausted.add(lang)

    def cross_lingual(self) -> Batch | None:
        """X-Y: question language differs from positive language in every row."""
        return self._cross_per_batch() if self.config.xy_scope == "batch" else self._rows_each_drawing("xy")

    def mixed_monolingual(self) -> Batch | None:
        """LAReQA's X-X: same-language pairs, languages mixed inside the batch."""
        return self._rows_each_drawing("xx-mixed")

    def _rows_each_drawing(self, batch_type: str) -> Batch | None:
        snapshot = self.queues.snapshot()
        state = _BatchState()
        active = [lang for lang in self.langs if self.queues.remaining(lang) > 0]
        while len(state.rows) < self.config.batch_size:
            candidates = list(active)
            added = False
            while candidates and not added:
                query_lang = self._choose(candidates)
                candidates.remove(query_lang)
                added = self.queues.draw(query_lang, 1, self._pick_positive(state, query_lang, batch_type))
                if not added and self.queues.remaining(query_lang) == 0:
                    active.remove(query_lang)
            if not added:
                self.queues.restore(snapshot)
                return None
        return Batch(self.index, batch_type, state.rows)

    def _pick_positive(self, state: _BatchState, query_lang: int, batch_type: str) -> Callable[[int], bool]:
        def accept(example: int) -> bool:
            if batch_type == "xx-mixed":
                options = [query_lang]
            else:
                options = [lang for lang in self.langs if lang != query_lang and self.corpus.row_of[example, lang] >= 0]
            positive_lang = self._choose(options)
            return positive_lang is not None and self._accept(state, query_lang, positive_lang)(example)

        return accept

    def _cross_per_batch(self) -> Batch | None:
        size = self.config.batch_size
        pairs = [(x, y) for x in self.langs for y in self.langs if x != y and self.queues.remaining(x) >= size]
        if not pairs:
            return None
        weights = np.array([self.base_weight[x] * self.base_weight[y] for x, y in pairs], dtype=float)
        for choice in self.rng.choice(len(pairs), size=len(pairs), replace=False, p=weights / weights.sum()):
            query_lang, positive_lang = pairs[int(choice)]
            snapshot = self.queues.snapshot()
            state = _BatchState()
            if self.queues.draw(query_lang, size, self._accept(state, query_lang, positive_lang)):
                return Batch(self.index, "xy", state.rows)
            self.queues.restore(snapshot)
        return None

    def next_batch(self) -> Batch | None:
        mode = self.config.mode
        if mode == "xx":
            return self.monolingual()
        if mode == "en":
            return self.monolingual(langs=self.langs)
        if mode == "xy":
            return self.cross_lingual()
        if mode == "xx-mixed":
            return self.mixed_monolingual()
        if self.rng.random() < self.config.mono_prob:
            return self.monolingual() or self.cross_lingual()
        return self.cross_lingual() or self.monolingual()


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


def validate(corpora: list[Corpus], config: SamplerConfig) -> None:
    if config.mode not in MODES:
        raise MtqaError(f"--mode {config.mode!r} is not one of {', '.join(MODES)}")
    known = sorted({code for corpus in corpora for code in corpus.langs})
    for code in config.langs or []:
        if code not in known:
            raise MtqaError(f"--langs: language {code!r} is in none of the inputs (they have {', '.join(known)})")
    if config.mode == "en" and "en" not in known:
        raise MtqaError("--mode en needs English rows, and the inputs have none")
    for corpus in corpora:
        langs = allowed_languages(corpus, config)
        if config.mode in ("hybrid", "xy") and len(langs) < 2:
            names = ", ".join(corpus.langs[lang] for lang in langs) or "none"
            raise MtqaError(f"--mode {config.mode} needs at least two languages, but {corpus.name} has only {names} (after --langs)")
    largest = max(int((corpus.row_of[:, allowed_languages(corpus, config)] >= 0).any(axis=1).sum()) for corpus in corpora)
    if config.batch_size > largest:
        raise MtqaError(f"--batch-size {config.batch_size} is larger than the {largest} distinct examples of the largest input")


def iterate_batches(corpora: list[Corpus], config: SamplerConfig, report: SamplingReport) -> Iterator[Batch]:
    """Yield batches epoch by epoch; each batch comes from one corpus drawn by size.

    Call :func:`validate` first: it turns impossible requests into clear errors.
    """
    rng = np.random.default_rng(config.seed)
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
            weights = corpus_weights[active] / corpus_weights[active].sum()
            chosen = active[int(rng.choice(len(active), p=weights))]
            batch = samplers[chosen].next_batch()
            if batch is None:
                active.remove(chosen)
                continue
            yield batch
            produced += 1
            in_epoch += 1
            if config.num_batches is not None and produced >= config.num_batches:
                report.epochs += 1
                report.leftover_units.append(sum(s.queues.total_remaining() for s in samplers))
                return
        report.epochs += 1
        report.leftover_units.append(sum(s.queues.total_remaining() for s in samplers))
        if in_epoch == 0:
            raise MtqaError("no full batch can be formed from the inputs; lower --batch-size or add data")
        if config.num_batches is None and report.epochs >= config.epochs:
            return
