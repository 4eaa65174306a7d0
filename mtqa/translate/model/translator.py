"""A translation model through CTranslate2: tokenise -> translate_batch -> detokenise, with a cache.

Every family (NLLB-200, M2M-100, MADLAD-400, OPUS-MT) runs this one path; how each lays out
its source, target prefix and output lives in :mod:`.tokenizer`.
"""

from __future__ import annotations

import json
import time
from collections import deque
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, Iterable, Iterator, Protocol, Sequence

from ...errors import MtqaError
from ...faults import crash_point
from ...languages import joins_without_spaces
from ...paths import available_cores
from ...stages import release_free_memory
from ..cache import TranslationCache
from ..plan import Piece, plan_pieces
from .tokenizer import ModelTokenizer

# How output tokens become text; part of every cache key, so a cache written by an older
# version (1 kept stray language codes in the text) is never read back.
TEXT_VERSION = 2
MAX_BATCH_TOKENS = 4096  # CTranslate2's token batches (batch_type="tokens"), and Apertium's chunks


@dataclass(frozen=True)
class DecodingOptions:
    """Everything besides the model and text that changes a translation (part of the cache key)."""

    beam_size: int = 4
    repetition_penalty: float = 1.0
    no_repeat_ngram_size: int = 0
    max_decoding_length: int = 256
    min_decoding_length: int = 0
    max_input_tokens: int = 512

    def namespace(self, model_fingerprint: str, family: str = "nllb") -> str:
        # NLLB's keys stay as they were before families existed, so its caches keep serving.
        extra = {} if family == "nllb" else {"family": family}
        return json.dumps({"model": model_fingerprint, **asdict(self), "text_version": TEXT_VERSION, **extra}, sort_keys=True)


class ModelTranslator:
    """A CTranslate2 translation model with its tokenizer.

    ``load_model=False`` gives the tokenizer alone, for a dry run or for a driver whose
    translation runs elsewhere (the Ray executor). With ``device="cuda"`` every visible GPU holds a replica.
    """

    def __init__(
        self,
        model_dir: Path,
        *,
        device: str = "cpu",
        compute_type: str = "default",
        threads: int | None = None,
        max_batch_tokens: int = MAX_BATCH_TOKENS,
        load_model: bool = True,
        model: str = "",
        tokenizer: ModelTokenizer | None = None,
    ) -> None:
        import ctranslate2

        self.tokenizer = tokenizer or ModelTokenizer(Path(model_dir), model=model)
        self.languages = self.tokenizer.languages
        gpus = ctranslate2.get_cuda_device_count()
        if device == "auto":
            device = "cuda" if gpus > 0 else "cpu"
        if device == "cuda" and gpus == 0 and load_model:
            raise MtqaError("--device cuda was asked for, but CTranslate2 sees no CUDA device; use --device cpu")
        self.device = device
        self.max_batch_tokens = max_batch_tokens
        self.replicas = gpus if device == "cuda" and load_model else 1
        self.model = None
        if not load_model:
            return
        threads = threads or (available_cores() if device == "cpu" else 1)
        try:
            self.model = ctranslate2.Translator(
                str(model_dir),
                device=device,
                device_index=list(range(self.replicas)),
                compute_type=compute_type,
                inter_threads=1,
                intra_threads=threads,
            )
        except (RuntimeError, ValueError) as error:
            raise MtqaError(f"cannot load CTranslate2 model {model_dir}: {error}") from None
        release_free_memory()  # loading reads and frees the weights in blocks the allocator would otherwise keep

    @property
    def family(self) -> str:
        return self.tokenizer.family.name

    def tokenize(self, text: str, source_lang: str, target_lang: str) -> list[str]:
        return self.tokenizer.tokenize(text, source_lang, target_lang)

    def detokenize(self, tokens: Sequence[str]) -> str:
        return self.tokenizer.detokenize(tokens)

    def translate_tokens(
        self, sources: list[list[str]], target_langs: list[str], options: DecodingOptions, *, asynchronous: bool = False
    ) -> list:
        """Translate tokenised sources; returns output tokens without the target code.

        ``asynchronous=True`` returns a function that waits for them: with several GPUs,
        several calls then run at once, one per replica.
        """
        prefixes = [self.tokenizer.target_prefix(lang) for lang in target_langs]
        results = self.model.translate_batch(
            sources,
            target_prefix=None if self.tokenizer.family.tag_in_source else prefixes,
            beam_size=options.beam_size,
            repetition_penalty=options.repetition_penalty,
            no_repeat_ngram_size=options.no_repeat_ngram_size,
            max_decoding_length=options.max_decoding_length,
            min_decoding_length=options.min_decoding_length,
            max_batch_size=self.max_batch_tokens,
            batch_type="tokens",
            asynchronous=asynchronous,
        )
        output = self.tokenizer.output
        if asynchronous:
            return lambda: [output(result.result().hypotheses[0]) for result in results]
        return [output(result.hypotheses[0]) for result in results]

    def translate_chunk(
        self, texts: list[str], target_langs: list[str], source_lang: str, options: DecodingOptions, *, asynchronous: bool = False
    ) -> list:
        """Tokenise and translate one chunk of texts (what every executor runs)."""
        sources = [self.tokenize(text, source_lang, target) for text, target in zip(texts, target_langs)]
        return self.translate_tokens(sources, target_langs, options, asynchronous=asynchronous)


# chunk number, source texts, target languages, source language: executors tokenise a chunk when they run it,
# so the driver never holds every text's tokens at once.
ChunkWork = tuple[int, list[str], list[str], str]


class Translator(Protocol):
    """What :func:`translate_segments` needs of a translator: ModelTranslator (CTranslate2) and ApertiumTranslator are two."""

    family: str
    max_batch_tokens: int

    def tokenize(self, text: str, source_lang: str, target_lang: str) -> list[str]: ...

    def detokenize(self, tokens: Sequence[str]) -> str: ...


class ChunkExecutor(Protocol):
    """Where chunks are translated: LocalExecutor (this process), RayExecutor (a cluster), ApertiumExecutor (parallel pipelines).

    ``run`` yields each chunk's output tokens with its number, in any order.
    """

    name: str

    def run(self, work: Iterable[ChunkWork]) -> Iterator[tuple[int, list[list[str]]]]: ...


class LocalExecutor:
    """Translates chunks in this process, in order; with several GPUs, one chunk in flight per replica."""

    name = "local"

    def __init__(self, translator: ModelTranslator, options: DecodingOptions) -> None:
        self.translator = translator
        self.options = options

    def run(self, work: Iterable[ChunkWork]) -> Iterator[tuple[int, list[list[str]]]]:
        if self.translator.replicas == 1:
            for index, texts, targets, source_lang in work:
                yield index, self.translator.translate_chunk(texts, targets, source_lang, self.options)
            return
        pending: deque = deque()
        for index, texts, targets, source_lang in work:
            pending.append((index, self.translator.translate_chunk(texts, targets, source_lang, self.options, asynchronous=True)))
            if len(pending) >= self.translator.replicas:
                index, wait = pending.popleft()
                yield index, wait()
        while pending:
            index, wait = pending.popleft()
            yield index, wait()


@dataclass
class TranslationStats:
    unique_segments: int = 0
    pieces: int = 0  # unique segments after splitting over-long ones: translated + cache_hits
    cache_hits: int = 0
    translated: int = 0
    split_long: int = 0
    source_tokens: int = 0
    output_tokens: int = 0
    seconds: float = 0.0

    @property
    def tokens_per_second(self) -> float:
        return self.output_tokens / self.seconds if self.seconds else 0.0

    def report(self, requested: int) -> dict[str, Any]:
        """Segment counts for the manifest; ``requested`` counts every (text, language) asked for, repeats included."""
        return {
            "requested": requested,
            "unique": self.unique_segments,
            "dedup_factor": round(requested / max(1, self.unique_segments), 3),
            "pieces": self.pieces,
            "translated": self.translated,
            "cache_hits": self.cache_hits,
            "split_long": self.split_long,
            "source_tokens": self.source_tokens,
            "output_tokens": self.output_tokens,
        }


def translate_segments(
    translator: Translator,
    cache: TranslationCache,
    namespace: str,
    segments: Sequence[tuple[str, str]],
    source_lang: str,
    options: DecodingOptions,
    *,
    progress: bool = True,
    chunk_tokens: int | None = None,
    executor: ChunkExecutor | None = None,
) -> tuple[dict[tuple[str, str], str], TranslationStats]:
    """Translate unique ``(text, target_flores)`` segments, reusing and filling the cache.

    Work is planned over every piece, cached or not, in a fixed order, and each
    chunk is committed to the cache at once: a rerun after a crash sees the same
    chunks and translates exactly the ones that were missing.
    """
    stats = TranslationStats()
    started = time.perf_counter()
    unique = list(dict.fromkeys(segments))
    stats.unique_segments = len(unique)

    # Every target's tag is one token, so any target measures a text's length.
    reference = unique[0][1] if unique else source_lang
    planned = plan_pieces(
        lambda text: translator.tokenize(text, source_lang, reference), cache, namespace, unique, source_lang, options.max_input_tokens
    )
    pieces_of, pieces, cached = planned.pieces_of, planned.pieces, planned.cached
    stats.split_long, stats.pieces, stats.cache_hits = planned.split_long, len(pieces), planned.cache_hits
    plan = sorted(pieces.values(), key=lambda p: (p.length, p.text, p.target))
    chunks = chunked(plan, chunk_tokens or translator.max_batch_tokens * 4)

    executor = executor or LocalExecutor(translator, options)
    todo_of = {index: [piece for piece in chunk if piece.key not in cached] for index, chunk in enumerate(chunks)}
    _translate_chunks(translator, cache, executor, todo_of, source_lang, cached, stats, progress=progress)
    joined = {
        (text, target): ("" if joins_without_spaces(target) else " ").join(cached[pieces[(part, target)].key] for part in parts)
        for (text, target), parts in pieces_of.items()
    }
    stats.seconds = time.perf_counter() - started
    return joined, stats


def _translate_chunks(
    translator: Translator,
    cache: TranslationCache,
    executor: ChunkExecutor,
    todo_of: dict[int, list[Piece]],
    source_lang: str,
    cached: dict[str, str],
    stats: TranslationStats,
    *,
    progress: bool,
) -> None:
    """Translate each chunk's uncached pieces through ``executor``, committing every chunk to the cache as it arrives."""
    from tqdm.auto import tqdm

    work = ((index, [p.text for p in todo], [p.target for p in todo], source_lang) for index, todo in todo_of.items() if todo)
    total = sum(len(todo) for todo in todo_of.values())
    bar = tqdm(total=total, unit="seg", desc=f"translate ({executor.name})", disable=not progress or not total, dynamic_ncols=True)
    started = time.perf_counter()
    # Chunks may finish in any order (Ray); each is committed to the cache the moment it arrives.
    for index, outputs in executor.run(work):
        todo = todo_of[index]
        texts = [translator.detokenize(tokens) for tokens in outputs]
        cache.put_many((piece.key, text) for piece, text in zip(todo, texts))
        crash_point("translate.chunk")
        cached.update((piece.key, text) for piece, text in zip(todo, texts))
        stats.translated += len(todo)
        stats.source_tokens += sum(p.length for p in todo)
        stats.output_tokens += sum(len(tokens) for tokens in outputs)
        bar.update(len(todo))
        bar.set_postfix_str(f"{stats.output_tokens / (time.perf_counter() - started):.0f} tok/s")
    bar.close()


def chunked(plan: list[Piece], chunk_tokens: int) -> list[list[Piece]]:
    """The planned pieces in order, cut into chunks of at most ``chunk_tokens`` source tokens (a longer piece alone)."""
    chunks: list[list[Piece]] = [[]]
    size = 0
    for piece in plan:
        if chunks[-1] and size + piece.length > chunk_tokens:
            chunks.append([])
            size = 0
        chunks[-1].append(piece)
        size += piece.length
    return chunks
