"""The labelled examples the filter benchmark judges: XQuAD-R's human translations, each also corrupted in one
known way (the kinds below), so a filter's recall per kind and its false drops on clean text can be counted."""

from __future__ import annotations

import random
from typing import Any

KINDS = ("wrong_language", "copy", "other_question", "nearby_question", "truncated", "repetition", "empty", "mixed_script")


def load_questions(spec: str, articles: str | None = None) -> tuple[dict[str, dict[str, str]], dict[str, list[str]]]:
    """Questions per language by id, and the ids of each passage (for nearby_question)."""
    from mtqa.errors import MtqaError
    from mtqa.formats import lareqa
    from mtqa.paths import resolve_data_set

    kind, _, path = spec.partition(":")
    if kind != "lareqa" or not path:
        raise MtqaError(f"--data {spec!r}: use lareqa:PATH or lareqa:NAME (a LAReQA-format folder such as xquad-r)")
    folder = resolve_data_set(path)
    questions: dict[str, dict[str, str]] = {}
    passages: dict[str, list[str]] = {}
    for file in lareqa.language_files(folder):
        questions[file.stem] = {}
        for number, paragraph in enumerate(lareqa.read_language(file, lareqa.parse_articles(articles))):
            for qa in paragraph.questions:
                questions[file.stem][qa.id] = qa.question
                if file.stem == "en":
                    passages.setdefault(str(number), []).append(qa.id)
    if "en" not in questions:
        raise MtqaError(f"{folder}: no en.json; the benchmark pairs English questions with their translations")
    return questions, passages


def load_sentences(spec: str, articles: str | None = None) -> dict[str, dict[str, list[str]]]:
    """Each passage's sentences per language, numbered as :func:`load_questions` numbers passages.

    They are not aligned across languages, so they are never judged; they are the rivals a
    question has in a real run, where its passage's sentences are translated beside it.
    """
    from mtqa.formats import lareqa
    from mtqa.paths import resolve_data_set

    folder = resolve_data_set(spec.partition(":")[2])
    return {
        file.stem: {
            str(number): paragraph.sentences for number, paragraph in enumerate(lareqa.read_language(file, lareqa.parse_articles(articles)))
        }
        for file in lareqa.language_files(folder)
    }


def context_pairs(sentences: dict[str, dict[str, list[str]]]) -> tuple[list[tuple[str, str, str]], dict[str, str]]:
    """(English sentence, that language's sentence at the same place, language) for every passage, and each English sentence's passage."""
    pairs, groups = [], {}
    for lang, passages in sentences.items():
        if lang == "en":
            continue
        for passage, translated in passages.items():
            for english, other in zip(sentences["en"].get(passage, []), translated):
                pairs.append((english, other, lang))
                groups[english] = passage
    return pairs, groups


def make_examples(questions: dict[str, dict[str, str]], passages: dict[str, list[str]], seed: int = 0) -> list[dict[str, Any]]:
    from mtqa.languages import get_language

    rng = random.Random(seed)
    english = questions["en"]
    langs = sorted(lang for lang in questions if lang != "en")
    passage_of = {qid: ids for ids in passages.values() for qid in ids}
    group_of = {qid: name for name, ids in passages.items() for qid in ids}
    examples = []
    for lang in langs:
        language = get_language(lang)
        ids = [qid for qid in english if qid in questions[lang]]
        others = [other for other in langs if other != lang]
        foreign = "ru" if language.script == "Latn" and "ru" in questions else "en"
        for qid in ids:
            source, good = english[qid], questions[lang][qid]
            group = group_of.get(qid, qid)  # the passage: the similarity filter's rivals are its other questions

            def add(kind: str, output: str) -> None:
                examples.append({"lang": lang, "id": qid, "kind": kind, "source": source, "output": output, "group": group})

            add("good", good)
            other_lang = next((o for o in rng.sample(others, len(others)) if qid in questions[o]), None)
            if other_lang:
                add("wrong_language", questions[other_lang][qid])
            add("copy", source)
            other = rng.choice([o for o in questions[lang] if o != qid])
            add("other_question", questions[lang][other])
            nearby = [o for o in passage_of.get(qid, []) if o != qid and o in questions[lang]]
            if nearby:
                add("nearby_question", questions[lang][rng.choice(nearby)])
            add("truncated", good[: max(1, len(good) // 3)].rstrip())
            units = list(good) if language.joins_without_spaces else good.split()
            joiner = "" if language.joins_without_spaces else " "
            tail = joiner.join(units[-3:])
            add("repetition", good + joiner + joiner.join([tail] * 6))
            add("empty", "")
            if qid in questions.get(foreign, {}):
                mixed = questions[foreign][qid]
                add("mixed_script", good[: len(good) // 2] + " " + mixed[len(mixed) // 2 :])
    return examples
