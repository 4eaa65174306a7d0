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


@pytest.mark.parametrize("recipe, message", [
    ("steps: [", "not valid YAML"),
    ({"name": "x"}, "non-empty 'steps'"),
    ({"steps": [{"command": "fly", "args": {"output": "o"}}]}, "needs 'command'"),
    ({"steps": [{"command": "translate", "args": {"input": "x"}}]}, "needs args.output"),
    ({"steps": [{"name": "a", "command": "translate", "args": {"output": "o"}}], "compare": ["b"]}, "not a step"),
])
def test_bad_recipes(tmp_path, recipe, message):
    with pytest.raises(MtqaError, match=message):
        load_recipe(write(tmp_path, recipe))


def test_arguments_from_a_step():
    step = {"command": "train-eval", "args": {"eval": ["lareqa:a", "beir:b"], "eval-only": True, "resume": False,
                                                "lr": 3e-5, "output": "{out}/run"}}
    assert step_arguments(step, Path("/o")) == ["train-eval", "--eval", "lareqa:a", "--eval", "beir:b", "--eval-only",
                                                "--lr", "3e-05", "--output", "/o/run"]


@pytest.mark.parametrize("name", ["paper-xlmr", "paper-labse", "minilm-xquad-split"])
def test_shipped_recipes_are_valid_commands(name):
    """Each step's command line parses with the real CLI: names, types and choices are right."""
    recipe = load_recipe(RECIPES / f"{name}.yaml")
    for step in recipe["steps"]:
        argv = step_arguments(step, Path("/tmp/out"))
        command = cli.commands[argv[0]]
        command.make_context(argv[0], argv[1:], resilient_parsing=False)
    if name.startswith("paper"):
        args = {step["command"]: step["args"] for step in recipe["steps"]}
        assert args["translate"]["langs"] == "ar,zh,de,hi,ru,es,th,tr"
        assert args["build-batches"]["mode"] == "hybrid" and args["build-batches"]["mono-prob"] == 0.5
        assert args["build-batches"]["batch-size"] == 100
        assert args["train-eval"]["lr"] == 3e-5 and args["train-eval"]["weight-decay"] == 0.01
        assert args["train-eval"]["query-prefix"] == "Query: " and args["train-eval"]["passage-prefix"] == "Passage: "
        assert "table1_map_mono_cross_multi" in recipe["paper_results"]


def test_complete_steps_are_skipped(tmp_path):
    recipe = write(tmp_path, {"steps": [
        {"name": "b", "command": "build-batches", "args": {"input": "x", "output": "{out}/b"}},
        {"name": "t", "command": "train-eval", "args": {"batches": "{out}/b", "model": "m", "output": "{out}/t"}},
    ]})
    out = tmp_path / "out"
    assert run_recipe(recipe, out, run_command=main, dry_run=True, echo=lambda _: None) == ["b", "t"]
    (out / "b").mkdir(parents=True)
    (out / "b" / "manifest.json").write_text("{}")
    assert run_recipe(recipe, out, run_command=main, dry_run=True, echo=lambda _: None) == ["t"]


def test_chain_on_tiny_models_then_resume_skips_everything(tmp_path, tiny_nllb, tiny_xlmr, small_squad, xquad_r):
    recipe = write(tmp_path, {
        "name": "tiny",
        "steps": [
            {"name": "mt", "command": "translate", "args": {"input": str(small_squad), "langs": "de,es", "model": str(tiny_nllb),
                                                           "beam-size": 1, "max-decoding-length": 8, "no-filter": True, "quiet": True,
                                                           "output": "{out}/mt"}},
            {"name": "batches", "command": "build-batches", "args": {"input": "{out}/mt", "batch-size": 8, "num-batches": 3,
                                                                      "quiet": True, "output": "{out}/batches"}},
            {"name": "trained", "command": "train-eval", "args": {"batches": "{out}/batches", "model": str(tiny_xlmr), "max-length": 32,
                                                                  "eval": f"lareqa:{xquad_r}", "eval-articles": "47", "eval-langs": "en,de",
                                                                  "quiet": True, "output": "{out}/trained"}},
        ],
        "compare": ["trained"],
    })
    out = tmp_path / "out"
    assert run_recipe(recipe, out, run_command=main, echo=lambda _: None) == ["mt", "batches", "trained"]
    rows = json.loads((out / "comparison.json").read_text())["rows"]
    assert rows[0]["run"] == "trained" and rows[0]["steps"] == 3 and 0 <= rows[0]["mono_map"] <= 1
    assert "| trained | xquad-r | 3 |" in (out / "comparison.md").read_text()
    assert run_recipe(recipe, out, run_command=main, echo=lambda _: None) == []
