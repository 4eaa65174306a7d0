"""`mtqa train-eval` end to end: shards -> training -> evaluation -> report."""

import json

import pytest
from conftest import run_cli
from conftest import run_mtqa as mtqa


def test_train_then_evaluate_then_resume_refusal(tmp_path, tiny_xlmr, xquad_r, capsys):
    shards = tmp_path / "shards"
    code, err = run_cli(
        "build-batches",
        "--input",
        f"lareqa:{xquad_r}",
        "--articles",
        "0-3",
        "--batch-size",
        "8",
        "--positive",
        "sentence",
        "--num-batches",
        "6",
        "--output",
        shards,
        "--quiet",
        capsys=capsys,
    )
    assert code == 0, err
    run = tmp_path / "run"
    args = [
        "train-eval",
        "--batches",
        shards,
        "--model",
        tiny_xlmr,
        "--max-length",
        "32",
        "--save-every",
        "2",
        "--eval",
        f"lareqa:{xquad_r}",
        "--eval-articles",
        "47",
        "--output",
        run,
        "--quiet",
    ]
    result = mtqa(*args)
    assert result.returncode == 0, result.stderr
    report = json.loads((run / "report.json").read_text())
    assert report["training"]["steps"] == 6
    assert report["evals"]["xquad-r"]["pairs"] == 110
    assert len((run / "train_log.jsonl").read_text().splitlines()) == 6
    from sentence_transformers import SentenceTransformer

    assert SentenceTransformer(str(run / "model")).encode(["hello"]).shape[0] == 1
    # The saved model's card is its own, not the base model's: data, settings, scores and the command.
    card = (run / "model" / "README.md").read_text()
    for expected in (
        f"base_model: {tiny_xlmr}",
        "mode `hybrid`",
        "(α) 0.5",
        "| steps | 6 |",
        "| learning rate | 3e-05 |",
        "| seed | 0 |",
        "`Query: `",
        "`Passage: `",
        "| xquad-r (articles ",
        f"--output {run}",
        "license: unknown",
    ):
        assert expected in card, (expected, card)
    evaluated = report["evals"]["xquad-r"]
    label = f"xquad-r (articles {evaluated['articles']}; {', '.join(evaluated['languages'])})"  # which figures these are
    assert f"| {label} | {evaluated['mono_map']:.3f} |" in card and f"| {label} |" in (run / "report.md").read_text()
    from huggingface_hub import ModelCard

    metadata = ModelCard.load(run / "model" / "README.md").data  # the results as model-index, which the Hub shows
    assert {result.dataset_config for result in metadata.eval_results} == {label[len("xquad-r (") : -1]}
    scores = {result.metric_type: result.metric_value for result in metadata.eval_results}
    assert scores["mono_map"] == round(report["evals"]["xquad-r"]["mono_map"], 4) and set(scores) >= {"cross_map", "rank_distance"}
    again = mtqa(*args)
    assert again.returncode == 1 and "already exists" in again.stderr and len(again.stderr.strip().splitlines()) == 1
    assert "--overwrite" in again.stderr  # the way to replace it
    both = mtqa(*args, "--overwrite", "--resume")
    assert both.returncode == 2 and "give one of them" in both.stderr
    (run / "report.json").write_text("{}")  # the earlier run, marked, so its replacement shows
    code, err = run_cli(*args, "--overwrite", capsys=capsys)  # in this process: the user's process ran above
    assert code == 0, err
    assert json.loads((run / "report.json").read_text())["training"]["steps"] == 6
    other = tmp_path / "not-a-run"
    other.mkdir()
    (other / "notes.txt").write_text("mine")
    refused = mtqa(*[arg if arg != run else other for arg in args], "--overwrite")
    assert refused.returncode == 1 and "is not one" in refused.stderr and (other / "notes.txt").read_text() == "mine"


def test_cpu_refuses_half_precision(tmp_path, tiny_xlmr, xquad_r, capsys):
    shards = tmp_path / "shards"
    built, err = run_cli(
        "build-batches",
        "--input",
        f"lareqa:{xquad_r}",
        "--articles",
        "0",
        "--batch-size",
        "4",
        "--num-batches",
        "2",
        "--output",
        shards,
        "--quiet",
        capsys=capsys,
    )
    assert built == 0, err
    code, err = run_cli("train-eval", "--batches", shards, "--model", tiny_xlmr, "--precision", "bf16", "--output", tmp_path / "r",
                        capsys=capsys)  # fmt: skip
    assert code == 2 and "needs a CUDA device" in err and len(err.strip().splitlines()) == 1


def test_model_path_that_is_not_a_model(tmp_path):
    folder = tmp_path / "not-a-model"
    folder.mkdir()
    (folder / "notes.txt").write_text("hello")
    result = mtqa("train-eval", "--eval-only", "--eval", "lareqa:xquad-r", "--model", folder, "--output", tmp_path / "r")
    assert result.returncode == 1 and "is not a model folder" in result.stderr


def test_a_card_names_a_base_model_others_can_resolve(tmp_path, monkeypatch):
    from mtqa.encoders.load import base_model_id

    assert base_model_id("offline-me5") == "intfloat/multilingual-e5-small"
    assert base_model_id("offline-minilm") == "sentence-transformers/all-MiniLM-L6-v2"
    (tmp_path / "mine").mkdir()
    monkeypatch.chdir(tmp_path)
    assert base_model_id("mine") == str(tmp_path / "mine") and base_model_id("org/model") == "org/model"


def _torch_cuda() -> bool:
    import torch

    return torch.cuda.is_available()


@pytest.mark.skipif(_torch_cuda(), reason="a CUDA device is visible: --device cuda is valid here")
def test_device_cuda_without_a_gpu_fails_before_the_model_loads(tmp_path, xquad_r):
    model = tmp_path / "unloadable-model"  # passes the cheap check of a model folder; loading it would fail
    model.mkdir()
    (model / "config.json").write_text('{"model_type": "bert"}')
    result = mtqa("train-eval", "--eval-only", "--model", model, "--device", "cuda", "--eval", f"lareqa:{xquad_r}",
                  "--output", tmp_path / "r")  # fmt: skip
    assert result.returncode == 1 and result.stderr.strip().splitlines() == [
        "mtqa: error: --device cuda: PyTorch sees no CUDA device here; use --device cpu, or auto to take one where there is"
    ]


HEAVY_MODULES = (
    "import atexit, sys; "
    "atexit.register(lambda: print('heavy modules:', sorted(m for m in ('torch', 'transformers') if m in sys.modules), file=sys.stderr)); "
    "sys.argv[0] = 'mtqa'; from mtqa.cli import main; main()"
)


def test_a_missing_model_or_a_truncated_shard_fails_before_torch_is_imported(tmp_path, xquad_r, capsys):
    shards = tmp_path / "shards"
    code, err = run_cli("build-batches", "--input", f"lareqa:{xquad_r}", "--articles", "0", "--batch-size", "4", "--num-batches", "2",
                        "--output", shards, "--quiet", capsys=capsys)  # fmt: skip
    assert code == 0, err
    missing = mtqa("train-eval", "--batches", shards, "--model", tmp_path / "absent", "--output", tmp_path / "r", code=HEAVY_MODULES)
    assert "model folder not found" in missing.stderr and "heavy modules: []" in missing.stderr, missing.stderr
    shard = next(shards.glob("*.parquet"))
    shard.write_bytes(shard.read_bytes()[:100])  # a copy cut short: its footer is gone
    model = tmp_path / "model"  # the cheap check of a model folder passes; the shard must fail before any loading
    model.mkdir()
    (model / "config.json").write_text('{"model_type": "bert"}')
    truncated = mtqa("train-eval", "--batches", shards, "--model", model, "--device", "cpu", "--output", tmp_path / "r",
                     code=HEAVY_MODULES)  # fmt: skip
    assert truncated.returncode == 1 and "unreadable shard" in truncated.stderr, truncated.stderr
    assert "heavy modules: []" in truncated.stderr and "loaded" not in truncated.stderr, truncated.stderr
