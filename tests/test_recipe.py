"""Recipes: parsing, step skipping, the paper recipes' commands, and a fast chain on tiny models."""

import json
from pathlib import Path

import pytest
import yaml

from mtqa.cli import cli, main
from mtqa.errors import MtqaError
from mtqa.recipe import load_recipe, run_recipe, step_arguments

RECIPES = Path(__file__).resolve().parents[1] / "recipes"


def write(tmp_path, recipe) -> Path:
    path = tmp_path / "r.yaml"
    path.write_text(yaml.safe_dump(recipe) if not isinstance(recipe, str) else recipe)
    return path


@pytest.mark.parametrize(
    "recipe, message",
    [
        ("steps: [", "not valid YAML"),
        ({"name": "x"}, "non-empty 'steps'"),
        ({"steps": [{"command": "fly", "args": {"output": "o"}}]}, "needs 'command'"),
        ({"steps": [{"command": "translate", "args": {"input": "x"}}]}, "needs args.output"),
        ({"steps": [{"command": "merge", "args": {"base": "b", "lam": 0.5, "output": "o"}}]}, "needs args.tuned"),
        ({"steps": [{"name": "a", "command": "translate", "args": {"output": "o"}}], "compare": ["b"]}, "not a step"),
    ],
)
def test_bad_recipes(tmp_path, recipe, message):
    with pytest.raises(MtqaError, match=message):
        load_recipe(write(tmp_path, recipe))


def test_arguments_from_a_step():
    step = {
        "command": "train-eval",
        "args": {"eval": ["lareqa:a", "beir:b"], "eval-only": True, "resume": False, "lr": 3e-5, "output": "{out}/run"},
    }
    assert step_arguments(step, Path("/o")) == [
        "train-eval",
        "--eval",
        "lareqa:a",
        "--eval",
        "beir:b",
        "--eval-only",
        "--lr",
        "3e-05",
        "--output",
        "/o/run",
    ]
    merge = {"command": "merge", "args": {"lam": 0.5, "tuned": "{out}/run/model", "base": "offline-me5", "output": "{out}/merged"}}
    assert step_arguments(merge, Path("/o")) == ["merge", "offline-me5", "/o/run/model", "--lam", "0.5", "--output", "/o/merged"]


@pytest.mark.parametrize(
    "name",
    [
        "paper-xlmr",
        "paper-labse",
        "minilm-xquad-split",
        "study-dev",
        "study-main-a",
        "study-main-b",
        "study-sweeps",
        "study-v2-dev",
        "study-v2-main-a",
        "study-v2-main-b",
        "study-v2-sweeps",
    ],
)
def test_shipped_recipes_are_valid_commands(name):
    """Each step's command line parses with the real CLI: names, types and choices are right."""
    recipe = load_recipe(RECIPES / f"{name}.yaml")
    for step in recipe["steps"]:
        argv = step_arguments(step, Path("/tmp/out"))
        command = cli.commands[argv[0]]
        command.make_context(argv[0], argv[1:], resilient_parsing=False)
    if name.startswith("paper"):
        steps = {step["name"]: step for step in recipe["steps"]}
        assert [s["name"] for s in recipe["steps"] if s["command"] == "translate"] == ["translate"]  # one translation, shared
        assert steps["translate"]["args"]["langs"] == "ar,zh,de,hi,ru,es,th,tr"
        assert recipe["compare"] == ["xx", "xy", "hybrid"]
        batches = {mode: steps[f"batches-{mode}"]["args"] for mode in recipe["compare"]}
        assert {mode: args["mode"] for mode, args in batches.items()} == {"xx": "xx", "xy": "xy", "hybrid": "hybrid"}
        assert batches["hybrid"]["alpha"] == 0.5
        assert len({(a["input"], a["batch-size"], a["num-batches"], a["seed"], a["positive"]) for a in batches.values()}) == 1
        assert all(a["batch-size"] == 100 for a in batches.values())
        trains = {mode: steps[mode]["args"] for mode in recipe["compare"]}
        for mode, args in trains.items():
            assert args["batches"] == f"{{out}}/batches-{mode}" and args["output"] == f"{{out}}/{mode}"
            assert args["lr"] == 3e-5 and args["weight-decay"] == 0.01
            assert args["query-prefix"] == "Query: " and args["passage-prefix"] == "Passage: "
            rest = {key: value for key, value in args.items() if key not in ("batches", "output")}
            assert rest == {key: value for key, value in trains["hybrid"].items() if key not in ("batches", "output")}
        published = recipe["paper_results"]["runs"]
        assert set(published) == {"xx", "xy", "hybrid"}
        for run in published.values():
            assert set(run) == {"xquad-r", "mlqa-r"}
            assert all(set(item) == {"mono_map", "cross_map", "multi_map", "rank_distance"} for item in run.values())


STUDY_TEST_RECIPES = ("study-main-a", "study-main-b", "study-sweeps")


def test_study_recipes_compare_like_with_like():
    """The study's test runs share one protocol, each main mode has 3 seeds, and every sweep point is a run."""
    steps = [step for name in STUDY_TEST_RECIPES for step in load_recipe(RECIPES / f"{name}.yaml")["steps"]]
    names = [step["name"] for step in steps]
    assert len(names) == len(set(names))  # the recipes share --out: no run twice
    batches = {step["name"].removeprefix("batches-"): step["args"] for step in steps if step["command"] == "build-batches"}
    trains = {step["name"]: step["args"] for step in steps if step["command"] == "train-eval"}
    assert {(a["input"], a["articles"], a["batch-size"], a["num-batches"], a["positive"]) for a in batches.values()} == {
        ("lareqa:xquad-r", "0-19", 32, 40, "sentence")
    }
    protocol = {
        (
            a["model"],
            float(a["lr"]),
            a.get("max-steps"),
            a.get("freeze-word-embeddings"),
            a["query-prefix"],
            a["passage-prefix"],
            a["eval"],
            a["eval-articles"],
            a["eval-engine"],
        )
        for run, a in trains.items()
        if run != "untrained"
    }
    assert protocol == {("offline-me5", 1e-4, 40, True, "query: ", "passage: ", "lareqa:xquad-r", "24-47", "ctranslate2")}
    untrained = trains["untrained"]
    assert untrained["eval-articles"] == "24-47" and untrained["eval-only"] and untrained["eval-engine"] == "ctranslate2"
    dev = [step["args"] for step in load_recipe(RECIPES / "study-dev.yaml")["steps"] if step["command"] == "train-eval"]
    assert {(a["max-steps"], a["eval-every"]) for a in dev} == {(40, 40)}  # the dev split chose at the test runs' length
    for run, args in trains.items():
        if run != "untrained":
            assert args["batches"] == f"{{out}}/batches-{run}" and args["seed"] == batches[run]["seed"]
    for mode in ("en", "xx", "xx-mixed", "xy", "hybrid", "multitask"):
        assert {f"{mode}-s{seed}" for seed in range(3)} <= set(trains), mode
        assert {batches[f"{mode}-s{seed}"]["mode"] for seed in range(3)} == {mode}
    study = load_recipe(RECIPES / "study-sweeps.yaml")["study"]
    alpha, languages = study["sweeps"]["alpha"]["points"], study["sweeps"]["languages"]["points"]
    for value, run in alpha.items():
        assert batches[f"{run}-s0"]["mode"] == "hybrid" and float(batches[f"{run}-s0"].get("alpha", 0.5)) == float(value)
    for k, run in languages.items():
        langs = batches[f"{run}-s0"].get("langs")
        assert (len(langs.split(",")) if langs else 11) == int(k) + 1, run
        assert sorted(langs.split(",") if langs else study["sweeps"]["languages"]["seen"]["10"]) == sorted(
            study["sweeps"]["languages"]["seen"][k]
        )


def test_complete_steps_are_skipped(tmp_path):
    recipe = write(
        tmp_path,
        {
            "steps": [
                {"name": "b", "command": "build-batches", "args": {"input": "x", "output": "{out}/b"}},
                {"name": "t", "command": "train-eval", "args": {"batches": "{out}/b", "model": "m", "output": "{out}/t"}},
            ]
        },
    )
    out = tmp_path / "out"
    assert run_recipe(recipe, out, run_command=main, dry_run=True, echo=lambda _: None) == ["b", "t"]
    (out / "b").mkdir(parents=True)
    (out / "b" / "manifest.json").write_text("{}")
    assert run_recipe(recipe, out, run_command=main, dry_run=True, echo=lambda _: None) == ["t"]


@pytest.mark.parametrize("option", ["--output", "--out"])
def test_recipe_run_takes_output_like_every_command_and_out_as_its_alias(tmp_path, capsys, option):
    from conftest import run_cli

    recipe = write(tmp_path, {"steps": [{"name": "b", "command": "build-batches", "args": {"input": "x", "output": "{out}/b"}}]})
    code, err = run_cli("recipe", "run", recipe, option, tmp_path / "here", "--dry-run", capsys=capsys)
    assert code == 0 and f"recipe: b: mtqa build-batches --input x --output {tmp_path / 'here' / 'b'}" in err, err


def test_chain_on_tiny_models_then_resume_skips_everything(tmp_path, tiny_ct2, tiny_xlmr, small_squad, xquad_r):
    recipe = write(
        tmp_path,
        {
            "name": "tiny",
            "steps": [
                {
                    "name": "mt",
                    "command": "translate",
                    "args": {
                        "input": str(small_squad),
                        "langs": "de,es",
                        "model": str(tiny_ct2),  # converted once for the session, by the same path
                        "beam-size": 1,
                        "max-decoding-length": 8,
                        "no-filter": True,
                        "quiet": True,
                        "output": "{out}/mt",
                    },
                },
                {
                    "name": "batches",
                    "command": "build-batches",
                    "args": {"input": "{out}/mt", "batch-size": 8, "num-batches": 3, "quiet": True, "output": "{out}/batches"},
                },
                {
                    "name": "trained",
                    "command": "train-eval",
                    "args": {
                        "batches": "{out}/batches",
                        "model": str(tiny_xlmr),
                        "max-length": 32,
                        "eval": f"lareqa:{xquad_r}",
                        "eval-articles": "47",
                        "eval-langs": "en,de",
                        "quiet": True,
                        "output": "{out}/trained",
                    },
                },
            ],
            "compare": ["trained"],
        },
    )
    out = tmp_path / "out"
    assert run_recipe(recipe, out, run_command=main, echo=lambda _: None) == ["mt", "batches", "trained"]
    rows = json.loads((out / "comparison.json").read_text())["rows"]
    assert rows[0]["run"] == "trained" and rows[0]["steps"] == 3 and 0 <= rows[0]["mono_map"] <= 1
    assert "| trained | xquad-r | 3 |" in (out / "comparison.md").read_text()
    times = [json.loads(line) for line in (out / "recipe_times.jsonl").read_text().splitlines()]
    assert [(t["recipe"], t["step"]) for t in times] == [("tiny", "mt"), ("tiny", "batches"), ("tiny", "trained")]
    assert all(t["seconds"] > 0 for t in times)
    assert run_recipe(recipe, out, run_command=main, echo=lambda _: None) == []
    assert len((out / "recipe_times.jsonl").read_text().splitlines()) == 3  # skipped steps add no time


def test_vary_expands_a_step_per_value_and_names_its_group(tmp_path):
    recipe = write(
        tmp_path,
        {
            "steps": [
                {
                    "name": "xx-s{seed}",
                    "vary": {"seed": [0, 1]},
                    "command": "train-eval",
                    "args": {"batches": "{out}/b-s{seed}", "model": "m", "seed": "{seed}", "output": "{out}/xx-s{seed}"},
                },
                {
                    "name": "grid-{mode}-{lr}",
                    "vary": {"mode": ["xx", "xy"], "lr": [1, 2]},
                    "command": "build-batches",
                    "args": {"input": "x", "mode": "{mode}", "output": "{out}/{mode}-{lr}"},
                },
            ]
        },
    )
    steps = load_recipe(recipe)["steps"]
    # One step per combination, the first key varying slowest (here lr: the test writes YAML with sorted keys).
    assert [step["name"] for step in steps] == ["xx-s0", "xx-s1", "grid-xx-1", "grid-xy-1", "grid-xx-2", "grid-xy-2"]
    assert "vary" not in steps[0] and steps[0]["command"] == "train-eval"
    argv = step_arguments(steps[1], tmp_path)
    assert argv[argv.index("--seed") + 1] == "1" and argv[argv.index("--output") + 1] == str(tmp_path / "xx-s1")
    assert argv[argv.index("--batches") + 1] == str(tmp_path / "b-s1")
    (tmp_path / "bad").mkdir()
    bad = write(tmp_path / "bad", {"steps": [{"name": "a", "vary": {"seed": []}, "command": "train-eval", "args": {"output": "o"}}]})
    with pytest.raises(MtqaError, match="non-empty lists"):
        load_recipe(bad)


def test_grid_and_defaults_write_a_study_once_and_run_it_seed_by_seed(tmp_path):
    recipe = write(
        tmp_path,
        {
            "grid": {"seed": [0, 1]},
            "defaults": {"train-eval": {"model": "m", "seed": "{seed}", "lr": 1e-4}},
            "steps": [
                {"name": "untrained", "command": "train-eval", "args": {"eval-only": True, "seed": None, "output": "{out}/untrained"}},
                {"name": "b-s{seed}", "command": "build-batches", "args": {"input": "x", "seed": "{seed}", "output": "{out}/b-s{seed}"}},
                {
                    "name": "hn{hn}-s{seed}",
                    "vary": {"hn": [1, 2]},
                    "command": "train-eval",
                    "args": {"batches": "{out}/b-s{seed}", "lr": 3e-5, "output": "{out}/hn{hn}-s{seed}"},
                },
            ],
        },
    )
    steps = load_recipe(recipe)["steps"]
    # Every arm's seed 0 before any seed 1; the step without a placeholder once.
    assert [step["name"] for step in steps] == ["untrained", "b-s0", "hn1-s0", "hn2-s0", "b-s1", "hn1-s1", "hn2-s1"]
    argv = step_arguments(steps[-1], tmp_path)
    assert argv[argv.index("--model") + 1] == "m" and argv[argv.index("--seed") + 1] == "1"
    assert argv[argv.index("--lr") + 1] == "3e-05"  # the step's own value beats the default
    assert "--seed" not in step_arguments(steps[0], tmp_path)  # null drops a default
    assert "--model" not in step_arguments(steps[1], tmp_path)  # defaults are per command
    (tmp_path / "bad").mkdir()
    bad = write(tmp_path / "bad", {"defaults": {"train": {}}, "steps": [{"command": "train-eval", "args": {"output": "o"}}]})
    with pytest.raises(MtqaError, match="'train', which is not a command"):
        load_recipe(bad)


def fake_report(folder: Path, mono: float, cross: float, multi: float, distance: float, langs=("en", "de", "zh")) -> None:
    folder.mkdir(parents=True)
    item = {
        "kind": "lareqa",
        "mono_map": mono,
        "cross_map": cross,
        "multi_map": multi,
        "rank_distance": distance,
        "mono_r@1": mono - 0.1,
        "cross_r@1": cross - 0.1,
        "multi_r@1": multi - 0.1,
        "languages": list(langs),
        "per_language": {"mono_map": {lang: mono + (0.05 if lang == "en" else 0) for lang in langs}},
        "cross_matrix": {q: {p: cross for p in langs if p != q} for q in langs},
    }
    (folder / "report.json").write_text(json.dumps({"evals": {"xquad-r": item}}))


def test_study_tables_claims_and_sweeps_from_run_folders(tmp_path):
    from mtqa.studies.report import write_study

    out = tmp_path / "out"
    for seed, shift in enumerate((0.0, 0.01, -0.01)):
        fake_report(out / f"xx-s{seed}", 0.80 + shift, 0.60, 0.30, 50.0)
        fake_report(out / f"xy-s{seed}", 0.75, 0.70 + shift, 0.35, 30.0)
        fake_report(out / f"hybrid-s{seed}", 0.795, 0.69, 0.36, 20.0 + seed)
    fake_report(out / "untrained", 0.7, 0.5, 0.2, 90.0)
    fake_report(out / "hybrid-a0-s0", 0.74, 0.70, 0.35, 25.0)
    fake_report(out / "hybrid-k1-s0", 0.78, 0.65, 0.3, 40.0)
    recipe = {
        "name": "s",
        "steps": [],
        "study": {
            "set": "xquad-r",
            "table": ["untrained", "xx", "xy", "hybrid", "multitask"],
            "claims": {"hybrid": "hybrid", "xx": "xx", "xy": "xy", "baselines": ["xx", "xy"]},
            "sweeps": {
                "alpha": {"label": "alpha", "points": {"0": "hybrid-a0", "0.5": "hybrid", "1": "hybrid-a1"}},
                "languages": {"label": "k", "points": {"1": "hybrid-k1"}, "seen": {1: ["en", "zh"]}},
            },
        },
    }  # a number, as unquoted YAML gives
    text = write_study(recipe, out)
    assert "| xx | 3 | 0.800 ± 0.010 | 0.600 ± 0.000 |" in text
    assert "| untrained | 1 | 0.700 |" in text and "Not run yet: multitask." in text
    # hybrid - max(xx, xy) per seed in mono: 0.795 - 0.80, 0.795 - 0.81, 0.795 - 0.79
    assert "mono mAP: hybrid − max(xx, xy) | -0.005 ± 0.010 | -0.005, -0.015, +0.005" in text
    assert "1. hybrid ≥ max(xx, xy) − 0.01 on mono, cross and multi: **holds**" in text
    assert "2. among the baselines (xx, xy), xx is best on mono and xy on cross: **holds**" in text
    assert "3. hybrid has a lower rank distance than xx: **holds** (21.0 against 50.0)" in text
    assert "alpha: not run yet: 1 (hybrid-a1)." in text
    languages = json.loads((out / "study.json").read_text())["languages"]
    assert (
        languages["x"] == [1.0] and languages["mono_seen"] == [pytest.approx(0.805)] and languages["mono_unseen"] == [pytest.approx(0.78)]
    )
    assert (out / "alpha.png").stat().st_size > 1000 and (out / "languages.png").is_file()


def test_comparison_sets_the_papers_numbers_beside_ours(tmp_path):
    from mtqa.recipe import comparison

    recipe = {
        "steps": [{"name": run, "command": "train-eval", "args": {"output": f"{{out}}/{run}"}} for run in ("xx", "hybrid")],
        "compare": ["xx", "hybrid"],
        "paper_results": {
            "runs": {"hybrid": {"xquad-r": {"mono_map": 0.798, "cross_map": 0.705, "multi_map": 0.593, "rank_distance": 287}}}
        },
    }
    for run, mono in (("xx", 0.81), ("hybrid", 0.8)):
        (tmp_path / run).mkdir()
        (tmp_path / run / "report.json").write_text(
            json.dumps(
                {
                    "training": {"steps": 7},
                    "evals": {"xquad-r": {"mono_map": mono, "cross_map": 0.7, "multi_map": 0.6, "rank_distance": 250.25}},
                }
            )
        )
    table, rows = comparison(recipe, tmp_path)
    lines = table.splitlines()
    assert lines[0] == "| run | set | steps | mono_map | paper | cross_map | paper | multi_map | paper | rank_distance | paper |"
    assert lines[2] == "| xx | xquad-r | 7 | 0.810 |  | 0.700 |  | 0.600 |  | 250.2 |  |"
    assert lines[3] == "| hybrid | xquad-r | 7 | 0.800 | 0.798 | 0.700 | 0.705 | 0.600 | 0.593 | 250.2 | 287.0 |"
    assert rows[1]["paper_rank_distance"] == 287 and "paper_mono_map" not in rows[0]


def test_claims_with_a_margin_are_judged_by_paired_t_intervals(tmp_path):
    from scipy import stats

    from mtqa.studies.claims import judge, t_interval
    from mtqa.studies.report import write_study

    mean, low, high = t_interval([1.0, 2.0, 3.0])  # std 1, n 3: half-width t(0.975, 2) / sqrt(3)
    half = stats.t.ppf(0.975, 2) / 3**0.5
    assert (mean, low, high) == (pytest.approx(2.0), pytest.approx(2.0 - half), pytest.approx(2.0 + half))
    assert judge(0.1, 0.2, 0.0, above=True) == "shown" and judge(-0.1, 0.2, 0.0, above=True) == "not shown"
    assert judge(-0.3, -0.2, 0.0, above=True) == "refuted" and judge(-0.3, -0.2, 0.0, above=False) == "shown"
    one = t_interval([0.5])  # one seed gives no interval: nothing can be shown
    assert one[0] == 0.5 and judge(one[1], one[2], 0.0, above=True) == "not shown"

    out = tmp_path / "out"
    for seed, shift in enumerate((0.0, 0.004, -0.004)):
        fake_report(out / f"xx-s{seed}", 0.80, 0.60, 0.30, 50.0)
        fake_report(out / f"xy-s{seed}", 0.75, 0.70, 0.35, 30.0)
        fake_report(out / f"hybrid-s{seed}", 0.795 + shift / 4, 0.65 + 10 * shift, 0.36, 40.0 + seed)
        fake_report(out / f"final-s{seed}", 0.82 + shift, 0.71, 0.37, 45.0 + seed)
    fake_report(out / "untrained", 0.80, 0.5, 0.2, 90.0)
    claims = {"hybrid": "hybrid", "xx": "xx", "xy": "xy", "baselines": ["xx", "xy"], "final": "final", "untrained": "untrained"}
    recipe = {"name": "v2", "steps": [], "study": {"set": "xquad-r", "table": ["untrained", "xx"], "claims": {**claims, "margin": 0.01}}}
    text = write_study(recipe, out)
    record = {part["what"]: part for part in json.loads((out / "study.json").read_text())["claims"]}
    # mono: hybrid - xx = -0.005, -0.004, -0.006: interval [-0.0075, -0.0025], inside the margin of 0.01
    assert record["mono mAP: hybrid − max(xx, xy)"]["verdict"] == "shown"
    # cross: hybrid - xy = -0.05, -0.01, -0.09: mean -0.05, the interval [-0.149, +0.049] crosses -0.01
    assert record["cross mAP: hybrid − max(xx, xy)"]["diffs"] == pytest.approx([-0.05, -0.01, -0.09])
    assert record["cross mAP: hybrid − max(xx, xy)"]["verdict"] == "not shown"
    assert record["rank distance: hybrid − xx"]["verdict"] == "shown"  # -10, -9, -8
    assert "1. hybrid ≥ max(xx, xy) − 0.01 on mono, cross and multi: **not shown**" in text
    # claim 4: final - untrained on mono is +0.020, +0.024, +0.016: shown; rank distance 45-47 against 90: shown
    assert record["mono mAP: final − untrained"]["verdict"] == "shown"
    assert "4. the final model beats the untrained one on mono, cross, multi and rank distance: **shown**" in text


def with_articles(folder: Path, mono_by_article: list[float]) -> None:
    """Give a fake report per-article figures: mono as given (equal weights), the rest each article the summary's."""
    report = json.loads((folder / "report.json").read_text())
    item = report["evals"]["xquad-r"]
    metrics = ("cross_map", "multi_map", "rank_distance")
    item["per_article"] = {
        str(a): {"questions": 10, "mono_map": mono, **{m: item[m] for m in metrics}} for a, mono in enumerate(mono_by_article)
    }
    item["mono_map"] = sum(mono_by_article) / len(mono_by_article)
    (folder / "report.json").write_text(json.dumps(report))


@pytest.mark.parametrize("spread", [0.0, 0.08])
def test_a_claim_is_shown_only_where_the_article_bootstrap_agrees_with_the_seeds(tmp_path, spread):
    """Three seeds agree on a mono gain of +0.02; when the articles disagree (+0.10, -0.06, ...) it is not shown."""
    from mtqa.studies.claims import article_interval, claim_differences
    from mtqa.studies.report import collect, write_study

    out = tmp_path / "out"
    fake_report(out / "untrained", 0.80, 0.5, 0.2, 90.0)
    with_articles(out / "untrained", [0.80] * 6)
    for seed, shift in enumerate((0.0, 0.004, -0.004)):
        for name, mono, cross in (("xx", 0.80, 0.60), ("xy", 0.75, 0.70), ("hybrid", 0.80, 0.70), ("final", 0.82 + shift, 0.71)):
            fake_report(out / f"{name}-s{seed}", mono, cross, 0.37, 45.0 + seed)
        gains = [0.02 + spread * (1 if a % 2 == 0 else -1) for a in range(6)]
        with_articles(out / f"final-s{seed}", [0.80 + gain + shift for gain in gains])
    claims = {"hybrid": "hybrid", "xx": "xx", "xy": "xy", "baselines": ["xx", "xy"], "final": "final", "untrained": "untrained"}
    recipe = {"name": "v3", "steps": [], "study": {"set": "xquad-r", "claims": {**claims, "margin": 0.01}}}
    write_study(recipe, out)
    record = {part["what"]: part for part in json.loads((out / "study.json").read_text())["claims"]}
    mono = record["mono mAP: final − untrained"]
    assert mono["ci95"][0] > 0  # the seeds alone show it
    low, high = mono["articles_ci95"]
    assert low - 1e-9 <= 0.02 <= high + 1e-9 and (low > 0) == (spread == 0.0)
    assert mono["verdict"] == ("shown" if spread == 0.0 else "not shown")
    assert record["cross mAP: final − untrained"]["articles_ci95"] == pytest.approx([0.21, 0.21])  # the same on every article
    assert record["mono mAP: hybrid − max(xx, xy)"]["articles_ci95"] is None  # these runs' reports have no articles
    parts = claim_differences(collect(recipe, out), recipe["study"]["claims"])
    again = article_interval(next(part for part in parts if part["what"] == "mono mAP: final − untrained"))
    assert again == pytest.approx((low, high))  # the same draws: a study report does not change from run to run


def test_named_rivals_are_compared_as_named_not_as_the_best_of_each_seed(tmp_path):
    from mtqa.studies.claims import claim_differences
    from mtqa.studies.report import collect

    out = tmp_path / "out"
    for seed in range(2):
        fake_report(out / f"xx-s{seed}", 0.80, 0.60, 0.30, 50.0)
        fake_report(out / f"xy-s{seed}", 0.81, 0.70, 0.35, 30.0)  # xy, not xx, is the better on mono here
        fake_report(out / f"multitask-s{seed}", 0.79, 0.65, 0.33, 40.0)
        fake_report(out / f"hybrid-s{seed}", 0.805, 0.69, 0.36, 20.0)
    claims = {"hybrid": "hybrid", "xx": "xx", "xy": "xy", "baselines": ["xx", "xy", "multitask"], "margin": 0.01}
    recipe = {"name": "v3", "steps": [], "study": {"set": "xquad-r", "claims": claims}}
    by_max = {part["what"]: part["diffs"] for part in claim_differences(collect(recipe, out), claims)}
    named = {
        part["what"]: part["diffs"]
        for part in claim_differences(collect(recipe, out), {**claims, "rivals": {"mono": "xx", "cross": "xy", "multi": "xy"}})
    }
    assert by_max["mono mAP: hybrid − max(xx, xy)"] == pytest.approx([-0.005] * 2)
    assert named["mono mAP: hybrid − xx"] == pytest.approx([0.005] * 2) and named["multi mAP: hybrid − xy"] == pytest.approx([0.01] * 2)
    assert named["mono mAP: xx − xy"] == pytest.approx([-0.01] * 2) and named["mono mAP: xx − multitask"] == pytest.approx([0.01] * 2)
    assert named["cross mAP: xy − xx"] == pytest.approx([0.1] * 2) and "cross mAP: xy − best other baseline" in by_max


def test_the_final_model_is_held_above_the_base_by_a_margin_and_to_the_reference_method(tmp_path):
    from mtqa.studies.report import write_study

    out = tmp_path / "out"
    fake_report(out / "untrained", 0.80, 0.5, 0.2, 90.0)
    for seed, shift in enumerate((0.0, 0.001, -0.001)):
        fake_report(out / f"reference-s{seed}", 0.81 + shift, 0.70, 0.40, 50.0 + seed)
        fake_report(out / f"final-s{seed}", 0.815 + shift, 0.695 + shift, 0.30, 52.0 + seed)  # gives back multi mAP
    claims = {"hybrid": "final", "xx": "final", "xy": "final", "final": "final", "untrained": "untrained", "reference": "reference",
              "margin": 0.01, "above_base_by": 0.01, "rank_margin": 5, "rivals": {"mono": "final", "cross": "final", "multi": "final"}}  # fmt: skip
    text = write_study({"name": "v3", "steps": [], "study": {"set": "xquad-r", "claims": claims}}, out)
    record = {part["what"]: part for part in json.loads((out / "study.json").read_text())["claims"]}
    assert record["mono mAP: final − untrained"]["bound"] == 0.01 and record["mono mAP: final − untrained"]["verdict"] == "shown"
    assert record["cross mAP: final − reference"]["verdict"] == "shown"  # -0.005 ± 0.001, inside the margin of 0.01
    assert record["multi mAP: final − reference"]["verdict"] == "refuted"  # -0.10
    assert record["rank distance: final − reference"]["verdict"] == "shown"  # +2 < 5
    assert "4. the final model beats the untrained one on mono, cross and multi by 0.01, and on rank distance: **shown**" in text
    assert "5. the final model keeps the reference method's cross and multi mAP (within 0.01) and rank distance (within 5)" in text
    assert "1. hybrid ≥ its named rival − 0.01 (final on mono, cross, multi)" in text
    from mtqa.errors import MtqaError
    from mtqa.studies.claims import claim_differences

    without_rank_margin = {key: value for key, value in claims.items() if key != "rank_margin"}
    for broken, lacking in ((without_rank_margin, "rank_margin"), ({**claims, "rivals": {"mono": "final"}}, "rivals.cross, rivals.multi")):
        with pytest.raises(MtqaError, match=f"study.claims: missing {lacking}"):
            claim_differences({}, broken)


def test_study_v2_design_is_fixed_in_its_recipes():
    """Five seeds per trained mode, the exact schedule where it applies, one protocol, the claims with their margin."""
    recipes = [load_recipe(RECIPES / f"study-v2-main-{part}.yaml") for part in ("a", "b")]
    steps = [step for recipe in recipes for step in recipe["steps"]]
    trains = {step["name"]: step["args"] for step in steps if step["command"] == "train-eval"}
    for mode in ("xx", "xy", "hybrid", "hybrid-kl", "multitask"):
        assert sorted(int(name.rsplit("-s", 1)[1]) for name in trains if name.rsplit("-s", 1)[0] == mode) == [0, 1, 2, 3, 4]
    batches = {step["name"]: step["args"] for step in steps if step["command"] == "build-batches"}
    assert all(args.get("alpha-schedule") == "exact" for name, args in batches.items() if name.split("-")[1] in ("xx", "hybrid"))
    protocol = {(a["lr"], a["max-steps"], a["eval-articles"], a["max-length"]) for name, a in trains.items() if name != "untrained"}
    assert protocol == {("1e-4", 40, "24-47", 128)}  # YAML reads 1e-4 as a string; the CLI parses it
    assert all(a.get("distill-weight") == 1 for name, a in trains.items() if name.startswith("hybrid-kl"))
    claims = recipes[0]["study"]["claims"]
    assert claims["margin"] == 0.01 and claims["final"] == "hybrid-kl" and claims["untrained"] == "untrained"
    assert recipes[0]["study"] == recipes[1]["study"]


def test_a_dry_run_prints_commands_that_paste_into_a_shell(tmp_path, capsys):
    import shlex

    from conftest import run_cli

    args = {"batches": "b", "model": "m", "query-prefix": "query: ", "passage-prefix": "passage: ", "output": "{out}/t"}
    recipe = write(tmp_path, {"steps": [{"name": "t", "command": "train-eval", "args": args}]})
    code, err = run_cli("recipe", "run", recipe, "--output", tmp_path / "here", "--dry-run", capsys=capsys)
    printed = next(line for line in err.splitlines() if line.startswith("recipe: t: "))[len("recipe: t: ") :]
    words = shlex.split(printed)
    assert code == 0 and words[words.index("--query-prefix") + 1] == "query: " and words[words.index("--passage-prefix") + 1] == "passage: "


def test_the_choice_rule_keeps_cross_and_multi_and_needs_every_seed():
    from mtqa.studies.choice import choose, diagnostic_table

    def runs(mono: float, cross: float, multi: float, seeds: int = 3) -> list[dict]:
        return [
            {"seed": s, "mono_map": mono, "cross_map": cross, "multi_map": multi, "mono_errors_same_paragraph": 0.7} for s in range(seeds)
        ]

    groups = {
        "untrained": runs(0.95, 0.9, 0.9, seeds=1),  # never a candidate, whatever its figures
        "ref": runs(0.80, 0.70, 0.60),
        "a": runs(0.82, 0.696, 0.60),  # within 0.005 on cross
        "b": runs(0.85, 0.69, 0.60),  # the best mono, but it gives back cross
        "c": runs(0.90, 0.75, 0.70, seeds=2),  # the best of all on two seeds only
    }
    rule = {"reference": "ref", "by": "mono_map", "keep": ["cross_map", "multi_map"], "within": 0.005, "seeds": 3}
    text, record = choose(groups, rule)
    assert record["chosen"] == "a"
    assert "loses cross_map" in text and "too few seeds" in text
    assert choose({"a": runs(0.8, 0.7, 0.6)}, rule)[1]["chosen"] is None  # no reference yet: no choice
    assert "0.700" in diagnostic_table(groups, ["ref", "a"]) and "—" in diagnostic_table({"x": [{"mono_map": 0.5}]}, ["x"])
