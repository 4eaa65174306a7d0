"""Quality filters for translated segments, each a small class with its own name.

A filter sees the English source, the translation and the target language and
says whether the translation passes. :class:`FilterChain` runs them all and
counts failures per filter and language, so the report can say what was
dropped and why.
"""

from __future__ import annotations

import functools
import re
import unicodedata
from collections import Counter, defaultdict
from dataclasses import dataclass
from difflib import SequenceMatcher

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

# langdetect profiles it confuses with each other on real text.


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

    def passes(self, source: str, output: str, language: Language) -> bool:
        raise NotImplementedError


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
    """Output length within ``tolerance`` times the expected ratio for the script."""

    tolerance: float = 3.0
    min_source_chars: int = 10
    name = "length_ratio"

    def passes(self, source: str, output: str, language: Language) -> bool:
        if len(source) < self.min_source_chars or not output.strip():
            return True
        expected = EXPECTED_LENGTH_RATIO.get(language.script, 1.0)
        ratio = len(output) / len(source)
        return expected / self.tolerance <= ratio <= expected * self.tolerance


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
        units = _units(output)
        repeats = max_ngram_repeats(units)
        if repeats >= self.max_repeats and repeats > 2 * max(1, max_ngram_repeats(_units(source))):
            return False
        if len(units) >= self.min_units and len(set(units)) / len(units) < self.min_distinct_ratio:
            source_units = _units(source)
            return bool(source_units) and len(set(source_units)) / len(source_units) < 2 * self.min_distinct_ratio
        return True


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


def default_filters(options: FilterOptions | None = None) -> list[Filter]:
    options = options or FilterOptions()
    return [
        EmptyFilter(),
        LanguageIdFilter(min_probability=options.langid_min_probability, backend=options.langid),
        LengthRatioFilter(tolerance=options.length_tolerance),
        CopyFilter(max_similarity=options.copy_similarity),
        RepetitionFilter(max_repeats=options.max_repeats),
    ]


class FilterChain:
    """Runs every filter on a segment and returns the names of those it fails."""

    def __init__(self, filters: list[Filter]) -> None:
        self.filters = filters
        self.failures: dict[str, Counter[str]] = defaultdict(Counter)

    def check(self, source: str, output: str, language: Language) -> list[str]:
        failed = [f.name for f in self.filters if not f.passes(source, output, language)]
        for name in failed:
            self.failures[name][language.code] += 1
        return failed

    def report(self) -> dict[str, dict[str, int]]:
        """Segments failed, per filter and language."""
        return {name: dict(sorted(counts.items())) for name, counts in sorted(self.failures.items())}
