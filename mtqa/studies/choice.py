"""A dev-split choice by a rule fixed in the recipe before any run, and the diagnostic that says why it won.

A recipe's ``study.choose`` names the rule::

    choose: {reference: hn0-t0.05-kl1, by: mono_map, keep: [cross_map, multi_map], within: 0.005, seeds: 3}

Among the groups with at least ``seeds`` finished seeds whose mean of every ``keep`` metric is within
``within`` of the reference's (or above it), the one with the best mean ``by`` wins. The reference
competes too. A group with fewer seeds is listed but cannot win, so a partial study says so rather
than picking on one seed.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from ..card import markdown_table

# What the diagnostic table shows beside mono mAP: ranks at the top, and whether the misses are in-paragraph.
DIAGNOSTICS = ("mono_map", "mono_r@1", "mono_mrr", "mono_errors_same_paragraph")


def _mean(runs: list[dict[str, Any]], metric: str) -> float:
    values = [run.get(metric, float("nan")) for run in runs]
    return float(np.mean(values)) if values else float("nan")


def _cell(value: float, digits: int = 3) -> str:
    return f"{value:.{digits}f}" if np.isfinite(value) else "—"


def diagnostic_table(groups: dict[str, list[dict]], order: list[str]) -> str:
    """Per group, means over seeds: mono mAP, R@1, MRR and the share of mono top-1 errors from the gold paragraph."""
    rows = [[group, len(groups[group]), *[_cell(_mean(groups[group], m)) for m in DIAGNOSTICS]] for group in order if group in groups]
    return markdown_table(["run", "seeds", "mono mAP", "mono R@1", "mono MRR", "top-1 errors from the gold paragraph"], rows)


def choose(groups: dict[str, list[dict]], rule: dict[str, Any]) -> tuple[str, dict[str, Any]]:
    """The rule applied to the finished runs: a table of every candidate, the winner in words, and its record."""
    reference, by, keep = rule["reference"], rule.get("by", "mono_map"), rule.get("keep", ["cross_map", "multi_map"])
    within, needed = float(rule.get("within", 0.005)), int(rule.get("seeds", 3))
    if reference not in groups:
        return f"Choice not made yet: the reference {reference} has no finished run.", {"chosen": None}
    floor = {metric: _mean(groups[reference], metric) - within for metric in keep}
    rows, eligible = [], {}
    for group, runs in groups.items():
        if group == "untrained":
            continue
        means = {metric: _mean(runs, metric) for metric in (by, *keep)}
        kept = all(means[metric] >= floor[metric] for metric in keep)
        enough = len(runs) >= needed
        if kept and enough:
            eligible[group] = means[by]
        why = "eligible" if kept and enough else ("too few seeds" if kept else "loses " + ", ".join(m for m in keep if means[m] < floor[m]))
        rows.append([group, len(runs), *[_cell(means[m]) for m in (by, *keep)], why])
    rows.sort(key=lambda row: -float(row[2]) if row[2] != "—" else 0.0)
    table = markdown_table(["run", "seeds", f"mean {by}", *[f"mean {m}" for m in keep], "under the rule"], rows)
    rule_text = (
        f"Rule (fixed before any run): among the runs with {needed} or more seeds whose mean {', '.join(keep)} are each "
        f"within {within} of {reference}'s, the best mean {by}."
    )
    if not eligible:
        return f"{rule_text}\n\n{table}\n\nNo run is eligible yet: none chosen.", {"chosen": None, "rule": rule}
    chosen = max(eligible, key=eligible.get)
    return f"{rule_text}\n\n{table}\n\nChosen: **{chosen}** ({by} {eligible[chosen]:.3f}).", {"chosen": chosen, "rule": rule}
