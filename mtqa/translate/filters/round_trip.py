"""The round-trip filter: translate the output back to English and score it against the source.

A translation whose back-translation has drifted far from the English it came from has likely
lost or changed what it says. The back-translation uses the run's own translator the other way
(Apertium's reverse pair, which ships with the forward one; a neural model with source and
target swapped), through the translation cache, so a rerun pays nothing. The score is
sacrebleu's sentence chrF, 0-100.

The default threshold was chosen on XQuAD-R questions, where the human Spanish gives each
Apertium translation a true quality (``python -m bench.filters.signals``, docs/translate.md): it is the
round-trip chrF below which the dropped rows best match the worst 5% by true quality.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Callable

from ...languages import Language
from .base import Filter

# Texts in one language -> their English back-translations, in order.
BackTranslate = Callable[[list[str], Language], list[str]]


def sentence_chrf(hypothesis: str, reference: str) -> float:
    from sacrebleu.metrics import CHRF

    return CHRF().sentence_score(hypothesis, [reference]).score


@dataclass
class RoundTripFilter(Filter):
    """Fails a translation whose back-translation scores below ``min_chrf`` chrF against its English source."""

    min_chrf: float = 49.0
    back_translate: BackTranslate | None = field(default=None, repr=False)
    name = "round_trip"

    def __post_init__(self) -> None:
        self.scores: dict[tuple[str, str, str], float] | None = None
        self.back_translated = 0

    def prepare(self, segments: list[tuple[str, str, Language]], groups: dict[str, str] | None = None) -> None:
        if self.back_translate is None:
            raise RuntimeError("RoundTripFilter needs back_translate: the run's translator, the other way")
        outputs: dict[Language, list[str]] = {}
        for _, output, language in segments:
            if output.strip() and language.code != "en":
                outputs.setdefault(language, []).append(output)
        back: dict[tuple[str, str], str] = {}
        for language, texts in outputs.items():
            unique = list(dict.fromkeys(texts))
            back.update(((text, language.code), english) for text, english in zip(unique, self.back_translate(unique, language)))
            self.back_translated += len(unique)
        self.scores = {
            (source, output, language.code): sentence_chrf(back[(output, language.code)], source)
            for source, output, language in segments
            if (output, language.code) in back
        }

    def passes(self, source: str, output: str, language: Language) -> bool:
        if self.scores is None:
            raise RuntimeError("RoundTripFilter.prepare() must see the run's segments first")
        score = self.scores.get((source, output, language.code))
        return score is None or score >= self.min_chrf  # not scored: empty output (the empty filter's business) or English

    def report(self) -> dict[str, Any] | None:
        if self.scores is None:
            return None
        from .similarity import distribution

        return {"min_chrf": self.min_chrf, "back_translated": self.back_translated, "chrf": distribution(self.scores.values())}
