"""The cross-lingual similarity filter: is a translation closer to its own English source than to any other?

A fluent translation of the wrong sentence passes every surface check (script, language,
length, copy, repetition); only a multilingual sentence encoder sees that it says something
else. Two scores, both from the same embeddings:

* ``cosine``: between source and translation, checked against an absolute floor
  (``min_similarity``) that catches output unrelated to any source;
* ``margin``: the cosine minus the translation's best cosine with any *other* English source
  of the run in that language, checked against ``min_margin`` (a small negative tolerance).
  This is margin-based filtering as in bitext mining (LASER/LaBSE for CCMatrix and NLLB's
  data, OpusFilter's embedding filters), calibrated by the run's own pool: a language whose
  cosines run low is not penalised, while a translation that matches another sentence better
  than its own is caught, however fluent.

Each unique text is encoded once per model, English sources once for all languages, and its
vector is cached beside the translations, so a rerun encodes only what is new.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterable

import numpy as np

from ..encoders.offline_me5 import ALIAS as OFFLINE_ME5
from ..languages import Language
from ..paths import file_sha256
from .cache import TranslationCache, translation_key

MIN_MARGIN_POOL = 8  # fewer English sources in a language: too few rivals for a margin, cosine only
QUANTILES = (0.05, 0.25, 0.5, 0.75, 0.95)

OPTION = "--similarity-model"  # how errors name the model
Pair = tuple[str, str, str]  # (English source, translation, language code)


def symmetric_prefix(model: str) -> str:
    """The prefix both sides get: e5 models were trained with ``query: `` for symmetric tasks such as bitext mining."""
    name = Path(model).name.lower() if model != OFFLINE_ME5 else model
    return "query: " if name == OFFLINE_ME5 or "-e5-" in f"-{name}-" or "e5-" in name else ""


def model_fingerprint(source: str) -> str:
    """What names the model's vectors in the cache: a local folder by the hashes of its weights and config, a hub id by itself."""
    path = Path(source)
    if not path.is_dir():
        return source
    files = sorted(p for p in path.rglob("*") if p.is_file() and p.suffix in {".safetensors", ".bin", ".json", ".model"})
    return json.dumps([[str(p.relative_to(path)), file_sha256(p)] for p in files])


def best_other_cosine(sources: np.ndarray, outputs: np.ndarray, source_index: np.ndarray, output_index: np.ndarray,
                      chunk: int = 2048) -> np.ndarray:
    """Per pair *i*, the highest cosine of ``outputs[output_index[i]]`` with any source but ``sources[source_index[i]]``.

    ``sources`` and ``outputs`` are one language's unique L2-normalised vectors; needs at least two sources.
    """
    best = np.empty(len(source_index), dtype=np.float32)
    for start in range(0, len(source_index), chunk):
        rows = slice(start, start + chunk)
        scores = outputs[output_index[rows]] @ sources.T
        scores[np.arange(scores.shape[0]), source_index[rows]] = -np.inf
        best[rows] = scores.max(axis=1)
    return best


def distribution(values: Iterable[float]) -> dict[str, float] | None:
    array = np.asarray([v for v in values if v is not None and np.isfinite(v)], dtype=np.float64)
    if not len(array):
        return None
    summary = {f"p{round(q * 100)}": round(float(np.quantile(array, q)), 4) for q in QUANTILES}
    return {"mean": round(float(array.mean()), 4), **summary}


@dataclass
class PairScores:
    cosine: dict[Pair, float] = field(default_factory=dict)
    margin: dict[Pair, float] = field(default_factory=dict)  # only where the language has MIN_MARGIN_POOL sources


class SimilarityScorer:
    """Encodes each unique text once (cached by model and prefix) and scores pairs per language."""

    def __init__(self, model: str, cache: TranslationCache | None = None, *, batch_size: int = 64, progress: bool = False) -> None:
        self.model_name, self.cache, self.batch_size, self.progress = model, cache, batch_size, progress
        self.prefix = symmetric_prefix(model)
        self._model = None
        self._fingerprint: str | None = None
        self._source = model
        self.encoded = self.cached = 0

    def _fingerprint_of_model(self) -> str:
        if self._fingerprint is None:
            from ..encoders.load import check_model_source

            self._source = check_model_source(self.model_name, option=OPTION)
            self._fingerprint = json.dumps(["similarity", model_fingerprint(self._source), self.prefix])
        return self._fingerprint

    def vectors(self, texts: list[str]) -> np.ndarray:
        """L2-normalised float32 vectors of ``texts`` (unique), from the cache where it has them; the model loads only if needed."""
        fingerprint = self._fingerprint_of_model()
        keys = [translation_key(fingerprint, "", "", text) for text in texts]
        found = self.cache.get_vectors(keys) if self.cache is not None else {}
        missing = [i for i, key in enumerate(keys) if key not in found]
        fresh = None
        if missing:
            from ..encoders.load import encode, load_encoder

            if self._model is None:
                self._model = load_encoder(self._source, option=OPTION)
            fresh = encode(self._model, [texts[i] for i in missing], prefix=self.prefix, batch_size=self.batch_size, progress=self.progress)
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

    def score(self, pairs: Iterable[Pair]) -> PairScores:
        """Cosine for every pair; the margin within each language that has at least MIN_MARGIN_POOL sources."""
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
        for code, group in by_language.items():
            own_sources = list(dict.fromkeys(source_row[s] for s, _, _ in group))
            own_outputs = list(dict.fromkeys(output_row[o] for _, o, _ in group))
            local_source = {row: i for i, row in enumerate(own_sources)}
            local_output = {row: i for i, row in enumerate(own_outputs)}
            xs, ys = source_vectors[own_sources], output_vectors[own_outputs]
            si = np.array([local_source[source_row[s]] for s, _, _ in group])
            oi = np.array([local_output[output_row[o]] for _, o, _ in group])
            cosine = np.einsum("ij,ij->i", xs[si], ys[oi])
            scores.cosine.update({pair: float(value) for pair, value in zip(group, cosine)})
            if len(own_sources) >= MIN_MARGIN_POOL:
                margin = cosine - best_other_cosine(xs, ys, si, oi)
                scores.margin.update({pair: float(value) for pair, value in zip(group, margin)})
        return scores


def report(scores: PairScores, failed: dict[str, int]) -> dict[str, dict[str, Any]]:
    """Per language: pairs scored, the cosine and margin distributions, and how many failed."""
    languages = sorted({code for _, _, code in scores.cosine})
    return {
        code: {
            "pairs": sum(1 for pair in scores.cosine if pair[2] == code),
            "cosine": distribution(v for pair, v in scores.cosine.items() if pair[2] == code),
            "margin": distribution(v for pair, v in scores.margin.items() if pair[2] == code),
            "failed": failed.get(code, 0),
        }
        for code in languages
    }


def language_pairs(items: Iterable[tuple[str, str, Language]]) -> list[Pair]:
    """The pairs worth scoring: non-empty outputs into languages other than English, each once."""
    return list(dict.fromkeys((s, o, lang.code) for s, o, lang in items if o.strip() and s.strip() and lang.code != "en"))
