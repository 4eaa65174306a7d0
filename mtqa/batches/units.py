"""The sampler's bookkeeping: a batch, the batch being built, and the query units left in an epoch."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    from .corpus_index import Corpus


@dataclass
class Batch:
    """One training batch: parallel arrays of example, query language and positive language.

    ``sub_batches`` labels each row with its sub-batch in multitask batches (None otherwise):
    rows with one label form one loss with its own in-batch negatives.
    """

    corpus: int
    batch_type: str
    examples: np.ndarray
    query_langs: np.ndarray
    positive_langs: np.ndarray
    sub_batches: np.ndarray | None = None

    def __len__(self) -> int:
        return len(self.examples)

    @classmethod
    def join(cls, parts: list["Batch"], batch_type: str) -> "Batch":
        """One step made of several sub-batches, each row labelled with its part's type."""
        column = lambda name: np.concatenate([getattr(part, name) for part in parts])  # noqa: E731
        labels = np.concatenate([np.full(len(part), part.batch_type, dtype=object) for part in parts])
        return cls(parts[0].corpus, batch_type, column("examples"), column("query_langs"), column("positive_langs"), labels)


class BatchState:
    """Rows of the batch being built, and the examples, sources and texts they use."""

    def __init__(self) -> None:
        self.parts: list[tuple[np.ndarray, np.ndarray, np.ndarray]] = []
        self.used = [np.empty(0, np.int64) for _ in range(3)]  # examples, groups, texts
        self.size = 0

    def admit(self, keys: tuple[np.ndarray, np.ndarray, np.ndarray]) -> np.ndarray:
        """Mask of candidates that clash with no row so far and are each key's first occurrence.

        One stable ``np.unique`` per key over the rows so far followed by the candidates still in the
        running: a candidate survives where its value first occurs at its own place.
        """
        ok = np.ones(len(keys[0]), dtype=bool)
        for values, used in zip(keys, self.used):
            candidates = np.flatnonzero(ok)
            _, first = np.unique(np.concatenate([used, values[candidates]]), return_index=True)
            first = first[first >= len(used)] - len(used)
            ok[:] = False
            ok[candidates[first]] = True
        return ok

    def add(self, examples: np.ndarray, query_langs: np.ndarray, positive_langs: np.ndarray, keys: tuple[np.ndarray, ...]) -> None:
        self.parts.append((examples, query_langs, positive_langs))
        self.used = [np.concatenate([used, values]) for used, values in zip(self.used, keys)]
        self.size += len(examples)

    def batch(self, corpus: int, batch_type: str) -> Batch:
        examples, query_langs, positive_langs = (np.concatenate(column) for column in zip(*self.parts))
        return Batch(corpus, batch_type, examples, query_langs, positive_langs)


class Queues:
    """The unused query units of one corpus in this epoch: one shuffled queue per language.

    Candidates refused for a batch (a clash with a row already in it) wait at the
    front of their queue for the next batch.
    """

    def __init__(self, corpus: Corpus, langs: list[int], rng: np.random.Generator) -> None:
        self.queues = {lang: rng.permutation(np.flatnonzero(corpus.row_of[:, lang] >= 0)) for lang in langs}
        self.position = {lang: 0 for lang in langs}
        self.deferred = {lang: np.empty(0, np.int64) for lang in langs}
        self.aside = {lang: np.empty(0, np.int64) for lang in langs}

    def remaining(self, lang: int) -> int:
        return len(self.queues[lang]) - self.position[lang] + len(self.deferred[lang]) + len(self.aside[lang])

    def total_remaining(self) -> int:
        return sum(self.remaining(lang) for lang in self.queues)

    def snapshot(self) -> tuple[dict[int, int], dict[int, np.ndarray], dict[int, np.ndarray]]:
        return dict(self.position), dict(self.deferred), dict(self.aside)

    def restore(self, state: tuple[dict[int, int], dict[int, np.ndarray], dict[int, np.ndarray]]) -> None:
        self.position, self.deferred, self.aside = dict(state[0]), dict(state[1]), dict(state[2])

    def take(self, lang: int, count: int) -> np.ndarray:
        """Remove and return the next ``count`` candidates (fewer if the queue runs out)."""
        deferred = self.deferred[lang]
        from_deferred = deferred[:count]
        self.deferred[lang] = deferred[count:]
        start = self.position[lang]
        from_queue = self.queues[lang][start : start + count - len(from_deferred)]
        self.position[lang] = start + len(from_queue)
        from_aside = self.aside[lang][: count - len(from_deferred) - len(from_queue)]
        self.aside[lang] = self.aside[lang][len(from_aside) :]
        return np.concatenate([from_deferred, from_queue, from_aside]).astype(np.int64, copy=False)

    def put_back(self, lang: int, examples: np.ndarray) -> None:
        """Candidates that clashed with this batch: first in line for the next one."""
        self.deferred[lang] = np.concatenate([examples, self.deferred[lang]])

    def put_aside(self, lang: int, examples: np.ndarray) -> None:
        """Candidates this kind of batch cannot use at all (no partner language): last in line."""
        self.aside[lang] = np.concatenate([self.aside[lang], examples])
