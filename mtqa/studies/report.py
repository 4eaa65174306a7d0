"""Multi-seed studies: a recipe's ``study`` section turns its runs' reports into tables, verdicts and plots.

Runs are the run folders under the recipe's ``--out`` (``GROUP-sSEED``, as one
``vary: {seed: [...]}`` step names them); each group is summarised by the mean and the
sample standard deviation over its seeds::

    study:
      set: xquad-r                        # the evaluation set read from each report.json
      table: [untrained, en, xx, xy, hybrid]
      claims: {hybrid: hybrid, xx: xx, xy: xy, baselines: [en, xx, xy]}
      sweeps:
        alpha: {label: "alpha", points: {"0": hybrid-a0, "0.5": hybrid, "1": hybrid-a1}}
        languages: {label: "k", points: {"1": k1, "3": k3}, seen: {"1": [en, zh], "3": [en, zh, ar, ru]}}

Groups not run yet are left out and named, so a study can be read while it is still running.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import numpy as np

from ..card import markdown_table
from ..evaluate.lareqa import SETTINGS
from ..output import atomic_write
from .choice import DIAGNOSTICS, choose, diagnostic_table
from .claims import by_seed, interval_table_and_verdicts

METRICS = ("mono_map", "cross_map", "multi_map", "mono_r@1", "cross_r@1", "multi_r@1", "rank_distance")


def collect(recipe: dict[str, Any], out: Path) -> dict[str, list[dict[str, Any]]]:
    """group -> one record per finished run in ``out``: its seed, its set's summary and per-language figures.

    Every run folder with a report.json counts, whichever recipe made it, so a study split
    into several recipes sharing one ``--out`` is read whole. A folder ``NAME-sSEED`` is
    seed SEED of group NAME; any other folder is a group of one.
    """
    name = recipe["study"].get("set", "xquad-r")
    groups: dict[str, list[dict[str, Any]]] = {}
    for report_path in sorted(Path(out).glob("*/report.json")):
        item = json.loads(report_path.read_text())["evals"].get(name)
        if item is None:
            continue
        folder = report_path.parent.name
        matched = re.fullmatch(r"(.+)-s(\d+)", folder)
        group, seed = (matched.group(1), int(matched.group(2))) if matched else (folder, 0)
        groups.setdefault(group, []).append(
            {
                "run": folder,
                "seed": seed,
                **{m: item[m] for m in METRICS},
                **{m: item.get(m, float("nan")) for m in DIAGNOSTICS if m not in METRICS},  # reports before v3 lack some
                "per_language": item["per_language"],
                "cross_matrix": item["cross_matrix"],
                "per_article": item.get("per_article"),  # reports before study v3 lack it
                "languages": item["languages"],
            }
        )
    return groups


def mean_std(values: list[float]) -> tuple[float, float]:
    return float(np.mean(values)), float(np.std(values, ddof=1)) if len(values) > 1 else 0.0


def mean_std_cell(values: list[float], digits: int = 3) -> str:
    mean, std = mean_std(values)
    return f"{mean:.{digits}f} ± {std:.{digits}f}" if len(values) > 1 else f"{mean:.{digits}f}"


def main_table(groups: dict[str, list[dict]], order: list[str]) -> str:
    rows = [
        [group, len(groups[group]), *[mean_std_cell([run[m] for run in groups[group]], 1 if m == "rank_distance" else 3) for m in METRICS]]
        for group in order
        if group in groups
    ]
    return markdown_table(
        ["run", "seeds", "mono mAP", "cross mAP", "multi mAP", "mono R@1", "cross R@1", "multi R@1", "rank distance"], rows
    )


def paired(groups: dict[str, list[dict]], claims: dict[str, Any]) -> tuple[str, dict[str, Any]]:
    """Per seed: hybrid minus the better of xx and xy in each setting; and hybrid minus xx in rank distance."""
    hybrid, xx, xy = (by_seed(groups.get(claims[key], [])) for key in ("hybrid", "xx", "xy"))
    seeds = sorted(set(hybrid) & set(xx) & set(xy), key=str)
    if not seeds:
        return "", {}
    differences = {s: [hybrid[seed][f"{s}_map"] - max(xx[seed][f"{s}_map"], xy[seed][f"{s}_map"]) for seed in seeds] for s in SETTINGS}
    differences["rank_distance"] = [hybrid[seed]["rank_distance"] - xx[seed]["rank_distance"] for seed in seeds]
    rows = [
        [f"{s} mAP: hybrid − max(xx, xy)", mean_std_cell(differences[s]), ", ".join(f"{d:+.3f}" for d in differences[s])] for s in SETTINGS
    ]
    rows.append(
        [
            "rank distance: hybrid − xx",
            mean_std_cell(differences["rank_distance"], 1),
            ", ".join(f"{d:+.1f}" for d in differences["rank_distance"]),
        ]
    )
    return markdown_table([f"paired by seed ({len(seeds)} seed{'' if len(seeds) == 1 else 's'})", "mean ± std", "per seed"], rows), {
        "seeds": seeds,
        **differences,
    }


def verdicts(groups: dict[str, list[dict]], claims: dict[str, Any]) -> list[str]:
    """The three claims in words, each with the numbers it rests on."""
    need = [claims[key] for key in ("hybrid", "xx", "xy")]
    if any(name not in groups for name in need):
        return [f"Claims not judged yet: {', '.join(name for name in need if name not in groups)} not run."]
    mean = {name: {m: mean_std([run[m] for run in runs])[0] for m in METRICS} for name, runs in groups.items()}
    hybrid, xx, xy = (mean[claims[key]] for key in ("hybrid", "xx", "xy"))
    lines = []
    gaps = {s: hybrid[f"{s}_map"] - max(xx[f"{s}_map"], xy[f"{s}_map"]) for s in SETTINGS}
    holds = all(gap >= -0.01 for gap in gaps.values())
    lines.append(
        f"1. hybrid ≥ max(xx, xy) − 0.01 on mono, cross and multi: **{'holds' if holds else 'fails'}** "
        f"(gaps {', '.join(f'{s} {gap:+.3f}' for s, gap in gaps.items())})."
    )
    baselines = [name for name in claims.get("baselines", []) if name in mean]
    best_mono = max(baselines, key=lambda name: mean[name]["mono_map"])
    best_cross = max(baselines, key=lambda name: mean[name]["cross_map"])
    holds = best_mono == claims["xx"] and best_cross == claims["xy"]
    lines.append(
        f"2. among the baselines ({', '.join(baselines)}), xx is best on mono and xy on cross: **{'holds' if holds else 'fails'}** "
        f"(best mono: {best_mono} {mean[best_mono]['mono_map']:.3f}; best cross: {best_cross} {mean[best_cross]['cross_map']:.3f})."
    )
    holds = hybrid["rank_distance"] < xx["rank_distance"]
    lines.append(
        f"3. hybrid has a lower rank distance than xx: **{'holds' if holds else 'fails'}** "
        f"({hybrid['rank_distance']:.1f} against {xx['rank_distance']:.1f})."
    )
    return lines


def seen_unseen(run: dict[str, Any], seen: list[str]) -> dict[str, float]:
    """Mono and cross mAP over the training languages and over the others (a pair is unseen if either side is)."""
    langs, mono, cross = run["languages"], run["per_language"]["mono_map"], run["cross_matrix"]
    result = {}
    for label, chosen in (("seen", [lang for lang in langs if lang in seen]), ("unseen", [lang for lang in langs if lang not in seen])):
        result[f"mono_{label}"] = float(np.mean([mono[lang] for lang in chosen])) if chosen else float("nan")
        pairs = [cross[q][p] for q in langs for p in langs if q != p and ((q in seen and p in seen) == (label == "seen"))]
        result[f"cross_{label}"] = float(np.mean(pairs)) if pairs else float("nan")
    return result


def sweep(groups: dict[str, list[dict]], spec: dict[str, Any]) -> tuple[list[float], dict[str, list[float]], list[str]]:
    """x values and the mean of each series over a group's seeds; also the points not run yet."""
    xs, series, missing = [], {}, []
    seen = {str(key): value for key, value in spec.get("seen", {}).items()}  # YAML may read 1 as a number or a string
    for x, group in spec["points"].items():
        if group not in groups:
            missing.append(f"{x} ({group})")
            continue
        xs.append(float(x))
        values = [{m: run[m] for m in METRICS} | (seen_unseen(run, seen[str(x)]) if seen else {}) for run in groups[group]]
        for key in values[0]:
            series.setdefault(key, []).append(float(np.mean([value[key] for value in values])))
    return xs, series, missing


LEGEND = {"mono_map": "mono, all languages", "cross_map": "cross, all languages", "multi_map": "multi"}


def plot_sweep(xs: list[float], series: dict[str, list[float]], keys: list[str], label: str, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    maps = [key for key in keys if key != "rank_distance"]
    figure, axes = plt.subplots(1, 2 if "rank_distance" in keys else 1, figsize=(9 if "rank_distance" in keys else 5, 4.4), squeeze=False)
    for key in maps:
        axes[0][0].plot(xs, series[key], marker="o", label=LEGEND.get(key, key.replace("_", " ")))
    axes[0][0].set_xlabel(label)
    axes[0][0].set_ylabel("mAP")
    axes[0][0].legend(fontsize=8, loc="upper center", bbox_to_anchor=(0.5, -0.18), ncol=2)  # below: the lines span the width
    if "rank_distance" in keys:
        axes[0][1].plot(xs, series["rank_distance"], marker="o", color="tab:red")
        axes[0][1].set_xlabel(label)
        axes[0][1].set_ylabel("rank distance (lower: less bias)")
    figure.tight_layout()
    atomic_write(path, lambda handle: figure.savefig(handle, dpi=100, format="png"))
    plt.close(figure)


def selection(out: Path, spec: dict[str, Any], name: str) -> tuple[str, dict[str, Any]]:
    """Dev-split choice: runs ``MODE-CONFIG`` evaluated every N steps; the CONFIG and step with the best
    mean of mono, cross and multi mAP, averaged over ``spec["modes"]`` (so no one mode is tuned for)."""
    scores: dict[tuple[str, int], dict[str, float]] = {}
    for log in sorted(Path(out).glob("*/train_log.jsonl")):
        mode = next((m for m in sorted(spec["modes"], key=len, reverse=True) if log.parent.name.startswith(m + "-")), None)
        if mode is None:
            continue
        config = log.parent.name[len(mode) + 1 :]
        for line in log.read_text().splitlines():
            entry = json.loads(line)
            item = entry.get("eval", {}).get(name)
            if item:
                scores.setdefault((config, entry["step"]), {})[mode] = float(np.mean([item[f"{s}_map"] for s in SETTINGS]))
    complete = {key: value for key, value in scores.items() if set(value) == set(spec["modes"])}
    if not complete:
        return "Dev selection: no configuration evaluated in every mode yet.", {}
    ranked = sorted(complete, key=lambda key: -float(np.mean(list(complete[key].values()))))
    rows = [
        [
            config,
            step,
            *[f"{complete[(config, step)][m]:.3f}" for m in spec["modes"]],
            f"{np.mean(list(complete[(config, step)].values())):.3f}",
        ]
        for config, step in ranked
    ]
    best = ranked[0]
    text = (
        markdown_table(["config", "step", *[f"{m} mean mAP" for m in spec["modes"]], "mean"], rows)
        + f"\n\nChosen on the dev split: **{best[0]}**, **{best[1]} steps**."
    )
    return text, {"chosen": {"config": best[0], "steps": best[1]}, "scores": {f"{c}@{st}": v for (c, st), v in complete.items()}}


def write_study(recipe: dict[str, Any], out: Path) -> str:
    """study.md, study.json and one PNG per sweep in ``out``; returns the Markdown."""
    spec = recipe["study"]
    groups = collect(recipe, Path(out))
    order = spec.get("table", list(groups))
    lines = [f"# {recipe.get('name', 'study')}: {spec.get('set', 'xquad-r')}", "", main_table(groups, order), ""]
    missing = [group for group in order if group not in groups]
    if missing:
        lines += [f"Not run yet: {', '.join(missing)}.", ""]
    record: dict[str, Any] = {
        "groups": {
            name: [{k: v for k, v in run.items() if k in (*METRICS, "run", "seed")} for run in runs] for name, runs in groups.items()
        }
    }
    if "choose" in spec or spec.get("diagnostics"):
        lines += ["## What the methods change: ranks at the top and in-paragraph errors (mono, means over seeds)", ""]
        lines += [diagnostic_table(groups, order), ""]
    if "choose" in spec:
        table, record["choice"] = choose(groups, spec["choose"])
        lines += ["## The choice", "", table, ""]
    if "selection" in spec:
        table, record["selection"] = selection(Path(out), spec["selection"], spec.get("set", "xquad-r"))
        lines += ["## Dev-split selection", "", table, ""]
    if "claims" in spec and "margin" in spec["claims"]:
        table, claim_lines, record["claims"] = interval_table_and_verdicts(groups, spec["claims"])
        lines += ["## Claims: paired differences over seeds", "", table, "", *claim_lines, ""]
    elif "claims" in spec:
        table, record["paired"] = paired(groups, spec["claims"])
        lines += [table, "", *verdicts(groups, spec["claims"]), ""]
    for name, sweep_spec in spec.get("sweeps", {}).items():
        xs, series, not_run = sweep(groups, sweep_spec)
        record[name] = {"x": xs, **series}
        # the language sweep: every language together too, since the seen set grows with k
        keys = (
            ["mono_map", "cross_map", "mono_seen", "cross_seen", "mono_unseen", "cross_unseen"]
            if "seen" in sweep_spec
            else ["mono_map", "cross_map", "multi_map", "rank_distance"]
        )
        if xs:
            rows = [
                [f"{x:g}", *[f"{series[key][i]:.3f}" if np.isfinite(series[key][i]) else "—" for key in keys]] for i, x in enumerate(xs)
            ]  # no unseen language at k = 10
            lines += [f"## {name}: {sweep_spec.get('label', name)}", "", markdown_table([sweep_spec.get("label", name), *keys], rows), ""]
            plot_sweep(xs, series, keys, sweep_spec.get("label", name), Path(out) / f"{name}.png")
            lines += [f"![{name}]({name}.png)", ""]
        if not_run:
            lines += [f"{name}: not run yet: {', '.join(not_run)}.", ""]
    text = "\n".join(lines)
    atomic_write(Path(out) / "study.md", text + "\n")
    atomic_write(Path(out) / "study.json", json.dumps(record, indent=2) + "\n")
    return text
