"""Assemble the parallel corpus: one row per (example, language), sentence-aligned.

Passages were translated sentence by sentence, so sentence *i* of every language
renders English sentence *i* and the English answer sentence index holds in all
of them. A translated answer text is given only where it can be found verbatim
in the translated answer sentence (the English span itself, e.g. a number or a
name, or its own translation); otherwise it is left empty rather than guessed.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from typing import Any, Callable

from ..formats.lareqa import answer_sentence_index
from ..formats.parallel_corpus import CorpusRow
from ..languages import Language
from .filters.chain import FilterChain, FilterOptions
from .segment import Span

Translations = Callable[[str, Language], str]


def segment_record(record: dict[str, Any], spans: list[Span]) -> dict[str, Any]:
    """Add ``sentences`` and ``answer_sentence`` to an English record."""
    context = record["context"]
    return {
        **record,
        "sentences": [context[span.start : span.end] for span in spans],
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


def english_row(record: dict[str, Any]) -> CorpusRow:
    return CorpusRow(
        id=record["id"],
        lang="en",
        title=record["title"],
        question=record["question"],
        context=record["context"],
        sentences=record["sentences"],
        answer_sentence=record["answer_sentence"],
        answer_text=record["answer_text"],
    )


def translated_row(
    record: dict[str, Any],
    language: Language,
    translate: Translations,
    flags_of: Callable[[str, str, Language], list[str]],
) -> CorpusRow:
    """Build the row for ``language``; ``flags`` lists ``part:filter`` for every failed check."""
    question = translate(record["question"], language)
    sentences = [translate(sentence, language) for sentence in record["sentences"]]
    answer_index = record["answer_sentence"]
    flags = [f"question:{name}" for name in flags_of(record["question"], question, language)]
    for index, (source, output) in enumerate(zip(record["sentences"], sentences)):
        part = "answer_sentence" if index == answer_index else "sentence"
        flags += [f"{part}:{name}" for name in flags_of(source, output, language)]
    separator = "" if language.joins_without_spaces else " "
    return CorpusRow(
        id=record["id"],
        lang=language.code,
        title=record["title"],
        question=question,
        context=separator.join(sentences),
        sentences=sentences,
        answer_sentence=answer_index,
        answer_text=locate_answer(sentences[answer_index], record["answer_text"], translate(record["answer_text"], language)),
        flags=sorted(set(flags)),
    )


class Aligner:
    """Builds each example's row in every language, keeps or drops it, and counts both.

    A translated row is kept when its question and answer sentence (``scope`` answer)
    or every sentence (``scope`` passage) pass the filter chain; with filtering off
    every row is kept, its flags still set. Drops are counted per language and per
    failing filter, so the manifest reports this stage as it ran.
    """

    def __init__(self, chain: FilterChain, options: FilterOptions, translate: Translations) -> None:
        self.chain, self.options, self.translate = chain, options, translate
        self.flags_of = memoised_flags(chain)
        self.kept: Counter[str] = Counter()
        self.dropped: Counter[str] = Counter()
        self.dropped_by_reason: dict[str, Counter[str]] = defaultdict(Counter)

    def prepare(self, records: list[dict[str, Any]], targets: list[Language]) -> None:
        """Show the chain every segment it will check, for filters that score in batches."""
        # Each (source, language) once: passages are shared by several questions.
        unique = dict.fromkeys(
            (source, language) for language in targets for record in records for source in (record["question"], *record["sentences"])
        )
        groups = {source: record["context"] for record in records for source in (record["question"], *record["sentences"])}
        self.chain.prepare([(source, self.translate(source, language), language) for source, language in unique], groups)

    def rows(self, record: dict[str, Any], targets: list[Language]) -> list[CorpusRow]:
        """The English row and every kept translated row of one example."""
        rows = [english_row(record)]
        self.kept["en"] += 1
        for language in targets:
            row = translated_row(record, language, self.translate, self.flags_of)
            if not self.options.enabled or keeps(row.flags, self.options.scope):
                rows.append(row)
                self.kept[language.code] += 1
            else:
                self.dropped[language.code] += 1
                for reason in sorted({flag.split(":", 1)[1] for flag in row.flags}):
                    self.dropped_by_reason[reason][language.code] += 1
        return rows

    def counts(self, codes: list[str]) -> dict[str, dict[str, int]]:
        return {code: {"kept": self.kept[code], "dropped": self.dropped[code]} for code in codes}

    def report(self) -> dict[str, dict[str, dict[str, int]]]:
        """Segments failed per filter (the chain's own count) and examples dropped per reason."""
        return {
            "segment_failures": self.chain.report(),
            "dropped_examples_by_reason": {name: dict(sorted(counts.items())) for name, counts in sorted(self.dropped_by_reason.items())},
        }


def keeps(flags: list[str], scope: str) -> bool:
    """Whether a translated row with these ``flags`` passes: ``answer`` checks question and answer sentence, ``passage`` all."""
    parts = ("question", "answer_sentence") if scope == "answer" else ("question", "answer_sentence", "sentence")
    return not any(flag.split(":", 1)[0] in parts for flag in flags)


def memoised_flags(chain: FilterChain) -> Callable[[str, str, Language], list[str]]:
    """Check each distinct (source, output, language) once: passages repeat across questions."""
    seen: dict[tuple[str, str, str], list[str]] = {}

    def flags_of(source: str, output: str, language: Language) -> list[str]:
        key = (source, output, language.code)
        if key not in seen:
            seen[key] = chain.check(source, output, language)
        return seen[key]

    return flags_of
