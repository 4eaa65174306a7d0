"""Index parallel corpora for batch building with texts on disk and ids in memory.

Texts go to an unlinked spill file as they are read (:class:`TextStore`), equal
ones deduplicated by a 64-bit hash, and come back through a memory map only for
the rows a shard writes. Everything the sampler needs is a NumPy array of ids,
so the memory a build holds grows with its rows by a few integers each, not with
the length of its texts.

Two inputs share one code path: a directory written by ``mtqa translate`` and
``lareqa:PATH`` (one SQuAD-style JSON per language with ``sentences`` and
``sentence_breaks``, as XQuAD-R and MLQA-R ship).
"""

from __future__ import annotations

import mmap
import os
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterator

import numpy as np
import pyarrow as pa
import xxhash

from ..errors import MtqaError
from ..formats import lareqa, parallel_corpus
from ..paths import resolve_data_set


def text_key(text: str) -> int:
    return xxhash.xxh3_64_intdigest(text.encode("utf-8"))


class TextStore:
    """Append-only strings in a spill file, addressed by integer id.

    Memory holds one byte offset per text and, for texts added with ``add_many``,
    one 64-bit hash. The UTF-8 bytes are appended to an unlinked temporary file in
    ``spill_dir`` (nothing is left behind, even after a kill) and read back through
    a read-only memory map after :meth:`seal`: those pages belong to the kernel's
    file cache, which it may drop and reread at will, not to the process's heap.

    ``add_many`` stores each distinct string of a column once. Equal strings added
    by different calls get different ids until :meth:`seal` maps every id to the
    first id holding the same text (``canonical``).
    """

    def __init__(self, spill_dir: Path | None = None) -> None:
        self._file = tempfile.TemporaryFile(dir=spill_dir, prefix=".mtqa-texts-")
        self._offsets: list[np.ndarray] = [np.zeros(1, np.int64)]
        self._hashes: list[np.ndarray | int] = []  # an int: that many texts added with ``extend`` (never deduplicated)
        self._size = 0
        self._bytes = 0
        self._texts: pa.LargeStringArray | None = None
        self._map: mmap.mmap | None = None
        self.canonical: np.ndarray | None = None

    def __len__(self) -> int:
        return self._size

    def _append(self, texts: pa.Array) -> int:
        if self._texts is not None:
            raise RuntimeError("TextStore is sealed: add every text before seal()")
        texts = texts.cast(pa.large_string())
        offsets = np.frombuffer(texts.buffers()[1], np.int64, count=len(texts) + 1, offset=texts.offset * 8)
        data = texts.buffers()[2]
        if data is not None and offsets[-1] > offsets[0]:
            self._file.write(memoryview(data)[offsets[0] : offsets[-1]])
        self._offsets.append(offsets[1:] - offsets[0] + self._bytes)
        self._bytes += int(offsets[-1] - offsets[0])
        start = self._size
        self._size += len(texts)
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
        self._hashes.append(len(texts))
        return np.arange(start, self._size, dtype=np.int64)

    def seal(self) -> None:
        """Map the spill file and compute ``canonical``; call once all texts are in, before reading from several threads."""
        if self._texts is not None:
            return
        self._file.flush()
        offsets = pa.py_buffer(np.concatenate(self._offsets))
        self._offsets = []
        if self._bytes:
            self._map = mmap.mmap(self._file.fileno(), 0, access=mmap.ACCESS_READ)
            data = pa.py_buffer(self._map)
        else:  # mmap refuses an empty file
            data = pa.py_buffer(b"")
        self._texts = pa.LargeStringArray.from_buffers(self._size, offsets, data)
        if any(isinstance(part, np.ndarray) for part in self._hashes):
            self.canonical = self._canonical_ids()
        self._hashes = []

    def _canonical_ids(self) -> np.ndarray:
        start, parts = 0, []
        for part in self._hashes:  # texts added with ``extend`` get keys no hash can equal
            keys = part if isinstance(part, np.ndarray) else np.arange(start, start + part, dtype=np.uint64) | np.uint64(1 << 63)
            parts.append(keys)
            start += len(keys)
        _, first, inverse = np.unique(np.concatenate(parts), return_index=True, return_inverse=True)
        return first[inverse].astype(np.int64)

    def take(self, ids: np.ndarray) -> pa.Array:
        """The texts with these ids, in order (after :meth:`seal`)."""
        if self._texts is None:
            raise RuntimeError("TextStore.take before seal()")
        return self._texts.take(pa.array(np.asarray(ids, dtype=np.int64)))


@dataclass
class TextStores:
    """The three stores of a build; their spill files go to ``spill_dir`` (the system's temporary folder if None)."""

    spill_dir: Path | None = None
    questions: TextStore = field(init=False)
    passages: TextStore = field(init=False)
    sentences: TextStore = field(init=False)

    def __post_init__(self) -> None:
        self.questions, self.passages, self.sentences = (TextStore(self.spill_dir) for _ in range(3))

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


class RowColumns:
    """Per-row integer columns, filled in place when the row count is known beforehand.

    Appending record-batch-sized chunks and joining them at the end would hold each column
    twice, and the allocator keeps the freed chunks; with ``expected`` rows nothing is copied.
    """

    def __init__(self, names: tuple[str, ...], expected: int | None = None) -> None:
        self.filled = 0
        self.arrays = {name: np.empty(expected, np.int64) for name in names} if expected else None
        self.chunks: dict[str, list[np.ndarray]] = {name: [] for name in names}

    def append(self, values: dict[str, np.ndarray]) -> None:
        count = len(next(iter(values.values())))
        if self.arrays is not None and self.filled + count > len(next(iter(self.arrays.values()))):
            for name, array in self.arrays.items():  # more rows than announced: carry on in chunks
                self.chunks[name].append(array[: self.filled])
            self.arrays = None
        for name, array in values.items():
            if self.arrays is not None:
                self.arrays[name][self.filled : self.filled + count] = array
            else:
                self.chunks[name].append(array)
        self.filled += count

    def joined(self) -> dict[str, np.ndarray]:
        if self.arrays is not None:
            return {name: array[: self.filled] for name, array in self.arrays.items()}
        return {name: np.concatenate(self.chunks.pop(name)) if self.chunks[name] else np.empty(0, np.int64) for name in list(self.chunks)}


class _Builder:
    def __init__(self, name: str, stores: TextStores, with_sentences: bool, expected_rows: int | None = None) -> None:
        self.name = name
        self.stores = stores
        self.with_sentences = with_sentences
        self.ids: list[pa.Array] = []
        self.langs: list[pa.Array] = []
        self.columns = RowColumns(("question", "context", "answer", "answer_index", "start", "count"), expected_rows)
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
        self.columns.append(
            {
                "question": self.stores.questions.extend(batch.column("question")),
                "context": self.stores.passages.add_many(batch.column("context")),
                "answer": answer_ids,
                "answer_index": answer,
                "start": starts + self.sentence_total,
                "count": counts,
            }
        )
        self.sentence_chunks.append(sentence_ids)
        self.sentence_total += len(sentence_ids)

    def build(self) -> Corpus:
        column = self.columns.joined()
        sentence_ids = np.concatenate(self.sentence_chunks)
        self.sentence_chunks = []
        # Example and language indices in order of first appearance: Arrow encodes the chunks with one dictionary.
        ids = pa.chunked_array(self.ids, pa.string()).dictionary_encode()
        codes = pa.chunked_array(self.langs, pa.string()).dictionary_encode()
        self.ids, self.langs = [], []
        column["example"] = _indices(ids)
        column["lang"] = _indices(codes)
        example_ids = ids.chunk(0).dictionary.to_pylist()
        langs = codes.chunk(0).dictionary.to_pylist()
        del ids, codes
        row_of = np.full((len(example_ids), len(langs)), -1, dtype=np.int64)
        row_of[column["example"], column["lang"]] = np.arange(len(column["example"]))
        skipped = {}
        if int((row_of >= 0).sum()) < len(column["example"]):  # a repeated (id, lang): keep its first row
            _, first = np.unique(column["example"] * len(langs) + column["lang"], return_index=True)
            keep = np.zeros(len(column["example"]), dtype=bool)
            keep[first] = True
            skipped = {"duplicate (id, lang) row": int((~keep).sum())}
            column = {name: values[keep] for name, values in column.items()}
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
            sentence_ids=sentence_ids,
            skipped=skipped,
        )


def _indices(encoded: pa.ChunkedArray) -> np.ndarray:
    indices = np.empty(len(encoded), np.int64)
    start = 0
    for chunk in encoded.chunks:
        indices[start : start + len(chunk)] = chunk.indices.to_numpy()
        start += len(chunk)
    return indices


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
        directory = resolve_data_set(spec[len("lareqa:") :], option="--input")  # a folder, or a set name such as xquad-r
        batches = _lareqa_batches(directory, articles)
        expected = None
    else:
        directory = Path(spec).expanduser()
        if not directory.is_dir():
            raise MtqaError(f"input {spec} not found; give a directory written by mtqa translate, or lareqa:PATH")
        columns = [c for c in parallel_corpus.INDEX_COLUMNS if with_sentences or c != "sentences"]
        batches = parallel_corpus.iter_record_batches(directory, columns)
        expected = parallel_corpus.count_rows(directory)
    builder = _Builder(name or directory.resolve().name or os.path.basename(spec), stores, with_sentences, expected)
    for batch, where in batches:
        builder.add_batch(batch, where)
    if not builder.ids:
        raise MtqaError(f"{spec}: no examples{' in the chosen --articles' if articles else ''}; check --input and --articles")
    return builder.build()
