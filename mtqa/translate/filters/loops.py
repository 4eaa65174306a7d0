"""Units of text and the repetition measures the repetition filter judges a decoding loop by."""

from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass

WORD = re.compile(r"\w+")
# Where the script writes no spaces, characters are the units, but a run of Latin letters or digits is one.
CHARACTER_UNIT = re.compile(r"[A-Za-z]+|\d+|\S")


@dataclass(frozen=True)
class LoopUnits:
    """What a text is cut into to look for decoder loops: words, or characters where there are no spaces.

    A character carries much less than a word, so character n-grams are twice as long (6, about
    two words) and distinctness is judged on character trigrams, not single characters: a long
    Thai sentence repeats its letters, and ที่ ("that") four times, without looping. A loop of a
    few characters shows instead as a block repeated back to back (``{{{{{{{``, ``的比赛的比赛...``).
    """

    units: list[str]
    n: int  # the n-gram whose repeats are counted
    distinct_n: int  # the n-gram whose variety is measured
    by_character: bool = False

    @classmethod
    def of(cls, text: str, joins_without_spaces: bool) -> "LoopUnits":
        if joins_without_spaces:
            return cls(CHARACTER_UNIT.findall(text), 6, 3, True)
        words = text.split()
        if len(words) <= 2:  # Thai writes spaces between phrases only; a German compound loops inside one word
            return cls([char for char in text if not char.isspace()], 6, 3, True)
        return cls(words, 3, 1)

    def max_repeats(self) -> int:
        repeats = max_ngram_repeats(self.units, self.n)
        return max(repeats, back_to_back_repeats(self.units)) if self.by_character else repeats

    def distinct_ratio(self) -> float | None:
        grams = ngrams(self.units, self.distinct_n)
        return len(set(grams)) / len(grams) if grams else None

    def __len__(self) -> int:
        return len(self.units)


def ngrams(units: list[str], n: int) -> list[tuple[str, ...]]:
    return [tuple(units[i : i + n]) for i in range(len(units) - n + 1)]


def max_ngram_repeats(units: list[str], n: int = 3) -> int:
    return max(Counter(ngrams(units, n)).values(), default=0)


MIN_LOOP_SPAN = 6  # units a back-to-back run must cover: 哈哈哈哈 (laughter), 〇〇〇〇 (in a number) and ..... are text, not loops


def back_to_back_repeats(units: list[str], max_period: int = 8, min_span: int = MIN_LOOP_SPAN) -> int:
    """The most times a block of up to ``max_period`` units repeats without a break, over runs of ``min_span`` units or more."""
    best = 1 if units else 0
    for period in range(1, max_period + 1):
        start = 0
        while start + 2 * period <= len(units):
            end = start
            while end + 2 * period <= len(units) and units[end + period : end + 2 * period] == units[end : end + period]:
                end += period
            count = (end - start) // period + 1
            if count * period >= min_span:
                best = max(best, count)
            start = end + 1 if count > 1 else start + 1  # a run's other phases are no longer than it
    return best
