"""The similarity filter's CTranslate2 int8 encoder: which folders take it, and that it encodes as sentence-transformers does."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest

from mtqa.encoders.ct2_encoder import CT2SentenceEncoder, converted, ct2_layout
from mtqa.translate.filters.similarity import SimilarityScorer


@pytest.fixture(scope="module")
def me5(me5_model_cache) -> tuple[Path, Path]:
    """offline-me5's sentence-transformers folder and the model cache holding it (converted once per test run)."""
    from mtqa.encoders.offline_me5 import offline_me5

    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("MTQA_CACHE", str(me5_model_cache))
        return offline_me5(), me5_model_cache


def _texts(xquad_r: Path) -> list[str]:
    from mtqa.formats import lareqa

    texts = []
    for file in lareqa.language_files(xquad_r):
        for paragraph in lareqa.read_language(file, {3})[:2]:
            texts += [qa.question for qa in paragraph.questions[:3]] + paragraph.sentences[:2]
    return texts


def test_int8_vectors_match_sentence_transformers_in_all_11_languages(me5, xquad_r, monkeypatch):
    from mtqa.encoders.load import encode, load_encoder

    folder, cache = me5
    monkeypatch.setenv("MTQA_CACHE", str(cache))
    layout = ct2_layout(str(folder))
    assert layout is not None and layout.pooling == "mean" and layout.max_length == 512
    texts = _texts(xquad_r)
    assert len(texts) > 100
    from transformers import AutoTokenizer

    from mtqa.encoders.ct2_encoder import _tokenizer

    every = texts + [" ".join(texts)]  # the last is far over 512 tokens: truncated alike
    assert _tokenizer(layout)(every) == AutoTokenizer.from_pretrained(str(folder))(every, truncation=True, max_length=512)["input_ids"]
    fast = CT2SentenceEncoder(layout, threads=2).encode(texts, prefix="query: ")  # two replicas, whatever the runner's cores
    reference = encode(load_encoder(str(folder)), texts, prefix="query: ")
    cosine = np.einsum("ij,ij->i", fast, reference)
    assert np.allclose(np.linalg.norm(fast, axis=1), 1, atol=1e-5)
    assert cosine.mean() >= 0.995 and cosine.min() >= 0.98, (cosine.mean(), cosine.min())
    # Batches run on parallel replicas; a batch's vectors do not depend on how many there are.
    assert np.array_equal(CT2SentenceEncoder(layout, threads=1).encode(texts, prefix="query: "), fast)
    # Converted once: a second encoder reuses the cached CTranslate2 folder.
    target = converted(layout)
    stamp = (target / "model.bin").stat().st_mtime_ns
    CT2SentenceEncoder(layout)
    assert (target / "model.bin").stat().st_mtime_ns == stamp


def test_only_the_plain_sentence_transformers_shape_takes_the_ctranslate2_path(me5, tiny_xlmr, tmp_path):
    folder, _ = me5
    assert ct2_layout(str(tiny_xlmr)) is None  # a plain Hugging Face folder: no modules.json to say how it pools
    assert ct2_layout("intfloat/multilingual-e5-small") is None  # a hub id stays with PyTorch
    copy = tmp_path / "copy"
    shutil.copytree(folder, copy, ignore=shutil.ignore_patterns("model.safetensors"))
    pooling = copy / "1_Pooling" / "config.json"
    settings = json.loads(pooling.read_text())
    pooling.write_text(json.dumps({**settings, "pooling_mode_mean_tokens": False, "pooling_mode_cls_token": True}))
    assert ct2_layout(str(copy)).pooling == "cls"
    pooling.write_text(json.dumps({**settings, "pooling_mode_max_tokens": True}))
    assert ct2_layout(str(copy)) is None  # mean and max at once: only sentence-transformers does that
    # sentence-transformers 6 writes its own Pooling config this way.
    from sentence_transformers.sentence_transformer.modules import Pooling

    pooling.unlink()
    Pooling(384, pooling_mode="mean").save(str(copy / "1_Pooling"))
    assert "pooling_mode" in json.loads(pooling.read_text()) and ct2_layout(str(copy)).pooling == "mean"
    Pooling(384, pooling_mode="max").save(str(copy / "1_Pooling"))
    assert ct2_layout(str(copy)) is None
    pooling.write_text(json.dumps(settings))
    modules = json.loads((copy / "modules.json").read_text())
    (copy / "modules.json").write_text(
        json.dumps(modules[:2] + [{"idx": 2, "name": "2", "path": "2_Dense", "type": "sentence_transformers.models.Dense"}])
    )
    assert ct2_layout(str(copy)) is None  # a Dense layer (LaBSE): PyTorch


def test_each_engine_keeps_its_own_vectors(me5, monkeypatch):
    folder, cache = me5
    monkeypatch.setenv("MTQA_CACHE", str(cache))
    fast, plain = SimilarityScorer(str(folder), engine="ctranslate2"), SimilarityScorer(str(folder), engine="torch")
    assert fast.engine_used == "ctranslate2-int8" and plain.engine_used == "torch"
    # one cache: each engine's vectors are found again by that engine only
    from mtqa.translate.cache import TranslationCache

    texts = ["Where is the library?", "The black cat sleeps."]
    shared = TranslationCache(None)
    first, second = (SimilarityScorer(str(folder), shared, engine=engine) for engine in ("torch", "ctranslate2"))
    first.vectors(texts), second.vectors(texts)
    assert (first.encoded, second.encoded, second.cached) == (2, 2, 0)
    again = SimilarityScorer(str(folder), shared, engine="torch")
    again.vectors(texts)
    assert (again.encoded, again.cached) == (0, 2)
    from mtqa.errors import MtqaError

    with pytest.raises(MtqaError, match="--similarity-engine 'onnx' is not one of torch, ctranslate2"):
        SimilarityScorer(str(folder), engine="onnx")
