"""Dense retrieval on BEIR-format sets: nDCG@10, Recall@100, MRR@10 and a TREC run."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

import numpy as np

from ..encoders.load import Encoder
from ..errors import MtqaError
from ..formats.beir import BeirSet, trec_run_lines
from ..output import remove_stale
from .metrics import BEIR_METRICS, compute, csr
from .search import encode_to_disk, top_k

FAISS_MIN_DOCUMENTS = 200_000


def _faiss_available() -> bool:
    try:
        import faiss  # noqa: F401
    except ImportError:
        return False
    return True


def evaluate_beir(
    data: BeirSet, encode: Encoder, *, run_depth: int = 100, search: str = "auto", workdir: Path | None = None
) -> tuple[dict[str, float], list[str]]:
    """nDCG@10, Recall@100, MRR@10 and a TREC run (top ``run_depth``).

    The corpus is encoded in chunks into a memory map (in ``workdir``, else a temp
    folder) and searched block by block (:mod:`mtqa.evaluate.search`): memory stays flat however
    large the corpus. ``search``: ``exact`` scores every document; ``faiss`` uses FAISS
    flat inner-product blocks; ``auto`` uses FAISS when it is installed and the corpus
    has at least FAISS_MIN_DOCUMENTS documents. Ranks come from the top
    ``max(100, run_depth)``, deep enough for every metric here.
    """
    if search == "auto":
        search = "faiss" if len(data.corpus_ids) >= FAISS_MIN_DOCUMENTS and _faiss_available() else "exact"
    if search == "faiss" and not _faiss_available():
        raise MtqaError("FAISS search was asked for but faiss is not installed (pip install faiss-cpu)")
    if workdir is not None:
        remove_stale(workdir, ".mtqa-vectors-")
    with tempfile.TemporaryDirectory(prefix=f".mtqa-vectors-{os.getpid()}-", dir=workdir) as folder:
        corpus = encode_to_disk(lambda texts: encode(texts, "passage"), data.corpus_texts, Path(folder) / "corpus.npy")
        queries = encode(data.query_texts, "query")
        depth = min(max(100, run_depth), len(data.corpus_ids))
        top_ids, top_scores = top_k(queries, corpus, depth, use_faiss=search == "faiss")
        del corpus  # the memory map must close before its folder goes
    position = {doc_id: index for index, doc_id in enumerate(data.corpus_ids)}
    relevant = [sorted(data.qrels[qid], key=position.get) for qid in data.query_ids]
    indptr, indices = csr([[position[doc] for doc in docs] for docs in relevant])
    grades = np.array([data.qrels[qid][doc] for qid, docs in zip(data.query_ids, relevant) for doc in docs], dtype=np.float64)
    # Past the retrieved depth a rank only needs to be past every cutoff used here.
    ranks = np.full(len(indices), depth + 1, dtype=np.int64)
    for query in range(len(data.query_ids)):
        found = {doc: rank for rank, doc in enumerate(top_ids[query].tolist(), start=1)}
        span = slice(indptr[query], indptr[query + 1])
        ranks[span] = [found.get(doc, depth + 1) for doc in indices[span].tolist()]
    metrics = {name: compute(name, ranks, indptr, grades) for name in BEIR_METRICS}
    metrics.update(queries=len(data.query_ids), documents=len(data.corpus_ids))
    run = trec_run_lines(data, top_ids[:, :run_depth], top_scores[:, :run_depth])
    metrics["search"] = search
    return metrics, run
