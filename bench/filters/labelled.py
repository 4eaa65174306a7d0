#!/usr/bin/env python
"""bench-filters: how well `mtqa translate`'s filter chain separates good translations from bad ones.

Good examples are human translations: an English question of a LAReQA-format set
(XQuAD-R by default) paired with the same question, by id, in each other language.
Sentences are left out: XQuAD-R's passages were split into sentences per language, so
sentence *i* of two languages need not say the same thing, and no pairing of them is honest.

Bad examples are corruptions of the good ones, made deterministically (seed 0):

  wrong_language      the same question in another language of the set
  copy                the English source, untranslated
  other_question      the translation of a different question of the set, drawn at random
  nearby_question     the translation of another question about the same passage (the
                      hardest case: same topic, often the same words; reported, not a target)
  truncated           the translation cut to its first third (characters)
  repetition          the translation followed by a loop of its last three words
  empty               no output
  mixed_script        the translation's first half, then the second half of the same question
                      in another script (Russian for Latin-script targets, else English)

The similarity filter compares a pair with the other pairs of its passage, so it judges each
example within a run shaped like a real one: good examples among all good translations, each
corruption in a run where one question in four is corrupted and the rest translated well.

For each filter and for the whole chain: recall (the share of bad examples failed) per
corruption kind and language, the false-drop rate (the share of good examples failed) per
language, and the time per 1,000 segments. The similarity filter's time includes encoding
every unique text (no cache). Targets: the chain catches every kind but nearby_question
>= 95% of the time, and drops <= 2% of good examples in every language. The filters'
thresholds were chosen on articles 0-15; by default the benchmark uses articles 16-47.

    python -m bench.filters.labelled [--data lareqa:PATH] [--articles 16-47] [--quick] [--out FILE]
"""

from __future__ import annotations

import argparse
import json
import random
import sys
import time
from collections import defaultdict
from pathlib import Path
from typing import Any

import numpy as np

from bench import WORK
from bench.filters.corruptions import KINDS, context_pairs, load_questions, load_sentences, make_examples
from bench.measure import machine

TARGET_RECALL, TARGET_FALSE_DROP = 0.95, 0.02
# The filters' defaults were chosen on XQuAD-R articles 0-15; the benchmark reports the others.
TUNING, HELD_OUT, QUICK = "0-15", "16-47", "16,24,32,40"
RUN_CORRUPTION = 4
ENGINE_SAMPLE = 1000  # texts encoded by both engines to compare them  # the similarity filter judges each corruption in a run where one question in this many is corrupted
UNTARGETED = {"nearby_question"}
CHAIN = "chain"


def run_filters(
    examples: list[dict[str, Any]], langid: str, sentences: dict[str, dict[str, list[str]]] | None = None
) -> tuple[dict[str, list[bool]], dict[str, float], dict[str, Any]]:
    """Per filter (and the chain), whether each example fails; each filter's seconds; the similarity scores' distributions.

    ``sentences`` (:func:`load_sentences`) join the similarity filter's runs as the passages' other segments.
    """
    from mtqa.languages import get_language
    from mtqa.translate.cache import TranslationCache
    from mtqa.translate.filters.chain import FilterOptions, SimilarityFilter, default_filters

    # The whole chain, the opt-in similarity filter included. Its vectors are kept in memory only, so its time includes encoding.
    vectors = TranslationCache(None)
    filters = default_filters(FilterOptions(langid=langid, similarity=True), cache=vectors, progress=False)
    languages = {code: get_language(code) for code in {e["lang"] for e in examples}}
    segments = [(e["source"], e["output"], languages[e["lang"]]) for e in examples]
    groups = {e["source"]: e["group"] for e in examples}
    failed: dict[str, list[bool]] = {}
    seconds: dict[str, float] = {}
    for f in filters:
        started = time.perf_counter()
        f.prepare(segments, groups)
        failed[f.name] = [not f.passes(*segment) for segment in segments]
        seconds[f.name] = time.perf_counter() - started
    similarity = next(f for f in filters if isinstance(f, SimilarityFilter))
    context, context_groups = context_pairs(sentences) if sentences else ([], {})
    context_segments = [(english, other, languages.get(lang) or get_language(lang)) for english, other, lang in context]
    failed[similarity.name], judged = similarity_in_runs(examples, segments, {**context_groups, **groups}, similarity, context_segments)
    failed[CHAIN] = [any(column) for column in zip(*failed.values())]
    seconds[CHAIN] = sum(seconds.values())
    return failed, seconds, similarity_distributions(examples, segments, judged)


def similarity_in_runs(
    examples: list[dict[str, Any]],
    segments: list,
    groups: dict[str, str],
    similarity,
    context: list | None = None,
    every: int = RUN_CORRUPTION,
) -> tuple[list[bool], Any]:
    """The similarity filter's verdicts, each within a run shaped like a real one.

    Its margins compare a pair with the other pairs of its passage, so it must see a run in
    which every source has one translation: judged all together, a source's good translation
    and its corruptions would be one another's rivals. Good examples are judged in the run of
    all good translations; each corruption kind in ``every`` runs, each with every
    ``every``-th question corrupted and the rest translated well. ``context`` (the passages'
    sentences, each with its human translation) joins every run, as a real run translates a
    question's passage beside it. Questions' vectors come from the cache the timed pass filled.
    """
    context = context or []
    from mtqa.translate.filters.chain import SimilarityFilter
    from mtqa.translate.filters.similarity import PairScores

    failed = [False] * len(examples)
    judged = PairScores()  # each example's scores, from the run it was judged in
    good = {(e["lang"], e["id"]): i for i, e in enumerate(examples) if e["kind"] == "good"}
    judge = SimilarityFilter(
        model=similarity.model,
        min_similarity=similarity.min_similarity,
        min_margin=similarity.min_margin,
        min_source_margin=similarity.min_source_margin,
        engine=similarity.engine,
        cache=similarity.cache,
    )

    def run(judged_here: list[int], replaced: set[tuple[str, str]]) -> None:
        judge.prepare(
            context + [segments[i] for key, i in good.items() if key not in replaced] + [segments[i] for i in judged_here], groups
        )
        for i in judged_here:
            failed[i] = not judge.passes(*segments[i])
            pair = (segments[i][0], segments[i][1], segments[i][2].code)
            for name in ("cosine", "margin", "source_margin"):
                if pair in getattr(judge.scores, name):
                    getattr(judged, name)[pair] = getattr(judge.scores, name)[pair]

    run(list(good.values()), set())
    for kind in KINDS:
        of_kind = [i for i, e in enumerate(examples) if e["kind"] == kind]
        for offset in range(every):
            corrupted = of_kind[offset::every]
            run(corrupted, {(examples[i]["lang"], examples[i]["id"]) for i in corrupted})
    return failed, judged


def compare_engines(texts: list[str], sample: int = ENGINE_SAMPLE) -> dict[str, Any]:
    """The similarity encoder on CTranslate2 int8 against PyTorch float32, side by side on the same texts: seconds and agreement."""
    from mtqa.encoders.ct2_encoder import CT2SentenceEncoder, converted, ct2_layout
    from mtqa.encoders.load import encode, load_encoder
    from mtqa.encoders.offline_me5 import offline_me5
    from mtqa.translate.filters.similarity import symmetric_prefix

    texts = random.Random(0).sample(texts, min(sample, len(texts)))
    folder = str(offline_me5())
    layout = ct2_layout(folder)
    converted(layout)  # once, before the clock
    prefix = symmetric_prefix("offline-me5")
    started = time.perf_counter()
    fast = CT2SentenceEncoder(layout).encode(texts, prefix=prefix)
    fast_s = time.perf_counter() - started
    started = time.perf_counter()
    plain = encode(load_encoder(folder), texts, prefix=prefix)
    plain_s = time.perf_counter() - started
    cosine = np.einsum("ij,ij->i", fast, plain)
    return {
        "texts": len(texts),
        "ctranslate2_int8_s": round(fast_s, 2),
        "torch_float32_s": round(plain_s, 2),
        "speedup": round(plain_s / fast_s, 2),
        "cosine_mean": round(float(cosine.mean()), 4),
        "cosine_min": round(float(cosine.min()), 4),
    }


def similarity_distributions(examples: list[dict[str, Any]], segments: list, judged) -> dict[str, Any]:
    """Cosine and margin quantiles per language for good pairs and the two mismatched kinds, as judged in their runs."""
    from mtqa.translate.filters.similarity import distribution

    found: dict[str, dict[str, dict[str, list[float]]]] = defaultdict(lambda: defaultdict(lambda: defaultdict(list)))
    for example, (source, output, language) in zip(examples, segments):
        if example["kind"] in ("good", "other_question", "nearby_question"):
            pair = (source, output, language.code)
            for score, table in (("cosine", judged.cosine), ("margin", judged.margin), ("source_margin", judged.source_margin)):
                if pair in table:
                    found[example["lang"]][example["kind"]][score].append(table[pair])
                    found["all"][example["kind"]][score].append(table[pair])
    return {
        lang: {kind: {score: distribution(values) for score, values in scores.items()} for kind, scores in kinds.items()}
        for lang, kinds in sorted(found.items())
    }


def tabulate(examples: list[dict[str, Any]], failed: dict[str, list[bool]]) -> dict[str, Any]:
    counts: dict[str, dict[str, dict[str, list[int]]]] = {name: defaultdict(lambda: defaultdict(lambda: [0, 0])) for name in failed}
    for name, column in failed.items():
        for example, fail in zip(examples, column):
            cell = counts[name][example["kind"]][example["lang"]]
            cell[0] += fail
            cell[1] += 1

    def rate(cells: dict[str, list[int]]) -> float:
        caught, total = (sum(cell[i] for cell in cells.values()) for i in (0, 1))
        return caught / total if total else float("nan")

    table: dict[str, Any] = {}
    for name, by_kind in counts.items():
        table[name] = {
            "false_drop": {lang: round(cell[0] / cell[1], 4) for lang, cell in sorted(by_kind["good"].items())},
            "false_drop_all": round(rate(by_kind["good"]), 4),
            "recall": {kind: round(rate(by_kind[kind]), 4) for kind in KINDS if kind in by_kind},
            "recall_by_language": {
                kind: {lang: round(cell[0] / cell[1], 4) for lang, cell in sorted(by_kind[kind].items())}
                for kind in KINDS
                if kind in by_kind
            },
        }
    return table


def markdown(result: dict[str, Any]) -> str:
    table, names = result["table"], list(result["table"])
    lines = [
        "| filter | " + " | ".join(KINDS) + " | false drops (worst language) | ms per 1,000 segments |",
        "| --- | " + " | ".join("---" for _ in KINDS) + " | --- | --- |",
    ]
    for name in names:
        row = table[name]
        worst = max(row["false_drop"].items(), key=lambda item: item[1])
        recall = " | ".join(f"{row['recall'].get(kind, float('nan')):.1%}" for kind in KINDS)
        lines.append(
            f"| {name} | {recall} | {row['false_drop_all']:.1%} ({worst[0]} {worst[1]:.1%}) | {result['ms_per_1000'][name]:,.0f} |"
        )
    chain = table[CHAIN]
    langs = list(chain["false_drop"])
    lines += [
        "",
        "The chain per language (recall per kind, then false drops):",
        "",
        "| kind | " + " | ".join(langs) + " |",
        "| --- | " + " | ".join("---" for _ in langs) + " |",
    ]
    for kind in KINDS:
        by_lang = chain["recall_by_language"].get(kind, {})
        lines.append(f"| {kind} | " + " | ".join(f"{by_lang[lang]:.0%}" if lang in by_lang else "" for lang in langs) + " |")
    lines.append("| false drops | " + " | ".join(f"{chain['false_drop'][lang]:.1%}" for lang in langs) + " |")
    lines += [
        "",
        "The similarity filter's scores (p5 / p50 / p95), all languages together:",
        "",
        "| pairs | cosine | margin | source margin |",
        "| --- | --- | --- | --- |",
    ]
    for kind, scores in result["similarity_distributions"]["all"].items():
        cells = [
            " / ".join(f"{scores[score][q]:.3f}" for q in ("p5", "p50", "p95")) if scores.get(score) else ""
            for score in ("cosine", "margin", "source_margin")
        ]
        lines.append(f"| {kind} | {cells[0]} | {cells[1]} | {cells[2]} |")
    if "engines" in result:
        engines = result["engines"]
        lines += [
            "",
            f"The similarity encoder on {engines['texts']:,} of these texts: CTranslate2 int8 {engines['ctranslate2_int8_s']} s, "
            f"PyTorch float32 {engines['torch_float32_s']} s ({engines['speedup']}x); their vectors' cosine "
            f"{engines['cosine_mean']} on average, {engines['cosine_min']} at the lowest.",
        ]
    return "\n".join(lines) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", default="lareqa:xquad-r", help="a LAReQA-format set: lareqa:PATH, or lareqa:NAME under the data folders")
    parser.add_argument(
        "--articles",
        default=HELD_OUT,
        help="articles whose questions are used (default: %(default)s, the ones the "
        f"filters' defaults were not chosen on; {TUNING}: the ones they were)",
    )
    parser.add_argument("--quick", action="store_true", help=f"articles {QUICK} only")
    parser.add_argument("--langid", default="fasttext", help="language-ID backend of the chain")
    parser.add_argument("--out", type=Path, default=WORK / "results-filters.json")
    args = parser.parse_args()
    from mtqa.errors import MtqaError

    try:
        questions, passages = load_questions(args.data, QUICK if args.quick else args.articles)
    except MtqaError as error:
        sys.exit(f"bench-filters: error: {error}")
    examples = make_examples(questions, passages)
    failed, seconds, similarity = run_filters(examples, args.langid, load_sentences(args.data, QUICK if args.quick else args.articles))
    table = tabulate(examples, failed)
    chain = table[CHAIN]
    targeted = {kind: value for kind, value in chain["recall"].items() if kind not in UNTARGETED}
    result = {
        "date": time.strftime("%Y-%m-%d"),
        "machine": machine(),
        "data": args.data,
        "examples": len(examples),
        "good": sum(e["kind"] == "good" for e in examples),
        "languages": sorted({e["lang"] for e in examples}),
        "ms_per_1000": {name: 1000 * 1000 * value / len(examples) for name, value in seconds.items()},
        "table": table,
        "similarity_distributions": similarity,
        "targets": {"recall_min": TARGET_RECALL, "false_drop_max": TARGET_FALSE_DROP},
        "worst_recall": min(targeted.values()),
        "worst_recall_kind": min(targeted, key=targeted.get),
        "worst_false_drop": max(chain["false_drop"].values()),
        "worst_false_drop_language": max(chain["false_drop"], key=chain["false_drop"].get),
    }
    result["engines"] = compare_engines(list(dict.fromkeys(text for e in examples for text in (e["source"], e["output"]) if text.strip())))
    result["markdown"] = markdown(result)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2) + "\n")
    print(
        f"bench-filters on {result['machine']}: {result['good']:,} good and {result['examples'] - result['good']:,} corrupted examples, "
        f"{len(result['languages'])} languages\n"
    )
    print(result["markdown"])
    print(
        f"chain: worst recall {result['worst_recall']:.1%} ({result['worst_recall_kind']}; target >= {TARGET_RECALL:.0%}), "
        f"worst false drops {result['worst_false_drop']:.1%} ({result['worst_false_drop_language']}; target <= {TARGET_FALSE_DROP:.0%})"
    )


if __name__ == "__main__":
    main()
