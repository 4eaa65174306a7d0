"""BEIR-format retrieval sets: ``corpus.jsonl``, ``queries.jsonl`` and ``qrels/<split>.tsv``.

Also the TREC files train-eval writes beside its report: a run (``qid Q0 doc rank score tag``)
and the qrels it was judged against (``qid 0 doc grade``), for trec_eval or ranx.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..errors import MtqaError


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


def trec_run_lines(data: BeirSet, top_ids, top_scores, tag: str = "mtqa") -> list[str]:
    """TREC run lines: each query's retrieved documents, best first."""
    return [
        f"{qid} Q0 {data.corpus_ids[doc]} {rank} {score:.6f} {tag}"
        for qid, ids, scores in zip(data.query_ids, top_ids, top_scores)
        for rank, (doc, score) in enumerate(zip(ids, scores), start=1)
    ]


def trec_qrels_lines(data: BeirSet) -> list[str]:
    return [f"{qid} 0 {doc} {grade}" for qid, docs in data.qrels.items() for doc, grade in docs.items()]
