"""The translate-train study's report: what training on machine-translated Spanish recovers of the human-translation gain.

A recipe's ``study`` section with ``kind: translate-train`` names its arms (run groups, ``GROUP-sSEED``
folders under ``--out``) and the verdicts fixed before the runs::

    study:
      kind: translate-train
      set: xquad-r
      pair_folder: enes          # {out}/enes/GROUP-sSEED: the same models evaluated on the {en, es} pool alone
      arms: {untrained: untrained, en: en, human: human, mt: mt, unfiltered: mt-unfiltered}
      recovered: {min_share: 0.8, measures: [es_mono, enes_cross]}
      filtering: {margin: 0.01, measures: [es_mono, enes_cross, enes_multi]}

Optional: ``recovered.needs_shown_gain`` (a share is given only where human − en's interval clears
zero: a ratio over a gain not shown is no finding) and ``filtering.filtered_arms`` (the arms judged
against ``unfiltered``; default ``[mt]``; the round-trip arm is ``round_trip``).

Each figure is the mean ± sample standard deviation over seeds; each comparison the paired
difference by seed with its 95% t-interval.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import numpy as np

from ..card import markdown_table
from ..output import atomic_write
from .report import mean_std_cell, seen_unseen

SPANISH = {
    "es_mono": "Spanish mono mAP",
    "enes_cross": "en↔es cross mAP",
    "enes_multi": "{en, es} multi mAP",
    "enes_rank_distance": "{en, es} rank distance",
}
ALL = {
    "mono_map": "mono mAP",
    "cross_map": "cross mAP",
    "multi_map": "multi mAP",
    "rank_distance": "rank distance",
    "mono_unseen": "unseen mono",
    "cross_unseen": "unseen cross",
}
MEASURES = {**SPANISH, **ALL}
TRAINED_LANGUAGES = ["en", "es"]


def _reports(folder: Path, name: str) -> dict[tuple[str, int], dict[str, Any]]:
    found = {}
    for path in sorted(Path(folder).glob("*/report.json")):
        item = json.loads(path.read_text())["evals"].get(name)
        matched = re.fullmatch(r"(.+)-s(\d+)", path.parent.name)
        if item is not None:
            found[(matched.group(1), int(matched.group(2))) if matched else (path.parent.name, 0)] = item
    return found


def collect(spec: dict[str, Any], out: Path) -> dict[str, dict[int, dict[str, float]]]:
    """arm -> seed -> measure -> value, for every run whose two evaluations (all languages, {en, es}) are both done."""
    name = spec.get("set", "xquad-r")
    everything, pair = _reports(out, name), _reports(Path(out) / spec.get("pair_folder", "enes"), name)
    arms: dict[str, dict[int, dict[str, float]]] = {}
    for arm, group in spec["arms"].items():
        for (found, seed), item in sorted(everything.items()):
            if found != group or (found, seed) not in pair:
                continue
            two = pair[(found, seed)]
            values = {
                "es_mono": two["per_language"]["mono_map"]["es"],
                "enes_cross": two["cross_map"],
                "enes_multi": two["multi_map"],
                "enes_rank_distance": two["rank_distance"],
                **{key: item[key] for key in ("mono_map", "cross_map", "multi_map", "rank_distance")},
            }
            unseen = seen_unseen(
                {"languages": item["languages"], "per_language": item["per_language"], "cross_matrix": item["cross_matrix"]},
                TRAINED_LANGUAGES,
            )
            values.update(mono_unseen=unseen["mono_unseen"], cross_unseen=unseen["cross_unseen"])
            arms.setdefault(arm, {})[seed] = values
    return arms


def interval(differences: list[float]) -> tuple[float, float, float]:
    """Mean and 95% t-interval of paired differences: the studies' one interval (unbounded for a single pair: nothing is shown)."""
    from .claims import t_interval

    return t_interval(list(differences))


def _digits(measure: str) -> int:
    return 1 if "rank_distance" in measure else 3


def _cell(values: list[float], measure: str) -> str:
    return mean_std_cell(values, _digits(measure))


def table(arms: dict[str, dict[int, dict[str, float]]], measures: dict[str, str]) -> str:
    rows = [[arm, len(runs), *[_cell([run[m] for run in runs.values()], m) for m in measures]] for arm, runs in arms.items()]
    return markdown_table(["run", "seeds", *measures.values()], rows)


def paired(arms: dict[str, dict[int, dict[str, float]]], left: str, right: str, measure: str) -> dict[str, Any] | None:
    """``left − right`` by seed; an arm of one run (untrained) pairs with every seed of the other."""
    if left not in arms or right not in arms:
        return None
    a, b = arms[left], arms[right]
    seeds = sorted(set(a) & set(b)) if len(a) > 1 and len(b) > 1 else sorted(a if len(a) > 1 else b)
    differences = [a[seed if len(a) > 1 else next(iter(a))][measure] - b[seed if len(b) > 1 else next(iter(b))][measure] for seed in seeds]
    if not differences:
        return None
    mean, low, high = interval(differences)
    return {"seeds": seeds, "differences": differences, "mean": mean, "low": low, "high": high}


COMPARISONS = (
    ("human", "en"),
    ("mt", "en"),
    ("mt", "human"),
    ("mt", "unfiltered"),
    ("round_trip", "unfiltered"),
    ("round_trip", "mt"),
    ("mt", "untrained"),
)


def paired_table(arms: dict[str, dict[int, dict[str, float]]], measures: dict[str, str]) -> tuple[str, dict[str, Any]]:
    rows, record = [], {}
    for left, right in COMPARISONS:
        for measure, label in measures.items():
            found = paired(arms, left, right, measure)
            if found is None:
                continue
            d = _digits(measure)
            record[f"{left}-{right}:{measure}"] = found
            rows.append(
                [
                    f"{left} − {right}",
                    label,
                    f"{found['mean']:+.{d}f}",
                    f"[{found['low']:+.{d}f}, {found['high']:+.{d}f}]",
                    ", ".join(f"{x:+.{d}f}" for x in found["differences"]),
                ]
            )
    return markdown_table(["comparison", "measure", "mean", "95% t-interval", "per seed"], rows), record


def _gain_shown(arms: dict[str, dict[int, dict[str, float]]], measure: str) -> bool:
    """Human − en's paired 95% interval clears zero in the better direction (lower is better for rank distance)."""
    gain = paired(arms, "human", "en", measure)
    if gain is None:
        return False
    return gain["high"] < 0 if "rank_distance" in measure else gain["low"] > 0


def recovered(
    arms: dict[str, dict[int, dict[str, float]]], measures: list[str], *, needs_shown_gain: bool = False
) -> dict[str, float | None]:
    """(mt − en) / (human − en) on the means: the share of the human-translation gain that MT brings.

    None where human translations bring no gain (human − en ≤ 0; for rank distance, lower is better):
    there is nothing to recover, and the ratio of two losses would read as a recovery. With
    ``needs_shown_gain``, None also where the gain's own interval does not clear zero.
    """
    if not all(arm in arms for arm in ("en", "human", "mt")):
        return {}
    mean = {arm: {m: float(np.mean([run[m] for run in arms[arm].values()])) for m in measures} for arm in ("en", "human", "mt")}
    shares = {}
    for m in measures:
        sign = -1.0 if "rank_distance" in m else 1.0
        gap = sign * (mean["human"][m] - mean["en"][m])
        usable = gap > 1e-9 and (not needs_shown_gain or _gain_shown(arms, m))
        shares[m] = sign * (mean["mt"][m] - mean["en"][m]) / gap if usable else None
    return shares


def verdicts(spec: dict[str, Any], arms: dict[str, dict[int, dict[str, float]]]) -> list[str]:
    """The two verdicts the recipe fixed before the runs, in words, with the numbers they rest on."""
    filtered = list(spec["filtering"].get("filtered_arms", ["mt"]))
    needed = list(dict.fromkeys(["en", "human", "mt", "unfiltered", *filtered]))
    if not all(arm in arms for arm in needed):
        return ["Verdicts not judged yet: " + ", ".join(arm for arm in needed if arm not in arms) + " not run."]
    return [_recovered_verdict(spec["recovered"], arms), *(_filtering_verdict(spec["filtering"], arms, arm) for arm in filtered)]


def _recovered_verdict(rule: dict[str, Any], arms: dict[str, dict[int, dict[str, float]]]) -> str:
    needs_shown = bool(rule.get("needs_shown_gain", False))
    shares = recovered(arms, list(rule["measures"]), needs_shown_gain=needs_shown)
    gains = {m: paired(arms, "human", "en", m) for m in rule["measures"]}
    no_gain = [m for m, share in shares.items() if share is None]
    holds = not no_gain and all(share >= rule["min_share"] for share in shares.values())
    why = "no human gain shown" if needs_shown else "no human gain to recover"
    shown = ", ".join(
        f"{SPANISH[m]} {share:.0%}"
        if share is not None
        else f"{SPANISH[m]}: {why} (human − en {gains[m]['mean']:+.3f} [{gains[m]['low']:+.3f}, {gains[m]['high']:+.3f}])"
        if needs_shown
        else f"{SPANISH[m]}: {why} (human − en {gains[m]['mean']:+.3f})"
        for m, share in shares.items()
    )
    if no_gain:
        word = (
            "not applicable: the human-translation gain is not shown there"
            if needs_shown
            else "not applicable: human Spanish does not beat English-only training there"
        )
    else:
        word = "holds" if holds else "fails"
    return (
        f"1. MT recovers ≥ {rule['min_share']:.0%} of the human gain on {' and '.join(SPANISH[m] for m in rule['measures'])}: "
        f"**{word}** ({shown})."
    )


def _filtering_verdict(rule: dict[str, Any], arms: dict[str, dict[int, dict[str, float]]], arm: str) -> str:
    found = {m: paired(arms, arm, "unfiltered", m) for m in rule["measures"]}
    holds = all(item["mean"] >= -rule["margin"] for item in found.values())
    sure = all(item["low"] >= -rule["margin"] for item in found.values())
    word = ("holds, and is shown" if sure else "holds on the means, not shown") if holds else "fails"
    number = "2." if arm == "mt" else f"2 ({arm})."
    return (
        f"{number} Filtering does not hurt ({arm} − unfiltered ≥ −{rule['margin']} on every measure): **{word}** ("
        + ", ".join(f"{SPANISH[m]} {item['mean']:+.3f} [{item['low']:+.3f}, {item['high']:+.3f}]" for m, item in found.items())
        + '; "shown" needs each 95% interval\'s lower end above the margin).'
    )


def write_translate_train(recipe: dict[str, Any], out: Path) -> str:
    """translate-train.md and .json in ``out``; returns the Markdown."""
    spec = recipe["study"]
    arms = collect(spec, Path(out))
    missing = [arm for arm in spec["arms"] if arm not in arms]
    spanish_table, spanish_pairs = paired_table(arms, SPANISH)
    all_table, all_pairs = paired_table(arms, {key: ALL[key] for key in ("mono_map", "cross_map", "multi_map", "rank_distance")})
    shares = recovered(arms, list(MEASURES), needs_shown_gain=bool(spec["recovered"].get("needs_shown_gain", False)))
    lines = [
        f"# {recipe.get('name', 'translate-train')}",
        "",
        "## Spanish: XQuAD-R articles 24-47, the {en, es} pool",
        "",
        table(arms, SPANISH),
        "",
        "## All 11 languages (the 9 besides en and es unseen in training)",
        "",
        table(arms, ALL),
        "",
    ]
    if missing:
        lines += [f"Not run yet: {', '.join(missing)}.", ""]
    lines += [
        "## Paired differences (by seed)",
        "",
        spanish_table,
        "",
        all_table,
        "",
        "## Recovered share: (mt − en) / (human − en)",
        "",
        *(["Given only where the human gain's paired interval clears zero.", ""] if spec["recovered"].get("needs_shown_gain") else []),
        markdown_table(
            ["measure", "recovered"],
            [[label, "—" if shares.get(m) is None else f"{shares[m]:.0%}"] for m, label in MEASURES.items() if m in shares],
        ),
        "",
        "## Verdicts (fixed in the recipe before the runs)",
        "",
        *verdicts(spec, arms),
        "",
    ]
    text = "\n".join(lines)
    record = {
        "arms": {arm: {str(seed): values for seed, values in runs.items()} for arm, runs in arms.items()},
        # An unbounded end (one seed) is null: strict JSON has no infinity.
        "paired": {
            key: {k: (None if isinstance(v, float) and not np.isfinite(v) else v) for k, v in item.items()}
            for key, item in {**spanish_pairs, **all_pairs}.items()
        },  # fmt: skip
        "recovered": shares,
    }
    atomic_write(Path(out) / "translate-train.md", text + "\n")
    atomic_write(Path(out) / "translate-train.json", json.dumps(record, indent=2) + "\n")
    return text
