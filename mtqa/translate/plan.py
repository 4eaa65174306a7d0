"""Planning a translation: the unique pieces to translate, their token counts, what the cache holds.

`mtqa translate` plans with :func:`plan_pieces` and then translates the missing pieces;
`mtqa translate --dry-run` stops after the plan and reports it with a time estimate,
having loaded the tokenizer only (:func:`summarise`).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any, Callable, Sequence

from .cache import TranslationCache, translation_key

_CLAUSE_BREAK = re.compile(r"(?<=[,;:])\s+")


def split_to_fit(text: str, count_tokens: Callable[[str], int], limit: int) -> list[str]:
    """Split ``text`` into pieces of at most ``limit`` tokens, at clause breaks, then spaces, then characters."""
    if count_tokens(text) <= limit:
        return [text]
    for pattern in (_CLAUSE_BREAK, re.compile(r"\s+")):
        parts = [part for part in pattern.split(text) if part]
        if len(parts) > 1:
            break
    else:
        middle = len(text) // 2
        parts = [text[:middle], text[middle:]]
    # Greedily regroup the parts so pieces stay as long as the limit allows.
    pieces: list[str] = []
    current = ""
    for part in parts:
        candidate = f"{current} {part}" if current else part
        if current and count_tokens(candidate) > limit:
            pieces.append(current)
            current = part
        else:
            current = candidate
    pieces.append(current)
    if len(pieces) == 1:  # no break helped: halve
        middle = len(parts) // 2 or 1
        pieces = [" ".join(parts[:middle]), " ".join(parts[middle:])]
    return [fitted for piece in pieces for fitted in split_to_fit(piece, count_tokens, limit)]


@dataclass
class Piece:
    text: str
    target: str
    key: bytes
    length: int = 0  # source tokens, language code and </s> included


@dataclass
class Plan:
    pieces_of: dict[tuple[str, str], list[str]] = field(default_factory=dict)  # (text, target) -> its pieces
    pieces: dict[tuple[str, str], Piece] = field(default_factory=dict)  # (piece, target) -> Piece
    cached: dict[bytes, str] = field(default_factory=dict)
    split_long: int = 0

    @property
    def cache_hits(self) -> int:
        return sum(piece.key in self.cached for piece in self.pieces.values())


def plan_pieces(
    tokenize: Callable[[str], list[str]],
    cache: TranslationCache | None,
    namespace: str | None,
    unique: Sequence[tuple[str, str]],
    source_lang: str,
    max_input_tokens: int,
) -> Plan:
    """Split over-long texts, count every piece's tokens once, and look the pieces up in the cache.

    ``namespace`` None (a model not converted yet, so without a fingerprint) skips the lookup.
    """
    # A passage sentence is needed in every target language: count each text's tokens once.
    lengths: dict[str, int] = {}

    def count(text: str) -> int:
        if text not in lengths:
            lengths[text] = len(tokenize(text))
        return lengths[text]

    plan = Plan()
    for text, target in unique:
        stripped = text.strip()
        parts = split_to_fit(stripped, count, max_input_tokens) if stripped else []
        plan.split_long += len(parts) > 1
        plan.pieces_of[(text, target)] = parts
        for part in parts:
            if (part, target) not in plan.pieces:
                key = translation_key(namespace, source_lang, target, part) if namespace is not None else b""
                plan.pieces[(part, target)] = Piece(part, target, key)
    if namespace is not None and cache is not None:
        plan.cached = cache.get_many(piece.key for piece in plan.pieces.values())
    for piece in plan.pieces.values():
        piece.length = count(piece.text)
    return plan


def summarise(plan: Plan, targets: list[str], tokens_per_second: float | None) -> dict[str, Any]:
    """Per target (FLORES code): unique segments, pieces, source tokens, cached pieces, tokens still to translate; and hours."""
    per_target: dict[str, dict[str, int]] = {
        target: {"segments": 0, "pieces": 0, "source_tokens": 0, "cached_pieces": 0, "tokens_to_translate": 0} for target in targets
    }
    for _, target in plan.pieces_of:
        per_target[target]["segments"] += 1
    for piece in plan.pieces.values():
        row = per_target[piece.target]
        row["pieces"] += 1
        row["source_tokens"] += piece.length
        if piece.key in plan.cached:
            row["cached_pieces"] += 1
        else:
            row["tokens_to_translate"] += piece.length
    total = {key: sum(row[key] for row in per_target.values()) for key in next(iter(per_target.values()), {})}
    hours = total.get("tokens_to_translate", 0) / tokens_per_second / 3600 if tokens_per_second else None
    return {"per_target": per_target, "total": total, "split_long": plan.split_long, "hours": hours}
