#!/usr/bin/env python
"""What `mtqa translate`'s filters do on real machine translation: Apertium's Spanish of XQuAD-R against the human Spanish.

Two measurements, both on every XQuAD-R article (0-47 by default):

1. The corpus as `mtqa translate` writes it: the English set translated into Spanish by
   Apertium (`--model apertium:eng-spa --similarity --no-filter`, so every row is kept with its
   flags): the share of Spanish examples each filter would drop, and the similarity filter's
   score distributions as its manifest reports them.
2. Questions side by side: each English question with Apertium's Spanish and with the human
   Spanish of the same id, each judged by every filter in a run of its own passages' questions
   (sentences are left out: XQuAD-R split each language's passages on its own, so sentence *i*
   of English and Spanish need not say the same thing). Per filter, the share failed; for the
   similarity filter, the cosine and margin quantiles of MT and of human translations.

Five examples of dropped rows are printed and kept, with the English and the human Spanish beside them.

    python -m bench.filters.apertium [--articles 0-47] [--out bench/results/apertium-filters.json]
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

from bench import RESULTS
from bench.filters.corruptions import load_questions
from bench.measure import machine

EXAMPLES = 5


def translate_corpus(articles: str, out: Path) -> dict[str, Any]:
    """Run `mtqa translate` with Apertium as a user would; returns the manifest and rows."""
    import pyarrow.parquet as pq

    command = [
        sys.executable,
        "-m",
        "mtqa",
        "translate",
        "--input",
        "lareqa:xquad-r",
        "--articles",
        articles,
        "--langs",
        "es",
        "--model",
        "apertium:eng-spa",
        "--similarity",
        "--no-filter",
        "--quiet",
        "--no-cache",
        "--output",
        str(out),
    ]
    subprocess.run(command, check=True)
    rows = pq.read_table(next((out / "data").glob("*.parquet"))).to_pylist()
    return {"manifest": json.loads((out / "manifest.json").read_text()), "rows": rows}


DROPPING = ("question", "answer_sentence")  # the parts whose flags drop a row under the default --filter-scope answer


def dropping_flags(row: dict[str, Any]) -> list[str]:
    return [flag for flag in row["flags"] if flag.split(":", 1)[0] in DROPPING]


def corpus_shares(rows: list[dict[str, Any]]) -> dict[str, Any]:
    """Per filter, the share of Spanish examples it drops (a row may fail several), and the chain's; flags on the
    passage's other sentences are counted apart, since the default scope keeps those rows."""
    from mtqa.translate.align import keeps

    spanish = [row for row in rows if row["lang"] == "es"]
    by_filter: dict[str, int] = {}
    for row in spanish:
        for name in {flag.split(":")[1] for flag in dropping_flags(row)}:
            by_filter[name] = by_filter.get(name, 0) + 1
    dropped = sum(1 for row in spanish if not keeps(row["flags"], "answer"))
    other = sum(1 for row in spanish if keeps(row["flags"], "answer") and row["flags"])
    return {
        "examples": len(spanish),
        "dropped_by_chain": dropped,
        "dropped_share": round(dropped / len(spanish), 4),
        "kept_with_flags_on_other_sentences": other,
        "by_filter": {name: {"dropped": count, "share": round(count / len(spanish), 4)} for name, count in sorted(by_filter.items())},
    }


def judge_questions(pairs: list[tuple[str, str]], groups: dict[str, str]) -> tuple[dict[str, list[bool]], Any]:
    """Each filter's verdict on (English, Spanish) question pairs, judged in one run; and the similarity scores."""
    from mtqa.languages import get_language
    from mtqa.translate.cache import TranslationCache
    from mtqa.translate.filters.chain import FilterOptions, SimilarityFilter, default_filters

    spanish = get_language("es")
    segments = [(english, output, spanish) for english, output in pairs]
    filters = default_filters(FilterOptions(similarity=True), cache=TranslationCache(None), progress=False)
    failed = {}
    for check in filters:
        check.prepare(segments, groups)
        failed[check.name] = [not check.passes(*segment) for segment in segments]
    failed["chain"] = [any(column) for column in zip(*failed.values())]
    similarity = next(check for check in filters if isinstance(check, SimilarityFilter))
    return failed, similarity.scores


def side_by_side(articles: str) -> tuple[dict[str, Any], dict[str, str]]:
    from mtqa.languages import get_language
    from mtqa.translate import apertium
    from mtqa.translate.filters.similarity import distribution

    questions, passages = load_questions("lareqa:xquad-r", articles)
    ids = [qid for qid in questions["en"] if qid in questions["es"]]
    pair = apertium.resolve_pairs("apertium:eng-spa", [get_language("es")])["spa_Latn"]
    translated = apertium.ApertiumTranslator({"spa_Latn": pair}).translate_texts([questions["en"][qid] for qid in ids], pair)
    mt_of = dict(zip(ids, translated))
    groups = {questions["en"][qid]: passage for passage, members in passages.items() for qid in members}
    result = {}
    for name, outputs in (("mt", mt_of), ("human", questions["es"])):
        pairs = [(questions["en"][qid], outputs[qid]) for qid in ids]
        failed, scores = judge_questions(pairs, groups)
        keyed = [(english, output, "es") for english, output in pairs]
        result[name] = {
            "questions": len(ids),
            "failed_share": {check: round(sum(v) / len(v), 4) for check, v in failed.items()},
            "cosine": distribution(scores.cosine.get(key) for key in keyed),
            "margin": distribution(scores.margin.get(key) for key in keyed),
            "source_margin": distribution(scores.source_margin.get(key) for key in keyed),
        }
    return result, {questions["en"][qid]: questions["es"][qid] for qid in ids}


def dropped_examples(rows: list[dict[str, Any]], human_of: dict[str, str], count: int = EXAMPLES) -> list[dict[str, Any]]:
    """Dropped rows, one per distinct set of reasons first, then in order: what a dropped row looks like."""
    english = {row["id"]: row for row in rows if row["lang"] == "en"}
    dropped = [row for row in rows if row["lang"] == "es" and dropping_flags(row)]
    kinds: set[tuple[str, ...]] = set()
    first_of_kind = [row for row in dropped if tuple(dropping_flags(row)) not in kinds and not kinds.add(tuple(dropping_flags(row)))]
    chosen = (first_of_kind + [row for row in dropped if row not in first_of_kind])[:count]

    def shown(row: dict[str, Any]) -> dict[str, Any]:
        source = english[row["id"]]
        if any(flag.startswith("question:") for flag in row["flags"]):
            return {
                "part": "question",
                "english": source["question"],
                "apertium": row["question"],
                "human": human_of.get(source["question"]),
            }
        return {
            "part": "answer sentence",
            "english": source["sentences"][source["answer_sentence"]],
            "apertium": row["sentences"][row["answer_sentence"]],
            "human": None,
        }  # fmt: skip  (human sentences are not aligned)

    return [{"id": row["id"], "flags": dropping_flags(row), **shown(row)} for row in chosen]


def markdown(result: dict[str, Any]) -> str:
    corpus, side = result["corpus"], result["questions"]
    lines = [
        f"# Filters on real machine translation: Apertium eng-spa on XQuAD-R articles {result['articles']}",
        "",
        f"{result['date']}, {result['machine']}; Apertium pair {result['pair']}.",
        "",
        f"## 1. The corpus `mtqa translate` writes ({corpus['examples']} Spanish examples)",
        "",
        "| filter | examples dropped | share |",
        "| --- | ---: | ---: |",
    ]
    lines += [f"| {name} | {item['dropped']} | {item['share']:.1%} |" for name, item in corpus["by_filter"].items()]
    lines += [
        f"| **chain** | {corpus['dropped_by_chain']} | {corpus['dropped_share']:.1%} |",
        "",
        f"## 2. Questions side by side ({side['mt']['questions']} questions): share failed",
        "",
        "| filter | Apertium | human |",
        "| --- | ---: | ---: |",
    ]
    lines += [
        f"| {name} | {side['mt']['failed_share'][name]:.1%} | {side['human']['failed_share'][name]:.1%} |"
        for name in side["mt"]["failed_share"]
    ]
    lines += [
        "",
        "Similarity filter scores (quantiles):",
        "",
        "| score | translation | p5 | p25 | p50 | mean |",
        "| --- | --- | ---: | ---: | ---: | ---: |",
    ]
    for score in ("cosine", "margin", "source_margin"):
        for name in ("mt", "human"):
            item = side[name][score]
            lines.append(
                f"| {score} | {'Apertium' if name == 'mt' else 'human'} | {item['p5']:.3f} | {item['p25']:.3f} | {item['p50']:.3f} | {item['mean']:.3f} |"
            )
    lines += ["", f"## {len(result['examples'])} dropped rows", ""]
    for example in result["examples"]:
        human = f"; human {example['human']!r}" if example["human"] else ""
        lines += [
            f"- `{', '.join(example['flags'])}` ({example['part']}): {example['english']!r} → Apertium {example['apertium']!r}{human}"
        ]
    return "\n".join(lines) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[1])
    parser.add_argument("--articles", default="0-47")
    parser.add_argument("--out", type=Path, default=RESULTS / "apertium-filters.json")
    args = parser.parse_args()
    import time

    from mtqa.output import atomic_write

    with tempfile.TemporaryDirectory() as work:
        corpus = translate_corpus(args.articles, Path(work) / "mt-es")
    side, human_of = side_by_side(args.articles)
    pairs = corpus["manifest"]["model"]["pairs"]["spa_Latn"]
    result = {
        "date": time.strftime("%Y-%m-%d"),
        "machine": machine(),
        "articles": args.articles,
        "pair": f"{pairs['mode']} ({pairs['package']} {pairs['version']})",
        "corpus": corpus_shares(corpus["rows"]),
        "corpus_similarity": corpus["manifest"]["similarity"],
        "questions": side,
        "examples": dropped_examples(corpus["rows"], human_of),
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    atomic_write(args.out, json.dumps(result, indent=2, ensure_ascii=False) + "\n")
    atomic_write(args.out.with_suffix(".md"), markdown(result))
    print(markdown(result))


if __name__ == "__main__":
    main()
