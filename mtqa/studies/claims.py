"""Study claims judged by paired differences over seeds and their 95% t-intervals (study v2).

A recipe's ``study.claims`` with a ``margin`` asks for this judgement instead of the means-only one::

    claims: {hybrid: hybrid, xx: xx, xy: xy, baselines: [xx, xy, multitask], final: hybrid-kl, untrained: untrained,
             margin: 0.01}

Each claim is a set of per-seed differences (same seed, same batches where the modes share them). A
claim is **shown** when the whole 95% interval lies on its side of the bound, **refuted** when the
whole interval lies on the other side, and **not shown** when the interval crosses the bound: more
seeds, or a larger effect, would be needed to tell.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from ..card import markdown_table
from ..evaluate.lareqa import SETTINGS

CONFIDENCE = 0.95


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


def claim_differences(groups: dict[str, list[dict]], claims: dict[str, Any]) -> list[dict[str, Any]]:
    """Every claim's parts: what is compared, the per-seed differences, the bound and its side."""
    margin = float(claims["margin"])
    hybrid, xx, xy = (_seeded(groups, claims[key]) for key in ("hybrid", "xx", "xy"))
    parts = []
    common = sorted(set(hybrid) & set(xx) & set(xy), key=str)
    for s in SETTINGS:
        diffs = [hybrid[k][f"{s}_map"] - max(xx[k][f"{s}_map"], xy[k][f"{s}_map"]) for k in common]
        parts.append({"claim": 1, "what": f"{s} mAP: hybrid − max(xx, xy)", "diffs": diffs, "bound": -margin, "above": True})
    for best, metric in ((claims["xx"], "mono_map"), (claims["xy"], "cross_map")):
        rivals = [_seeded(groups, name) for name in [n for n in claims.get("baselines", []) if n != best]]
        runs = _seeded(groups, best)
        seeds = sorted(set(runs).intersection(*rivals), key=str) if rivals else []
        diffs = [runs[k][metric] - max(rival[k][metric] for rival in rivals) for k in seeds]
        label = f"{metric.replace('_map', '')} mAP: {best} − best other baseline"
        parts.append({"claim": 2, "what": label, "diffs": diffs, "bound": 0.0, "above": True})
    diffs = [hybrid[k]["rank_distance"] - xx[k]["rank_distance"] for k in common]
    parts.append({"claim": 3, "what": "rank distance: hybrid − xx", "diffs": diffs, "bound": 0.0, "above": False})
    if claims.get("final") and claims.get("untrained"):
        final, base = _seeded(groups, claims["final"]), groups.get(claims["untrained"], [])
        for metric in (*(f"{s}_map" for s in SETTINGS), "rank_distance"):
            diffs = [run[metric] - base[0][metric] for run in final.values()] if base else []
            what = f"{metric.replace('_map', ' mAP').replace('_', ' ')}: {claims['final']} − {claims['untrained']}"
            parts.append({"claim": 4, "what": what, "diffs": diffs, "bound": 0.0, "above": metric != "rank_distance"})
    return parts


def interval_table_and_verdicts(groups: dict[str, list[dict]], claims: dict[str, Any]) -> tuple[str, list[str], list[dict]]:
    """The paired-difference table (mean, 95% interval, per seed, verdict) and one line per claim."""
    rows, record = [], []
    for part in claim_differences(groups, claims):
        digits = 1 if "rank distance" in part["what"] else 3
        if not part["diffs"]:
            rows.append([part["claim"], part["what"], 0, "—", "—", "not run yet"])
            record.append({**part, "verdict": "not run yet"})
            continue
        mean, low, high = t_interval(part["diffs"])
        verdict = judge(low, high, part["bound"], part["above"])
        side = ">" if part["above"] else "<"
        rows.append(
            [
                part["claim"],
                f"{part['what']} {side} {part['bound']:g}",
                len(part["diffs"]),
                f"{mean:+.{digits}f} [{low:+.{digits}f}, {high:+.{digits}f}]" if np.isfinite(low) else f"{mean:+.{digits}f} (one seed)",
                ", ".join(f"{d:+.{digits}f}" for d in part["diffs"]),
                verdict,
            ]
        )
        record.append({**part, "mean": mean, "ci95": [low, high] if np.isfinite(low) else None, "verdict": verdict})
    table = markdown_table(["claim", "paired difference", "seeds", "mean [95% t-interval]", "per seed", "verdict"], rows)
    return table, _verdict_lines(record, claims), record


CLAIM_TEXT = {
    1: "hybrid ≥ max(xx, xy) − margin on mono, cross and multi",
    2: "xx is the best baseline on mono and xy the best on cross",
    3: "hybrid's rank distance is below xx's",
    4: "the final model beats the untrained one on mono, cross, multi and rank distance",
}


def _verdict_lines(record: list[dict], claims: dict[str, Any]) -> list[str]:
    lines = []
    for number, text in CLAIM_TEXT.items():
        parts = [part for part in record if part["claim"] == number]
        if not parts:
            continue
        verdicts = [part["verdict"] for part in parts]
        overall = "shown" if all(v == "shown" for v in verdicts) else "refuted" if "refuted" in verdicts else "not shown"
        if "not run yet" in verdicts:
            overall = "not judged yet"
        detail = "; ".join(f"{part['what']}: {part['verdict']}" for part in parts)
        lines.append(f"{number}. {text.replace('margin', str(claims['margin']))}: **{overall}** ({detail}).")
    return lines
