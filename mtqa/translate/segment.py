"""Sentence segmentation of English passages, keeping character offsets.

pysbd is used because it is rule-based (deterministic, no model to download) and
scores highest of the pure-Python segmenters on the English "Golden Rules" set
(abbreviations such as "Dr." or "U.S.", decimals, ellipses), which matter more
here than speed: every wrong split becomes a broken sentence sent to the
translator.  Offsets are recovered by locating each segment in the original
text, which stays correct even where pysbd's own char spans drift.
"""

from __future__ import annotations

import functools
from typing import NamedTuple

import pysbd


class Span(NamedTuple):
    start: int
    end: int


@functools.lru_cache(maxsize=1)
def _segmenter() -> pysbd.Segmenter:
    return pysbd.Segmenter(language="en", clean=False)


def split_sentences(text: str) -> list[Span]:
    """Return the sentence spans of ``text`` (stripped of surrounding whitespace), in order."""
    spans: list[Span] = []
    cursor = 0
    for segment in _segmenter().segment(text):
        piece = segment.strip()
        if not piece:
            continue
        start = text.find(piece, cursor)
        if start < 0:  # pysbd altered the text; fall back to the next non-space run
            start = cursor
            while start < len(text) and text[start].isspace():
                start += 1
            end = min(len(text), start + len(piece))
        else:
            end = start + len(piece)
        spans.append(Span(start, end))
        cursor = end
    if spans:
        # Whatever trails the last located sentence belongs to it: nothing is dropped.
        tail = text[spans[-1].end :].rstrip()
        if tail:
            spans[-1] = Span(spans[-1].start, spans[-1].end + len(tail))
    return spans
