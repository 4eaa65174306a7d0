"""Index parallel corpora for batch building without holding texts as Python objects.

Texts live in Arrow arrays (:class:`TextStore`), deduplicated by a 64-bit hash,
and everything the sampler needs is a NumPy array of ids. A 2-million-row corpus
where ~5 questions share each passage thus costs its questions, its unique
passages and their sentences once, plus a few integers per row.

Two inputs share one code path: a directory written by ``mtqa translate`` and
``lareqa:PATH`` (one SQuAD-style JSON per language with ``sentences`` and
``sentence_breaks``, as XQuAD-R and MLQA-R ship).
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterator

import numpy as np
import pyarrow as pa
import xxhash

from ..errors import MtqaError
from ..formats import lareqa, parallel_corpus
from ..paths import resolve_eval_data


def text_key(text: str) -> int:
    return xxhash.xxh3_64_intdigest(text.encode("utf-8"))


class TextStore:
    """Append-only strings in Arrow chunks, addressed by integer id.

    ``add_many`` stores each distinct string of a column once, with a 64-bit hash.
    Equal strings added by different calls get different ids until :meth:`seal`
    maps every id to the first id holding the same text (``canonical``): 8 bytes
    per text, where a dict of every text seen would cost a hundred.
    """

    def __init__(self) -> None:
        self._chunks: list[pa.Array] = []
        self._starts: list[int] = []
        self._hashes: list[np.ndarray] = []
        self._size = 0
        self.canonical: np.ndarray | None = None

    def __len__(self) -> int:
        return self._size

    def _append(self, texts: pa.Array) -> int:
        start = self._size
        self._chunks.append(texts.cast(pa.large_string()))
        self._starts.append(start)
        self._size += len(texts)
        self.canonical = None
        return start

    def add_many(self, texts: pa.Array) -> np.ndarray:
        """Add a column of strings; returns their ids (equal texts within the column share one)."""
        encoded = texts.dictionary_encode()
        uniques = encoded.dictionary
        self._hashes.append(np.fromiter((text_key(text) for text in uniques.to_pylist()), np.uint64, len(uniques)))
        start = self._append(uniques)
        return start + encoded.indices.to_numpy(zero_copy_only=False).astype(np.int64)

    def extend(self, texts: pa.Array) -> np.ndarray:
        """Add a column of strings as they are (for texts that rarely repeat, such as questions)."""
        start = self._append(texts)
        self._hashes.append(np.arange(start, self._size, dtype=np.uint64) | np.uint64(1 << 63))  # never equal to another text
        return np.arange(start, self._size, dtype=np.int64)

    def seal(self) -> None:
        """Compute ``canonical``; call once all texts are in, before reading from several threads."""
        if self.canonical is None:
            hashes = np.concatenate(self._hashes) if self._hashes else np.empty(0, np.uint64)
            _, first, inverse = np.unique(hashes, return_index=True, return_inverse=True)
            self.canonical = first[inverse].astype(np.int64)
            self._hashes = [hashes]

    def take(self, ids: np.ndarray) -> pa.Array:
        """The texts with these ids, in order, gathered chunk by chunk.

        Concatenating the chunks first (what a chunked-array take does) would
        briefly double the store's memory.
        """
        ids = np.asarray(ids, dtype=np.int64)
        if not len(ids):
            return pa.array([], pa.large_string())
        chunk_of = np.searchsorted(self._starts, ids, side="right") - 1
        order = np.argsort(chunk_of, kind="stable")
        boundaries = np.flatnonzero(np.diff(chunk_of[order])) + 1
        parts = []
        for group in np.split(order, boundaries):
            chunk = int(chunk_of[group[0]])
            parts.append(self._chunks[chunk].take(pa.array(ids[group] - self._starts[chunk])))
        gathered = pa.concat_arrays(parts)
        return gathered.take(pa.array(np.argsort(order, kind="stable")))


@dataclass
class TextStores:
    questions: TextStore = field(default_factory=TextStore)
    passages: TextStore = field(default_factory=TextStore)
    sentences: TextStore = field(default_factory=TextStore)

    def seal(self) -> None:
        for store in (self.questions, self.passages, self.sentences):
            store.seal()


@dataclass
class Corpus:
    """One parallel corpus: examples x languages, with ids into the shared text stores."""

    name: str
    langs: list[str]
    example_ids: list[str]
    row_of: np.ndarray  # [examples, langs] -> row, or -1 where the example lacks that language
    example_of: np.ndarray  # per row: example index
    question: np.ndarray  # per row: text id
    context: np.ndarray  # per row: text id
    answer_sentence: np.ndarray  # per row: text id of the answer sentence (-1: sentences not indexed)
    answer_index: np.ndarray  # per row: index of the answer sentence within the passage
    sentences_start: np.ndarray  # per row: offset into Corpus.sentence_ids
    sentences_count: np.ndarray
    sentence_ids: np.ndarray  # flat text ids of every row's sentences
    skipped: dict[str, int] = field(default_factory=dict)

    @property
    def num_examples(self) -> int:
        return len(self.example_ids)

    def use_canonical_ids(self, stores: TextStores) -> None:
        """Give equal texts equal ids (after ``stores.seal()``), so identity checks see duplicates."""
        self.context = stores.passages.canonical[self.context]
        if len(self.sentence_ids):
            self.sentence_ids = stores.sentences.canonical[self.sentence_ids]
            self.answer_sentence = stores.sentences.canonical[self.answer_sentence]


class _Builder:
    def __init__(self, name: str, stores: TextStores, with_sentences: bool) -> None:
        self.name = name
        self.stores = stores
        self.with_sentences = with_sentences
        self.ids: list[pa.Array] = []
        self.langs: list[pa.Array] = []
        self.columns: dict[str, list[np.ndarray]] = {key: [] for key in ("question", "context", "answer", "answer_index", "start", "count")}
        self.sentence_chunks: list[np.ndarray] = []
        self.sentence_total = 0

    def add_batch(self, batch: pa.RecordBatch, where: str) -> None:
        required = ("id", "lang", "question", "context", "answer_sentence") + (("sentences",) if self.with_sentences else ())
        if any(batch.column(name).null_count for name in required):
            raise MtqaError(f"{where}: rows with missing {', '.join(required)}; give a directory written by mtqa translate")
        answer = batch.column("answer_sentence").to_numpy(zero_copy_only=False).astype(np.int64)
        if self.with_sentences:
            sentences = batch.column("sentences")
            offsets = sentences.offsets.to_numpy()
            starts, counts = offsets[:-1] - offsets[0], np.diff(offsets)
            outside = (answer < 0) | (answer >= counts)
            if outside.any():
                bad = int(np.flatnonzero(outside)[0])
                raise MtqaError(
                    f"{where}: row {bad} has answer_sentence {answer[bad]} outside its {counts[bad]} sentences; rebuild it with mtqa translate"
                )
            sentence_ids = self.stores.sentences.add_many(sentences.flatten())
            answer_ids = sentence_ids[starts + answer]
        else:  # passage positives without hard negatives never read a sentence
            sentence_ids = np.empty(0, np.int64)
            starts = counts = answer_ids = np.full(len(answer), -1, dtype=np.int64)
        self.ids.append(batch.column("id").cast(pa.string()))
        self.langs.append(batch.column("lang").cast(pa.string()))
        self.columns["question"].append(self.stores.questions.extend(batch.column("question")))
        self.columns["context"].append(self.stores.passages.add_many(batch.column("context")))
        self.columns["answer"].append(answer_ids)
        self.columns["answer_index"].append(answer)
        self.columns["start"].append(starts + self.sentence_total)
        self.columns["count"].append(counts)
        self.sentence_chunks.append(sentence_ids)
        self.sentence_total += len(sentence_ids)

    def build(self) -> Corpus:
        column = {name: np.concatenate(chunks) for name, chunks in self.columns.items()}
        # Example and language indices in order of first appearance, computed by Arrow.
        ids = pa.chunked_array(self.ids).combine_chunks().dictionary_encode()
        codes = pa.chunked_array(self.langs).combine_chunks().dictionary_encode()
        column["example"] = ids.indices.to_numpy().astype(np.int64)
        column["lang"] = codes.indices.to_numpy().astype(np.int64)
        example_ids = ids.dictionary.to_pylist()
        langs = codes.dictionary.to_pylist()
        # A repeated (id, lang) keeps its first row.
        flat = column["example"] * len(langs) + column["lang"]
        _, first = np.unique(flat, return_index=True)
        keep = np.zeros(len(flat), dtype=bool)
        keep[first] = True
        skipped = {"duplicate (id, lang) row": int((~keep).sum())} if not keep.all() else {}
        column = {name: values[keep] for name, values in column.items()}
        row_of = np.full((len(example_ids), len(langs)), -1, dtype=np.int64)
        row_of[column["example"], column["lang"]] = np.arange(len(column["example"]))
        return Corpus(
            name=self.name,
            langs=langs,
            example_ids=example_ids,
            row_of=row_of,
            example_of=column["example"],
            question=column["question"],
            context=column["context"],
            answer_sentence=column["answer"],
            answer_index=column["answer_index"],
            sentences_start=column["start"],
            sentences_count=column["count"],
            sentence_ids=np.concatenate(self.sentence_chunks),
            skipped=skipped,
        )


def _lareqa_batches(directory: Path, articles: set[int] | None) -> Iterator[tuple[pa.RecordBatch, str]]:
    for path in lareqa.language_files(directory):
        rows = {key: [] for key in parallel_corpus.INDEX_COLUMNS}
        for paragraph in lareqa.read_language(path, articles):
            for qa in paragraph.questions:
                rows["id"].append(qa.id)
                rows["lang"].append(path.stem)
                rows["question"].append(qa.question)
                rows["context"].append(paragraph.context)
                rows["sentences"].append(paragraph.sentences)
                rows["answer_sentence"].append(qa.answer_sentence)
        if rows["id"]:
            yield pa.RecordBatch.from_pydict(rows), str(path)


def load_corpus(
    spec: str, stores: TextStores, *, articles: set[int] | None = None, name: str | None = None, with_sentences: bool = True
) -> Corpus:
    """Index ``DIR`` (mtqa translate output) or ``lareqa:PATH``; sentence texts only if ``with_sentences``."""
    if spec.startswith("lareqa:"):
        directory = resolve_eval_data(spec[len("lareqa:") :], option="--input")  # a folder, or a set name such as xquad-r
        batches = _lareqa_batches(directory, articles)
    else:
        directory = Path(spec).expanduser()
        if not directory.is_dir():
            raise MtqaError(f"input {spec} not found; give a directory written by mtqa translate, or lareqa:PATH")
        columns = [c for c in parallel_corpus.INDEX_COLUMNS if with_sentences or c != "sentences"]
        batches = parallel_corpus.iter_record_batches(directory, columns)
    builder = _Builder(name or directory.resolve().name or os.path.basename(spec), stores, with_sentences)
    for batch, where in batches:
        builder.add_batch(batch, where)
    if not builder.ids:
        raise MtqaError(f"{spec}: no examples{' in the chosen --articles' if articles else ''}; check --input and --articles")
    return builder.build()
