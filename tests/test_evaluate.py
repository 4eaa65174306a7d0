"""The evaluator on real data with a real model, and on hand-built pools."""

import json
import os
import subprocess

import numpy as np
import pytest
from conftest import run_cli

from mtqa.errors import MtqaError
from mtqa.evaluate.beir import evaluate_beir
from mtqa.evaluate.config import parse_eval_spec
from mtqa.evaluate.lareqa import LareqaSet, evaluate_lareqa, load_lareqa
from mtqa.formats.beir import load_beir
from mtqa.paths import resolve_data_set


def one_hot_encoder(vectors: dict[str, list[float]]):
    def encode(texts, role):
        return np.array([vectors[text] for text in texts], dtype=np.float32)

    return encode


def test_lareqa_settings_on_a_hand_built_pool():
    """Two languages, two questions; embeddings chosen so every rank is known."""
    data = LareqaSet(
        langs=["en", "de"],
        question_ids={"en": ["q1", "q2"], "de": ["q1", "q2"]},
        questions={"en": ["Q1", "Q2"], "de": ["F1", "F2"]},
        candidates={"en": ["S1", "S2"], "de": ["T1", "T2"]},
        candidate_context={"en": ["", ""], "de": ["", ""]},
        candidate_paragraph={"en": [0, 1], "de": [0, 0]},  # German: one paragraph, so its confusions are in-paragraph
        answer={"en": {"q1": 0, "q2": 1}, "de": {"q1": 0, "q2": 1}},
    )
    vectors = {
        "Q1": [1, 0, 0, 0],
        "Q2": [0, 1, 0, 0],
        "F1": [0, 0, 1, 0],
        "F2": [0, 0, 0, 1],
        # English sentences match English questions; German sentences match the *wrong* German question.
        "S1": [0.9, 0, 0.1, 0],
        "S2": [0, 0.9, 0, 0.1],
        "T1": [0.1, 0, 0, 0.9],
        "T2": [0, 0.1, 0.9, 0],
    }
    result = evaluate_lareqa(data, one_hot_encoder(vectors)).summary()
    assert result["per_language"]["mono_map"] == {"en": 1.0, "de": 0.5}
    assert result["cross_matrix"]["en"]["de"] == 1.0  # Q1 scores T1 0.1 > T2 0.0
    assert result["cross_matrix"]["de"]["en"] == 1.0  # F1 scores S1 0.1 > S2 0.0
    # Multilingual pool for Q1 ranks S1 (0.9), T1 (0.1): relevant at ranks 1 and 2: AP 1, distance 1.
    assert result["per_language"]["rank_distance"]["en"] == 1.0
    # F1 ranks T2 (0.9), S1 (0.1), then S2 and T1 tied at 0 (lower pool index first): relevant at 2 and 4.
    assert result["per_language"]["multi_map"]["en"] == 1.0
    assert result["per_language"]["multi_map"]["de"] == pytest.approx((1 / 2 + 2 / 4) / 2)
    assert result["per_language"]["rank_distance"]["de"] == 2.0
    assert result["pairs"] == 2
    # Both German queries miss at rank 1, each picking the other sentence of their one paragraph.
    assert result["per_language"]["mono_errors"] == {"en": 0, "de": 2}
    assert result["per_language"]["mono_errors_same_paragraph"] == {"en": 0, "de": 2}
    assert result["mono_errors_same_paragraph"] == 1.0
    assert result["mono_r@1"] == 0.5 and result["mono_mrr"] == pytest.approx((1 + 0.5) / 2)


def test_rank_distance_skips_queries_answered_in_one_language_only():
    """A partly parallel pool: q2's answer exists in English only, q3's in German only; only q1 can show bias."""
    data = LareqaSet(
        langs=["en", "de"],
        question_ids={"en": ["q1", "q2"], "de": ["q1", "q3"]},
        questions={"en": ["Q1", "Q2"], "de": ["F1", "F3"]},
        candidates={"en": ["S1", "S2"], "de": ["T1", "T3"]},
        candidate_context={"en": ["", ""], "de": ["", ""]},
        candidate_paragraph={"en": [0, 1], "de": [0, 1]},
        answer={"en": {"q1": 0, "q2": 1}, "de": {"q1": 0, "q3": 1}},
    )
    vectors = {
        "Q1": [1, 0, 0, 0],
        "Q2": [0, 1, 0, 0],
        "F1": [0, 0, 1, 0],
        "F3": [0, 0, 0, 1],
        # Q1's German answer is ranked last; F1's English answer second.
        "S1": [0.9, 0, 0.5, 0],
        "S2": [0.5, 1, 0, 0],
        "T1": [0.1, 0, 0.9, 0],
        "T3": [0.3, 0, 0.6, 1],
    }
    result = evaluate_lareqa(data, one_hot_encoder(vectors)).summary()
    # Q1's pool scores: S1 0.9, S2 0.5, T3 0.3, T1 0.1: its answers at ranks 1 and 4. F1: T1 0.9, T3 0.6, S1 0.5: ranks 1 and 3.
    assert result["per_language"]["rank_distance"] == {"en": 3.0, "de": 2.0}  # the old code gave en (3 + 0) / 2 and de (2 + 0) / 2
    assert result["per_language"]["rank_distance_queries"] == {"en": 1, "de": 1}
    assert result["rank_distance"] == 2.5 and result["rank_distance_queries"] == 2


def test_rank_distance_is_nan_not_zero_when_no_query_has_two_answers():
    data = LareqaSet(
        langs=["en", "de"],
        question_ids={"en": ["q1"], "de": ["q2"]},
        questions={"en": ["Q1"], "de": ["F2"]},
        candidates={"en": ["S1"], "de": ["T2"]},
        candidate_context={"en": [""], "de": [""]},
        candidate_paragraph={"en": [0], "de": [0]},
        answer={"en": {"q1": 0}, "de": {"q2": 0}},
    )
    result = evaluate_lareqa(data, one_hot_encoder({"Q1": [1, 0], "F2": [0, 1], "S1": [1, 0], "T2": [0, 1]})).summary()
    assert np.isnan(result["rank_distance"]) and result["rank_distance_queries"] == 0


@pytest.fixture(scope="module")
def minilm():
    from mtqa.encoders.load import load_encoder

    return load_encoder("offline-minilm")


def test_offline_minilm_on_held_out_xquad_r_articles(minilm, xquad_r):
    from mtqa.encoders.load import encode

    data = load_lareqa(xquad_r, articles="24-26")
    english = LareqaSet(
        langs=["en", "de"],
        **{
            key: {lang: getattr(data, key)[lang] for lang in ("en", "de")}
            for key in ("question_ids", "questions", "candidates", "candidate_context", "candidate_paragraph", "answer", "question_article")
        },
    )
    result = evaluate_lareqa(english, lambda texts, role: encode(minilm, texts)).summary()
    # Each article's figures, weighted by its questions, average to the summary's (every question is in both languages).
    articles = result["per_article"]
    assert sorted(articles) == ["24", "25", "26"]
    weights = np.array([entry["questions"] for entry in articles.values()])
    for metric in ("mono_map", "cross_map", "multi_map", "rank_distance"):
        by_article = np.array([entry[metric] for entry in articles.values()])
        assert abs(weights @ by_article / weights.sum() - result[metric]) < 1e-5, metric
    assert len({entry["mono_map"] for entry in articles.values()}) == 3  # each article its own figure, not one copied
    pool = len(data.candidates["en"])
    random_ap = sum(1 / rank for rank in range(1, pool + 1)) / pool  # expected AP of a random ranking, one relevant item
    assert result["per_language"]["mono_map"]["en"] > max(0.5, 5 * random_ap)
    assert result["languages"] == ["en", "de"]
    assert 0 <= result["rank_distance"] < 2 * pool
    # A real encoder's English misses are mostly another sentence of the gold paragraph, never none of them.
    errors = result["per_language"]["mono_errors"]["en"]
    assert 0 < result["per_language"]["mono_errors_same_paragraph"]["en"] <= errors


def test_lareqa_article_selection_and_languages(xquad_r):
    data = load_lareqa(xquad_r, articles="24-47")
    assert len(data.langs) == 11
    english = json.loads((xquad_r / "en.json").read_text())["data"]
    held_out = sum(len(p["qas"]) for a in english[24:] for p in a["paragraphs"])
    assert len(data.questions["en"]) == held_out
    assert all(len(data.questions[lang]) == held_out for lang in data.langs)  # XQuAD-R is fully parallel


def write_beir(folder, qrels="query-id\tcorpus-id\tscore\nq1\td1\t2\nq1\td4\t1\nq2\td3\t1\n"):
    (folder / "qrels").mkdir(parents=True, exist_ok=True)
    docs = [
        ("d1", "Paris is the capital of France."),
        ("d2", "Berlin is the capital of Germany."),
        ("d3", "Bananas are yellow fruit."),
        ("d4", "The Eiffel tower is in Paris."),
    ]
    (folder / "corpus.jsonl").write_text("\n".join(json.dumps({"_id": i, "title": "", "text": t}) for i, t in docs) + "\n")
    (folder / "queries.jsonl").write_text(
        "\n".join(
            json.dumps({"_id": i, "text": t})
            for i, t in [("q1", "What is the capital of France?"), ("q2", "Which fruit is yellow?"), ("q3", "unjudged")]
        )
        + "\n"
    )
    (folder / "qrels" / "test.tsv").write_text(qrels)
    return folder


def test_beir_metrics_and_trec_run(tmp_path):
    data = load_beir(write_beir(tmp_path / "beir"))
    assert data.query_ids == ["q1", "q2"]  # unjudged queries are not scored
    vectors = {
        "Paris is the capital of France.": [1, 0, 0],
        "Berlin is the capital of Germany.": [0.5, 0.5, 0],
        "Bananas are yellow fruit.": [0, 0, 1],
        "The Eiffel tower is in Paris.": [0.6, 0.4, 0],
        "What is the capital of France?": [1, 0, 0],
        "Which fruit is yellow?": [0, 0.2, 1],
    }
    metrics, run = evaluate_beir(data, one_hot_encoder(vectors))
    # q1: d1 (1.0), d4 (0.6), d2 (0.5): relevant at ranks 1 and 2 -> nDCG 1. q2: d3 first.
    assert metrics["ndcg@10"] == pytest.approx(1.0) and metrics["mrr@10"] == 1.0 and metrics["recall@100"] == 1.0
    assert run[0].split()[:4] == ["q1", "Q0", "d1", "1"] and len(run) == 8


@pytest.mark.parametrize(
    "qrels, message",
    [
        ("q9\td1\t1\n", "query id 'q9' is not in queries.jsonl"),
        ("q1\td9\t1\n", "corpus id 'd9' is not in corpus.jsonl"),
        ("q1\td1\n", "expected query-id, corpus-id, score"),
        ("q1\td1\t0\n", "no query has a relevant document"),
    ],
)
def test_bad_qrels(tmp_path, qrels, message):
    with pytest.raises(MtqaError, match=message):
        load_beir(write_beir(tmp_path / "b", qrels=qrels))


def test_eval_specs_and_data_resolution(tmp_path, monkeypatch, xquad_r):
    assert parse_eval_spec("lareqa:xquad-r").name == "xquad-r"
    for bad in ("xquad-r", "squad:x", "beir:"):
        with pytest.raises(MtqaError, match="expected KIND:PATH_OR_NAME"):
            parse_eval_spec(bad)
    monkeypatch.setenv("MTQA_DATA", str(xquad_r.parent))
    assert resolve_data_set("xquad-r") == xquad_r
    with pytest.raises(MtqaError, match="folder not found"):
        resolve_data_set(str(tmp_path / "nope"))


def test_data_is_found_only_where_the_user_pointed(tmp_path, monkeypatch):
    """Not beside the working directory, not beside the package: $MTQA_DATA, then the cache."""
    for place in (tmp_path / "shared" / "data" / "myset", tmp_path / "elsewhere" / "myset"):
        place.mkdir(parents=True)
        (place / "en.json").write_text("{}")
    (tmp_path / "work").mkdir()
    monkeypatch.chdir(tmp_path / "work")  # ../shared/data/myset exists from here
    monkeypatch.delenv("MTQA_DATA", raising=False)
    with pytest.raises(MtqaError, match="'myset' not found in \\$MTQA_DATA"):
        resolve_data_set("myset")
    monkeypatch.setenv("MTQA_DATA", str(tmp_path / "elsewhere"))
    assert resolve_data_set("myset") == tmp_path / "elsewhere" / "myset"


def test_public_download_failure_is_one_clear_error(tmp_path, monkeypatch):
    monkeypatch.setattr("mtqa.paths.LAREQA_BASE", "http://127.0.0.1:9")  # nothing listens on the discard port
    monkeypatch.setattr("mtqa.paths.local_candidates", lambda name: [])
    with pytest.raises(MtqaError, match="downloading it failed"):
        resolve_data_set("mlqa-r")
    assert list((tmp_path / "mtqa-cache" / "data").iterdir()) == []  # the half-fetched set was removed


def test_cli_eval_only_writes_report(tmp_path, xquad_r, capsys):
    out = tmp_path / "run"
    beir = write_beir(tmp_path / "beir")
    code, err = run_cli("train-eval", "--eval-only", "--model", "offline-minilm", "--eval", "lareqa:xquad-r", "--eval-articles", "47",
                        "--eval-langs", "en,de,zh", "--eval", f"beir:{beir}", "--output", out, "--quiet", capsys=capsys)  # fmt: skip
    assert code == 0, err
    report = json.loads((out / "report.json").read_text())
    xquad = report["evals"]["xquad-r"]
    assert {"mono_map", "cross_map", "multi_map", "rank_distance"} <= set(xquad) and xquad["pairs"] == 6  # ordered language pairs
    assert {"ndcg@10", "recall@100"} <= set(report["evals"]["beir"])
    assert "Table 1" in (out / "report.md").read_text()
    assert (out / "heatmap-xquad-r.png").read_bytes()[:4] == b"\x89PNG"
    assert (out / "run-beir.trec").read_text().startswith("q1 Q0 d1 1 ")


@pytest.mark.parametrize(
    "args, message, status",
    [
        (["--eval-only", "--eval", "squad:x"], "expected KIND:PATH_OR_NAME", 2),
        (["--eval-only"], "needs at least one --eval", 2),
        ([], "needs --batches", 2),
        (["--eval-only", "--eval", "lareqa:/no/such/folder"], "folder not found", 1),
    ],
)
def test_cli_bad_input_is_one_line(tmp_path, args, message, status, capsys):
    code, err = run_cli("train-eval", "--model", "offline-minilm", "--output", tmp_path / "o", *args, capsys=capsys)
    assert code == status and len(err.strip().splitlines()) == 1 and message in err, err


def test_faiss_search_agrees_with_exact_search():
    pytest.importorskip("faiss")  # an optional extra; CI installs it with the test extra
    from mtqa.formats.beir import BeirSet

    rng = np.random.default_rng(0)
    documents, queries = rng.normal(size=(3000, 16)).astype(np.float32), rng.normal(size=(40, 16)).astype(np.float32)
    documents /= np.linalg.norm(documents, axis=1, keepdims=True)
    queries /= np.linalg.norm(queries, axis=1, keepdims=True)
    texts = {f"d{i}": vector for i, vector in enumerate(documents)} | {f"q{i}": vector for i, vector in enumerate(queries)}
    qrels = {f"q{q}": {f"d{int(d)}": int(rng.integers(1, 3)) for d in rng.choice(3000, size=5, replace=False)} for q in range(40)}
    data = BeirSet(
        corpus_ids=[f"d{i}" for i in range(3000)],
        corpus_texts=[f"d{i}" for i in range(3000)],
        query_ids=[f"q{i}" for i in range(40)],
        query_texts=[f"q{i}" for i in range(40)],
        qrels=qrels,
        split="test",
    )
    encode = lambda names, role: np.stack([texts[name] for name in names])  # noqa: E731
    exact, exact_run = evaluate_beir(data, encode, search="exact")
    approximate, faiss_run = evaluate_beir(data, encode, search="faiss")
    for key in ("ndcg@10", "recall@100", "mrr@10"):
        assert approximate[key] == pytest.approx(exact[key], abs=1e-9)
    assert [line.split()[:4] for line in faiss_run] == [line.split()[:4] for line in exact_run]
    assert 0 < exact["recall@100"] < 1


def test_block_search_equals_a_full_sort_ties_included():
    from mtqa.evaluate.search import top_k

    rng = np.random.default_rng(1)
    corpus = rng.integers(-3, 4, size=(1000, 6)).astype(np.float32)  # small integers: many exact ties
    queries = rng.integers(-3, 4, size=(37, 6)).astype(np.float32)
    ids, scores = top_k(queries, corpus, 25, query_block=8, corpus_block=90)
    full = queries @ corpus.T
    expected = np.lexsort((np.broadcast_to(np.arange(1000), full.shape), -full), axis=1)[:, :25]
    assert (ids == expected).all()
    assert np.array_equal(scores, np.take_along_axis(full, expected, axis=1))


def test_corpus_is_encoded_to_disk_and_never_scored_whole(tmp_path):
    import tracemalloc

    from mtqa.evaluate.search import encode_to_disk, top_k

    rng = np.random.default_rng(2)
    vectors = rng.normal(size=(40_000, 8)).astype(np.float32)
    calls = []

    def encode(texts):
        calls.append(len(texts))
        return vectors[[int(text) for text in texts]]

    stored = encode_to_disk(encode, [str(i) for i in range(40_000)], tmp_path / "corpus.npy", chunk=15_000)
    assert calls == [15_000, 15_000, 10_000] and isinstance(stored, np.memmap) and np.array_equal(stored, vectors)
    queries = rng.normal(size=(3_000, 8)).astype(np.float32)
    tracemalloc.start()
    ids, _ = top_k(queries, stored, 10, query_block=128, corpus_block=4_096)
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    assert peak < 40 * 2**20, f"peak {peak / 2**20:.0f} MiB; the whole score matrix would be {3_000 * 40_000 * 4 / 2**20:.0f} MiB"
    assert (ids[:5] == np.argsort(-(queries[:5] @ vectors.T), axis=1, kind="stable")[:, :10]).all()


def test_nan_scores_rank_last_instead_of_failing():
    from mtqa.evaluate.search import top_k

    corpus = np.eye(4, dtype=np.float32)
    corpus[2] = np.nan
    queries = np.array([[0.1, 0.2, 0.9, 0.3], [np.nan] * 4], dtype=np.float32)
    ids, _ = top_k(queries, corpus, 3)
    assert ids[0].tolist() == [3, 1, 0] and len(ids[1]) == 3


def _beir_case(tmp_path):
    data = load_beir(write_beir(tmp_path / "beir"))
    vectors = {
        "Paris is the capital of France.": [1, 0, 0],
        "Berlin is the capital of Germany.": [0.5, 0.5, 0],
        "Bananas are yellow fruit.": [0, 0, 1],
        "The Eiffel tower is in Paris.": [0.6, 0.4, 0],
        "What is the capital of France?": [1, 0, 0],
        "Which fruit is yellow?": [0, 0.2, 1],
    }
    return data, one_hot_encoder(vectors)


def test_search_switches_to_faiss_at_the_corpus_size_threshold(tmp_path, monkeypatch):
    pytest.importorskip("faiss")
    import mtqa.evaluate.beir as beir

    data, encoder = _beir_case(tmp_path)
    assert evaluate_beir(data, encoder)[0]["search"] == "exact"  # 4 documents, far below the threshold
    monkeypatch.setattr(beir, "FAISS_MIN_DOCUMENTS", len(data.corpus_ids))
    metrics, _ = evaluate_beir(data, encoder)
    assert metrics["search"] == "faiss" and metrics["ndcg@10"] == pytest.approx(1.0)
    monkeypatch.setattr(beir, "FAISS_MIN_DOCUMENTS", len(data.corpus_ids) + 1)
    assert evaluate_beir(data, encoder)[0]["search"] == "exact"
    monkeypatch.setattr(beir, "_faiss_available", lambda: False)  # without faiss, auto stays exact at any size
    monkeypatch.setattr(beir, "FAISS_MIN_DOCUMENTS", 1)
    assert evaluate_beir(data, encoder)[0]["search"] == "exact"


def test_vector_folders_of_dead_runs_are_removed(tmp_path):
    data, encoder = _beir_case(tmp_path)
    work = tmp_path / "run"
    dead = subprocess.Popen(["true"])
    dead.wait()
    stale = work / f".mtqa-vectors-{dead.pid}-abc"
    live = work / f".mtqa-vectors-{os.getpid()}-keep"  # a running process's folder is left alone
    for folder in (stale, live):
        folder.mkdir(parents=True)
        (folder / "corpus.npy").write_bytes(b"x" * 100)
    evaluate_beir(data, encoder, workdir=work)
    assert not stale.exists() and live.exists()
    assert sorted(path.name for path in work.iterdir()) == [live.name]  # its own folder is gone too


def test_ctranslate2_float32_evaluation_gives_pytorchs_figures(tmp_path, tiny_xlmr, xquad_r):
    """--eval-engine ctranslate2 evaluates a float32 copy: PyTorch's vectors and metrics, no copy left behind."""
    from mtqa.encoders.load import load_encoder
    from mtqa.evaluate.engine import evaluation_encoder
    from mtqa.train.config import TrainConfig
    from mtqa.train_eval.config import TrainEvalConfig
    from mtqa.train_eval.job import run_train_eval

    model = load_encoder(str(tiny_xlmr), max_length=24)
    texts = ["Wer schrieb es?", "Ada wrote it, then she left for the coast " * 6, "谁写的？", "a", " Ada wrote it. ", ""]
    with evaluation_encoder(model, engine="torch", workdir=tmp_path) as (in_torch, name):
        assert name == "torch"
        reference = in_torch(texts, "query: ")
    killed = tmp_path / ".mtqa-eval-ct2-999999-abc"  # the copies of a run killed mid-evaluation (no such process)
    killed.mkdir()
    import torch

    torch.set_num_threads(2)
    with evaluation_encoder(model, engine="ctranslate2", workdir=tmp_path) as (in_ct2, name):
        assert name == "ctranslate2 float32"
        assert list(tmp_path.iterdir()) == []  # the saved and converted copies are gone once loaded; so are the dead run's
        vectors = in_ct2(texts, "query: ")
        assert torch.get_num_threads() == 2  # CTranslate2's loading set it to 1: training after an evaluation would crawl
    assert torch.get_num_threads() == 2
    assert np.abs(vectors - reference).max() < 1e-5  # the long text truncated to 24 tokens alike, spaces kept alike
    with evaluation_encoder(model, engine="ctranslate2", workdir=tmp_path, device="cuda") as (_, name):
        assert name == "torch"  # CUDA stays in PyTorch
    with pytest.raises(MtqaError, match="--eval-engine 'onnx' is not one of torch, ctranslate2"):
        with evaluation_encoder(model, engine="onnx", workdir=tmp_path):
            pass

    def evaluate(engine: str) -> dict:
        config = TrainEvalConfig(
            model=str(tiny_xlmr),
            output=tmp_path / engine,
            evals=[f"lareqa:{xquad_r}"],
            eval_only=True,
            eval_articles="46-47",
            eval_langs=["en", "de", "zh"],
            eval_engine=engine,
            train=TrainConfig(max_length=32),
            progress=False,
        )
        report = run_train_eval(config)
        assert sorted(path.name for path in (tmp_path / engine).iterdir()) == ["heatmap-xquad-r.png", "report.json", "report.md"]
        assert f"Encoded for evaluation by {report['evals']['xquad-r']['engine']}." in (tmp_path / engine / "report.md").read_text()
        return report["evals"]["xquad-r"]

    torch_figures, ct2_figures = evaluate("torch"), evaluate("ctranslate2")
    assert (torch_figures["engine"], ct2_figures["engine"]) == ("torch", "ctranslate2 float32")
    # A random 32-wide model scores many candidates within 1e-6 of each other, so vectors equal to 1e-7
    # still swap a few ranks here; on multilingual-e5-small the figures agree to the printed digit (README).
    for key in ("mono_map", "cross_map", "multi_map", "mono_r@1", "multi_r@10"):
        assert abs(torch_figures[key] - ct2_figures[key]) < 0.005, (key, torch_figures[key], ct2_figures[key])


def test_ctranslate2_evaluation_keeps_a_model_it_cannot_run_in_pytorch(tmp_path, tiny_xlmr, capsys):
    from sentence_transformers import SentenceTransformer, models

    from mtqa.evaluate.engine import evaluation_encoder

    transformer = models.Transformer(str(tiny_xlmr), max_seq_length=16)
    dense = models.Dense(transformer.get_word_embedding_dimension(), 8)
    model = SentenceTransformer(modules=[transformer, models.Pooling(transformer.get_word_embedding_dimension()), dense])
    with evaluation_encoder(model, engine="ctranslate2", workdir=tmp_path) as (encode, name):
        assert name == "torch" and encode(["Ada wrote it."], "").shape == (1, 8)
    assert "evaluating in PyTorch" in capsys.readouterr().err
    assert list(tmp_path.iterdir()) == []
