"""Encoder halves of mBART, mT5 and NLLB as bi-encoder starting points: loaded encoder-only with the checkpoint's weights,
trained, saved, reloaded."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch
from conftest import run_cli

from mtqa.encoders.load import encode, load_encoder
from mtqa.testing import build_tiny_seq2seq

TEXTS = ["Where is the library?", "Wo ist die Bibliothek?", "图书馆在哪里？"]


@pytest.fixture(scope="module", params=["mbart", "mt5"])
def tiny_seq2seq(request, tmp_path_factory):
    return request.param, build_tiny_seq2seq(tmp_path_factory.mktemp(f"tiny-{request.param}"), request.param)


def reference_embeddings(family: str, folder) -> np.ndarray:
    """Mean-pooled, normalised encoder states computed with transformers directly, from the full seq2seq checkpoint."""
    from transformers import AutoModel, AutoTokenizer, MT5EncoderModel

    tokenizer = AutoTokenizer.from_pretrained(folder)
    encoder = MT5EncoderModel.from_pretrained(folder) if family == "mt5" else AutoModel.from_pretrained(folder).get_encoder()
    batch = tokenizer(TEXTS, padding=True, return_tensors="pt")
    with torch.no_grad():
        states = encoder(input_ids=batch["input_ids"], attention_mask=batch["attention_mask"]).last_hidden_state
    mask = batch["attention_mask"].unsqueeze(-1).float()
    pooled = (states * mask).sum(1) / mask.sum(1)
    return torch.nn.functional.normalize(pooled, dim=-1).numpy()


def test_the_encoder_half_is_loaded_and_mean_pooled(tiny_seq2seq):
    family, folder = tiny_seq2seq
    model = load_encoder(str(folder))
    assert type(model[0].auto_model).__name__ == {"mbart": "MBartEncoder", "mt5": "MT5EncoderModel"}[family]  # no decoder
    assert not any("decoder" in name for name, _ in model.named_parameters())
    np.testing.assert_allclose(encode(model, TEXTS), reference_embeddings(family, folder), atol=1e-5)


def test_cls_pooling_pools_mbarts_encoder_too(tmp_path):
    """--pooling cls goes through the encoder half as mean pooling does: sentence-transformers alone would pool the decoder."""
    from transformers import AutoModel, AutoTokenizer

    folder = build_tiny_seq2seq(tmp_path / "mbart", "mbart")

    model = load_encoder(str(folder), pooling="cls")
    assert type(model[0].auto_model).__name__ == "MBartEncoder"
    tokenizer = AutoTokenizer.from_pretrained(folder)
    batch = tokenizer(TEXTS, padding=True, return_tensors="pt")
    with torch.no_grad():
        first = AutoModel.from_pretrained(folder).get_encoder()(**batch).last_hidden_state[:, 0]
    np.testing.assert_allclose(encode(model, TEXTS), torch.nn.functional.normalize(first, dim=-1).numpy(), atol=1e-5)


def test_train_eval_trains_it_and_saves_a_folder_sentence_transformers_loads(tiny_seq2seq, tmp_path, xquad_r, capsys):
    family, folder = tiny_seq2seq
    shards, run = tmp_path / "shards", tmp_path / "run"
    code, err = run_cli("build-batches", "--input", f"lareqa:{xquad_r}", "--articles", "0-1", "--batch-size", "4", "--positive", "sentence",
                        "--num-batches", "3", "--output", shards, "--quiet", capsys=capsys)  # fmt: skip
    assert code == 0, err
    code, err = run_cli("train-eval", "--batches", shards, "--model", folder, "--max-length", "32", "--lr", "1e-3", "--eval",
                        f"lareqa:{xquad_r}", "--eval-articles", "47", "--eval-langs", "en,de", "--output", run, "--quiet",
                        capsys=capsys)  # fmt: skip
    assert code == 0, err
    report = json.loads((run / "report.json").read_text())
    assert report["training"]["steps"] == 3 and report["training"]["first_loss"] != report["training"]["final_loss"]

    from sentence_transformers import SentenceTransformer

    # Both load with plain sentence-transformers: mT5 as it is, mBART as its base model with a decoder of no layers.
    assert "mtqa." not in (run / "model" / "modules.json").read_text()
    reloaded = SentenceTransformer(str(run / "model"))
    assert not any("decoder.layers" in name or "decoder.block" in name for name, _ in reloaded.named_parameters())
    trained = load_encoder(str(run / "model"))
    np.testing.assert_allclose(encode(reloaded, TEXTS), encode(trained, TEXTS), atol=1e-6)
    assert not np.allclose(encode(trained, TEXTS), reference_embeddings(family, folder), atol=1e-4)  # training changed it
    if family == "mbart":  # transformers alone: the folder's encoder is the trained one
        np.testing.assert_allclose(encode(reloaded, TEXTS), reference_embeddings("mbart", run / "model"), atol=1e-5)
        np.testing.assert_allclose(encode(load_encoder(str(run / "model"), pooling="mean"), TEXTS), encode(trained, TEXTS), atol=1e-6)


def test_an_nllb_encoder_keeps_its_weights(tiny_nllb):
    """sentence-transformers alone would build M2M100Encoder with random weights (the checkpoint's are under model.encoder.)."""
    model = load_encoder(str(tiny_nllb))
    assert type(model[0].auto_model).__name__ == "M2M100Encoder"
    np.testing.assert_allclose(encode(model, TEXTS), reference_embeddings("nllb", tiny_nllb), atol=1e-5)


def test_a_saved_nllb_encoder_loads_with_plain_sentence_transformers(tiny_nllb, tmp_path):
    """sentence-transformers loads a saved M2M-100 / Marian encoder itself, so the folder needs no trust_remote_code."""
    from sentence_transformers import SentenceTransformer

    from mtqa.encoders.load import save_encoder

    model = load_encoder(str(tiny_nllb))
    save_encoder(model, tmp_path / "model")
    assert "mtqa." not in (tmp_path / "model" / "modules.json").read_text()
    reloaded = SentenceTransformer(str(tmp_path / "model"))
    assert type(reloaded[0].auto_model).__name__ == "M2M100Encoder"
    np.testing.assert_allclose(encode(reloaded, TEXTS), reference_embeddings("nllb", tiny_nllb), atol=1e-5)
