from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
XQUAD_R = Path(os.environ.get("MTQA_DATA", REPO.parent / "shared" / "data")) / "xquad-r"


def pytest_configure(config):
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")


@pytest.fixture(scope="session")
def xquad_r() -> Path:
    if not (XQUAD_R / "en.json").is_file():
        pytest.skip(f"XQuAD-R not found at {XQUAD_R} (set MTQA_DATA)")
    return XQUAD_R


@pytest.fixture(scope="session")
def tiny_nllb(tmp_path_factory) -> Path:
    """A random-weight NLLB-architecture model in Hugging Face format."""
    from mtqa.testing import build_tiny_nllb

    return build_tiny_nllb(tmp_path_factory.mktemp("tiny-nllb"))


@pytest.fixture(scope="session")
def tiny_xlmr(tmp_path_factory) -> Path:
    """A random-weight XLM-RoBERTa encoder with a small SentencePiece vocabulary."""
    from mtqa.testing import build_tiny_xlmr

    return build_tiny_xlmr(tmp_path_factory.mktemp("tiny-xlmr"))


@pytest.fixture(autouse=True)
def isolated_cache(tmp_path, monkeypatch) -> Path:
    """Each test gets its own translation cache and model cache."""
    cache = tmp_path / "mtqa-cache"
    monkeypatch.setenv("MTQA_CACHE", str(cache))
    return cache


@pytest.fixture(scope="session")
def tiny_ct2(tiny_nllb, tmp_path_factory) -> Path:
    """The tiny model converted through mtqa's own conversion path."""
    from mtqa.model import resolve_model

    previous = os.environ.get("MTQA_CACHE")
    os.environ["MTQA_CACHE"] = str(tmp_path_factory.mktemp("model-cache"))
    try:
        return resolve_model(str(tiny_nllb)).path
    finally:
        if previous is None:
            os.environ.pop("MTQA_CACHE", None)
        else:
            os.environ["MTQA_CACHE"] = previous


def squad_document(articles: list[dict]) -> dict:
    return {"version": "1.1", "data": articles}


@pytest.fixture
def small_squad(tmp_path, xquad_r) -> Path:
    """Two real XQuAD articles (English) as a plain SQuAD v1.1 file: 97 questions."""
    document = json.loads((xquad_r / "en.json").read_text())
    articles = document["data"][:2]
    for article in articles:
        for paragraph in article["paragraphs"]:
            paragraph.pop("sentences", None)
            paragraph.pop("sentence_breaks", None)
    path = tmp_path / "small.json"
    path.write_text(json.dumps(squad_document(articles)))
    return path
