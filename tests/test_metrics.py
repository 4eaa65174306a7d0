from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from mtqa.evaluate.metrics import (
    BEIR_METRICS,
    average_precision,
    compute,
    csr,
    mrr_at_k,
    ndcg_at_k,
    parse_metric,
    per_query,
    rank_distance,
    recall_at_k,
    relevant_ranks,
    success_at_k,
)


def csr_from_dense(relevance: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(indptr, indices, grades) of the nonzero entries of a [queries, candidates] matrix."""
    relevance = np.asarray(relevance)
    indptr, indices = csr([np.flatnonzero(row).tolist() for row in relevance])
    return indptr, indices, relevance[np.repeat(np.arange(len(relevance)), np.diff(indptr)), indices]


def ranks_for(scores, relevance):
    indptr, indices, grades = csr_from_dense(np.asarray(relevance))
    return relevant_ranks(np.asarray(scores, dtype=np.float32), indptr, indices), indptr, grades


# Query 0: relevant items at ranks 1 and 3. Query 1: relevant items at ranks 2 and 4.
# Query 2: no relevant items.
SCORES = [[0.9, 0.5, 0.7, 0.1], [0.1, 0.8, 0.9, 0.3], [0.4, 0.3, 0.2, 0.1]]
RELEVANT = [[1, 1, 0, 0], [1, 1, 0, 0], [0, 0, 0, 0]]


def test_hand_built_binary_metrics():
    ranks, indptr, _ = ranks_for(SCORES, RELEVANT)
    assert ranks.tolist() == [1, 3, 4, 2]  # aligned with indices: q0 -> {0, 1}, q1 -> {0, 1}
    np.testing.assert_allclose(average_precision(ranks, indptr), [(1 / 1 + 2 / 3) / 2, (1 / 2 + 2 / 4) / 2, 0])
    assert compute("map", ranks, indptr) == pytest.approx((5 / 6 + 1 / 2 + 0) / 3)
    np.testing.assert_allclose(recall_at_k(ranks, indptr, 2), [0.5, 0.5, 0])
    np.testing.assert_allclose(recall_at_k(ranks, indptr, 3), [1.0, 0.5, 0])
    np.testing.assert_allclose(success_at_k(ranks, indptr, 1), [1, 0, 0])
    np.testing.assert_allclose(mrr_at_k(ranks, indptr, 10), [1, 0.5, 0])
    np.testing.assert_allclose(mrr_at_k(ranks, indptr, 1), [1, 0, 0])
    np.testing.assert_allclose(rank_distance(ranks, indptr), [2, 2, np.nan])


def test_hand_built_ndcg():
    # Grade 1 item at rank 1, grade 2 item at rank 2: the ideal order is the other way round.
    ranks, indptr, grades = ranks_for([[0.9, 0.8, 0.1]], [[1, 2, 0]])
    expected = (1 / 1 + 2 / math.log2(3)) / (2 / 1 + 1 / math.log2(3))
    assert ndcg_at_k(ranks, indptr, 10, grades)[0] == pytest.approx(expected)
    assert ndcg_at_k(ranks, indptr, 1, grades)[0] == pytest.approx(1 / 2)
    assert ndcg_at_k(ranks, indptr, 10)[0] == pytest.approx(1.0)  # binary: both at the top


def test_ties_broken_by_candidate_index():
    ranks, _, _ = ranks_for([[0.5, 0.5, 0.5, 0.5], [0.2, 0.5, 0.5, 0.5]], [[0, 1, 0, 1], [0, 0, 0, 1]])
    assert ranks.tolist() == [2, 4, 3]


def test_rank_distance():
    # One answer in three languages, ranked 1, 5, 40: the distance is 39.
    scores = np.linspace(1, 0, 50)[None, :]
    relevance = np.zeros((1, 50), dtype=bool)
    relevance[0, [0, 4, 39]] = True
    ranks, indptr, _ = ranks_for(scores, relevance)
    assert rank_distance(ranks, indptr).tolist() == [39]
    assert compute("rank_distance", ranks, indptr) == 39


def test_rank_distance_needs_two_relevant_items():
    ranks, indptr, _ = ranks_for([[0.9, 0.5, 0.1], [0.9, 0.5, 0.1]], [[0, 1, 0], [1, 0, 1]])
    np.testing.assert_allclose(rank_distance(ranks, indptr), [np.nan, 2])  # one answer: no bias to measure, not 0
    assert compute("rank_distance", ranks, indptr) == 2


def test_metrics_by_name_dispatch_to_the_functions():
    ranks, indptr, grades = ranks_for([[0.9, 0.8, 0.1, 0.3]], [[1, 2, 0, 1]])
    assert parse_metric("ndcg@10") == ("ndcg", 10) and parse_metric("map") == ("map", None)
    np.testing.assert_allclose(per_query("ndcg@2", ranks, indptr, grades), ndcg_at_k(ranks, indptr, 2, grades))
    np.testing.assert_allclose(per_query("recall@2", ranks, indptr), recall_at_k(ranks, indptr, 2))
    np.testing.assert_allclose(per_query("success@1", ranks, indptr), success_at_k(ranks, indptr, 1))
    np.testing.assert_allclose(per_query("mrr@10", ranks, indptr), mrr_at_k(ranks, indptr, 10))
    assert compute("map", ranks, indptr) == pytest.approx(average_precision(ranks, indptr).mean())
    assert [parse_metric(name)[0] for name in BEIR_METRICS] == ["ndcg", "recall", "mrr"]
    # A NaN per-query rank distance (no relevant items) does not poison the mean.
    assert compute("rank_distance", *ranks_for([[0.9, 0.8], [0.5, 0.4]], [[1, 1], [0, 0]])[:2]) == 1


@pytest.mark.parametrize("name", ["ndcg", "map@10", "recall@", "recall@0", "ndcg@x", "precision@5", "mrr@-1"])
def test_unknown_or_malformed_metric_names_are_refused(name):
    with pytest.raises(ValueError, match="unknown metric"):
        parse_metric(name)


def random_case(seed, num_queries=20, num_candidates=300, ties=False):
    """Random graded relevance (1 to 12 items per query, grades 1 to 3) and scores that favour relevant items."""
    rng = np.random.default_rng(seed)
    grades = np.zeros((num_queries, num_candidates), dtype=np.int64)
    for q in range(num_queries):
        chosen = rng.choice(num_candidates, size=rng.integers(1, 13), replace=False)
        grades[q, chosen] = rng.integers(1, 4, len(chosen))
    noise = rng.standard_normal((num_queries, num_candidates)) + 0.5 * grades
    if ties:
        return np.round(2 * noise).astype(np.float32), grades
    # Distinct scores (the rank of the noise), so ranx's unspecified tie order does not matter.
    return noise.argsort(axis=1).argsort(axis=1).astype(np.float32), grades


@pytest.mark.filterwarnings("ignore:unsafe cast")  # numba, inside ranx
@pytest.mark.parametrize("seed", range(4))
def test_agrees_with_ranx(seed):
    import ranx

    scores, graded = random_case(seed)
    qid = [f"q{q:03d}" for q in range(len(scores))]
    did = [f"d{d:04d}" for d in range(scores.shape[1])]
    qrels = ranx.Qrels({qid[q]: {did[d]: int(graded[q, d]) for d in np.flatnonzero(graded[q])} for q in range(len(qid))})
    run = ranx.Run({qid[q]: dict(zip(did, scores[q].tolist())) for q in range(len(qid))})  # all candidates
    metrics = ["map", "ndcg@10", "recall@100", "mrr@10"]
    ranx.evaluate(qrels, run, metrics)
    expected = {m: [run.scores[m][q] for q in qid] for m in metrics}

    ranks, indptr, grades = ranks_for(scores, graded)
    np.testing.assert_allclose(average_precision(ranks, indptr), expected["map"], atol=1e-6)
    np.testing.assert_allclose(ndcg_at_k(ranks, indptr, 10, grades), expected["ndcg@10"], atol=1e-6)
    np.testing.assert_allclose(recall_at_k(ranks, indptr, 100), expected["recall@100"], atol=1e-6)
    np.testing.assert_allclose(mrr_at_k(ranks, indptr, 10), expected["mrr@10"], atol=1e-6)


@pytest.mark.parametrize("ties", [False, True])
def test_ranks_match_stable_sort(ties):
    scores, graded = random_case(7, ties=ties)
    ranks, _, _ = ranks_for(scores, graded)
    position = np.argsort(np.argsort(-scores, axis=1, kind="stable"), axis=1) + 1
    rows, cols = np.nonzero(graded)
    np.testing.assert_array_equal(ranks, position[rows, cols])


class RowSlices:
    """Scores computed a block at a time, recording the largest block ever requested."""

    def __init__(self, scores):
        self.scores, self.shape, self.largest = scores, scores.shape, 0

    def __getitem__(self, rows: slice):
        block = self.scores[rows].copy()
        self.largest = max(self.largest, len(block))
        return block


@pytest.mark.parametrize("chunk_size", [1, 3, 7, 64])
def test_chunked_equals_unchunked(chunk_size):
    scores, graded = random_case(3, ties=True)
    indptr, indices, _ = csr_from_dense(graded)
    lazy = RowSlices(scores)
    chunked = relevant_ranks(lazy, indptr, indices, chunk_size=chunk_size)
    np.testing.assert_array_equal(chunked, relevant_ranks(scores, indptr, indices, chunk_size=len(scores)))
    assert lazy.largest == min(chunk_size, len(scores))


scores_and_relevance = st.integers(1, 30).flatmap(
    lambda n: st.tuples(
        arrays(np.float32, (2, n), elements=st.sampled_from([0.0, 0.25, 0.5, 1.0, -1.0])),  # many ties
        arrays(np.bool_, (2, n)),
    )
)


@settings(max_examples=80, deadline=None)
@given(scores_and_relevance)
def test_average_precision_properties(case):
    scores, relevance = case
    ranks, indptr, _ = ranks_for(scores, relevance)
    ap = average_precision(ranks, indptr)
    assert np.all((ap >= 0) & (ap <= 1 + 1e-12))
    for q in range(len(scores)):
        m = relevance[q].sum()
        ranked_first = np.argsort(-scores[q], kind="stable")[:m]  # the tie rule is a stable sort
        perfect = m > 0 and relevance[q, ranked_first].all()
        assert (ap[q] == pytest.approx(1.0)) == perfect
        distance = rank_distance(ranks, indptr)[q]
        assert np.isnan(distance) if m < 2 else m - 1 <= distance < len(scores[q])  # m items span at least m - 1 ranks


@settings(max_examples=60, deadline=None)
@given(scores_and_relevance, st.integers(1, 30))
def test_recall_success_ndcg_bounds(case, k):
    scores, relevance = case
    ranks, indptr, _ = ranks_for(scores, relevance)
    recall, success = recall_at_k(ranks, indptr, k), success_at_k(ranks, indptr, k)
    assert np.all((0 <= recall) & (recall <= success) & (success <= 1))
    ndcg = ndcg_at_k(ranks, indptr, k)
    assert np.all((ndcg >= 0) & (ndcg <= 1 + 1e-12))
