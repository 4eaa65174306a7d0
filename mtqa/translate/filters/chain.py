"""Quality filters for translated segments, each a small class with its own name.

A filter sees the English source, the translation and the target language and
says whether the translation passes. :class:`FilterChain` runs them all and
counts failures per filter and language, so the report can say what was
dropped and why.
"""

from __future__ import annotations

import re
import statistics
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from difflib import SequenceMatcher
from typing import Any

from ...languages import Language
from . import langid
from .base import Filter
from .langid import LANGID_BACKENDS
from .loops import WORD, LoopUnits
from .round_trip import BackTranslate, RoundTripFilter
from .scripts import DENSE_SCRIPT_WEIGHT, EXPECTED_LENGTH_RATIO, SCRIPT_NAMES, char_script, script_share


def _normalise(text: str) -> str:
    return re.sub(r"[\W_]+", " ", text.casefold()).strip()


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
    (:mod:`mtqa.translate.filters.langid`); a language it cannot tell gets the script check alone.
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
        if (
            code is None
            or language.script not in langid.shared_scripts(self.backend)
            or sum(char.isalpha() for char in output) < self.min_chars
        ):
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
    :func:`script_share`). A term kept from the source is not drift either: a run of at most
    ``max_borrowed_words`` words outside the target's script, each of them in the source (Greek
    sports writing keeps "interceptions" and "divisional round" in English). Only cased scripts
    (Latin, Cyrillic, Greek, Armenian) have lower-case words, so drift into Han, Arabic or
    Devanagari is left to the script share of the language-ID filter.
    """

    max_foreign_share: float = 0.2
    max_borrowed_words: int = 2
    name = "mixed_script"

    def passes(self, source: str, output: str, language: Language) -> bool:
        names = SCRIPT_NAMES.get(language.script)
        if names is None:
            return True
        source_words = {word.casefold() for word in WORD.findall(source)}
        total = foreign = 0.0
        run: list[tuple[str, float, bool]] = []  # consecutive words outside the target's script: (word, weight, lower-case)
        for word in WORD.findall(output):
            letters = [char for char in word if char.isalpha()]
            if not letters:
                continue  # digits neither break a run nor weigh
            weight = sum(DENSE_SCRIPT_WEIGHT.get(char_script(char), 1.0) for char in letters)
            total += weight
            if any(char_script(char) in names for char in letters):
                foreign += self._drift(run, source_words)
                run = []
            else:
                run.append((word, weight, letters[0].islower()))
        foreign += self._drift(run, source_words)
        return not total or foreign / total <= self.max_foreign_share

    def _drift(self, run: list[tuple[str, float, bool]], source_words: set[str]) -> float:
        """The weight of a run's lower-case words, unless the run is a term kept from the source."""
        if len(run) <= self.max_borrowed_words and all(word.casefold() in source_words for word, _, _ in run):
            return 0.0
        return sum(weight for _, weight, lower in run if lower)


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
    """Decoder loops: an n-gram repeated far more than in the source, or few distinct n-grams (:class:`LoopUnits`)."""

    max_repeats: int = 4
    min_distinct_ratio: float = 0.3
    min_units: int = 12
    name = "repetition"

    def passes(self, source: str, output: str, language: Language) -> bool:
        units, source_units = LoopUnits.of(output, language.joins_without_spaces), LoopUnits.of(source, False)
        repeats = units.max_repeats()
        if repeats >= self.max_repeats and repeats > 2 * max(1, source_units.max_repeats()):
            return False
        distinct = units.distinct_ratio()
        if len(units) >= self.min_units and distinct is not None and distinct < self.min_distinct_ratio:
            source_distinct = source_units.distinct_ratio()
            return source_distinct is not None and source_distinct < 2 * self.min_distinct_ratio
        return True


SIMILARITY_MODEL = "offline-me5"
DEFAULT_SIMILARITY_ENGINE = "ctranslate2"  # one of encoders.ENCODER_ENGINES: int8 speed, ample for a threshold


@dataclass
class SimilarityFilter(Filter):
    """A multilingual encoder's verdict: the output means what its source means (:mod:`mtqa.translate.filters.similarity`).

    Fails a translation whose cosine with its source is below ``min_similarity``; whose margin
    (that cosine minus its best cosine with another English source of its passage) is below
    ``min_margin``; or whose source margin (that cosine minus the source's best cosine with the
    translation of another source of its passage) is below ``min_source_margin``: a fluent
    translation of a different sentence. ``engine`` runs the encoder in CTranslate2 (int8) where
    it can, else in PyTorch. The defaults were chosen on XQuAD-R's human translations, articles
    0-15, and checked on articles 16-47 (README, filter benchmark).
    """

    model: str = SIMILARITY_MODEL
    min_similarity: float = 0.72
    min_margin: float = -0.04
    min_source_margin: float = -0.04
    engine: str = DEFAULT_SIMILARITY_ENGINE
    threads: int | None = None  # CTranslate2's, like the translator's (default: the cores this process may use)
    cache: Any = None  # a TranslationCache: vectors are kept beside the translations
    progress: bool = False
    scores: Any = field(default=None, repr=False)
    name = "similarity"

    def prepare(self, segments: list[tuple[str, str, Language]], groups: dict[str, str] | None = None) -> None:
        from .similarity import SimilarityScorer, language_pairs

        self.scorer = SimilarityScorer(self.model, self.cache, engine=self.engine, threads=self.threads, progress=self.progress)
        self.scores = self.scorer.score(language_pairs(segments), groups)

    def passes(self, source: str, output: str, language: Language) -> bool:
        if self.scores is None:
            raise RuntimeError("SimilarityFilter.prepare() must see the run's segments first")
        pair = (source, output, language.code)
        cosine = self.scores.cosine.get(pair)
        if cosine is None:
            return True  # not scored: empty output (the empty filter's business) or English
        margin, source_margin = self.scores.margin.get(pair), self.scores.source_margin.get(pair)
        return (
            cosine >= self.min_similarity
            and (margin is None or margin >= self.min_margin)
            and (source_margin is None or source_margin >= self.min_source_margin)
        )

    def report(self) -> dict[str, Any] | None:
        return (
            None
            if self.scores is None
            else {
                "model": self.model,
                "engine": self.scorer.engine_used,
                "min_similarity": self.min_similarity,
                "min_margin": self.min_margin,
                "min_source_margin": self.min_source_margin,
                "texts_encoded": self.scorer.encoded,
                "texts_from_cache": self.scorer.cached,
            }
        )


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
    similarity: bool = False  # opt-in: it loads an encoder (README: its share of the translation time)
    similarity_model: str = SimilarityFilter.model
    similarity_engine: str = SimilarityFilter.engine
    min_similarity: float = SimilarityFilter.min_similarity
    min_margin: float = SimilarityFilter.min_margin
    min_source_margin: float = SimilarityFilter.min_source_margin
    round_trip: bool = False  # opt-in: it translates every output back to English
    min_round_trip_chrf: float = RoundTripFilter.min_chrf


def default_filters(
    options: FilterOptions | None = None,
    *,
    cache: Any = None,
    progress: bool = False,
    threads: int | None = None,
    back_translate: BackTranslate | None = None,
) -> list[Filter]:
    """The chain `mtqa translate` runs; ``cache`` (a TranslationCache) keeps the similarity filter's vectors, ``threads`` bounds its encoder.

    ``back_translate`` (the run's translator, the other way) is what the round-trip filter needs when it is on.
    """
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
        filters.append(
            SimilarityFilter(
                model=options.similarity_model,
                min_similarity=options.min_similarity,
                min_margin=options.min_margin,
                min_source_margin=options.min_source_margin,
                engine=options.similarity_engine,
                threads=threads,
                cache=cache,
                progress=progress,
            )
        )
    if options.round_trip:
        filters.append(RoundTripFilter(min_chrf=options.min_round_trip_chrf, back_translate=back_translate))
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

    def filter(self, name: str) -> Filter | None:
        return next((f for f in self.filters if f.name == name), None)
