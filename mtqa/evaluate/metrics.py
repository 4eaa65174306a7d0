"""Retrieval metrics computed from the ranks of the relevant candidates.

Each metric here (AP, recall@k, success@k, MRR@k, nDCG@k, rank distance) depends
only on where the relevant candidates land in the full ranking. So rows are never
sorted. `relevant_ranks` counts, for each relevant candidate, how many candidates
beat it. The metric functions then do cheap array operations on those ranks.

Relevance is stored CSR-style, because each query has only a few relevant
candidates (one per language in LAReQA-style pools). The relevant candidates of
query q are ``indices[indptr[q]:indptr[q + 1]]``. Optional integer ``grades``
(all > 0) are aligned with ``indices``. ``ranks`` has that same alignment.

Ties: rankings are a total order, the one a stable sort by descending score
gives. Among equal scores, the lower candidate index ranks first:
``rank(i) = 1 + #{j: s_j > s_i} + #{j < i: s_j == s_i}``. ranx leaves ties in an
unspecified order, so the two agree only when there are no ties. Scores must not
be NaN.

A query without relevant candidates scores 0, as in ranx. The exception is
`rank_distance`, where it gets NaN, because a value of 0 there would mean "no bias".
"""

from __future__ import annotations

from typing import Any

import numpy as np


def csr(lists: list[list[int]]) -> tuple[np.ndarray, np.ndarray]:
    """(indptr, indices) of each query's list of relevant candidates."""
    indptr = np.zeros(len(lists) + 1, dtype=np.int64)
    np.cumsum([len(items) for items in lists], out=indptr[1:])
    indices = np.array([item for items in lists for item in items], dtype=np.int64)
    return indptr, indices


def relevant_ranks(scores: Any, indptr: np.ndarray, indices: np.ndarray, chunk_size: int = 1024) -> np.ndarray:
    """1-based rank of each relevant candidate in its query's full ranking, aligned with `indices`.

    `scores` is [queries, candidates] with higher meaning better. Only ``.shape`` and row
    slicing are used, so it can be an ndarray, a memmap, a CPU tensor, or a lazy
    object that computes ``scores[a:b]`` on demand. At most
    ``chunk_size x candidates`` scores are in memory at once. The cost is about
    (max relevant per query) x queries x candidates comparisons.
    """
    indptr = np.asarray(indptr, dtype=np.int64)
    indices = np.asarray(indices, dtype=np.int64)
    ranks = np.empty(len(indices), dtype=np.int64)
    for start in range(0, scores.shape[0], chunk_size):
        stop = min(start + chunk_size, scores.shape[0])
        lo, hi = indptr[start], indptr[stop]
        block = np.asarray(scores[start:stop])
        ranks[lo:hi] = _block_ranks(block, indptr[start : stop + 1] - lo, indices[lo:hi])
    return ranks


def _block_ranks(block: np.ndarray, indptr: np.ndarray, indices: np.ndarray) -> np.ndarray:
    """`relevant_ranks` for one block of rows, looping over "the n-th relevant item of each row"."""
    counts = np.diff(indptr)
    columns = np.arange(block.shape[1])
    ranks = np.empty(len(indices), dtype=np.int64)
    for n in range(counts.max(initial=0)):
        rows = np.flatnonzero(counts > n)
        at = indptr[rows] + n  # where this item sits in `indices`
        col = indices[at][:, None]
        sub = block if len(rows) == len(block) else block[rows]
        s = np.take_along_axis(sub, col, axis=1)
        beaten_by = (sub > s) | ((sub == s) & (columns < col))  # the tie rule
        ranks[at] = 1 + beaten_by.sum(axis=1)
    return ranks


def _query_ids(indptr: np.ndarray) -> np.ndarray:
    return np.repeat(np.arange(len(indptr) - 1), np.diff(indptr))


def _per_query_mean(values: np.ndarray, indptr: np.ndarray) -> np.ndarray:
    """Mean of `values` over each query's relevant items (0 for queries with none)."""
    sums = np.bincount(_query_ids(indptr), weights=values, minlength=len(indptr) - 1)
    return sums / np.maximum(np.diff(indptr), 1)


def _position_in_query(indptr: np.ndarray) -> np.ndarray:
    """1, 2, ... within each query's slice."""
    return np.arange(indptr[-1]) - np.repeat(indptr[:-1], np.diff(indptr)) + 1


def average_precision(ranks: np.ndarray, indptr: np.ndarray) -> np.ndarray:
    """Per-query AP over the full ranking, as in LAReQA's mAP.

    With relevant ranks sorted as r_1 < ... < r_m, AP is ``mean_i(i / r_i)``, the
    precision at each relevant item averaged over all m relevant items.
    """
    sorted_ranks = ranks[np.lexsort((ranks, _query_ids(indptr)))]
    return _per_query_mean(_position_in_query(indptr) / sorted_ranks, indptr)


def recall_at_k(ranks: np.ndarray, indptr: np.ndarray, k: int) -> np.ndarray:
    """Per query: |relevant in top k| / |relevant|, so finding every language counts."""
    return _per_query_mean((ranks <= k).astype(np.float64), indptr)


def success_at_k(ranks: np.ndarray, indptr: np.ndarray, k: int) -> np.ndarray:
    """Per query: 1.0 if any relevant item is in the top k ("hit rate"). One language is enough."""
    hits = np.bincount(_query_ids(indptr), weights=ranks <= k, minlength=len(indptr) - 1)
    return (hits > 0).astype(np.float64)


def mrr_at_k(ranks: np.ndarray, indptr: np.ndarray, k: int) -> np.ndarray:
    """Per query: 1 / rank of the best relevant item if that rank is <= k, else 0."""
    best = np.full(len(indptr) - 1, np.inf)
    np.minimum.at(best, _query_ids(indptr), ranks)
    return np.where(best <= k, 1.0 / best, 0.0)


def ndcg_at_k(ranks: np.ndarray, indptr: np.ndarray, k: int, grades: np.ndarray | None = None) -> np.ndarray:
    """Per-query nDCG@k with gain = grade and discount log2(rank + 1), as in TREC, BEIR and ranx "ndcg".

    The ideal DCG places this query's graded items in decreasing grade order.
    Without `grades`, relevance is binary.
    """
    gains = np.ones(len(ranks)) if grades is None else np.asarray(grades, dtype=np.float64)
    qid, n = _query_ids(indptr), len(indptr) - 1
    dcg = np.bincount(qid, weights=np.where(ranks <= k, gains / np.log2(ranks + 1), 0), minlength=n)
    ideal_gains = gains[np.lexsort((-gains, qid))]
    ideal_ranks = _position_in_query(indptr)
    ideal = np.where(ideal_ranks <= k, ideal_gains / np.log2(ideal_ranks + 1), 0)
    idcg = np.bincount(qid, weights=ideal, minlength=n)
    return np.divide(dcg, idcg, out=np.zeros(n), where=idcg > 0)


def rank_distance(ranks: np.ndarray, indptr: np.ndarray) -> np.ndarray:
    """Per query: worst minus best rank among its relevant items (language bias, arXiv 2408.10536).

    In a multilingual pool where the relevant items are one answer in each of k
    languages, a language-agnostic retriever ranks them together, at best at
    ranks 1..k: its floor is k - 1, not 0.
    A query with fewer than two relevant items says nothing of bias (its answer
    exists in one language), so it gets NaN, not 0. Average the result with
    ``np.nanmean`` (``compute("rank_distance", ...)``).
    """
    qid, n = _query_ids(indptr), len(indptr) - 1
    best, worst = np.full(n, np.inf), np.full(n, -np.inf)
    np.minimum.at(best, qid, ranks)
    np.maximum.at(worst, qid, ranks)
    return np.where(np.diff(indptr) >= 2, worst - best, np.nan)


# Named metrics, as ranx names them: NAME or NAME@K. Each maps to a per-query function.
_PER_QUERY = {
    "map": lambda ranks, indptr, k, grades: average_precision(ranks, indptr),
    "recall": lambda ranks, indptr, k, grades: recall_at_k(ranks, indptr, k),
    "success": lambda ranks, indptr, k, grades: success_at_k(ranks, indptr, k),
    "mrr": lambda ranks, indptr, k, grades: mrr_at_k(ranks, indptr, k),
    "ndcg": lambda ranks, indptr, k, grades: ndcg_at_k(ranks, indptr, k, grades),
    "rank_distance": lambda ranks, indptr, k, grades: rank_distance(ranks, indptr),
}
_NEEDS_K = {"recall", "success", "mrr", "ndcg"}
BEIR_METRICS = ("ndcg@10", "recall@100", "mrr@10")
# What train-eval logs at each --eval-every and recipes tabulate: LAReQA's summary and two BEIR metrics.
HEADLINE_METRICS = ("mono_map", "cross_map", "multi_map", "rank_distance", "ndcg@10", "recall@100")


def parse_metric(name: str) -> tuple[str, int | None]:
    """``ndcg@10`` -> ("ndcg", 10); ``map`` -> ("map", None); unknown names are a ValueError."""
    base, sep, cutoff = name.partition("@")
    if base not in _PER_QUERY or (sep and not cutoff.isdigit()) or (base in _NEEDS_K) != bool(sep) or (sep and int(cutoff) < 1):
        known = ", ".join(f"{m}@k" if m in _NEEDS_K else m for m in _PER_QUERY)
        raise ValueError(f"unknown metric {name!r}; known: {known}")
    return base, int(cutoff) if sep else None


def per_query(name: str, ranks: np.ndarray, indptr: np.ndarray, grades: np.ndarray | None = None) -> np.ndarray:
    """The named metric for every query (NaN for rank_distance of a query without relevant items)."""
    base, k = parse_metric(name)
    return _PER_QUERY[base](ranks, indptr, k, grades)


def compute(name: str, ranks: np.ndarray, indptr: np.ndarray, grades: np.ndarray | None = None) -> float:
    """The named metric averaged over queries (NaN-aware for rank_distance)."""
    values = per_query(name, ranks, indptr, grades)
    if name != "rank_distance":
        return float(values.mean())
    return float(np.nanmean(values)) if np.isfinite(values).any() else float("nan")  # no query it can judge: NaN, without a warning
