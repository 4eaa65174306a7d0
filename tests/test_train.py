"""The bundled trainer on a tiny random XLM-R: loss, GradCache, checkpoints and resume, outputs, errors."""

from __future__ import annotations

import json
import math
import random
import shutil
import unicodedata
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

torch = pytest.importorskip("torch")

from mtqa.errors import MtqaError  # noqa: E402
from mtqa.formats.shards import iter_batches  # noqa: E402
from mtqa.train.config import TrainConfig  # noqa: E402
from mtqa.train.losses import InfoNCELoss, ScoreDistillationLoss  # noqa: E402
from mtqa.train.trainer import train  # noqa: E402

pytestmark = pytest.mark.filterwarnings("ignore:.*stored batches")

WORDS = (
    "apple river stone cloud tiger piano garden rocket silver forest candle mirror bridge winter "
    "castle violet orange pepper island copper falcon meadow lantern harbor"
).split()


def write_shards(directory: Path, batches: list[list[dict]], per_shard: int = 2, format_version: int = 1) -> Path:
    """A shard directory as build-batches writes it, from rows {query, positive[, positive_context][, negatives]}."""
    directory.mkdir(parents=True)
    shards = []
    for number, first in enumerate(range(0, len(batches), per_shard)):
        rows = [
            dict(row, batch_index=first + i, batch_type="xx" if (first + i) % 2 else "xy")
            for i, batch in enumerate(batches[first : first + per_shard])
            for row in batch
        ]
        name = f"batches-{number:05d}.parquet"
        pq.write_table(pa.Table.from_pylist(rows), directory / name)
        shards.append({"file": name, "rows": len(rows), "batches": len(batches[first : first + per_shard]), "sha256": name})
    manifest = {
        "created_by": "mtqa build-batches",
        "format_version": format_version,
        "config": {"batch_size": len(batches[0])},
        "num_batches": len(batches),
        "shards": shards,
    }
    (directory / "manifest.json").write_text(json.dumps(manifest))
    return directory


def synthetic_batches(count: int = 4, size: int = 8, negatives: int = 0, seed: int = 0) -> list[list[dict]]:
    rng = random.Random(seed)
    batches = []
    for _ in range(count):
        batch = []
        for _ in range(size):
            a, b, c, d = rng.sample(WORDS, 4)
            row = {"query": f"where is the {a} {b}?", "positive": f"The {a} {b} is by the {c}."}
            if negatives:
                row["negatives"] = [f"The {c} {d} is by the {a}." for _ in range(negatives)]
            batch.append(row)
        batches.append(batch)
    return batches


def load(path: Path, dropout: bool = True):
    from mtqa.encoders.load import load_encoder

    model = load_encoder(str(path), max_length=32)
    if not dropout:
        for module in model.modules():
            if isinstance(module, torch.nn.Dropout):
                module.p = 0.0
    return model


def config(**overrides) -> TrainConfig:
    return TrainConfig(**{"lr": 1e-3, "warmup_steps": 1, "save_every": None, **overrides})


def steps(output: Path) -> list[dict]:
    return [json.loads(line) for line in (output / "train_log.jsonl").read_text().splitlines()]


def assert_same_weights(a, b, atol: float = 0.0) -> None:
    first, second = a.state_dict(), b.state_dict()
    assert first.keys() == second.keys(), f"different parameters: {sorted(first.keys() ^ second.keys())}"
    for name, x in first.items():
        y = second[name]
        assert torch.allclose(x, y, atol=atol, rtol=0), f"{name} differs by {(x - y).abs().max():.2e}"


def test_assert_same_weights_sees_a_missing_parameter(tiny_xlmr):
    a, b = load(tiny_xlmr), load(tiny_xlmr)
    assert_same_weights(a, b)
    del b[0].auto_model.pooler
    with pytest.raises(AssertionError, match="different parameters"):
        assert_same_weights(a, b)


# --- the loss -----------------------------------------------------------------------------------


def test_infonce_known_values():
    eye = torch.eye(2)
    # Row i's score against its own positive is 1, against the other 0.
    assert InfoNCELoss(temperature=1.0)(eye, eye).item() == pytest.approx(math.log(1 + math.exp(-1)), abs=1e-6)
    assert InfoNCELoss(temperature=0.5)(eye * 3, eye).item() == pytest.approx(math.log(1 + math.exp(-2)), abs=1e-6)
    # A hard negative equal to query 0's positive: row 0 sees scores (1, 0, 1), row 1 sees (0, 1, 0).
    negative = torch.tensor([[1.0, 0.0]])
    expected = (-math.log(math.e / (2 * math.e + 1)) - math.log(math.e / (math.e + 2))) / 2
    with_negative = InfoNCELoss(temperature=1.0)(eye, eye, negative).item()
    assert with_negative == pytest.approx(expected, abs=1e-6)
    assert with_negative > InfoNCELoss(temperature=1.0)(eye, eye).item()
    # Symmetric: passage->query over the (symmetric) score matrix adds the same term again.
    queries, positives = torch.tensor([[1.0, 0.0], [0.6, 0.8]]), eye
    forward = InfoNCELoss(temperature=1.0)(queries, positives).item()
    backward = InfoNCELoss(temperature=1.0)(positives, queries).item()
    assert InfoNCELoss(temperature=1.0, symmetric=True)(queries, positives).item() == pytest.approx((forward + backward) / 2, abs=1e-6)


def test_score_distillation_adds_the_kl_to_the_teachers_scores():
    queries, positives = torch.tensor([[1.0, 0.0], [0.6, 0.8]]), torch.eye(2)
    infonce = InfoNCELoss(temperature=1.0)
    distilled = ScoreDistillationLoss(infonce, weight=2.0, temperature=1.0)
    distilled.set_teacher([queries, positives])  # the teacher scores as the student does: no KL
    assert distilled(queries, positives).item() == pytest.approx(infonce(queries, positives).item(), abs=1e-6)
    teacher_queries = torch.eye(2)  # scores (1, 0) and (0, 1), against the student's (1, 0) and (0.6, 0.8)
    distilled.set_teacher([teacher_queries, positives])
    p = torch.softmax(torch.eye(2), dim=-1)
    q = torch.softmax(queries @ positives.T, dim=-1)
    kl = float((p * (p.log() - q.log())).sum() / 2)
    assert distilled(queries, positives).item() == pytest.approx(infonce(queries, positives).item() + 2.0 * kl, abs=1e-6)
    with pytest.raises(MtqaError, match="positive"):
        ScoreDistillationLoss(infonce, weight=0.0)


def test_distillation_without_negatives_leaves_the_negative_columns_out_of_the_kl_term():
    """The teacher disagrees only about a hard negative: with negatives the KL term sees it, without it does not."""
    infonce = InfoNCELoss(temperature=1.0)
    queries, positives = torch.eye(2), torch.eye(2)
    negatives = torch.tensor([[1.0, 0.0]])
    teacher_negatives = torch.tensor([[0.0, 1.0]])
    with_negatives = ScoreDistillationLoss(infonce, weight=1.0, temperature=1.0)
    positives_only = ScoreDistillationLoss(infonce, weight=1.0, temperature=1.0, negatives=False)
    for loss in (with_negatives, positives_only):
        loss.set_teacher([queries, positives, teacher_negatives])
    plain = infonce(queries, positives, negatives).item()
    assert positives_only(queries, positives, negatives).item() == pytest.approx(plain, abs=1e-6)
    assert with_negatives(queries, positives, negatives).item() > plain + 0.01


def test_distillation_keeps_the_base_models_scores(tmp_path, tiny_xlmr):
    """Trained hard on the same batches, the distilled model's in-batch scores stay nearer the base model's."""
    shards = write_shards(tmp_path / "shards", synthetic_batches(count=4))
    held_out = synthetic_batches(count=1, size=12, seed=9)[0]
    queries, passages = [row["query"] for row in held_out], [row["positive"] for row in held_out]
    base = load(tiny_xlmr, dropout=False)

    def scores(model):
        with torch.no_grad():
            q, p = (torch.nn.functional.normalize(model.encode(t, convert_to_tensor=True), dim=-1) for t in (queries, passages))
        return torch.log_softmax(q @ p.T / 0.05, dim=-1)

    def drift(model) -> float:
        return float(torch.nn.functional.kl_div(scores(model), scores(base), log_target=True, reduction="batchmean"))

    plain, distilled, cached = load(tiny_xlmr), load(tiny_xlmr), load(tiny_xlmr)
    train(config(max_steps=5), plain, shards, tmp_path / "plain", progress=False)
    train(config(max_steps=5, distill_weight=20.0), distilled, shards, tmp_path / "distilled", progress=False)
    train(config(max_steps=5, distill_weight=20.0, grad_cache=3), cached, shards, tmp_path / "cached", progress=False)
    assert drift(distilled) < 0.5 * drift(plain), (drift(distilled), drift(plain))
    assert drift(cached) < 0.5 * drift(plain), (drift(cached), drift(plain))


# --- reading shards -----------------------------------------------------------------------------


def test_iter_batches_order_start_and_context(tmp_path):
    batches = synthetic_batches(count=5, size=3, negatives=2)
    for batch in batches:
        for row in batch:
            row["positive_context"] = f"context of {row['positive']}"
    shards = write_shards(tmp_path / "shards", batches, per_shard=2)
    read = list(iter_batches(shards))
    assert [b.index for b in read] == [0, 1, 2, 3, 4]
    assert [b.queries for b in read] == [[row["query"] for row in batch] for batch in batches]
    assert [b.index for b in iter_batches(shards, start=3)] == [3, 4]  # starts inside the second shard
    first = read[0]
    assert first.positive_texts()[0] == f"{batches[0][0]['positive']} context of {batches[0][0]['positive']}"
    assert len(first.negative_texts()) == 6 and first.negative_texts()[0].endswith(first.positive_context[0])


def test_iter_batches_on_build_batches_output(tmp_path, xquad_r):
    from mtqa.batches.config import SamplerConfig
    from mtqa.batches.job import BuildConfig, run_build_batches

    sampler = SamplerConfig(batch_size=4, positive="sentence+context", num_batches=5)
    run_build_batches(
        BuildConfig(
            inputs=[f"lareqa:{xquad_r}"],
            output=tmp_path / "b",
            sampler=sampler,
            articles="0",
            hard_negatives=1,
            batches_per_shard=2,
            progress=False,
        )
    )
    read = list(iter_batches(tmp_path / "b"))
    assert len(read) == 5 and all(len(b) == 4 and b.positive_context and b.negatives for b in read)
    assert {b.batch_type for b in read} <= {"xx", "xy"}


def test_bad_inputs(tmp_path, tiny_xlmr):
    model = load(tiny_xlmr)
    with pytest.raises(MtqaError, match="missing: not found"):
        train(config(), model, tmp_path / "missing", tmp_path / "out", progress=False)
    (tmp_path / "empty").mkdir()
    with pytest.raises(MtqaError, match="no manifest.json"):
        train(config(), model, tmp_path / "empty", tmp_path / "out", progress=False)
    old = write_shards(tmp_path / "old", synthetic_batches(count=1), format_version=0)
    with pytest.raises(MtqaError, match="shard format 0"):
        train(config(), model, old, tmp_path / "out", progress=False)
    good = write_shards(tmp_path / "good", synthetic_batches(count=2))
    with pytest.raises(MtqaError, match="needs a CUDA device"):
        train(config(precision="bf16"), model, good, tmp_path / "out", progress=False)
    (good / "batches-00000.parquet").unlink()
    with pytest.raises(MtqaError, match="missing"):
        train(config(), model, good, tmp_path / "out", progress=False)


# --- training -----------------------------------------------------------------------------------


def test_loss_falls_log_and_saved_model_loads(tmp_path, tiny_xlmr):
    from sentence_transformers import SentenceTransformer
    from transformers import AutoModel

    shards = write_shards(tmp_path / "shards", synthetic_batches(count=3, negatives=1))
    model = load(tiny_xlmr)
    summary = train(config(max_steps=30), model, shards, tmp_path / "out", progress=False)
    log = steps(tmp_path / "out")
    assert [entry["step"] for entry in log] == list(range(1, 31)) and summary["steps"] == 30
    assert {"loss", "lr", "samples_per_s", "batch_type"} <= set(log[0])
    first, last = (sum(e["loss"] for e in part) / 3 for part in (log[:3], log[-3:]))
    assert last < 0.7 * first, (first, last)

    saved = tmp_path / "out" / "model"
    texts = ["where is the apple river?", "The tiger piano is by the stone."]
    reloaded = SentenceTransformer(str(saved), device="cpu")
    assert torch.allclose(torch.tensor(reloaded.encode(texts)), torch.tensor(model.encode(texts)), atol=1e-5)
    hf = AutoModel.from_pretrained(saved)
    assert torch.equal(hf.embeddings.word_embeddings.weight, model[0].auto_model.embeddings.word_embeddings.weight)
    with pytest.raises(MtqaError, match="already exists"):
        train(config(), load(tiny_xlmr), shards, tmp_path / "out", progress=False)


def test_grad_cache_equals_full_batch(tmp_path, tiny_xlmr):
    shards = write_shards(tmp_path / "shards", synthetic_batches(count=2, negatives=2))
    plain, cached = load(tiny_xlmr, dropout=False), load(tiny_xlmr, dropout=False)
    train(config(max_steps=2, piece_size=64), plain, shards, tmp_path / "plain", progress=False)
    train(config(max_steps=2, grad_cache=3), cached, shards, tmp_path / "cached", progress=False)
    assert_same_weights(plain, cached, atol=1e-5)
    # With dropout on, replaying each chunk's RNG state gives exactly the update of the
    # plain path run in the same pieces (same dropout draws in the same order).
    plain, cached = load(tiny_xlmr), load(tiny_xlmr)
    train(config(max_steps=2, piece_size=3), plain, shards, tmp_path / "plain-dropout", progress=False)
    train(config(max_steps=2, grad_cache=3), cached, shards, tmp_path / "cached-dropout", progress=False)
    assert_same_weights(plain, cached, atol=1e-6)
    start = load(tiny_xlmr).state_dict()
    assert max(float((cached.state_dict()[name] - start[name]).abs().max()) for name in start) > 1e-4, "training moved no weight"


def gradients(model, objective, columns, scale: float = 1.0) -> dict[str, torch.Tensor]:
    """Parameter gradients of ``scale`` x the objective on ``columns``, dropout drawn from seed 0."""
    from mtqa.train.encode import ColumnEncoder

    model.train()
    model.zero_grad(set_to_none=True)
    torch.manual_seed(0)
    (objective(ColumnEncoder(model), columns) * scale).backward()
    return {name: p.grad.clone() for name, p in model.named_parameters() if p.grad is not None}


def test_grad_cache_gives_the_full_batch_gradient_itself(tmp_path, tiny_xlmr):
    """The gradients, not weights after clipped AdamW steps: a mis-scaled cached gradient cannot hide here."""
    from mtqa.train.encode import batch_columns
    from mtqa.train.losses import CachedEmbeddingLoss, EmbeddingLoss

    batch = next(iter_batches(write_shards(tmp_path / "shards", synthetic_batches(count=1, negatives=2))))
    columns = batch_columns(batch, "Query: ", "Passage: ")
    model, loss = load(tiny_xlmr), InfoNCELoss()
    plain = gradients(model, EmbeddingLoss(loss, piece_size=3), columns)
    cached = gradients(model, CachedEmbeddingLoss(loss, chunk=3), columns)
    assert plain.keys() == cached.keys() and len(plain) > 10
    assert max(float(g.abs().max()) for g in plain.values()) > 1e-3
    for name in plain:
        assert torch.allclose(cached[name], plain[name], atol=1e-7, rtol=1e-4), f"{name}: {(cached[name] - plain[name]).abs().max():.2e}"
    # What the caller multiplies the loss by (a GradScaler's scale, the world size) reaches every replayed chunk.
    scaled = gradients(model, CachedEmbeddingLoss(loss, chunk=3), columns, scale=3.0)
    for name in plain:
        assert torch.allclose(scaled[name], 3 * cached[name], atol=1e-6, rtol=1e-4), (
            f"{name}: {(scaled[name] - 3 * cached[name]).abs().max():.2e}"
        )


class Interrupt(Exception):
    pass


def test_resume_equals_uninterrupted_and_skips_corrupt_checkpoint(tmp_path, tiny_xlmr):
    shards = write_shards(tmp_path / "shards", synthetic_batches(count=4, negatives=1), per_shard=3)
    settings = {"max_steps": 7, "save_every": 2}
    straight = load(tiny_xlmr)  # dropout on: the RNG states must be restored too
    train(config(**settings), straight, shards, tmp_path / "straight", progress=False)

    def stop_at_5(step, model):
        if step == 5:
            raise Interrupt
        return {}

    with pytest.raises(Interrupt):
        train(config(**settings, eval_every=1), load(tiny_xlmr), shards, tmp_path / "resumed", on_eval=stop_at_5, progress=False)
    assert sorted(p.name for p in (tmp_path / "resumed" / "checkpoints").iterdir()) == ["step-000002", "step-000004"]
    shutil.copytree(tmp_path / "resumed", tmp_path / "corrupt")
    with pytest.raises(MtqaError, match="--resume"):
        train(config(**settings), load(tiny_xlmr), shards, tmp_path / "resumed", progress=False)

    resumed = load(tiny_xlmr)
    summary = train(config(**settings, resume=True), resumed, shards, tmp_path / "resumed", progress=False)
    assert summary["resumed_from"] == 4
    assert_same_weights(straight, resumed)
    assert [e["loss"] for e in steps(tmp_path / "resumed")] == [e["loss"] for e in steps(tmp_path / "straight")]

    model_file = tmp_path / "corrupt" / "checkpoints" / "step-000004" / "model.pt"
    model_file.write_bytes(model_file.read_bytes()[:1000])
    from_older = load(tiny_xlmr)
    with pytest.warns(UserWarning, match="skipping unreadable checkpoint"):
        summary = train(config(**settings, resume=True), from_older, shards, tmp_path / "corrupt", progress=False)
    assert summary["resumed_from"] == 2
    assert_same_weights(straight, from_older)
    assert [e["step"] for e in steps(tmp_path / "corrupt")] == list(range(1, 8))


def test_resume_refuses_changed_settings(tmp_path, tiny_xlmr):
    shards = write_shards(tmp_path / "shards", synthetic_batches(count=3))

    def stop(step, model):
        raise Interrupt

    with pytest.raises(Interrupt):
        train(config(max_steps=3, save_every=1, eval_every=2), load(tiny_xlmr), shards, tmp_path / "out", on_eval=stop, progress=False)
    with pytest.raises(MtqaError, match="lr 0.001 -> 0.01"):
        train(config(max_steps=3, lr=1e-2, resume=True), load(tiny_xlmr), shards, tmp_path / "out", progress=False)


def test_tiny_xlmr_tokenizer_round_trips(tiny_xlmr):
    from transformers import AutoTokenizer

    from mtqa.testing import TRAINING_LINES

    tokenizer = AutoTokenizer.from_pretrained(tiny_xlmr)
    assert (tokenizer.bos_token_id, tokenizer.pad_token_id, tokenizer.eos_token_id, tokenizer.unk_token_id) == (0, 1, 2, 3)
    for line in TRAINING_LINES:
        ids = tokenizer(line)["input_ids"]
        assert tokenizer.unk_token_id not in ids, line
        # SentencePiece's nmt_nfkc normalisation (as in XLM-R) maps e.g. "？" to "?".
        assert tokenizer.decode(ids, skip_special_tokens=True) == unicodedata.normalize("NFKC", line)


def test_early_stopping_keeps_the_best_weights(tmp_path, tiny_xlmr, monkeypatch):
    import copy

    shards = write_shards(tmp_path / "shards", synthetic_batches(count=4))
    validation = write_shards(tmp_path / "validation", synthetic_batches(count=2, seed=1))
    snapshots = {}

    def capture(step, model):
        snapshots[step] = copy.deepcopy(model.state_dict())
        return {}

    reference = load(tiny_xlmr)
    train(config(max_steps=12, eval_every=2), reference, shards, tmp_path / "reference", on_eval=capture, progress=False)

    losses = iter([1.0, 0.5, 0.7, 0.8, 0.9, 1.0])
    monkeypatch.setattr("mtqa.train.trainer.validation_loss", lambda *args: next(losses))
    stopped = load(tiny_xlmr)
    summary = train(
        config(max_steps=12, eval_every=2, validation_batches=str(validation), patience=2),
        stopped,
        shards,
        tmp_path / "early",
        progress=False,
    )
    assert summary["stopped_early_at"] == 8 and summary["best_validation"] == {"loss": 0.5, "step": 4}
    assert all(torch.equal(value, snapshots[4][name]) for name, value in stopped.state_dict().items())
    log = steps(tmp_path / "early")
    assert len(log) == 8 and [entry["val_loss"] for entry in log if "val_loss" in entry] == [1.0, 0.5, 0.7, 0.8]


def test_validation_loss_is_measured_for_real(tmp_path, tiny_xlmr):
    shards = write_shards(tmp_path / "shards", synthetic_batches(count=2))
    validation = write_shards(tmp_path / "validation", synthetic_batches(count=2, seed=3))
    train(config(max_steps=2, eval_every=1, validation_batches=str(validation)), load(tiny_xlmr), shards, tmp_path / "run", progress=False)
    values = [entry["val_loss"] for entry in steps(tmp_path / "run")]
    assert len(values) == 2 and all(0 < value < 10 for value in values) and values[0] != values[1]
    with pytest.raises(MtqaError, match="--patience needs --validation-batches"):
        train(config(max_steps=2, eval_every=1, patience=1), load(tiny_xlmr), shards, tmp_path / "bad", progress=False)


# --- multitask steps ------------------------------------------------------------------------------


def test_sub_batch_loss_is_the_weighted_sum_of_separate_losses():
    from mtqa.train.losses import SubBatchLoss

    generator = torch.Generator().manual_seed(0)
    q1, p1, q2, p2, n2 = (torch.randn(4, 8, generator=generator) for _ in range(5))
    loss = InfoNCELoss()
    combined = SubBatchLoss(loss, [(2.0, 2), (0.5, 3)])(q1, p1, q2, p2, n2)
    assert combined == pytest.approx(float(2.0 * loss(q1, p1) + 0.5 * loss(q2, p2, n2)))
    # Each sub-batch's negatives are its own rows: scoring both as one batch would differ.
    assert combined != pytest.approx(float(2.5 * loss(torch.cat([q1, q2]), torch.cat([p1, p2]))), rel=1e-3)


def multitask_shards(directory: Path, batches: list[list[dict]], mono: int) -> Path:
    """Shards whose every batch is an X-X sub-batch of ``mono`` rows followed by an X-Y sub-batch."""
    labelled = [[dict(row, sub_batch="xx" if i < mono else "xy") for i, row in enumerate(batch)] for batch in batches]
    return write_shards(directory, labelled)


def test_multitask_step_with_a_zero_weight_trains_on_the_other_sub_batch_alone(tmp_path, tiny_xlmr):
    batches = synthetic_batches(count=2, size=8)
    both = multitask_shards(tmp_path / "both", batches, mono=4)
    xx_only = write_shards(tmp_path / "xx-only", [batch[:4] for batch in batches])
    a, b, c = load(tiny_xlmr, dropout=False), load(tiny_xlmr, dropout=False), load(tiny_xlmr, dropout=False)
    train(config(max_steps=2, xy_weight=0.0), a, both, tmp_path / "a", progress=False)
    train(config(max_steps=2), b, xx_only, tmp_path / "b", progress=False)
    assert_same_weights(a, b, atol=1e-7)
    # With both weights on, the X-Y rows matter, and GradCache gives the same multitask update.
    train(config(max_steps=2, grad_cache=3), c, both, tmp_path / "c", progress=False)
    plain = load(tiny_xlmr, dropout=False)
    train(config(max_steps=2, piece_size=3), plain, both, tmp_path / "plain", progress=False)
    assert_same_weights(c, plain, atol=1e-6)
    with pytest.raises(AssertionError):
        assert_same_weights(a, plain, atol=1e-6)
    first = [json.loads(line) for line in (tmp_path / "c" / "train_log.jsonl").read_text().splitlines()][0]
    assert first["batch_type"] in ("xx", "xy") and math.isfinite(first["loss"])


def test_freeze_word_embeddings_keeps_the_token_matrix_and_trains_the_rest(tmp_path, tiny_xlmr):
    shards = write_shards(tmp_path / "shards", synthetic_batches(count=2))
    model = load(tiny_xlmr)
    start = {name: value.clone() for name, value in model.state_dict().items()}
    train(config(max_steps=2, freeze_word_embeddings=True), model, shards, tmp_path / "out", progress=False)
    after = model.state_dict()
    word = next(name for name in after if name.endswith("word_embeddings.weight"))
    assert torch.equal(after[word], start[word])
    assert any(not torch.equal(after[name], start[name]) for name in after if "encoder.layer" in name)


def test_a_stop_during_backward_is_raised_within_the_pass_not_at_its_end():
    """SIGINT arrives while backward runs C++ code: with the hooks, the pass stops before the first layer's gradient."""
    import os
    import signal
    import threading
    import time

    from mtqa.interrupts import let_stops_into_backward

    torch.manual_seed(0)
    layers = torch.nn.Sequential(*[torch.nn.Linear(1024, 1024) for _ in range(24)])
    handles = let_stops_into_backward(layers.parameters())
    assert len(handles) == 48  # a weight and a bias per layer
    loss = layers(torch.randn(2048, 1024)).pow(2).mean()

    def interrupt_soon(gradient):
        # The signal comes from another thread a moment after this hook returns, as a terminal's Ctrl-C comes,
        # while the pass is in C++ with most layers to go.
        threading.Thread(target=lambda: (time.sleep(0.02), os.kill(os.getpid(), signal.SIGINT))).start()
        return gradient

    layers[-1].weight.register_hook(interrupt_soon)
    with pytest.raises(KeyboardInterrupt):
        loss.backward()
        time.sleep(1)  # without the hooks the pass ends first and the stop is raised here
    assert layers[0].weight.grad is None  # the pass never reached the first layer
