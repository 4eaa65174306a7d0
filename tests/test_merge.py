"""WiSE-FT: `mtqa merge`, and train-eval --merge-base on a tiny model and real data."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

torch = pytest.importorskip("torch")

from conftest import run_cli  # noqa: E402

from mtqa.cli import main  # noqa: E402
from mtqa.errors import MtqaError  # noqa: E402
from mtqa.train.merge import interpolate, parse_lambda  # noqa: E402


def test_interpolation_is_per_tensor_and_keeps_integer_buffers():
    base = {"w": torch.zeros(2, 2), "ids": torch.arange(3)}
    tuned = {"w": torch.ones(2, 2) * 4, "ids": torch.arange(3) + 7}
    assert torch.equal(interpolate(base, tuned, 0.25)["w"], torch.ones(2, 2))
    assert torch.equal(interpolate(base, tuned, 0.0)["w"], base["w"]) and torch.equal(interpolate(base, tuned, 1.0)["w"], tuned["w"])
    assert torch.equal(interpolate(base, tuned, 0.5)["ids"], tuned["ids"])  # indices are not averaged


def test_a_mismatch_names_the_first_tensor_that_differs():
    with pytest.raises(MtqaError, match=r"tensor 'b' is \(3,\) in base but \(4,\) in tuned"):
        interpolate({"a": torch.zeros(1), "b": torch.zeros(3)}, {"a": torch.zeros(1), "b": torch.zeros(4)}, 0.5)
    with pytest.raises(MtqaError, match="tensor 'extra' is only in tuned"):
        interpolate({"a": torch.zeros(1)}, {"a": torch.zeros(1), "extra": torch.zeros(1)}, 0.5)
    assert parse_lambda("auto") == "auto" and parse_lambda("0.3") == 0.3
    with pytest.raises(MtqaError, match="λ must be between 0"):
        parse_lambda("1.5")


def weights(folder: Path) -> dict:
    from mtqa.encoders.load import load_encoder

    return {name: value.clone() for name, value in load_encoder(str(folder)).state_dict().items()}


def test_mtqa_merge_writes_the_average_of_two_folders(tmp_path, tiny_xlmr, capsys):
    from mtqa.encoders.load import load_encoder

    shifted = load_encoder(str(tiny_xlmr))
    with torch.no_grad():
        for parameter in shifted.parameters():
            parameter.add_(1.0)
    shifted.save(str(tmp_path / "tuned"))
    code, err = run_cli("merge", tiny_xlmr, tmp_path / "tuned", "--lam", "0.5", "--output", tmp_path / "merged", capsys=capsys)
    assert code == 0, err
    base, tuned, merged = weights(tiny_xlmr), weights(tmp_path / "tuned"), weights(tmp_path / "merged")
    name = next(name for name, value in base.items() if value.is_floating_point() and value.numel() > 1)
    assert torch.allclose(merged[name], (base[name] + tuned[name]) / 2)
    assert json.loads((tmp_path / "merged" / "mtqa-merge.json").read_text())["lambda"] == 0.5
    code, err = run_cli("merge", tiny_xlmr, tmp_path / "tuned", "--lam", "0.5", "--output", tmp_path / "merged", capsys=capsys)
    assert code == 1 and "already exists" in err


def test_a_merged_nllb_encoder_loads_with_plain_sentence_transformers(tmp_path, tiny_nllb, capsys):
    """A merge is saved as training saves: an encoder half of a seq2seq model with the stock module types."""
    from sentence_transformers import SentenceTransformer

    code, err = run_cli("merge", tiny_nllb, tiny_nllb, "--lam", "0.5", "--output", tmp_path / "merged", capsys=capsys)
    assert code == 0, err
    assert "mtqa." not in (tmp_path / "merged" / "modules.json").read_text()
    assert type(SentenceTransformer(str(tmp_path / "merged"))[0].auto_model).__name__ == "M2M100Encoder"


def test_mtqa_merge_of_two_architectures_is_one_line(tmp_path, tiny_xlmr, capsys):
    code, err = run_cli("merge", tiny_xlmr, "offline-minilm", "--lam", "0.5", "--output", tmp_path / "merged", capsys=capsys)
    assert code == 1 and len(err.strip().splitlines()) == 1
    assert err.startswith("mtqa: error: cannot merge") and "tensor '" in err and not (tmp_path / "merged").exists()


@pytest.fixture(scope="module")
def shards(tmp_path_factory, xquad_r) -> Path:
    folder = tmp_path_factory.mktemp("merge") / "shards"
    main(
        [
            "build-batches",
            "--input",
            f"lareqa:{xquad_r}",
            "--articles",
            "0-1",
            "--langs",
            "en,de",
            "--batch-size",
            "4",
            "--num-batches",
            "2",
            "--positive",
            "sentence",
            "--output",
            str(folder),
            "--quiet",
        ]
    )
    return folder


def train_eval(tmp_path, tiny_xlmr, shards, xquad_r, *extra, capsys) -> tuple[int, str]:
    return run_cli(
        "train-eval",
        "--batches",
        shards,
        "--model",
        tiny_xlmr,
        "--max-length",
        "16",
        "--lr",
        "1e-3",
        "--eval",
        f"lareqa:{xquad_r}",
        "--eval-articles",
        "47",
        "--eval-langs",
        "en,de",
        "--quiet",
        "--output",
        tmp_path / "run",
        *extra,
        capsys=capsys,
    )


def test_merge_base_auto_chooses_lambda_on_the_dev_articles_and_saves_the_merge(tmp_path, tiny_xlmr, shards, xquad_r, capsys):
    code, err = train_eval(tmp_path, tiny_xlmr, shards, xquad_r, "--merge-base", "auto", "--merge-dev-articles", "20", capsys=capsys)
    assert code == 0, err
    report = json.loads((tmp_path / "run" / "report.json").read_text())
    merge = report["merge"]
    assert merge["lambda"] in (0.25, 0.5, 0.75, 1.0) and set(merge["dev_scores"]) == {"0.25", "0.5", "0.75", "1.0"}
    assert merge["dev_scores"][str(merge["lambda"])] == max(merge["dev_scores"].values())
    saved = json.loads((tmp_path / "run" / "model" / "mtqa-merge.json").read_text())
    assert saved["lambda"] == merge["lambda"] and saved["base"] == str(tiny_xlmr)
    assert f"λ = {merge['lambda']}" in (tmp_path / "run" / "model" / "README.md").read_text()
    base, final = weights(tiny_xlmr), weights(tmp_path / "run" / "model")
    moved = [name for name in base if base[name].is_floating_point() and not torch.equal(base[name], final[name])]
    assert moved if merge["lambda"] > 0 else not moved


@pytest.mark.parametrize(
    "extra, message",
    [
        (["--merge-base", "auto"], "--merge-base auto chooses λ on dev articles: add --merge-dev-articles"),
        (["--merge-base", "auto", "--merge-dev-articles", "46-47"], "--merge-dev-articles and --eval-articles share article 47"),
        (["--merge-base", "0.5", "--merge-dev-articles", "20"], "--merge-base 0.5 fixes it: drop one of them"),
        (["--merge-dev-articles", "20"], "add --merge-base auto, or drop it"),
        (["--merge-base", "half"], "--merge-base 'half': give λ between 0 and 1"),
    ],
)
def test_merge_options_are_checked_before_any_work(tmp_path, tiny_xlmr, shards, xquad_r, capsys, extra, message):
    code, err = train_eval(tmp_path, tiny_xlmr, shards, xquad_r, *extra, capsys=capsys)
    assert code == 2 and message in err and len(err.strip().splitlines()) == 1  # the command line's own fault
    assert not (tmp_path / "run").exists()
