"""Dense retrieval over corpora larger than memory: encode to disk, search block by block.

The corpus is encoded a chunk at a time into a memory-mapped float32 file, so only one
chunk of vectors is ever in RAM while encoding. Search walks the corpus in blocks and
keeps a running top-k per query; at most ``query_block x corpus_block`` scores exist at
once — never the full query x corpus similarity matrix. Exact search and FAISS search
share the merge, so both rank ties by document position.
"""

from __future__ import annotations

from pathlib import Path
from typing import Callable

import numpy as np

from ..output import write_error

ENCODE_CHUNK = 65_536  # texts encoded per call, then written to disk
CORPUS_BLOCK = 65_536  # documents scored at once
QUERY_BLOCK = 256  # queries scored at once: 256 x 65,536 float32 scores = 64 MiB


def encode_to_disk(encode: Callable[[list[str]], np.ndarray], texts: list[str], path: Path, *, chunk: int = ENCODE_CHUNK) -> np.ndarray:
    """Encode ``texts`` a chunk at a time into a float32 ``.npy`` file at ``path``; return it memory-mapped, read-only.

    Chunks are appended with ordinary writes, not through a writable memory map: a full
    disk then fails the write with ENOSPC (one clear error) instead of a SIGBUS.
    """
    if not texts:
        raise ValueError("nothing to encode")
    try:
        with open(path, "wb") as handle:
            for start in range(0, len(texts), chunk):
                block = np.ascontiguousarray(encode(texts[start : start + chunk]), dtype=np.float32)
                if start == 0:
                    header = {
                        "descr": np.lib.format.dtype_to_descr(block.dtype),
                        "fortran_order": False,
                        "shape": (len(texts), block.shape[1]),
                    }
                    np.lib.format.write_array_header_1_0(handle, header)
                handle.write(block.tobytes())
    except OSError as error:
        path.unlink(missing_ok=True)
        raise write_error(path, error) from None
    return np.load(path, mmap_mode="r")


def _merge(ids: np.ndarray, scores: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
    """Per row, the ``k`` best (score descending, then document position ascending)."""
    order = np.lexsort((ids, -scores), axis=1)[:, :k]
    return np.take_along_axis(ids, order, axis=1), np.take_along_axis(scores, order, axis=1)


def _block_top_k(queries: np.ndarray, documents: np.ndarray, k: int, use_faiss: bool) -> tuple[np.ndarray, np.ndarray]:
    k = min(k, len(documents))
    if use_faiss:
        import faiss

        index = faiss.IndexFlatIP(documents.shape[1])
        index.add(np.ascontiguousarray(documents))
        scores, ids = index.search(np.ascontiguousarray(queries), k)
        return ids.astype(np.int64), scores
    block = np.nan_to_num(queries @ documents.T, nan=-np.inf)  # a NaN score ranks last
    # The k-th best score per row; of the documents tied with it, the first ones by position.
    kth = np.partition(block, block.shape[1] - k, axis=1)[:, block.shape[1] - k][:, None]
    above = block > kth
    tied = block == kth
    wanted = k - above.sum(axis=1, keepdims=True)
    take = above | (tied & (np.cumsum(tied, axis=1) <= wanted))
    ids = np.nonzero(take)[1].reshape(len(block), k)
    return ids.astype(np.int64), np.take_along_axis(block, ids, axis=1)


def top_k(
    queries: np.ndarray,
    corpus: np.ndarray,
    k: int,
    *,
    use_faiss: bool = False,
    query_block: int = QUERY_BLOCK,
    corpus_block: int = CORPUS_BLOCK,
) -> tuple[np.ndarray, np.ndarray]:
    """The ``k`` best documents per query, best first: (positions, scores). ``corpus`` may be a memory map."""
    k = min(k, len(corpus))
    all_ids = np.empty((len(queries), k), dtype=np.int64)
    all_scores = np.empty((len(queries), k), dtype=np.float32)
    for q_start in range(0, len(queries), query_block):
        block_queries = np.asarray(queries[q_start : q_start + query_block], dtype=np.float32)
        ids = np.empty((len(block_queries), 0), dtype=np.int64)
        scores = np.empty((len(block_queries), 0), dtype=np.float32)
        for d_start in range(0, len(corpus), corpus_block):
            documents = np.asarray(corpus[d_start : d_start + corpus_block], dtype=np.float32)
            found, found_scores = _block_top_k(block_queries, documents, k, use_faiss)
            ids, scores = _merge(np.concatenate([ids, found + d_start], axis=1), np.concatenate([scores, found_scores], axis=1), k)
        all_ids[q_start : q_start + len(block_queries)] = ids
        all_scores[q_start : q_start + len(block_queries)] = scores
    return all_ids, all_scores
