"""The cross-lingual similarity filter: is a translation closer to its own English source than to any other?

A fluent translation of the wrong sentence passes every surface check (script, language,
length, copy, repetition); only a multilingual sentence encoder sees that it says something
else. Three scores, all from the same embeddings:

* ``cosine``: between source and translation, checked against an absolute floor
  (``min_similarity``) that catches output unrelated to any source;
* ``margin``: the cosine minus the translation's best cosine with any *other* English source
  of its group (the passage: its question and sentences) in that language, checked against
  ``min_margin``: a translation that matches another sentence of its passage better than its own;
* ``source_margin``: the cosine minus the source's best cosine with the *other translations*
  of its group, checked against ``min_source_margin``. A translation of some sentence from
  elsewhere is no closer to the passage's other sources than to its own, so ``margin`` misses
  it; but its source finds the passage's real translations, which share its topic, closer.

Rivals are limited to the group because that is where a misaligned translation comes from, and
because the best of a whole run's sources would climb with the run's size (and drop more good
translations the larger the input). This is margin-based filtering as in bitext mining
(LASER/LaBSE for CCMatrix and NLLB's data, where the margin looks both ways; OpusFilter's
embedding filters), calibrated by the run's own pool: a language whose cosines run low is not
penalised, while a translation that matches another sentence better than its own is caught,
however fluent.

Each unique text is encoded once per model, English sources once for all languages, and its
vector is cached beside the translations, so a rerun encodes only what is new. A model
CTranslate2 can run (:mod:`mtqa.encoders.ct2_encoder`) is encoded there in int8, several
times faster than PyTorch on a CPU (docs/translate.md has the measurement); its vectors are cached apart from PyTorch's.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterable

import numpy as np

from ...encoders import ENCODER_ENGINES
from ...encoders.ct2_encoder import QUANTIZATION, ct2_layout
from ...encoders.offline_me5 import ALIAS as OFFLINE_ME5
from ...encoders.offline_me5 import QUERY_PREFIX
from ...errors import MtqaError
from ...languages import Language
from ...paths import remembered_file_sha256
from ..cache import TranslationCache, translation_key

MIN_MARGIN_POOL = 2  # a source and at least one rival
QUANTILES = (0.05, 0.25, 0.5, 0.75, 0.95)

OPTION = "--similarity-model"  # how errors name the model
Pair = tuple[str, str, str]  # (English source, translation, language code)


def symmetric_prefix(model: str) -> str:
    """The prefix both sides get: e5 models were trained with ``query: `` for symmetric tasks such as bitext mining."""
    name = Path(model).name.lower() if model != OFFLINE_ME5 else model
    return QUERY_PREFIX if name == OFFLINE_ME5 or "-e5-" in f"-{name}-" or "e5-" in name else ""


def model_fingerprint(source: str) -> str:
    """What names the model's vectors in the cache: a local folder by the hashes of its weights and config, a hub id by itself."""
    path = Path(source)
    if not path.is_dir():
        return source
    files = sorted(p for p in path.rglob("*") if p.is_file() and p.suffix in {".safetensors", ".bin", ".json", ".model"})
    return json.dumps([[str(p.relative_to(path)), remembered_file_sha256(p)] for p in files])


def distribution(values: Iterable[float]) -> dict[str, float] | None:
    array = np.asarray([v for v in values if v is not None and np.isfinite(v)], dtype=np.float64)
    if not len(array):
        return None
    summary = {f"p{round(q * 100)}": round(float(np.quantile(array, q)), 4) for q in QUANTILES}
    return {"mean": round(float(array.mean()), 4), **summary}


@dataclass
class PairScores:
    cosine: dict[Pair, float] = field(default_factory=dict)
    margin: dict[Pair, float] = field(default_factory=dict)  # only for pairs whose group has another source
    source_margin: dict[Pair, float] = field(default_factory=dict)  # only for pairs whose group has another translation


class SimilarityScorer:
    """Encodes each unique text once (cached by model and prefix) and scores pairs per language."""

    def __init__(
        self,
        model: str,
        cache: TranslationCache | None = None,
        *,
        engine: str,
        threads: int | None = None,
        batch_size: int = 64,
        progress: bool = False,
    ) -> None:
        if engine not in ENCODER_ENGINES:
            raise MtqaError(f"--similarity-engine {engine!r} is not one of {', '.join(ENCODER_ENGINES)}")
        self.model_name, self.cache, self.engine, self.batch_size, self.progress = model, cache, engine, batch_size, progress
        self.threads = threads
        self.prefix = symmetric_prefix(model)
        self._model = None
        self._fingerprint: str | None = None
        self._source = model
        self._layout = None
        self.encoded = self.cached = 0

    def _fingerprint_of_model(self) -> str:
        if self._fingerprint is None:
            from ...encoders.load import check_model_source

            self._source = check_model_source(self.model_name, option=OPTION)
            self._layout = ct2_layout(self._source) if self.engine == "ctranslate2" else None
            identity = ["similarity", model_fingerprint(self._source), self.prefix]
            # PyTorch's vectors keep the key they always had; CTranslate2's int8 ones are told apart.
            self._fingerprint = json.dumps(identity + [f"ctranslate2-{QUANTIZATION}"] if self._layout else identity)
        return self._fingerprint

    @property
    def engine_used(self) -> str:
        """``ctranslate2-int8``, or ``torch`` (asked for, or a model CTranslate2 cannot run as sentence-transformers does)."""
        self._fingerprint_of_model()
        return f"ctranslate2-{QUANTIZATION}" if self._layout is not None else "torch"

    def _encode(self, texts: list[str]) -> np.ndarray:
        if self._layout is not None:
            from ...encoders.ct2_encoder import CT2SentenceEncoder

            if self._model is None:
                self._model = CT2SentenceEncoder(self._layout, threads=self.threads)
            return self._model.encode(texts, prefix=self.prefix, progress=self.progress)  # its own batch size
        from ...encoders.load import encode, load_encoder

        if self._model is None:
            self._model = load_encoder(self._source, option=OPTION)
        return encode(self._model, texts, prefix=self.prefix, batch_size=self.batch_size, progress=self.progress)

    def vectors(self, texts: list[str]) -> np.ndarray:
        """L2-normalised float32 vectors of ``texts`` (unique), from the cache where it has them; the model loads only if needed."""
        fingerprint = self._fingerprint_of_model()
        keys = [translation_key(fingerprint, "", "", text) for text in texts]
        found = self.cache.get_vectors(keys) if self.cache is not None else {}
        missing = [i for i, key in enumerate(keys) if key not in found]
        fresh = None
        if missing:
            fresh = self._encode([texts[i] for i in missing])
            if self.cache is not None:  # not `if self.cache`: an empty cache has len() 0
                self.cache.put_vectors([(keys[i], fresh[j].tobytes()) for j, i in enumerate(missing)])
        dim = fresh.shape[1] if fresh is not None else len(next(iter(found.values()), b"")) // 4
        result = np.zeros((len(texts), dim), dtype=np.float32)
        for i, key in enumerate(keys):
            if key in found:
                result[i] = np.frombuffer(found[key], dtype=np.float32)
        if fresh is not None:
            result[missing] = fresh
        self.encoded += len(missing)
        self.cached += len(texts) - len(missing)
        return result

    def score(self, pairs: Iterable[Pair], groups: dict[str, str] | None = None) -> PairScores:
        """Cosine for every pair; its two margins against the rivals in the pair's group.

        ``groups`` maps each English source to its group (the passage it belongs to: a question and
        its passage's sentences). Rivals are the other sources of the group, and the translations
        of those sources, in the same language, so the verdict does not depend on how large the run
        is; without groups every pair of the language is a rival. A pair without rivals gets the
        cosine check alone.
        """
        pairs = list(dict.fromkeys(pairs))
        scores = PairScores()
        if not pairs:
            return scores
        sources = list(dict.fromkeys(source for source, _, _ in pairs))
        outputs = list(dict.fromkeys(output for _, output, _ in pairs))
        source_vectors, output_vectors = self.vectors(sources), self.vectors(outputs)
        source_row = {text: i for i, text in enumerate(sources)}
        output_row = {text: i for i, text in enumerate(outputs)}
        by_language: dict[str, list[Pair]] = {}
        for pair in pairs:
            by_language.setdefault(pair[2], []).append(pair)
        for group_pairs in by_language.values():
            si = np.array([source_row[s] for s, _, _ in group_pairs])
            oi = np.array([output_row[o] for _, o, _ in group_pairs])
            cosine = np.einsum("ij,ij->i", source_vectors[si], output_vectors[oi])
            scores.cosine.update({pair: float(value) for pair, value in zip(group_pairs, cosine)})
            group_of_pair = [groups.get(s, s) for s, _, _ in group_pairs] if groups is not None else None
            best = best_rival_cosine(source_vectors, output_vectors, si, oi, group_of_pair)
            scores.margin.update({pair: float(c - b) for pair, c, b in zip(group_pairs, cosine, best) if np.isfinite(b)})
            best = best_rival_translation_cosine(source_vectors, output_vectors, si, oi, group_of_pair)
            scores.source_margin.update({pair: float(c - b) for pair, c, b in zip(group_pairs, cosine, best) if np.isfinite(b)})
        return scores


def _group_rows(group_of_pair: list[str] | None, count: int) -> list[np.ndarray]:
    """The pairs' row numbers, group by group (all in one group when there are no groups)."""
    members: dict[str, list[int]] = {}
    for i, group in enumerate(group_of_pair if group_of_pair is not None else [""] * count):
        members.setdefault(group, []).append(i)
    return [np.array(rows) for rows in members.values()]


def best_rival_cosine(
    sources: np.ndarray, outputs: np.ndarray, source_index: np.ndarray, output_index: np.ndarray, group_of_pair: list[str] | None
) -> np.ndarray:
    """Per pair, the best cosine of its output with another source of its group (-inf: no rival)."""
    best = np.full(len(source_index), -np.inf, dtype=np.float32)
    for rows in _group_rows(group_of_pair, len(source_index)):
        rivals = np.unique(source_index[rows])
        if len(rivals) < MIN_MARGIN_POOL:
            continue
        position = {source: j for j, source in enumerate(rivals)}
        for start in range(0, len(rows), 2048):
            chunk = rows[start : start + 2048]
            scores = outputs[output_index[chunk]] @ sources[rivals].T
            scores[np.arange(len(chunk)), [position[source] for source in source_index[chunk]]] = -np.inf
            best[chunk] = scores.max(axis=1)
    return best


def best_rival_translation_cosine(
    sources: np.ndarray, outputs: np.ndarray, source_index: np.ndarray, output_index: np.ndarray, group_of_pair: list[str] | None
) -> np.ndarray:
    """Per pair, the best cosine of its source with a translation of another source of its group (-inf: none).

    Neither the pair's own output (even where another source shares it) nor another output of the
    same source is a rival.
    """
    best = np.full(len(source_index), -np.inf, dtype=np.float32)
    for rows in _group_rows(group_of_pair, len(source_index)):
        candidates, inverse = np.unique(output_index[rows], return_inverse=True)
        if len(candidates) < MIN_MARGIN_POOL:
            continue
        # The one source owning each candidate, or -1 where several do: a candidate owned by the pair's source alone is not a rival.
        sole_owner = np.full(len(candidates), -1, dtype=np.int64)
        first_owner = np.full(len(candidates), -1, dtype=np.int64)
        for column, source in zip(inverse, source_index[rows]):
            if first_owner[column] == -1:
                first_owner[column] = sole_owner[column] = source
            elif first_owner[column] != source:
                sole_owner[column] = -1
        step = max(1, (1 << 24) // len(candidates))
        for start in range(0, len(rows), step):
            chunk = np.arange(start, min(start + step, len(rows)))
            scores = sources[source_index[rows[chunk]]] @ outputs[candidates].T
            scores[sole_owner[None, :] == source_index[rows[chunk]][:, None]] = -np.inf
            scores[np.arange(len(chunk)), inverse[chunk]] = -np.inf
            best[rows[chunk]] = scores.max(axis=1)
    return best


def report(scores: PairScores, failed: dict[str, int]) -> dict[str, dict[str, Any]]:
    """Per language: pairs scored, the cosine and both margins' distributions, and how many failed."""
    cosine: dict[str, list[float]] = {}
    margin: dict[str, list[float]] = {}
    source_margin: dict[str, list[float]] = {}
    for table, by_language in ((scores.cosine, cosine), (scores.margin, margin), (scores.source_margin, source_margin)):
        for (_, _, code), value in table.items():
            by_language.setdefault(code, []).append(value)
    return {
        code: {
            "pairs": len(cosine[code]),
            "cosine": distribution(cosine[code]),
            "margin": distribution(margin.get(code, [])),
            "source_margin": distribution(source_margin.get(code, [])),
            "failed": failed.get(code, 0),
        }
        for code in sorted(cosine)
    }


def language_pairs(items: Iterable[tuple[str, str, Language]]) -> list[Pair]:
    """The pairs worth scoring: non-empty outputs into languages other than English, each once."""
    return list(dict.fromkeys((s, o, lang.code) for s, o, lang in items if o.strip() and s.strip() and lang.code != "en"))
