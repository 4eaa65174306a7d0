"""The translate-train study's report on hand-built run folders: recovered share, paired t-intervals, verdicts."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest

from mtqa.recipe import load_recipe, write_study_report
from mtqa.studies.translate_train import collect, interval

RECIPE = Path(__file__).resolve().parents[1] / "recipes" / "translate-train.yaml"
LANGS = ["ar", "en", "es"]


def report(mono_es: float, cross: float, multi: float, langs: list[str]) -> dict:
    mono = {lang: mono_es if lang == "es" else 0.8 for lang in langs}
    matrix = {q: {p: cross for p in langs if p != q} for q in langs}
    item = {
        "mono_map": 0.8,
        "cross_map": cross,
        "multi_map": multi,
        "rank_distance": 10.0,
        "languages": langs,
        "per_language": {"mono_map": mono},
        "cross_matrix": matrix,
    }
    return {"evals": {"xquad-r": item}}


def write_run(out: Path, name: str, mono_es: float, cross: float, multi: float) -> None:
    for folder, langs in ((out / name, LANGS), (out / "enes" / name, ["en", "es"])):
        folder.mkdir(parents=True)
        (folder / "report.json").write_text(json.dumps(report(mono_es, cross, multi, langs)))


def test_the_t_interval_is_the_textbook_one():
    mean, low, high = interval([0.01, 0.03, 0.02])
    half = 4.302652729911275 * 0.01 / math.sqrt(3)  # t(0.975, 2) · s / √n
    assert mean == pytest.approx(0.02) and low == pytest.approx(0.02 - half) and high == pytest.approx(0.02 + half)


def test_recovered_share_and_verdicts_from_the_run_folders(tmp_path):
    recipe = load_recipe(RECIPE)
    write_run(tmp_path, "untrained", 0.70, 0.60, 0.40)
    for seed, noise in enumerate((0.0, 0.002, -0.002)):
        write_run(tmp_path, f"en-s{seed}", 0.70 + noise, 0.60 + noise, 0.40)
        write_run(tmp_path, f"human-s{seed}", 0.80 + noise, 0.70 + noise, 0.50)
        write_run(tmp_path, f"mt-s{seed}", 0.79 + noise, 0.65, 0.45)  # 90% of the mono gain, 50% of the cross gain
        write_run(tmp_path, f"mt-unfiltered-s{seed}", 0.79 + noise, 0.65, 0.45 - 0.02 * (seed + 1))
    arms = collect(recipe["study"], tmp_path)
    assert sorted(arms) == ["en", "human", "mt", "unfiltered", "untrained"] and len(arms["mt"]) == 3
    text = write_study_report(recipe, tmp_path)
    record = json.loads((tmp_path / "translate-train.json").read_text())
    assert record["recovered"]["es_mono"] == pytest.approx(0.9) and record["recovered"]["enes_cross"] == pytest.approx(0.5)
    assert (
        "1. MT recovers ≥ 80% of the human gain on Spanish mono mAP and en↔es cross mAP: **fails** (Spanish mono mAP 90%, en↔es cross mAP 50%)"
        in text
    )
    # mt − unfiltered on multi is +0.02, +0.04, +0.06: holds and shown; on mono and cross exactly 0 by seed: shown too
    assert "2. Filtering does not hurt (mt − unfiltered ≥ −0.01 on every measure): **holds, and is shown**" in text
    assert record["paired"]["mt-unfiltered:enes_multi"]["differences"] == pytest.approx([0.02, 0.04, 0.06])
    assert record["paired"]["mt-untrained:es_mono"]["seeds"] == [0, 1, 2]  # the one untrained run pairs with each seed


def test_no_human_gain_is_said_not_read_as_a_recovery(tmp_path):
    recipe = load_recipe(RECIPE)
    for seed in range(2):
        write_run(tmp_path, f"en-s{seed}", 0.80, 0.70, 0.4)
        write_run(tmp_path, f"human-s{seed}", 0.78 + seed * 0.001, 0.72, 0.4)  # worse than English-only on Spanish mono
        write_run(tmp_path, f"mt-s{seed}", 0.79, 0.71, 0.4)
        write_run(tmp_path, f"mt-unfiltered-s{seed}", 0.79, 0.71, 0.4)
    text = write_study_report(recipe, tmp_path)
    record = json.loads((tmp_path / "translate-train.json").read_text())
    assert record["recovered"]["es_mono"] is None and record["recovered"]["enes_cross"] == pytest.approx(0.5)
    assert "**not applicable: human Spanish does not beat English-only training there**" in text
    assert "Spanish mono mAP: no human gain to recover (human − en -0.020)" in text
    assert record["recovered"]["rank_distance"] is None  # equal rank distances: no gain either


def test_runs_still_missing_are_named_not_judged(tmp_path):
    recipe = load_recipe(RECIPE)
    write_run(tmp_path, "en-s0", 0.7, 0.6, 0.4)
    (tmp_path / "human-s0").mkdir()  # started, its evaluation not written yet
    text = write_study_report(recipe, tmp_path)
    assert "Not run yet: untrained, human, mt, unfiltered." in text
    assert "Verdicts not judged yet: human, mt, unfiltered not run." in text


RECIPE_V2 = RECIPE.with_name("translate-train-v2.yaml")


def test_v2_gives_a_recovered_share_only_where_the_human_gain_is_shown_and_judges_the_round_trip_arm(tmp_path):
    recipe = load_recipe(RECIPE_V2)
    write_run(tmp_path, "untrained", 0.70, 0.60, 0.40)
    for seed, noise in enumerate((0.0, 0.002, -0.002)):
        write_run(tmp_path, f"en-s{seed}", 0.70, 0.60 + noise, 0.40)
        write_run(tmp_path, f"human-s{seed}", 0.80 + noise, 0.60 + 3 * noise + 0.001, 0.50)  # mono gain shown; cross gain not
        write_run(tmp_path, f"mt-s{seed}", 0.79 + noise, 0.60, 0.45)
        write_run(tmp_path, f"mt-unfiltered-s{seed}", 0.79 + noise, 0.60, 0.45)
        write_run(tmp_path, f"mt-round-trip-s{seed}", 0.79 + noise, 0.60, 0.45 - 0.03)
    text = write_study_report(recipe, tmp_path)
    record = json.loads((tmp_path / "translate-train.json").read_text())
    assert record["recovered"]["es_mono"] == pytest.approx(0.9)
    assert record["recovered"]["enes_cross"] is None  # human − en on cross: +0.001 ± noise, its interval straddles zero
    assert "**not applicable: the human-translation gain is not shown there**" in text and "en↔es cross mAP: no human gain shown" in text
    assert "2. Filtering does not hurt (mt − unfiltered ≥ −0.01 on every measure): **holds, and is shown**" in text
    assert "2 (round_trip). Filtering does not hurt (round_trip − unfiltered ≥ −0.01 on every measure): **fails**" in text
    assert record["paired"]["round_trip-mt:enes_multi"]["mean"] == pytest.approx(-0.03)


def test_one_seed_shows_nothing(tmp_path):
    """A single pair has no spread to judge by: its interval is unbounded and no verdict reads "shown"."""
    mean, low, high = interval([0.01])
    assert mean == pytest.approx(0.01) and low == -math.inf and high == math.inf
    recipe = load_recipe(RECIPE)
    write_run(tmp_path, "en-s0", 0.70, 0.60, 0.40)
    write_run(tmp_path, "human-s0", 0.80, 0.70, 0.50)
    write_run(tmp_path, "mt-s0", 0.79, 0.65, 0.45)
    write_run(tmp_path, "mt-unfiltered-s0", 0.79, 0.65, 0.45)
    text = write_study_report(recipe, tmp_path)
    assert "**holds on the means, not shown**" in text and "holds, and is shown" not in text
    assert json.loads((tmp_path / "translate-train.json").read_text())["paired"]["mt-unfiltered:es_mono"]["low"] is None
