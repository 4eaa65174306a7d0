"""`mtqa train-eval` under torchrun: 2 processes on the CPU (gloo) give the single-process losses and weights,
with uneven batch splits, hard negatives, GradCache, and a kill + --resume in between."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from safetensors.torch import load_file

COMMON = ["--max-length", "32", "--quiet"]  # the paper's lr, 3e-5


def mtqa(*args, processes: int = 1, env: dict | None = None) -> subprocess.CompletedProcess:
    launcher = (
        [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node", str(processes)]
        if processes > 1
        else [sys.executable]
    )
    return subprocess.run(
        [*launcher, "-m", "mtqa", *map(str, args)],
        capture_output=True,
        text=True,
        env={**os.environ, "OMP_NUM_THREADS": "1", **(env or {})},
    )


@pytest.fixture(scope="module")
def setup(tmp_path_factory, tiny_xlmr, xquad_r) -> tuple[Path, Path]:
    """A dropout-free tiny model (dropout would draw different masks per rank) and batches of 7 with hard negatives."""
    folder = tmp_path_factory.mktemp("distributed")
    model = folder / "model"
    shutil.copytree(tiny_xlmr, model)
    config = json.loads((model / "config.json").read_text())
    config.update(hidden_dropout_prob=0.0, attention_probs_dropout_prob=0.0)
    (model / "config.json").write_text(json.dumps(config))
    shutil.copy(model / "model.safetensors", folder / "model-start.safetensors")
    shards = folder / "shards"
    built = mtqa(
        "build-batches",
        "--input",
        f"lareqa:{xquad_r}",
        "--articles",
        "0-3",
        "--batch-size",
        "7",
        "--positive",
        "sentence",
        "--hard-negatives",
        "1",
        "--num-batches",
        "4",
        "--output",
        shards,
        "--quiet",
    )
    assert built.returncode == 0, built.stderr
    return model, shards


def log(run: Path) -> list[dict]:
    return [json.loads(line) for line in (run / "train_log.jsonl").read_text().splitlines()]


def assert_same_training(run: Path, reference: Path, start_weights: Path) -> None:
    ours, theirs = log(run), log(reference)
    assert [entry["step"] for entry in ours] == [entry["step"] for entry in theirs]
    for mine, expected in zip(ours, theirs):
        assert mine["loss"] == pytest.approx(expected["loss"], abs=1e-5)
        assert mine["grad_norm"] == pytest.approx(expected["grad_norm"], abs=1e-3)
    weights, expected = (load_file(str(folder / "model" / "model.safetensors")) for folder in (run, reference))
    start = load_file(str(start_weights))
    assert weights.keys() == expected.keys()
    # AdamW divides each gradient element by its own running scale, so float rounding in a near-zero
    # gradient can move a weight by a sizeable fraction of lr; 1e-6 is 1/30 of one step at lr 3e-5.
    moved = max(float((expected[name] - start[name]).abs().max()) for name in expected if name in start)
    assert moved > 3e-5, "training should have moved the weights well past the tolerance"
    for name in weights:
        difference = float((weights[name] - expected[name]).abs().max())
        assert difference <= 1e-6, f"{name}: {difference}"


@pytest.fixture(scope="module")
def single(tmp_path_factory, setup) -> Path:
    """The single-process reference run, once for every comparison below."""
    model, shards = setup
    run = tmp_path_factory.mktemp("single") / "run"
    done = mtqa("train-eval", "--batches", shards, "--model", model, *COMMON, "--output", run)
    assert done.returncode == 0, done.stderr
    return run


def test_two_processes_with_grad_cache_equal_one_and_resume_after_a_kill(tmp_path, setup, single):
    """GradCache (chunks of 2 texts) under 2 processes, killed at step 3 and resumed: the single-process losses and weights."""
    model, shards = setup
    run = tmp_path / "two"
    args = ["train-eval", "--batches", shards, "--model", model, *COMMON, "--grad-cache", "2", "--save-every", "1", "--output", run]
    killed = mtqa(*args, processes=2, env={"MTQA_CRASH_AT": "train.step:3"})
    assert killed.returncode != 0 and not (run / "model").exists()
    assert sorted(p.name for p in (run / "checkpoints").iterdir()) == ["step-000001", "step-000002"]
    resumed = mtqa(*args, "--resume", processes=2)
    assert resumed.returncode == 0, resumed.stderr
    report = json.loads((run / "report.json").read_text())["training"]
    assert report["processes"] == 2 and report["resumed_from"] == 2
    assert_same_training(run, single, model.parent / "model-start.safetensors")


def test_resume_with_another_number_of_processes(tmp_path, setup, single):
    """A run killed under one process resumes under two, is killed again, and resumes under one: the single-process result."""
    model, shards = setup
    run = tmp_path / "1-then-2-then-1"
    args = ["train-eval", "--batches", shards, "--model", model, *COMMON, "--save-every", "1", "--output", run]
    killed = mtqa(*args, env={"MTQA_CRASH_AT": "train.step:2"})  # in step 2: step 1 is kept
    assert killed.returncode != 0 and sorted(p.name for p in (run / "checkpoints").iterdir()) == ["step-000001"]
    killed = mtqa(*args, "--resume", processes=2, env={"MTQA_CRASH_AT": "train.step:2"})  # in step 3, its second
    assert killed.returncode != 0 and not (run / "model").exists()
    assert sorted(p.name for p in (run / "checkpoints").iterdir()) == ["step-000001", "step-000002"]
    resumed = mtqa(*args, "--resume")
    assert resumed.returncode == 0, resumed.stderr
    report = json.loads((run / "report.json").read_text())["training"]
    assert report["processes"] == 1 and report["resumed_from"] == 2
    assert_same_training(run, single, model.parent / "model-start.safetensors")
