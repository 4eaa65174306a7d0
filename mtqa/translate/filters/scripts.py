"""Unicode scripts for the filters: which script a letter belongs to, and how much of a text is in one."""

from __future__ import annotations

import functools
import unicodedata

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
