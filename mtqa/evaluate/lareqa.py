"""Retrieval evaluation on LAReQA-style pools (XQuAD-R, MLQA-R).

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
the best rank among its relevant sentences, over the queries whose answer exists
in two or more languages (one answer says nothing of bias), averaged over those
queries, then over query languages; the report says how many queries it covers.
Beside mAP: R@1, R@10 and MRR per setting, and a diagnostic of the monolingual
errors: the share of queries whose top-1 sentence is wrong but from the gold
paragraph (a confusion between sentences of one passage, which in-paragraph hard
negatives target).
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from ..encoders.load import Encoder
from ..errors import MtqaError
from ..formats import lareqa
from .metrics import compute, csr, per_query, relevant_ranks

SETTINGS = ("mono", "cross", "multi")


@dataclass
class LareqaSet:
    """Questions and candidate sentences of a LAReQA-format set, per language."""

    langs: list[str]
    question_ids: dict[str, list[str]]
    questions: dict[str, list[str]]
    candidates: dict[str, list[str]]  # texts, one per sentence
    candidate_context: dict[str, list[str]]
    candidate_paragraph: dict[str, list[int]]  # the paragraph each sentence belongs to, numbered per language
    answer: dict[str, dict[str, int]]  # lang -> question id -> candidate index
    question_article: dict[str, list[int]] = field(default_factory=dict)  # the article each question belongs to


def load_lareqa(directory: Path, *, articles: str | None = None, langs: list[str] | None = None) -> LareqaSet:
    """The questions and candidate sentences of a LAReQA set, from the chosen articles and languages."""
    chosen = lareqa.parse_articles(articles)
    files = lareqa.language_files(directory)
    if langs:
        unknown = sorted(set(langs) - {path.stem for path in files})
        if unknown:
            raise MtqaError(f"--eval-langs: {', '.join(unknown)} not in {directory} (it has {', '.join(p.stem for p in files)})")
        files = [path for path in files if path.stem in langs]
    data = LareqaSet(langs=[], question_ids={}, questions={}, candidates={}, candidate_context={}, candidate_paragraph={}, answer={})
    for path in files:
        lang = path.stem
        ids, questions, candidates, contexts, paragraphs, answer, articles = [], [], [], [], [], {}, []
        for number, paragraph in enumerate(lareqa.read_language(path, chosen)):
            offset = len(candidates)
            candidates += paragraph.sentences
            contexts += [paragraph.context] * len(paragraph.sentences)
            paragraphs += [number] * len(paragraph.sentences)
            for qa in paragraph.questions:
                ids.append(qa.id)
                questions.append(qa.question)
                articles.append(paragraph.article)
                answer[qa.id] = offset + qa.answer_sentence
        if not ids:
            continue
        data.langs.append(lang)
        data.question_ids[lang], data.questions[lang] = ids, questions
        data.candidates[lang], data.candidate_context[lang], data.answer[lang] = candidates, contexts, answer
        data.candidate_paragraph[lang] = paragraphs
        data.question_article[lang] = articles
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

    def top1(self, chunk_size: int) -> np.ndarray:
        """Each query's best-scoring candidate."""
        return np.concatenate(
            [self[start : start + chunk_size].argmax(axis=1) for start in range(0, self.shape[0], chunk_size)] or [np.zeros(0, int)]
        )


def _share(part: dict[str, int], whole: dict[str, int]) -> float:
    """sum(part) / sum(whole) over languages; NaN when there is no error to share out."""
    total = sum(whole.values())
    return sum(part.values()) / total if total else float("nan")


def _mean_of_finite(values) -> float:
    """The mean over languages whose rank distance could be measured; NaN when none could."""
    finite = [value for value in values if np.isfinite(value)]
    return float(np.mean(finite)) if finite else float("nan")


@dataclass
class LareqaResult:
    langs: list[str]
    mono: dict[str, float] = field(default_factory=dict)
    cross: dict[str, dict[str, float]] = field(default_factory=dict)
    multi: dict[str, float] = field(default_factory=dict)
    recall: dict[str, dict[str, float]] = field(default_factory=dict)
    rank_distance: dict[str, float] = field(default_factory=dict)
    rank_distance_queries: dict[str, int] = field(default_factory=dict)  # queries with answers in two or more languages
    mono_errors: dict[str, int] = field(default_factory=dict)  # queries whose top-1 sentence is not the answer
    mono_errors_same_paragraph: dict[str, int] = field(default_factory=dict)  # ... of which the top-1 is in the gold paragraph
    per_article: dict[str, dict[str, float]] = field(default_factory=dict)
    encode_seconds: float = 0.0
    total_seconds: float = 0.0

    def summary(self) -> dict[str, Any]:
        cross_values = [value for row in self.cross.values() for value in row.values()]
        return {
            "mono_map": float(np.mean(list(self.mono.values()))),
            "cross_map": float(np.mean(cross_values)) if cross_values else float("nan"),
            "multi_map": float(np.mean(list(self.multi.values()))),
            "rank_distance": _mean_of_finite(self.rank_distance.values()),
            "rank_distance_queries": sum(self.rank_distance_queries.values()),
            "mono_errors_same_paragraph": _share(self.mono_errors_same_paragraph, self.mono_errors),
            **{f"{setting}_{name}": value for setting, values in self.recall.items() for name, value in values.items()},
            "per_language": {
                "mono_map": self.mono,
                "multi_map": self.multi,
                "rank_distance": self.rank_distance,
                "rank_distance_queries": self.rank_distance_queries,
                "mono_errors": self.mono_errors,
                "mono_errors_same_paragraph": self.mono_errors_same_paragraph,
            },
            "cross_matrix": self.cross,
            "per_article": self.per_article,
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
    recall: dict[str, dict[str, list[float]]] = {setting: {"r@1": [], "r@10": [], "mrr": []} for setting in SETTINGS}
    by_query: dict[str, list[QueryValues]] = {metric: [] for metric in ARTICLE_METRICS}

    def score(queries: np.ndarray, pool: np.ndarray, relevant: list[list[int]], setting: str) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        indptr, indices = csr(relevant)
        ranks = relevant_ranks(_Scores(queries, pool), indptr, indices, chunk_size=chunk_size)
        for k in (1, 10):
            recall[setting][f"r@{k}"].append(float(np.mean(per_query(f"recall@{k}", ranks, indptr))))
        recall[setting]["mrr"].append(float(np.mean(per_query(f"mrr@{len(pool)}", ranks, indptr))))
        return ranks, indptr, per_query("map", ranks, indptr)

    for query_lang in langs:
        ids = data.question_ids[query_lang]
        for pool_lang in langs:
            present = [i for i, qid in enumerate(ids) if qid in data.answer[pool_lang]]
            if not present:
                continue
            relevant = [[data.answer[pool_lang][ids[i]]] for i in present]
            setting = "mono" if pool_lang == query_lang else "cross"
            ranks, _, ap = score(question_vectors[query_lang][present], candidate_vectors[pool_lang], relevant, setting)
            by_query[f"{setting}_map"].append((query_lang, present, ap))
            if setting == "mono":
                result.mono[query_lang] = float(ap.mean())
                missed = np.flatnonzero(ranks > 1)  # one answer per query: its rank says whether top 1 missed
                _count_mono_errors(data, query_lang, [present[i] for i in missed], question_vectors[query_lang][present][missed],
                                   candidate_vectors[pool_lang], result, chunk_size)  # fmt: skip
            else:
                result.cross.setdefault(query_lang, {})[pool_lang] = float(ap.mean())

    offsets = np.cumsum([0] + [len(data.candidates[lang]) for lang in langs])
    pool = np.concatenate([candidate_vectors[lang] for lang in langs])
    for query_lang in langs:
        ids = data.question_ids[query_lang]
        relevant = [[int(offsets[j]) + data.answer[lang][qid] for j, lang in enumerate(langs) if qid in data.answer[lang]] for qid in ids]
        ranks, indptr, ap = score(question_vectors[query_lang], pool, relevant, "multi")
        result.multi[query_lang] = float(ap.mean())
        by_query["multi_map"].append((query_lang, list(range(len(ids))), ap))
        by_query["rank_distance"].append((query_lang, list(range(len(ids))), per_query("rank_distance", ranks, indptr)))
        # Mean over this language's queries here; summary() then averages over languages.
        result.rank_distance[query_lang] = compute("rank_distance", ranks, indptr)
        result.rank_distance_queries[query_lang] = int(sum(len(items) >= 2 for items in relevant))
    result.recall = {
        setting: {name: float(np.mean(values)) for name, values in by_name.items() if values} for setting, by_name in recall.items()
    }
    if data.question_article:
        result.per_article = _per_article(data, by_query)
    result.total_seconds = time.perf_counter() - started
    return result


QueryValues = tuple[str, list[int], np.ndarray]  # query language, its questions' indices, one value each
ARTICLE_METRICS = ("mono_map", "cross_map", "multi_map", "rank_distance")


def _per_article(data: LareqaSet, by_query: dict[str, list[QueryValues]]) -> dict[str, dict[str, float]]:
    """Each article's figures, computed as the summary computes them but over its own questions, and its number of
    questions: the weights that make the article figures average to the summary's when every question is in every
    language (as in XQuAD-R). A bootstrap over articles resamples these."""
    every = sorted(set().union(*(set(articles) for articles in data.question_article.values())))
    position = {article: i for i, article in enumerate(every)}
    article_of = {lang: np.array([position[a] for a in articles], dtype=int) for lang, articles in data.question_article.items()}
    questions = np.max([np.bincount(article_of[lang], minlength=len(every)) for lang in data.langs], axis=0)
    figures = {}
    for metric, parts in by_query.items():
        means = []  # one row per language (mono, multi) or language pair (cross): its mean over each article's questions
        for lang, indices, values in parts:
            labels, finite = article_of[lang][indices], np.isfinite(values)
            counts = np.bincount(labels[finite], minlength=len(every))
            sums = np.bincount(labels[finite], weights=values[finite], minlength=len(every))
            means.append(np.where(counts > 0, sums / np.maximum(counts, 1), np.nan))
        stacked = np.array(means) if means else np.full((1, len(every)), np.nan)
        judged = np.isfinite(stacked).sum(axis=0)  # an article no row can judge gets NaN, without numpy's warning
        figures[metric] = np.where(judged > 0, np.nansum(stacked, axis=0) / np.maximum(judged, 1), np.nan)
    return {
        str(article): {"questions": int(questions[i]), **{metric: round(float(column[i]), 6) for metric, column in figures.items()}}
        for i, article in enumerate(every)
    }


def _count_mono_errors(
    data: LareqaSet, lang: str, missed: list[int], queries: np.ndarray, pool: np.ndarray, result: LareqaResult, chunk_size: int
) -> None:
    """``lang``'s queries that miss at top 1 (``missed``, with their vectors), and how many of them rank another
    sentence of the gold paragraph first; only the misses are scored again, to find what they put first."""
    answers = np.array([data.answer[lang][data.question_ids[lang][i]] for i in missed], dtype=int)
    top = _Scores(queries, pool).top1(chunk_size)
    paragraph = np.asarray(data.candidate_paragraph[lang])
    result.mono_errors[lang] = len(missed)
    result.mono_errors_same_paragraph[lang] = int((paragraph[top] == paragraph[answers]).sum())
