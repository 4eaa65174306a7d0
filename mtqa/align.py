"""Assemble the parallel corpus: one row per (example, language), sentence-aligned.

Passages were translated sentence by sentence, so sentence *i* of every language
renders English sentence *i* and the English answer sentence index holds in all
of them. A translated answer text is given only where it can be found verbatim
in the translated answer sentence (the English span itself, e.g. a number or a
name, or its own translation); otherwise it is left empty rather than guessed.
"""

from __future__ import annotations

from typing import Any, Callable

from .filters import FilterChain
from .languages import Language
from .segment import Span, answer_sentence_index

Translations = Callable[[str, Language], str]


def segment_record(record: dict[str, Any], spans: list[Span]) -> dict[str, Any]:
    """Add ``sentences`` and ``answer_sentence`` to an English record."""
    context = record["context"]
    return {
        **record,
        "sentences": [context[span.start:span.end] for span in spans],
        "answer_sentence": answer_sentence_index(spans, record["answer_start"]),
    }


def segments_to_translate(record: dict[str, Any]) -> list[str]:
    """The English texts an example needs in every target language."""
    return [record["question"], *record["sentences"], record["answer_text"]]


def locate_answer(answer_sentence: str, english_answer: str, translated_answer: str) -> str | None:
    for candidate in (english_answer.strip(), translated_answer.strip()):
        if candidate and candidate in answer_sentence:
            return candidate
    return None


def english_row(record: dict[str, Any]) -> dict[str, Any]:
    return {
        "id": record["id"],
        "lang": "en",
        "title": record["title"],
        "question": record["question"],
        "context": record["context"],
        "sentences": record["sentences"],
        "answer_sentence": record["answer_sentence"],
        "answer_text": record["answer_text"],
        "flags": [],
    }


def translated_row(
    record: dict[str, Any],
    language: Language,
    translate: Translations,
    flags_of: Callable[[str, str, Language], list[str]],
) -> dict[str, Any]:
    """Build the row for ``language``; ``flags`` lists ``part:filter`` for every failed check."""
    question = translate(record["question"], language)
    sentences = [translate(sentence, language) for sentence in record["sentences"]]
    answer_index = record["answer_sentence"]
    flags = [f"question:{name}" for name in flags_of(record["question"], question, language)]
    for index, (source, output) in enumerate(zip(record["sentences"], sentences)):
        part = "answer_sentence" if index == answer_index else "sentence"
        flags += [f"{part}:{name}" for name in flags_of(source, output, language)]
    separator = "" if language.joins_without_spaces else " "
    return {
        "id": record["id"],
        "lang": language.code,
        "title": record["title"],
        "question": question,
        "context": separator.join(sentences),
        "sentences": sentences,
        "answer_sentence": answer_index,
        "answer_text": locate_answer(
            sentences[answer_index], record["answer_text"], translate(record["answer_text"], language)
        ),
        "flags": sorted(set(flags)),
    }


def keeps(row: dict[str, Any], scope: str) -> bool:
    """Whether a translated row passes: ``answer`` checks question and answer sentence, ``passage`` all."""
    parts = ("question", "answer_sentence") if scope == "answer" else ("question", "answer_sentence", "sentence")
    return not any(flag.split(":", 1)[0] in parts for flag in row["flags"])


def memoised_flags(chain: FilterChain) -> Callable[[str, str, Language], list[str]]:
    """Check each distinct (source, output, language) once: passages repeat across questions."""
    seen: dict[tuple[str, str, str], list[str]] = {}

    def flags_of(source: str, output: str, language: Language) -> list[str]:
        key = (source, output, language.code)
        if key not in seen:
            seen[key] = chain.check(source, output, language)
        return seen[key]

    return flags_of
