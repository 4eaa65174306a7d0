#!/usr/bin/env python
"""How well each filter signal predicts true translation quality: Apertium's Spanish of XQuAD-R against the human Spanish.

Every English XQuAD-R question (all 48 articles by default) is translated into Spanish by
Apertium (eng-spa), each segment alone. Its true quality is sacrebleu's chrF against the human
Spanish question of the same id. (Sentences are left out: XQuAD-R split each language's
passages on its own, so sentence *i* of English and Spanish need not say the same thing, and
chrF against a misaligned reference would measure the split, not the translation.)

Signals, each oriented so that higher should mean better:

  langid          the language-ID backend's probability that the output is Spanish
  length_ratio    minus |log(ratio / the run's median ratio)|, ratio = output / source characters
  copy            minus the similarity of output and source (what the copy filter thresholds)
  similarity      multilingual-e5-small's cosine of source and output (offline-me5, CTranslate2)
  margin          that cosine minus the best cosine of the output with another question of its passage
  round_trip      chrF of the output translated back to English (spa-eng, each segment alone) against the source

For each: Spearman's rho with true quality; the rows its filter drops at its default threshold
against those it keeps (true-quality mean and quartiles); precision and recall of the "worst 5%
by true quality" for the filter as it stands and for the signal's own lowest 5%. The round-trip
threshold is then chosen from these figures (the one whose drops best match the worst 5%).

    python -m bench.filters.signals [--articles 0-47] [--out bench/results/filter-signals.json]
"""

from __future__ import annotations

import argparse
import json
import math
import time
from difflib import SequenceMatcher
from pathlib import Path
from typing import Any

import numpy as np

from bench import RESULTS
from bench.filters.corruptions import load_questions
from bench.measure import machine

WORST_SHARE = 0.05
SIGNALS = ("langid", "length_ratio", "copy", "similarity", "margin", "round_trip")


def translate_alone(texts: list[str], mode: str) -> list[str]:
    from mtqa.translate.apertium import MODES_DIR
    from mtqa.translate.apertium_pipeline import IsolatedPipeline, stages_of

    pipeline = IsolatedPipeline(stages_of(MODES_DIR / f"{mode}.mode"))
    return [text for start in range(0, len(texts), 200) for text in pipeline.translate(texts[start : start + 200])]


def chrf(hypotheses: list[str], references: list[str]) -> np.ndarray:
    from sacrebleu.metrics import CHRF

    metric = CHRF()
    return np.array([metric.sentence_score(h, [r]).score for h, r in zip(hypotheses, references)])


def signals_of(sources: list[str], outputs: list[str], back: list[str], passage_of: list[str]) -> dict[str, np.ndarray]:
    from mtqa.languages import get_language
    from mtqa.translate.filters import langid
    from mtqa.translate.filters.chain import LanguageIdFilter, _normalise
    from mtqa.translate.filters.similarity import SimilarityScorer

    spanish = get_language("es")
    backend = langid.backend(LanguageIdFilter.backend)
    ratios = np.array([len(o) / max(1, len(s)) for s, o in zip(sources, outputs)])
    median = float(np.median(ratios[ratios > 0]))
    scorer = SimilarityScorer("offline-me5", engine="ctranslate2")
    pairs = [(s, o, "es") for s, o in zip(sources, outputs)]
    scores = scorer.score(pairs, dict(zip(sources, passage_of)))
    return {
        "langid": np.array([backend.probability(o, backend.code(spanish)) if o.strip() else 0.0 for o in outputs]),
        "length_ratio": np.array([-abs(math.log(r / median)) if r > 0 else -10.0 for r in ratios]),
        "copy": np.array([-SequenceMatcher(None, _normalise(s), _normalise(o), autojunk=False).ratio() for s, o in zip(sources, outputs)]),
        "similarity": np.array([scores.cosine.get(p, np.nan) for p in pairs]),
        "margin": np.array([scores.margin.get(p, np.nan) for p in pairs]),
        "round_trip": chrf(back, sources),
    }


def drops_of(sources: list[str], outputs: list[str], passage_of: list[str], round_trip_threshold: float, round_trip: np.ndarray) -> dict:
    """Which rows each filter of the default chain (and the similarity filter, and round-trip) drops at its default."""
    from mtqa.languages import get_language
    from mtqa.translate.filters.chain import CopyFilter, LanguageIdFilter, LengthRatioFilter, SimilarityFilter

    spanish = get_language("es")
    segments = [(s, o, spanish) for s, o in zip(sources, outputs)]
    groups = dict(zip(sources, passage_of))
    drops = {}
    for name, chosen in (("langid", LanguageIdFilter()), ("length_ratio", LengthRatioFilter()), ("copy", CopyFilter())):
        chosen.prepare(segments, groups)
        drops[name] = np.array([not chosen.passes(s, o, spanish) for s, o, _ in segments])
    similarity = SimilarityFilter()
    similarity.prepare(segments, groups)
    drops["similarity"] = np.array([not similarity.passes(s, o, spanish) for s, o, _ in segments])
    drops["round_trip"] = round_trip < round_trip_threshold
    return drops


def quartiles(values: np.ndarray) -> dict[str, float] | None:
    if len(values) == 0:
        return None
    q1, q2, q3 = np.percentile(values, [25, 50, 75])
    return {
        "n": int(len(values)),
        "mean": round(float(values.mean()), 1),
        "q1": round(float(q1), 1),
        "median": round(float(q2), 1),
        "q3": round(float(q3), 1),
    }


def precision_recall(dropped: np.ndarray, worst: np.ndarray) -> dict[str, float | None]:
    hits = int((dropped & worst).sum())
    return {
        "dropped": int(dropped.sum()),
        "precision": round(hits / dropped.sum(), 3) if dropped.sum() else None,
        "recall": round(hits / worst.sum(), 3) if worst.sum() else None,
    }


def choose_round_trip_threshold(round_trip: np.ndarray, worst: np.ndarray) -> float:
    """The threshold on round-trip chrF whose drops best match the worst 5% (F1), among whole chrF points."""
    best, best_f1 = 0.0, -1.0
    for threshold in range(5, 95):
        dropped = round_trip < threshold
        hits = (dropped & worst).sum()
        f1 = 2 * hits / (dropped.sum() + worst.sum()) if dropped.sum() + worst.sum() else 0.0
        if f1 > best_f1:
            best, best_f1 = float(threshold), f1
    return best


def main() -> None:
    from scipy.stats import spearmanr

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--articles", default="0-47")
    parser.add_argument("--out", type=Path, default=RESULTS / "filter-signals.json")
    args = parser.parse_args()
    started = time.time()
    questions, passages = load_questions("lareqa:xquad-r", args.articles)
    passage_by_id = {qid: number for number, ids in passages.items() for qid in ids}
    ids = [qid for qid in questions["en"] if qid in questions.get("es", {})]
    sources = [questions["en"][qid] for qid in ids]
    human = [questions["es"][qid] for qid in ids]
    passage_of = [passage_by_id[qid] for qid in ids]
    outputs = translate_alone(sources, "eng-spa")
    back = translate_alone(outputs, "spa-eng")
    quality = chrf(outputs, human)
    worst = quality <= np.percentile(quality, 100 * WORST_SHARE)
    signals = signals_of(sources, outputs, back, passage_of)
    threshold = choose_round_trip_threshold(signals["round_trip"], worst)
    drops = drops_of(sources, outputs, passage_of, threshold, signals["round_trip"])
    table = {}
    for name in SIGNALS:
        values = signals[name]
        known = ~np.isnan(values)
        rho = spearmanr(values[known], quality[known]).statistic
        lowest = values <= np.nanpercentile(values, 100 * WORST_SHARE)
        row: dict[str, Any] = {
            "spearman_rho": round(float(rho), 3),
            "scored": int(known.sum()),
            "lowest_5pct": precision_recall(lowest & known, worst),
        }
        if name in drops:
            row["filter_at_default"] = precision_recall(drops[name], worst)
            row["quality_dropped"], row["quality_kept"] = quartiles(quality[drops[name]]), quartiles(quality[~drops[name]])
        table[name] = row
    examples = [
        {"en": sources[i], "apertium": outputs[i], "human": human[i], "back": back[i], "chrf": round(float(quality[i]), 1)}
        for i in np.argsort(quality)[:5]
    ]
    result = {
        "machine": machine(),
        "date": time.strftime("%Y-%m-%d"),
        "articles": args.articles,
        "questions": len(ids),
        "true_quality": {"metric": "chrF (sacrebleu), Apertium eng-spa against the human Spanish", **quartiles(quality)},
        "worst_share": WORST_SHARE,
        "worst_threshold_chrf": round(float(np.percentile(quality, 100 * WORST_SHARE)), 1),
        "round_trip_threshold": threshold,
        "signals": table,
        "examples": examples,
        "seconds": round(time.time() - started, 1),
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    temporary = args.out.with_suffix(".tmp")
    temporary.write_text(json.dumps(result, indent=2, ensure_ascii=False) + "\n")
    temporary.replace(args.out)
    print(json.dumps({key: value for key, value in result.items() if key != "examples"}, indent=2))


if __name__ == "__main__":
    main()
