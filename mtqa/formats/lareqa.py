"""LAReQA-format sets (XQuAD-R, MLQA-R): one SQuAD-style ``<lang>.json`` per language.

Each paragraph carries ``sentences`` and ``sentence_breaks`` besides its ``context``
and ``qas``; a question's answer is the sentence holding its answer offset
(:func:`answer_sentence_index`, the rule translate's sentence alignment uses too). This module is the one
parser of the format: build-batches and the evaluator both read through it.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Sequence

from ..errors import MtqaError, OptionError


@dataclass
class LareqaQuestion:
    id: str
    question: str
    answer_sentence: int  # index into the paragraph's sentences


@dataclass
class LareqaParagraph:
    context: str
    sentences: list[str]  # stripped
    questions: list[LareqaQuestion]
    article: int = 0  # the article's index in the file


def answer_sentence_index(spans: Sequence[Sequence[int]], answer_start: int) -> int:
    """Index of the sentence containing ``answer_start`` (LAReQA convention).

    ``spans`` are (start, end) pairs: sentence spans or LAReQA's ``sentence_breaks``.
    An offset falling in the whitespace between two sentences belongs to the next one.
    """
    for index, (_, end) in enumerate(spans):
        if answer_start < end:
            return index
    return len(spans) - 1


def parse_articles(spec: str | None) -> set[int] | None:
    """``0-23,30`` -> {0, ..., 23, 30}; None or empty -> None (every article)."""
    if not spec:
        return None
    chosen: set[int] = set()
    for part in spec.split(","):
        low, sep, high = part.strip().partition("-")
        try:
            start, end = int(low), int(high) if sep else int(low)
        except ValueError:
            raise OptionError(f"--articles: cannot read {part!r}; use ranges such as 0-23 or 0-23,30") from None
        if start < 0 or end < start:
            raise OptionError(f"--articles: {part!r} is not an ascending range of article indices; use ranges such as 0-23")
        chosen.update(range(start, end + 1))
    return chosen


def language_files(directory: Path) -> list[Path]:
    """The ``<lang>.json`` files of a set, sorted by language code."""
    directory = Path(directory)
    files = sorted(directory.glob("*.json")) if directory.is_dir() else []
    if not files:
        raise MtqaError(f"lareqa:{directory}: no <lang>.json files found; point lareqa: at the folder holding en.json, de.json, ...")
    return files


def read_language(path: Path, articles: set[int] | None = None) -> list[LareqaParagraph]:
    """The paragraphs of one language file, from the chosen articles (all when None)."""
    path = Path(path)
    try:
        document = json.loads(path.read_text(encoding="utf-8"))
        paragraphs = []
        for article_index, article in enumerate(document["data"]):
            if articles is not None and article_index not in articles:
                continue
            for paragraph in article["paragraphs"]:
                breaks = paragraph["sentence_breaks"]
                questions = [
                    LareqaQuestion(qa["id"], qa["question"], answer_sentence_index(breaks, qa["answers"][0]["answer_start"]))
                    for qa in paragraph["qas"]
                ]
                paragraphs.append(
                    LareqaParagraph(paragraph["context"], [s.strip() for s in paragraph["sentences"]], questions, article_index)
                )
    except json.JSONDecodeError as error:
        raise MtqaError(
            f"{path}:{error.lineno}:{error.colno}: not valid JSON ({error.msg}); fix the file or fetch the release again"
        ) from None
    except (KeyError, IndexError, TypeError) as error:
        raise MtqaError(
            f"{path}: not in LAReQA format (missing {error}); expected data/paragraphs with sentences, sentence_breaks, qas"
        ) from None
    except UnicodeDecodeError:
        raise MtqaError(f"{path}: not UTF-8 text; re-encode the file as UTF-8") from None
    return paragraphs
