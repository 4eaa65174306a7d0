"""Quality filters for translated segments, each a small class with its own name.

A filter sees the English source, the translation and the target language and
says whether the translation passes. :class:`FilterChain` runs them all and
counts failures per filter and language, so the report can say what was
dropped and why.
"""

from __future__ import annotations

import functools
import re
import statistics
import unicodedata
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from difflib import SequenceMatcher
from typing import Any

from ..languages import Language
from . import langid
from .langid import LANGID_BACKENDS

# FLORES-200 script codes -> the first word of the Unicode names of their letters.
SCRIPT_NAMES: dict[str, frozenset[str]] = {
    "Latn": frozenset({"LATIN"}),
    "Cyrl": frozenset({"CYRILLIC"}),
    "Arab": frozenset({"ARABIC"}),
    "Deva": frozenset({"DEVANAGARI"}),
    "Thai": frozenset({"THAI"}),
    "Hans": frozenset({"CJK"}),
    "Hant": frozenset({"CJK"}),
    "Jpan": frozenset({"CJK", "HIRAGANA", "KATAKANA"}),
    "Hang": frozenset({"HANGUL"}),
    "Grek": frozenset({"GREEK"}),
    "Hebr": frozenset({"HEBREW"}),
    "Ethi": frozenset({"ETHIOPIC"}),
    "Beng": frozenset({"BENGALI"}),
    "Guru": frozenset({"GURMUKHI"}),
    "Gujr": frozenset({"GUJARATI"}),
    "Orya": frozenset({"ORIYA"}),
    "Taml": frozenset({"TAMIL"}),
    "Telu": frozenset({"TELUGU"}),
    "Knda": frozenset({"KANNADA"}),
    "Mlym": frozenset({"MALAYALAM"}),
    "Sinh": frozenset({"SINHALA"}),
    "Mymr": frozenset({"MYANMAR"}),
    "Khmr": frozenset({"KHMER"}),
    "Laoo": frozenset({"LAO"}),
    "Tibt": frozenset({"TIBETAN"}),
    "Geor": frozenset({"GEORGIAN"}),
    "Armn": frozenset({"ARMENIAN"}),
    "Tfng": frozenset({"TIFINAGH"}),
}

# Characters per English character, roughly, for scripts far from 1.0.
EXPECTED_LENGTH_RATIO = {"Hans": 0.3, "Hant": 0.3, "Jpan": 0.4, "Hang": 0.5}

@functools.lru_cache(maxsize=65536)
def char_script(char: str) -> str:
    name = unicodedata.name(char, "")
    return name.split(" ", 1)[0]


# One ideograph or syllable block carries about as much as three Latin letters, so a
# Chinese sentence quoting a Latin name in brackets is still mostly Chinese.
DENSE_SCRIPT_WEIGHT = {"CJK": 3.0, "HIRAGANA": 3.0, "KATAKANA": 3.0, "HANGUL": 2.0}


def script_share(text: str, script: str) -> float | None:
    """Weighted share of the letters of ``text`` written in ``script`` (None: no letters)."""
    names = SCRIPT_NAMES.get(script)
    if names is None:
        return None
    total = matching = 0.0
    for char in text:
        if char.isalpha():
            name = char_script(char)
            weight = DENSE_SCRIPT_WEIGHT.get(name, 1.0)
            total += weight
            matching += weight if name in names else 0.0
    return matching / total if total else None


def _units(text: str) -> list[str]:
    words = text.split()
    return words if len(words) > 2 else [char for char in text if not char.isspace()]


def max_ngram_repeats(units: list[str], n: int = 3) -> int:
    counts = Counter(tuple(units[i:i + n]) for i in range(len(units) - n + 1))
    return max(counts.values(), default=0)


def _normalise(text: str) -> str:
    return re.sub(r"[\W_]+", " ", text.casefold()).strip()


class Filter:
    name = "filter"

    def prepare(self, segments: list[tuple[str, str, Language]], groups: dict[str, str] | None = None) -> None:
        """See every (source, output, language) of the run before the first ``passes``: for filters that score in batches.

        ``groups`` maps each English source to its passage, for filters that compare within one.
        """

    def passes(self, source: str, output: str, language: Language) -> bool:
        raise NotImplementedError

    def report(self) -> dict[str, Any] | None:
        """What the filter measured, for the manifest (None: nothing beyond the failure counts)."""
        return None


class EmptyFilter(Filter):
    name = "empty"

    def passes(self, source: str, output: str, language: Language) -> bool:
        return bool(output.strip()) or not source.strip()


@dataclass
class LanguageIdFilter(Filter):
    """Right script for every language; where the script is shared, a language-ID backend's verdict too.

    For a script only one language uses (Thai, Greek, Hangul, Han) the script is the
    better witness: langdetect labels plain Chinese as Korean and Chinese with a
    bracketed Latin name as Polish. Below ``min_chars`` letters an n-gram identifier is
    unreliable, so only the script is checked. ``backend`` is ``langdetect`` or ``fasttext``
    (:mod:`mtqa.translate.langid`); a language it cannot tell gets the script check alone.
    """

    min_probability: float = 0.5
    min_chars: int = 20
    min_script_share: float = 0.5
    backend: str = LANGID_BACKENDS[0]
    name = "langid"

    def passes(self, source: str, output: str, language: Language) -> bool:
        if not output.strip():
            return True  # the empty filter's business
        share = script_share(output, language.script)
        if share is not None and share < self.min_script_share:
            return False
        identifier = langid.backend(self.backend)
        code = identifier.code(language)
        if code is None or language.script not in langid.shared_scripts(self.backend) or sum(char.isalpha() for char in output) < self.min_chars:
            return True
        return identifier.probability(output, code) >= self.min_probability


@dataclass
class LengthRatioFilter(Filter):
    """Output length within ``tolerance`` times the expected output/source length ratio of the language.

    The expected ratio is the median over the run's own segments in that language, once it
    has ``min_calibration`` of them (languages differ: Chinese writes a third as many
    characters as English, German a tenth more); below that, a constant per script.
    """

    tolerance: float = 2.0
    min_source_chars: int = 10
    min_calibration: int = 20
    name = "length_ratio"

    def __post_init__(self) -> None:
        self.expected: dict[str, float] = {}

    def prepare(self, segments: list[tuple[str, str, Language]], groups: dict[str, str] | None = None) -> None:
        ratios: dict[str, list[float]] = defaultdict(list)
        for source, output, language in segments:
            # Only outputs in the target's script: copies and wrong-script output would pull the median away.
            share = script_share(output, language.script)
            if len(source) >= self.min_source_chars and output.strip() and (share is None or share >= 0.5):
                ratios[language.code].append(len(output) / len(source))
        self.expected = {code: statistics.median(values) for code, values in ratios.items() if len(values) >= self.min_calibration}

    def passes(self, source: str, output: str, language: Language) -> bool:
        if len(source) < self.min_source_chars or not output.strip():
            return True
        expected = self.expected.get(language.code) or EXPECTED_LENGTH_RATIO.get(language.script, 1.0)
        ratio = len(output) / len(source)
        return expected / self.tolerance <= ratio <= expected * self.tolerance

    def report(self) -> dict[str, Any] | None:
        return {"expected_ratio": {code: round(value, 3) for code, value in sorted(self.expected.items())}} if self.expected else None


@dataclass
class MixedScriptFilter(Filter):
    """Output drifting into another script: common words (lower-case, so not names or acronyms) outside the target's script.

    A Greek or Chinese question may quote a Latin name, and that is fine; half a sentence of
    lower-case English or Cyrillic words is the decoder switching language mid-output.
    ``max_foreign_share`` is the most such letters may weigh (CJK and Hangul weighted as in
    :func:`script_share`). Only cased scripts (Latin, Cyrillic, Greek, Armenian) have
    lower-case words, so drift into Han, Arabic or Devanagari is left to the script share of
    the language-ID filter.
    """

    max_foreign_share: float = 0.2
    name = "mixed_script"

    def passes(self, source: str, output: str, language: Language) -> bool:
        names = SCRIPT_NAMES.get(language.script)
        if names is None:
            return True
        total = foreign = 0.0
        for word in re.findall(r"\w+", output):
            letters = [char for char in word if char.isalpha()]
            if not letters:
                continue
            weight = sum(DENSE_SCRIPT_WEIGHT.get(char_script(char), 1.0) for char in letters)
            total += weight
            if letters[0].islower() and not any(char_script(char) in names for char in letters):
                foreign += weight
        return not total or foreign / total <= self.max_foreign_share


@dataclass
class CopyFilter(Filter):
    """The output is (nearly) the English source: a failed translation, not a name."""

    max_similarity: float = 0.9
    min_words: int = 4
    name = "copy"

    def passes(self, source: str, output: str, language: Language) -> bool:
        if language.code == "en" or len(source.split()) < self.min_words:
            return True
        a, b = _normalise(source), _normalise(output)
        return SequenceMatcher(None, a, b, autojunk=False).ratio() < self.max_similarity


@dataclass
class RepetitionFilter(Filter):
    """Decoder loops: an n-gram repeated far more than in the source, or few distinct tokens."""

    max_repeats: int = 4
    min_distinct_ratio: float = 0.3
    min_units: int = 12
    name = "repetition"

    def passes(self, source: str, output: str, language: Language) -> bool:
        # Where the script writes no spaces a loop glued to a sentence is one "word": count each character
        # as a unit, but a run of Latin letters or digits as one (dates and numbers repeat digits, not loops).
        units = re.findall(r"[A-Za-z]+|\d+|\S", output) if language.joins_without_spaces else _units(output)
        repeats = max_ngram_repeats(units)
        if repeats >= self.max_repeats and repeats > 2 * max(1, max_ngram_repeats(_units(source))):
            return False
        if len(units) >= self.min_units and len(set(units)) / len(units) < self.min_distinct_ratio:
            source_units = _units(source)
            return bool(source_units) and len(set(source_units)) / len(source_units) < 2 * self.min_distinct_ratio
        return True


SIMILARITY_MODEL = "offline-me5"


@dataclass
class SimilarityFilter(Filter):
    """A multilingual encoder's verdict: the output means what its source means (:mod:`mtqa.translate.similarity`).

    Fails a translation whose cosine with its source is below ``min_similarity``, or whose
    margin (that cosine minus its best cosine with another English source of its passage)
    is below ``min_margin``: a fluent translation of a different sentence.
    The defaults were chosen on XQuAD-R's human translations (README, filter benchmark).
    """

    model: str = SIMILARITY_MODEL
    min_similarity: float = 0.75
    min_margin: float = -0.02
    cache: Any = None  # a TranslationCache: vectors are kept beside the translations
    progress: bool = False
    scores: Any = field(default=None, repr=False)
    name = "similarity"

    def prepare(self, segments: list[tuple[str, str, Language]], groups: dict[str, str] | None = None) -> None:
        from .similarity import SimilarityScorer, language_pairs

        self.scorer = SimilarityScorer(self.model, self.cache, progress=self.progress)
        self.scores = self.scorer.score(language_pairs(segments), groups)

    def passes(self, source: str, output: str, language: Language) -> bool:
        if self.scores is None:
            raise RuntimeError("SimilarityFilter.prepare() must see the run's segments first")
        pair = (source, output, language.code)
        cosine = self.scores.cosine.get(pair)
        if cosine is None:
            return True  # not scored: empty output (the empty filter's business) or English
        margin = self.scores.margin.get(pair)
        return cosine >= self.min_similarity and (margin is None or margin >= self.min_margin)

    def report(self) -> dict[str, Any] | None:
        return None if self.scores is None else {"model": self.model, "min_similarity": self.min_similarity, "min_margin": self.min_margin,
                                                 "texts_encoded": self.scorer.encoded, "texts_from_cache": self.scorer.cached}


FILTER_SCOPES = ("answer", "passage")  # sentences that must pass: question + answer sentence, or every sentence


@dataclass
class FilterOptions:
    """What `mtqa translate` filters, and how strictly; the defaults are the filters' own."""

    enabled: bool = True
    scope: str = FILTER_SCOPES[0]
    langid: str = LanguageIdFilter.backend
    langid_min_probability: float = LanguageIdFilter.min_probability
    length_tolerance: float = LengthRatioFilter.tolerance
    copy_similarity: float = CopyFilter.max_similarity
    max_repeats: int = RepetitionFilter.max_repeats
    max_foreign_script: float = MixedScriptFilter.max_foreign_share
    similarity: bool = False  # opt-in: it loads an encoder and costs ~10% of CPU translation time (README)
    similarity_model: str = SimilarityFilter.model
    min_similarity: float = SimilarityFilter.min_similarity
    min_margin: float = SimilarityFilter.min_margin


def default_filters(options: FilterOptions | None = None, *, cache: Any = None, progress: bool = False) -> list[Filter]:
    """The chain `mtqa translate` runs; ``cache`` (a TranslationCache) keeps the similarity filter's vectors."""
    options = options or FilterOptions()
    filters = [
        EmptyFilter(),
        LanguageIdFilter(min_probability=options.langid_min_probability, backend=options.langid),
        MixedScriptFilter(max_foreign_share=options.max_foreign_script),
        LengthRatioFilter(tolerance=options.length_tolerance),
        CopyFilter(max_similarity=options.copy_similarity),
        RepetitionFilter(max_repeats=options.max_repeats),
    ]
    if options.similarity:
        filters.append(SimilarityFilter(model=options.similarity_model, min_similarity=options.min_similarity,
                                        min_margin=options.min_margin, cache=cache, progress=progress))
    return filters


class FilterChain:
    """Runs every filter on a segment and returns the names of those it fails."""

    def __init__(self, filters: list[Filter]) -> None:
        self.filters = filters
        self.failures: dict[str, Counter[str]] = defaultdict(Counter)

    def prepare(self, segments: list[tuple[str, str, Language]], groups: dict[str, str] | None = None) -> None:
        for f in self.filters:
            f.prepare(segments, groups)

    def check(self, source: str, output: str, language: Language) -> list[str]:
        failed = [f.name for f in self.filters if not f.passes(source, output, language)]
        for name in failed:
            self.failures[name][language.code] += 1
        return failed

    def report(self) -> dict[str, dict[str, int]]:
        """Segments failed, per filter and language."""
        return {name: dict(sorted(counts.items())) for name, counts in sorted(self.failures.items())}

    def details(self) -> dict[str, dict[str, Any]]:
        """Each filter's own report, where it has one (the similarity filter's settings and counts)."""
        return {f.name: detail for f in self.filters if (detail := f.report()) is not None}

    def filter(self, name: str) -> Filter | None:
        return next((f for f in self.filters if f.name == name), None)
