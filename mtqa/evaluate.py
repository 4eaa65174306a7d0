"""Retrieval evaluation: LAReQA-style pools (XQuAD-R, MLQA-R) and BEIR-format corpora.

LAReQA protocol (Roy et al., 2020), as used by arXiv 2408.10536:
  * candidates: every sentence of every paragraph, per language;
  * queries: every question, per language;
  * relevant: a question's answer sentence in every language where its id exists.
Settings:
  * mono: queries in X against the pool of X, per language;
  * cross: queries in X against the pool of Y, for every ordered pair X != Y;
  * multi: queries in X against the pool of all languages at once.
mAP is macro-averaged over languages (mono, multi) or pairs (cross). Language
bias is the rank distance in the multilingual pool: per query, the worst minus
the best rank among its relevant sentences, averaged over queries, then over
query languages.
"""

from __future__ import annotations

import json
import os
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

import numpy as np

from .corpus_index import parse_articles
from .errors import MtqaError
from .output import remove_stale
from .metrics import average_precision, rank_distance, recall_at_k, relevant_ranks
from .segment import answer_sentence_index

Encoder = Callable[[list[str], str], np.ndarray]  # (texts, role) -> L2-normalised embeddings


@dataclass
class LareqaSet:
    """Questions and candidate sentences of a LAReQA-format set, per language."""

    langs: list[str]
    question_ids: dict[str, list[str]]
    questions: dict[str, list[str]]
    candidates: dict[str, list[str]]  # texts, one per sentence
    candidate_context: dict[str, list[str]]
    answer: dict[str, dict[str, int]]  # lang -> question id -> candidate index
    articles: set[int] | None = None


def load_lareqa(directory: Path, *, articles: str | None = None, langs: list[str] | None = None) -> LareqaSet:
    chosen = parse_articles(articles)
    files = sorted(Path(directory).glob("*.json"))
    if not files:
        raise MtqaError(f"{directory}: no <lang>.json files (expected the LAReQA release: one SQuAD-style file per language)")
    if langs:
        unknown = sorted(set(langs) - {path.stem for path in files})
        if unknown:
            raise MtqaError(f"--eval-langs: {', '.join(unknown)} not in {directory} (it has {', '.join(p.stem for p in files)})")
        files = [path for path in files if path.stem in langs]
    data = LareqaSet(langs=[], question_ids={}, questions={}, candidates={}, candidate_context={}, answer={}, articles=chosen)
    for path in files:
        lang = path.stem
        try:
            document = json.loads(path.read_text(encoding="utf-8"))
            ids, questions, candidates, contexts, answer = [], [], [], [], {}
            for index, article in enumerate(document["data"]):
                if chosen is not None and index not in chosen:
                    continue
                for paragraph in article["paragraphs"]:
                    offset = len(candidates)
                    candidates += [sentence.strip() for sentence in paragraph["sentences"]]
                    contexts += [paragraph["context"]] * len(paragraph["sentences"])
                    for qa in paragraph["qas"]:
                        ids.append(qa["id"])
                        questions.append(qa["question"])
                        answer[qa["id"]] = offset + answer_sentence_index(paragraph["sentence_breaks"], qa["answers"][0]["answer_start"])
        except json.JSONDecodeError as error:
            raise MtqaError(f"{path}:{error.lineno}:{error.colno}: not valid JSON ({error.msg}); fix the file or fetch the release again") from None
        except (KeyError, IndexError, TypeError) as error:
            raise MtqaError(f"{path}: not in LAReQA format (missing {error}); give the LAReQA release folder") from None
        if not ids:
            continue
        data.langs.append(lang)
        data.question_ids[lang], data.questions[lang] = ids, questions
        data.candidates[lang], data.candidate_context[lang], data.answer[lang] = candidates, contexts, answer
    if not data.langs:
        raise MtqaError(f"{directory}: no questions{' in the chosen --articles' if chosen else ''}; check --eval-articles")
    return data


class _Scores:
    """Query x candidate cosine scores, computed a block of queries at a time."""

    def __init__(self, queries: np.ndarray, candidates: np.ndarray) -> None:
        self.queries, self.candidates = queries, candidates
        self.shape = (len(queries), len(candidates))

    def __getitem__(self, rows: slice) -> np.ndarray:
        return self.queries[rows] @ self.candidates.T


def _csr(lists: list[list[int]]) -> tuple[np.ndarray, np.ndarray]:
    indptr = np.zeros(len(lists) + 1, dtype=np.int64)
    np.cumsum([len(items) for items in lists], out=indptr[1:])
    indices = np.array([item for items in lists for item in items], dtype=np.int64)
    return indptr, indices


@dataclass
class LareqaResult:
    langs: list[str]
    mono: dict[str, float] = field(default_factory=dict)
    cross: dict[str, dict[str, float]] = field(default_factory=dict)
    multi: dict[str, float] = field(default_factory=dict)
    recall: dict[str, dict[str, float]] = field(default_factory=dict)
    rank_distance: dict[str, float] = field(default_factory=dict)
    encode_seconds: float = 0.0
    total_seconds: float = 0.0

    def summary(self) -> dict[str, Any]:
        cross_values = [value for row in self.cross.values() for value in row.values()]
        return {
            "mono_map": float(np.mean(list(self.mono.values()))),
            "cross_map": float(np.mean(cross_values)) if cross_values else float("nan"),
            "multi_map": float(np.mean(list(self.multi.values()))),
            "rank_distance": float(np.nanmean(list(self.rank_distance.values()))),
            **{f"{setting}_{name}": value for setting, values in self.recall.items() for name, value in values.items()},
            "per_language": {"mono_map": self.mono, "multi_map": self.multi, "rank_distance": self.rank_distance},
            "cross_matrix": self.cross,
            "languages": self.langs,
            "pairs": len(cross_values),
            "encode_seconds": round(self.encode_seconds, 3),
            "scoring_seconds": round(self.total_seconds - self.encode_seconds, 3),
        }


def evaluate_lareqa(data: LareqaSet, encode: Encoder, *, candidate: str = "sentence", chunk_size: int = 1024) -> LareqaResult:
    """mono / cross / multi mAP, R@1, R@10 and rank distance, each text encoded once."""
    started = time.perf_counter()
    langs = data.langs
    question_vectors = {lang: encode(data.questions[lang], "query") for lang in langs}
    if candidate == "sentence+context":
        texts = {lang: [f"{s} {c}" for s, c in zip(data.candidates[lang], data.candidate_context[lang])] for lang in langs}
    else:
        texts = data.candidates
    candidate_vectors = {lang: encode(texts[lang], "passage") for lang in langs}
    result = LareqaResult(langs=langs, encode_seconds=time.perf_counter() - started)
    recall = {"mono": {1: [], 10: []}, "cross": {1: [], 10: []}, "multi": {1: [], 10: []}}

    def score(queries: np.ndarray, pool: np.ndarray, relevant: list[list[int]], setting: str) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        indptr, indices = _csr(relevant)
        ranks = relevant_ranks(_Scores(queries, pool), indptr, indices, chunk_size=chunk_size)
        for k in (1, 10):
            recall[setting][k].append(float(np.mean(recall_at_k(ranks, indptr, k))))
        return ranks, indptr, average_precision(ranks, indptr)

    for query_lang in langs:
        ids = data.question_ids[query_lang]
        for pool_lang in langs:
            present = [i for i, qid in enumerate(ids) if qid in data.answer[pool_lang]]
            if not present:
                continue
            relevant = [[data.answer[pool_lang][ids[i]]] for i in present]
            setting = "mono" if pool_lang == query_lang else "cross"
            _, _, ap = score(question_vectors[query_lang][present], candidate_vectors[pool_lang], relevant, setting)
            if setting == "mono":
                result.mono[query_lang] = float(ap.mean())
            else:
                result.cross.setdefault(query_lang, {})[pool_lang] = float(ap.mean())

    offsets = np.cumsum([0] + [len(data.candidates[lang]) for lang in langs])
    pool = np.concatenate([candidate_vectors[lang] for lang in langs])
    for query_lang in langs:
        ids = data.question_ids[query_lang]
        relevant = [[int(offsets[j]) + data.answer[lang][qid] for j, lang in enumerate(langs) if qid in data.answer[lang]] for qid in ids]
        ranks, indptr, ap = score(question_vectors[query_lang], pool, relevant, "multi")
        result.multi[query_lang] = float(ap.mean())
        # Mean over this language's queries here; summary() then averages over languages.
        result.rank_distance[query_lang] = float(np.nanmean(rank_distance(ranks, indptr)))
    result.recall = {setting: {f"r@{k}": float(np.mean(values)) for k, values in by_k.items() if values} for setting, by_k in recall.items()}
    result.total_seconds = time.perf_counter() - started
    return result


@dataclass
class BeirSet:
    corpus_ids: list[str]
    corpus_texts: list[str]
    query_ids: list[str]
    query_texts: list[str]
    qrels: dict[str, dict[str, int]]
    split: str


def _read_jsonl(path: Path, fields: tuple[str, ...]) -> list[dict[str, Any]]:
    if not path.is_file():
        raise MtqaError(f"{path} not found (a BEIR folder holds corpus.jsonl, queries.jsonl and qrels/<split>.tsv)")
    rows = []
    with open(path, encoding="utf-8") as handle:
        for line_no, line in enumerate(handle, start=1):
            if not line.strip():
                continue
            try:
                row = json.loads(line)
            except json.JSONDecodeError as error:
                raise MtqaError(f"{path}:{line_no}: not valid JSON ({error.msg}); fix or remove that line") from None
            missing = [name for name in fields if name not in row]
            if missing:
                raise MtqaError(f"{path}:{line_no}: missing field {missing[0]!r}; every line needs _id and text")
            rows.append(row)
    return rows


def load_beir(directory: Path, *, split: str = "test") -> BeirSet:
    directory = Path(directory)
    corpus = _read_jsonl(directory / "corpus.jsonl", ("_id", "text"))
    queries = _read_jsonl(directory / "queries.jsonl", ("_id", "text"))
    qrels_path = directory / "qrels" / f"{split}.tsv"
    if not qrels_path.is_file():
        raise MtqaError(f"{qrels_path} not found (BEIR qrels: query-id, corpus-id, score)")
    corpus_ids = {str(row["_id"]) for row in corpus}
    query_ids = {str(row["_id"]) for row in queries}
    qrels: dict[str, dict[str, int]] = {}
    for line_no, line in enumerate(qrels_path.read_text(encoding="utf-8").splitlines(), start=1):
        parts = line.strip().split("\t")
        if not parts[0] or (line_no == 1 and parts[0] == "query-id"):
            continue
        if len(parts) != 3:
            raise MtqaError(f"{qrels_path}:{line_no}: expected query-id, corpus-id, score separated by tabs")
        query, document, grade = parts
        if query not in query_ids:
            raise MtqaError(f"{qrels_path}:{line_no}: query id {query!r} is not in queries.jsonl; fix the qrels or add the query")
        if document not in corpus_ids:
            raise MtqaError(f"{qrels_path}:{line_no}: corpus id {document!r} is not in corpus.jsonl; fix the qrels or add the document")
        try:
            value = int(float(grade))
        except ValueError:
            raise MtqaError(f"{qrels_path}:{line_no}: score {grade!r} is not a number; use integer relevance grades") from None
        if value > 0:
            qrels.setdefault(query, {})[document] = value
    judged = [row for row in queries if str(row["_id"]) in qrels]
    if not judged:
        raise MtqaError(f"{qrels_path}: no query has a relevant document; give grades above 0")
    return BeirSet(
        corpus_ids=[str(row["_id"]) for row in corpus],
        corpus_texts=[(f"{row.get('title') or ''} {row['text']}").strip() for row in corpus],
        query_ids=[str(row["_id"]) for row in judged],
        query_texts=[row["text"] for row in judged],
        qrels=qrels,
        split=split,
    )


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
    folder) and searched block by block (:mod:`mtqa.search`): memory stays flat however
    large the corpus. ``search``: ``exact`` scores every document; ``faiss`` uses FAISS
    flat inner-product blocks; ``auto`` uses FAISS when it is installed and the corpus
    has at least FAISS_MIN_DOCUMENTS documents. Ranks come from the top
    ``max(100, run_depth)``, deep enough for every metric here.
    """
    import tempfile

    from .metrics import mrr_at_k, ndcg_at_k
    from .search import encode_to_disk, top_k

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
    indptr, indices = _csr([[position[doc] for doc in docs] for docs in relevant])
    grades = np.array([data.qrels[qid][doc] for qid, docs in zip(data.query_ids, relevant) for doc in docs], dtype=np.float64)
    # Past the retrieved depth a rank only needs to be past every cutoff used here.
    ranks = np.full(len(indices), depth + 1, dtype=np.int64)
    for query in range(len(data.query_ids)):
        found = {doc: rank for rank, doc in enumerate(top_ids[query].tolist(), start=1)}
        span = slice(indptr[query], indptr[query + 1])
        ranks[span] = [found.get(doc, depth + 1) for doc in indices[span].tolist()]
    metrics = {
        "ndcg@10": float(ndcg_at_k(ranks, indptr, 10, grades).mean()),
        "recall@100": float(recall_at_k(ranks, indptr, 100).mean()),
        "mrr@10": float(mrr_at_k(ranks, indptr, 10).mean()),
        "queries": len(data.query_ids),
        "documents": len(data.corpus_ids),
    }
    run = [
        f"{qid} Q0 {data.corpus_ids[doc]} {rank} {score:.6f} mtqa"
        for qid, ids, scores in zip(data.query_ids, top_ids[:, :run_depth], top_scores[:, :run_depth])
        for rank, (doc, score) in enumerate(zip(ids, scores), start=1)
    ]
    metrics["search"] = search
    return metrics, run
