"""Study claims judged by paired differences over seeds: a 95% t-interval over seeds and, where the reports give
per-article figures, a 95% bootstrap over the test articles.

A recipe's ``study.claims`` with a ``margin`` asks for this judgement instead of the means-only one::

    claims: {hybrid: hybrid, xx: xx, xy: xy, baselines: [xx, xy, multitask], final: hybrid-kl, untrained: untrained,
             margin: 0.01}

Study v2 compared hybrid with the better of xx and xy in each seed, and each baseline with the best of the others.
Study v3 adds keys:

* ``rivals: {mono: xx, cross: xy, multi: xy}`` names claim 1's rival for each setting in advance, and makes claim 2
  one comparison per named baseline, so no comparison picks its rival from the results;
* ``above_base_by``: claim 4's bound on mono, cross and multi mAP (0 without it);
* ``reference`` and ``rank_margin``: claim 5, the final model keeps the reference method's cross and multi mAP (within
  ``margin``) and its rank distance (within ``rank_margin``).

Each claim is a set of per-seed differences (same seed, same batches where the modes share them). A
claim is **shown** when the whole 95% interval lies on its side of the bound, **refuted** when the
whole interval lies on the other side, and **not shown** when the interval crosses the bound: more
seeds, or a larger effect, would be needed to tell. With both intervals, a claim is shown (or refuted)
only when both say so.
"""

from __future__ import annotations

from typing import Any, Callable

import numpy as np

from ..card import markdown_table
from ..errors import MtqaError
from ..evaluate.lareqa import SETTINGS

CONFIDENCE = 0.95
BOOTSTRAP_RESAMPLES = 2000


def t_interval(values: list[float]) -> tuple[float, float, float]:
    """Mean and the two-sided 95% Student-t interval of ``values`` (unbounded for one value: nothing is shown)."""
    from scipy import stats

    mean = float(np.mean(values))
    if len(values) < 2:
        return mean, -np.inf, np.inf
    half = float(stats.t.ppf((1 + CONFIDENCE) / 2, len(values) - 1) * np.std(values, ddof=1) / np.sqrt(len(values)))
    return mean, mean - half, mean + half


def judge(low: float, high: float, bound: float, above: bool) -> str:
    """``above``: the claim is difference > bound; otherwise difference < bound."""
    if above:
        return "shown" if low > bound else "refuted" if high < bound else "not shown"
    return "shown" if high < bound else "refuted" if low > bound else "not shown"


def by_seed(runs: list[dict[str, Any]]) -> dict[Any, dict[str, Any]]:
    return {run["seed"]: run for run in runs}


def _seeded(groups: dict[str, list[dict]], name: str) -> dict[Any, dict[str, Any]]:
    return by_seed(groups.get(name, []))


Value = Callable[[dict[str, Any], str], float]  # a run's figure for a metric: as reported, or over resampled articles


def check_claims(claims: dict[str, Any]) -> None:
    """One line naming what a recipe's claims section lacks, before any report is read."""
    missing = [key for key in ("hybrid", "xx", "xy", "margin") if key not in claims]
    if claims.get("rivals") is not None:
        missing += [f"rivals.{setting}" for setting in SETTINGS if setting not in claims["rivals"]]
    if claims.get("reference") and "rank_margin" not in claims:
        missing.append("rank_margin (claim 5 needs it beside reference)")
    if missing:
        raise MtqaError(f"study.claims: missing {', '.join(missing)}; see mtqa/studies/claims.py for the keys")


def reported(run: dict[str, Any], metric: str) -> float:
    return run[metric]


def _minus(left: dict[Any, dict], rivals: list[dict[Any, dict]], metric: str) -> Callable[[Value], list[float]]:
    """Per seed that every side ran: ``left`` minus the best of ``rivals`` (one rival: minus that rival)."""
    seeds = sorted(set(left).intersection(*rivals), key=str)
    return lambda v: [v(left[k], metric) - max(v(rival[k], metric) for rival in rivals) for k in seeds]


def _label(metric: str, left: str, right: str) -> str:
    return f"{metric.replace('_map', ' mAP').replace('_', ' ')}: {left} − {right}"


def claim_differences(groups: dict[str, list[dict]], claims: dict[str, Any]) -> list[dict[str, Any]]:
    """Every claim's parts: what is compared, its per-seed differences as a function of how a run's figure is read
    (``difference(value)``), the reported differences (``diffs``), the bound and its side."""
    check_claims(claims)
    margin, rivals = float(claims["margin"]), claims.get("rivals")  # study v3 names each rival in advance
    run = {name: _seeded(groups, name) for name in {*groups, *(v for v in claims.values() if isinstance(v, str))}}
    hybrid, xx, xy = (run[claims[key]] for key in ("hybrid", "xx", "xy"))
    parts = []

    def part(claim: int, what: str, difference: Callable[[Value], list[float]], bound: float, above: bool) -> None:
        parts.append(
            {"claim": claim, "what": what, "difference": difference, "diffs": difference(reported), "bound": bound, "above": above}
        )

    for m in (f"{s}_map" for s in SETTINGS):
        if rivals:
            part(1, _label(m, "hybrid", rivals[m[:-4]]), _minus(hybrid, [run.get(rivals[m[:-4]], {})], m), -margin, True)
        else:
            part(1, _label(m, "hybrid", "max(xx, xy)"), _minus(hybrid, [xx, xy], m), -margin, True)
    for best, m in ((claims["xx"], "mono_map"), (claims["xy"], "cross_map")):
        others = [name for name in claims.get("baselines", []) if name != best]
        if rivals:  # one part per named rival: best must beat each
            for other in others:
                part(2, _label(m, best, other), _minus(run[best], [run.get(other, {})], m), 0.0, True)
        else:
            rival_runs = [run.get(name, {}) for name in others]
            part(2, _label(m, best, "best other baseline"), _minus(run[best], rival_runs, m) if others else lambda v: [], 0.0, True)
    part(3, "rank distance: hybrid − xx", _minus(hybrid, [xx], "rank_distance"), 0.0, False)
    final = run.get(claims.get("final"), {})
    if claims.get("final") and claims.get("untrained"):
        base = groups.get(claims["untrained"], [])
        as_base = {seed: base[0] for seed in final} if base else {}  # the untrained model has no seed: every seed against it
        for m in (*(f"{s}_map" for s in SETTINGS), "rank_distance"):
            above = m != "rank_distance"
            bound = float(claims.get("above_base_by", 0.0)) if above else 0.0
            part(4, _label(m, claims["final"], claims["untrained"]), _minus(final, [as_base], m), bound, above)
    if claims.get("final") and claims.get("reference"):  # the final model gives back nothing the reference method gained
        reference = run.get(claims["reference"], {})
        for m in ("cross_map", "multi_map", "rank_distance"):
            above = m != "rank_distance"
            bound = -margin if above else float(claims["rank_margin"])
            part(5, _label(m, claims["final"], claims["reference"]), _minus(final, [reference], m), bound, above)
    return parts


class _NoArticles(Exception):
    """A run's report has no per-article figures (reports before study v3), not the same articles as the others, or
    an article without a figure."""


def article_interval(part: dict[str, Any], resamples: int = BOOTSTRAP_RESAMPLES, seed: int = 0) -> tuple[float, float] | None:
    """The 95% percentile interval of the mean paired difference when the test articles are drawn again with
    replacement (one draw for every run, so the pairing holds); None when a run lacks per-article figures.

    The seeds are held as they are: this interval says how much the verdict rests on which articles were tested,
    as the seed t-interval says how much it rests on which seeds were run.
    """
    columns: dict[tuple[int, str], np.ndarray] = {}
    order: list[list[str]] = []

    def column(run: dict[str, Any], metric: str) -> np.ndarray:
        key = (id(run), metric)
        if key not in columns:
            table = run.get("per_article") or {}
            articles = sorted(table, key=int)
            if not articles or (order and articles != order[0]):
                raise _NoArticles
            order.append(articles)
            columns[key] = np.array([table[a][metric] for a in articles], dtype=float)
            if not np.isfinite(columns[key]).all():  # an article without the figure (no query it can judge)
                raise _NoArticles
            columns[(id(run), "questions")] = np.array([table[a]["questions"] for a in articles], dtype=float)
        return columns[key]

    try:
        part["difference"](lambda run, metric: float(column(run, metric).mean()))  # reads every run once
    except _NoArticles:
        return None
    if not order:
        return None
    weights = next(value for (_, metric), value in columns.items() if metric == "questions")
    rng = np.random.default_rng(seed)
    means = []
    for _ in range(resamples):
        drawn = np.bincount(rng.integers(0, len(weights), len(weights)), minlength=len(weights)) * weights
        drawn /= drawn.sum()
        means.append(np.mean(part["difference"](lambda run, metric: float(drawn @ column(run, metric)))))
    low, high = np.percentile(means, [100 * (1 - CONFIDENCE) / 2, 100 * (1 + CONFIDENCE) / 2])
    return float(low), float(high)


def combined(by_seeds: str, by_articles: str | None) -> str:
    """Shown (or refuted) only when both intervals say so; one interval alone when the reports give no articles."""
    if by_articles is None or by_articles == by_seeds:
        return by_seeds
    return "not shown"


def interval_table_and_verdicts(groups: dict[str, list[dict]], claims: dict[str, Any]) -> tuple[str, list[str], list[dict]]:
    """The paired-difference table (mean, the seed t-interval, the article bootstrap, per seed, verdict) and one line per
    claim. A verdict is shown only where both intervals clear the bound."""
    rows, record = [], []
    for part in claim_differences(groups, claims):
        digits = 1 if "rank distance" in part["what"] else 3
        summary = {key: value for key, value in part.items() if key != "difference"}
        if not part["diffs"]:
            rows.append([part["claim"], part["what"], 0, "—", "—", "—", "not run yet"])
            record.append({**summary, "verdict": "not run yet"})
            continue
        mean, low, high = t_interval(part["diffs"])
        articles = article_interval(part)
        by_articles = judge(*articles, part["bound"], part["above"]) if articles else None
        verdict = combined(judge(low, high, part["bound"], part["above"]), by_articles)
        side = ">" if part["above"] else "<"
        rows.append(
            [
                part["claim"],
                f"{part['what']} {side} {part['bound']:g}",
                len(part["diffs"]),
                f"{mean:+.{digits}f} [{low:+.{digits}f}, {high:+.{digits}f}]" if np.isfinite(low) else f"{mean:+.{digits}f} (one seed)",
                f"[{articles[0]:+.{digits}f}, {articles[1]:+.{digits}f}]" if articles else "—",
                ", ".join(f"{d:+.{digits}f}" for d in part["diffs"]),
                verdict,
            ]
        )
        record.append(
            {
                **summary,
                "mean": mean,
                "ci95": [low, high] if np.isfinite(low) else None,
                "articles_ci95": list(articles) if articles else None,
                "verdict": verdict,
            }  # fmt: skip
        )
    headers = [
        "claim",
        "paired difference",
        "seeds",
        "mean [95% t-interval over seeds]",
        "95% bootstrap over articles",
        "per seed",
        "verdict",
    ]
    return markdown_table(headers, rows), _verdict_lines(record, claims), record


CLAIM_TEXT = {
    1: "hybrid ≥ max(xx, xy) − margin on mono, cross and multi",
    2: "xx is the best baseline on mono and xy the best on cross",
    3: "hybrid's rank distance is below xx's",
    4: "the final model beats the untrained one on mono, cross, multi and rank distance",
    5: "the final model keeps the reference method's cross and multi mAP (within margin) and rank distance (within rank_margin)",
}


def claim_text(number: int, claims: dict[str, Any]) -> str:
    """The claim in words, with the rivals and bounds this recipe gives it."""
    rivals = claims.get("rivals")
    if number == 1 and rivals:
        named = "; ".join(f"{rival} on {', '.join(s for s in SETTINGS if rivals[s] == rival)}" for rival in dict.fromkeys(rivals.values()))
        text = f"hybrid ≥ its named rival − margin ({named})"
    elif number == 2 and rivals:
        text = "xx beats each other baseline on mono and xy each other baseline on cross"
    elif number == 4 and "above_base_by" in claims:
        text = "the final model beats the untrained one on mono, cross and multi by above_base_by, and on rank distance"
    else:
        text = CLAIM_TEXT[number]
    for key in ("above_base_by", "rank_margin", "margin"):  # longest first: "margin" is inside the others
        text = text.replace(key, str(claims.get(key, 0)))
    return text


def _verdict_lines(record: list[dict], claims: dict[str, Any]) -> list[str]:
    lines = []
    for number in CLAIM_TEXT:
        parts = [part for part in record if part["claim"] == number]
        if not parts:
            continue
        verdicts = [part["verdict"] for part in parts]
        overall = "shown" if all(v == "shown" for v in verdicts) else "refuted" if "refuted" in verdicts else "not shown"
        if "not run yet" in verdicts:
            overall = "not judged yet"
        detail = "; ".join(f"{part['what']}: {part['verdict']}" for part in parts)
        lines.append(f"{number}. {claim_text(number, claims)}: **{overall}** ({detail}).")
    return lines
