"""The bundled trainer: InfoNCE over the batches of `mtqa build-batches`, one stored batch per step.

Small pieces, each usable alone:

* ``InfoNCELoss``: cosine similarity / temperature against the batch's positives
  (in-batch negatives) and its hard negatives; optionally symmetric.
* ``iter_batches``: the shards' batches in stored order, shard by shard, from batch k.
* ``TrainConfig`` and ``train``: AdamW, linear warm-up and decay, gradient clipping,
  GradCache, atomic checkpoints with exact resume, ``train_log.jsonl``, and the final
  model in ``OUTPUT/model`` (sentence-transformers and plain Hugging Face layout).

The batch composition (X-X / X-Y, arXiv 2408.10536) is decided by build-batches;
the trainer never reorders or reshuffles: row order and batch order are the data.
"""

from __future__ import annotations

import contextlib
import copy
import dataclasses
import json
import math
import os
import random
import shutil
import time
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Iterator

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import torch
import torch.nn.functional as F
from torch import Tensor, nn

from .batches_job import read_manifest
from .errors import MtqaError
from .distributed import Group, current_group, no_sync, wrap
from .faults import crash_point
from .output import atomic_directory, write_error

PRECISIONS = ("fp32", "bf16", "fp16")
DEFAULT_CPU_SUB_BATCH = 16  # on CPU, padding is paid in full; smaller pieces of similar length waste less
CHECKPOINT_PREFIX = "step-"
# Settings that may change between a run and its resumption without changing what is learned.
RESUMABLE_CHANGES = {"save_every", "keep_checkpoints", "eval_every", "resume", "grad_cache", "sub_batch", "precision"}

EvalHook = Callable[[int, nn.Module], dict]


class InfoNCELoss(nn.Module):
    """Cross-entropy over cosine similarities / temperature, with row i's positive as target i.

    Each query is scored against every positive of the batch and every hard negative
    of the batch (all rows' negatives, flattened). ``symmetric`` adds the
    passage-to-query direction (each positive against the batch's queries) and
    averages the two.
    """

    def __init__(self, temperature: float = 0.05, symmetric: bool = False) -> None:
        super().__init__()
        if temperature <= 0:
            raise MtqaError(f"temperature must be positive, got {temperature}")
        self.temperature, self.symmetric = temperature, symmetric

    def forward(self, queries: Tensor, positives: Tensor, negatives: Tensor | None = None) -> Tensor:
        # Similarities in fp32 even under autocast: 1/0.05 scales bf16 rounding error 20-fold.
        q = F.normalize(queries.float(), dim=-1)
        p = F.normalize(positives.float(), dim=-1)
        candidates = p if negatives is None or len(negatives) == 0 else torch.cat([p, F.normalize(negatives.float(), dim=-1)])
        target = torch.arange(len(q), device=q.device)
        loss = F.cross_entropy(q @ candidates.T / self.temperature, target)
        if self.symmetric:
            loss = (loss + F.cross_entropy(p @ q.T / self.temperature, target)) / 2
        return loss


@dataclass
class TrainBatch:
    """One stored batch: row i's query, positive and (optional) context and hard negatives."""

    index: int
    batch_type: str
    queries: list[str]
    positives: list[str]
    positive_context: list[str] | None = None
    negatives: list[list[str]] | None = None

    def __len__(self) -> int:
        return len(self.queries)

    def positive_texts(self) -> list[str]:
        """What the encoder sees as positives.

        ``sentence+context`` shards encode the answer sentence followed by its passage,
        as LAReQA's "sentence + context" candidates do. LAReQA feeds the context as a
        second segment; a plain concatenation is the model-agnostic equivalent, and it
        keeps the sentence first, so truncation at max_length cuts context, never the sentence.
        """
        if self.positive_context is None:
            return self.positives
        return [_with_context(text, context) for text, context in zip(self.positives, self.positive_context)]

    def rows(self, start: int, stop: int) -> "TrainBatch":
        """Rows ``start:stop`` of the batch (one rank's share in distributed training)."""
        pick = slice(start, stop)
        return TrainBatch(self.index, self.batch_type, self.queries[pick], self.positives[pick],
                          self.positive_context[pick] if self.positive_context is not None else None,
                          self.negatives[pick] if self.negatives is not None else None)

    def negative_texts(self) -> list[str]:
        """The batch's hard negatives, flattened; with contexts, each gets its row's passage.

        A hard negative is another sentence of the positive's own passage, so it shares
        that context; without it, "has a context" alone would tell positives from negatives.
        """
        if not self.negatives:
            return []
        contexts = self.positive_context or [None] * len(self.negatives)
        return [_with_context(text, context) for row, context in zip(self.negatives, contexts) for text in row or []]


def _with_context(text: str, context: str | None) -> str:
    return f"{text} {context}" if context else text


def iter_batches(shards_dir: Path, start: int = 0, manifest: dict[str, Any] | None = None) -> Iterator[TrainBatch]:
    """Yield the batches of a build-batches directory in stored order, beginning at batch ``start``.

    One shard is in memory at a time; shards before ``start`` are skipped unread.
    """
    shards_dir = Path(shards_dir)
    manifest = manifest or read_manifest(shards_dir)
    skip = start
    for shard in manifest["shards"]:
        if skip >= shard["batches"]:
            skip -= shard["batches"]
            continue
        columns = _read_shard(shards_dir / shard["file"], shard)
        index = np.asarray(columns["batch_index"])
        starts = np.flatnonzero(np.r_[True, index[1:] != index[:-1]])
        if len(starts) != shard["batches"]:
            raise MtqaError(f"{shards_dir / shard['file']}: {len(starts)} batches, the manifest says {shard['batches']}; rebuild the shards")
        ends = np.r_[starts[1:], len(index)]
        for begin, end in zip(starts[skip:], ends[skip:]):
            rows = slice(int(begin), int(end))
            yield TrainBatch(
                index=int(index[begin]),
                batch_type=columns["batch_type"][begin],
                queries=columns["query"][rows],
                positives=columns["positive"][rows],
                positive_context=columns["positive_context"][rows] if "positive_context" in columns else None,
                negatives=columns["negatives"][rows] if "negatives" in columns else None,
            )
        skip = 0


def _read_shard(path: Path, entry: dict[str, Any]) -> dict[str, list]:
    wanted = ["batch_index", "batch_type", "query", "positive", "positive_context", "negatives"]
    if not path.is_file():
        raise MtqaError(f"{path}: shard listed in manifest.json is missing; rebuild the shards")
    try:
        schema = pq.read_schema(path)
        missing = [name for name in wanted[:4] if name not in schema.names]
        if missing:
            raise MtqaError(f"{path}: no column {', '.join(missing)}; rebuild the shards with mtqa build-batches")
        table = pq.read_table(path, columns=[name for name in wanted if name in schema.names])
    except (pa.ArrowException, OSError) as error:
        raise MtqaError(f"{path}: unreadable shard ({str(error).splitlines()[0]}); rebuild the shards") from None
    if table.num_rows != entry["rows"]:
        raise MtqaError(f"{path}: {table.num_rows} rows, the manifest says {entry['rows']}; rebuild the shards")
    return {name: table.column(name).to_pylist() for name in table.column_names}


@dataclass
class TrainConfig:
    lr: float = 3e-5
    weight_decay: float = 0.01  # AdamW; biases and LayerNorm weights (1-D tensors) are not decayed
    warmup_ratio: float = 0.1
    warmup_steps: int | None = None  # overrides warmup_ratio
    max_grad_norm: float = 1.0
    max_steps: int | None = None  # default: every stored batch once; more repeats the shards in the same order
    temperature: float = 0.05
    symmetric: bool = False
    seed: int = 0
    grad_cache: int | None = None  # GradCache: encode in chunks of N texts, activation memory of N; None: off
    sub_batch: int | None = None  # without GradCache: forward length-sorted pieces of N texts; None: 16 on CPU, whole columns on CUDA
    precision: str = "fp32"  # bf16 / fp16: autocast, CUDA only
    max_length: int | None = None  # tokens; None keeps the model's max_seq_length
    query_prefix: str = "Query: "
    passage_prefix: str = "Passage: "
    save_every: int | None = 1000  # checkpoint every N steps; None: none
    keep_checkpoints: int = 2  # the newest N; 2 leaves a fallback should the newest be damaged
    eval_every: int | None = None  # call on_eval (and measure the validation loss) every N steps and at the end
    validation_batches: str | None = None  # held-out shards: their mean loss is logged at each eval
    patience: int | None = None  # stop after this many evals without a better validation loss; keep the best weights
    resume: bool = False

    def validate(self) -> None:
        if self.precision not in PRECISIONS:
            raise MtqaError(f"--precision {self.precision!r} is not one of {', '.join(PRECISIONS)}")
        for name in ("max_steps", "grad_cache", "sub_batch", "save_every", "eval_every", "max_length", "warmup_steps"):
            value = getattr(self, name)
            if value is not None and value < (0 if name == "warmup_steps" else 1):
                raise MtqaError(f"{name.replace('_', '-')} must be a positive number, got {value}")
        if not 0 <= self.warmup_ratio <= 1:
            raise MtqaError(f"warmup ratio must be between 0 and 1, got {self.warmup_ratio}")
        if self.lr <= 0 or self.temperature <= 0:
            raise MtqaError("learning rate and temperature must be positive")
        if self.keep_checkpoints < 1:
            raise MtqaError("keep-checkpoints must be at least 1")
        if (self.validation_batches or self.patience) and not self.eval_every:
            raise MtqaError("--validation-batches and --patience need --eval-every N (how often to measure)")
        if self.patience and not self.validation_batches:
            raise MtqaError("--patience needs --validation-batches DIR (held-out shards to measure the loss on)")


def train(config: TrainConfig, model: nn.Module, shards_dir: Path, output_dir: Path,
          on_eval: EvalHook | None = None, progress: bool = True) -> dict[str, Any]:
    """Train ``model`` (a SentenceTransformer) on the shards; return a summary.

    Writes ``output_dir/train_log.jsonl`` (a line per step), ``checkpoints/step-NNNNNN/``
    every ``save_every`` steps, and the final model to ``output_dir/model``.
    """
    config.validate()
    shards_dir, output_dir = Path(shards_dir), Path(output_dir)
    manifest = read_manifest(shards_dir)
    num_batches = int(manifest["num_batches"])
    if num_batches < 1:
        raise MtqaError(f"{shards_dir}: no batches to train on; rebuild the shards with more data or a smaller --batch-size")
    group = current_group()
    if group.world > 1 and group.device.type == "cuda":
        model.to(group.device)
    device = next(model.parameters()).device
    if config.precision != "fp32" and device.type != "cuda":
        raise MtqaError(f"--precision {config.precision} needs a CUDA device; on {device.type} use --precision fp32")
    max_steps = config.max_steps or num_batches
    if max_steps > num_batches:
        warnings.warn(f"{max_steps} steps but {num_batches} stored batches: the shards repeat in the same order "
                      "(build-batches --epochs N gives fresh shuffles)", stacklevel=2)
    if config.max_length:
        model.max_seq_length = config.max_length
    fingerprint = [shard.get("sha256") for shard in manifest["shards"]]
    settings = {**dataclasses.asdict(config), "max_steps": max_steps}

    checkpoints = output_dir / "checkpoints"
    log_path = output_dir / "train_log.jsonl"
    if (output_dir / "model").exists():
        raise MtqaError(f"{output_dir}/model already exists: that run is finished; choose another --output")
    if not config.resume and (log_path.exists() or _complete_checkpoints(checkpoints)):
        raise MtqaError(f"{output_dir} holds an earlier run; pass --resume to continue it, or choose another --output")
    group.barrier()  # every rank has checked the folder before rank 0 writes to it
    if group.is_main:
        checkpoints.mkdir(parents=True, exist_ok=True)
        for leftover in checkpoints.glob(".tmp-*"):
            shutil.rmtree(leftover, ignore_errors=True)  # a checkpoint interrupted while being written
    runner = wrap(model, group)

    decay = [p for p in model.parameters() if p.requires_grad and p.ndim >= 2]
    no_decay = [p for p in model.parameters() if p.requires_grad and p.ndim < 2]
    optimizer = torch.optim.AdamW([{"params": decay, "weight_decay": config.weight_decay},
                                   {"params": no_decay, "weight_decay": 0.0}], lr=config.lr)
    from transformers import get_linear_schedule_with_warmup

    warmup = config.warmup_steps if config.warmup_steps is not None else round(config.warmup_ratio * max_steps)
    scheduler = get_linear_schedule_with_warmup(optimizer, warmup, max_steps)
    scaler = torch.amp.GradScaler("cuda") if config.precision == "fp16" else None
    loss_fn = InfoNCELoss(config.temperature, config.symmetric)

    start = 0
    _seed_everything(config.seed)
    if config.resume:
        start = _resume(checkpoints, model, optimizer, scheduler, scaler, settings, fingerprint)
        if group.is_main:
            _truncate_log(log_path, start)
        if start >= max_steps:
            raise MtqaError(f"{output_dir}: the checkpoint is at step {start} of {max_steps}; nothing left to train")

    from tqdm.auto import tqdm

    bar = tqdm(total=max_steps, initial=start, unit="step", desc="train", disable=not progress or not group.is_main, dynamic_ncols=True)
    losses: list[float] = []
    evals: dict[str, Any] = {}
    samples, started = 0, time.perf_counter()
    best: tuple[float, int, dict] | None = None
    stopped_at: int | None = None
    if config.validation_batches:
        read_manifest(Path(config.validation_batches))  # a bad folder fails before training starts
    model.train()
    try:
        with open(log_path, "a", encoding="utf-8") if group.is_main else contextlib.nullcontext() as log:
            for step, batch in zip(range(start + 1, max_steps + 1), _cycle(shards_dir, manifest, start)):
                began = time.perf_counter()
                lr = scheduler.get_last_lr()[0]
                loss, grad_norm = _train_step(config, model, runner, group, loss_fn, optimizer, scheduler, scaler, batch, device)
                seconds = time.perf_counter() - began
                losses.append(loss)
                samples += len(batch)
                record = {"step": step, "loss": _finite(loss, 6), "lr": lr, "grad_norm": _finite(grad_norm, 4),
                          "samples_per_s": round(len(batch) / seconds, 2), "batch_type": batch.batch_type,
                          "batch_index": batch.index}
                stop = False
                if config.eval_every and (step % config.eval_every == 0 or step == max_steps) and group.is_main:
                    model.eval()
                    if on_eval:
                        evals = dict(on_eval(step, model))
                        record["eval"] = evals
                    if config.validation_batches:
                        record["val_loss"] = validation_loss(config, model, loss_fn, device)
                        if best is None or record["val_loss"] < best[0]:
                            best = (record["val_loss"], step, copy.deepcopy(model.state_dict()))
                        stop = bool(config.patience) and (step - best[1]) >= config.patience * config.eval_every
                    model.train()
                if config.eval_every and (step % config.eval_every == 0 or step == max_steps):
                    stop = group.agree(stop)
                if group.is_main:
                    log.write(json.dumps(record, default=float) + "\n")
                    log.flush()
                crash_point("train.step")
                if config.save_every and step % config.save_every == 0 and step < max_steps:
                    if group.is_main:
                        _save_checkpoint(checkpoints, step, model, optimizer, scheduler, scaler, settings, fingerprint,
                                         config.keep_checkpoints)
                    group.barrier()  # no rank runs ahead of a checkpoint it may have to resume from
                bar.update(1)
                bar.set_postfix(loss=f"{loss:.4f}", refresh=False)
                if stop:
                    stopped_at = step
                    break
    except OSError as error:
        raise write_error(log_path, error) from None
    finally:
        bar.close()
    seconds = time.perf_counter() - started
    if best is not None and config.patience:
        model.load_state_dict(best[2])  # early stopping keeps the weights with the best validation loss

    target = output_dir / "model"
    summary = {
        "steps": max_steps,
        "resumed_from": start,
        "processes": group.world,
        "samples": samples,
        "seconds": round(seconds, 3),
        "samples_per_s": round(samples / seconds, 2) if seconds else None,
        "first_loss": losses[0] if losses else None,
        "final_loss": losses[-1] if losses else None,
        "eval": evals,
        "stopped_early_at": stopped_at,
        "best_validation": {"loss": best[0], "step": best[1]} if best is not None else None,
        "model": str(target),
        "train_log": str(log_path),
    }
    if not group.is_main:
        return summary
    from transformers.utils import logging as transformers_logging

    bars = transformers_logging.is_progress_bar_enabled()
    if not progress:
        transformers_logging.disable_progress_bar()  # save_pretrained's "Writing model shards" bar
    try:
        with atomic_directory(target) as staging:
            model.save(str(staging))
    finally:
        if bars:
            transformers_logging.enable_progress_bar()
    return summary


def _finite(value: float, digits: int) -> float | None:
    """Rounded, or None for nan/inf (an fp16 overflow step), which strict JSON cannot hold."""
    return round(value, digits) if math.isfinite(value) else None


def _cycle(shards_dir: Path, manifest: dict[str, Any], start: int) -> Iterator[TrainBatch]:
    """Batches from step ``start`` on, repeating the stored order when the steps outnumber the batches."""
    position = start % int(manifest["num_batches"])
    while True:
        empty = True
        for batch in iter_batches(shards_dir, position, manifest):
            empty = False
            yield batch
        if empty:
            raise MtqaError(f"{shards_dir}: manifest.json counts {manifest['num_batches']} batches, the shards hold fewer; rebuild them")
        position = 0


def validation_loss(config: TrainConfig, model: nn.Module, loss_fn: InfoNCELoss, device: torch.device) -> float:
    """Mean InfoNCE over the held-out shards, without gradients."""
    total, count = 0.0, 0
    piece = config.sub_batch or (DEFAULT_CPU_SUB_BATCH if device.type == "cpu" else None)
    with torch.no_grad():
        for batch in iter_batches(Path(config.validation_batches)):
            columns = [[config.query_prefix + text for text in batch.queries],
                       [config.passage_prefix + text for text in batch.positive_texts()]]
            negatives = batch.negative_texts()
            if negatives:
                columns.append([config.passage_prefix + text for text in negatives])
            total += float(loss_fn(*[embed(model, texts, piece) for texts in columns]))
            count += 1
    return round(total / max(1, count), 6)


def _train_step(config: TrainConfig, model: nn.Module, runner: nn.Module, group: Group, loss_fn: InfoNCELoss,
                optimizer: torch.optim.Optimizer, scheduler, scaler: torch.amp.GradScaler | None, batch: TrainBatch,
                device: torch.device) -> tuple[float, float]:
    """One optimizer step on ``batch``; in distributed training this rank encodes its rows only."""
    has_negatives = bool(batch.negative_texts())
    if group.world > 1:
        batch = batch.rows(*group.span(len(batch)))
    columns = [[config.query_prefix + text for text in batch.queries],
               [config.passage_prefix + text for text in batch.positive_texts()]]
    if has_negatives:  # every rank has the column, even one whose rows have no negatives: the gathers must match
        columns.append([config.passage_prefix + text for text in batch.negative_texts()])
    autocast = (torch.autocast(device.type, dtype=torch.bfloat16 if config.precision == "bf16" else torch.float16)
                if config.precision != "fp32" else contextlib.nullcontext())
    optimizer.zero_grad(set_to_none=True)
    if config.grad_cache:
        loss = grad_cache_backward(model, loss_fn, columns, config.grad_cache, autocast=autocast, scaler=scaler,
                                   group=group, runner=runner)
    else:
        piece = config.sub_batch or (DEFAULT_CPU_SUB_BATCH if device.type == "cpu" else None)
        with autocast:
            embeddings = [embed(model, texts, piece, runner=runner) for texts in columns]
        loss = loss_fn(*[group.gather(column) for column in embeddings])
        # x world size: DDP averages the ranks' gradients, and each rank holds the gradient through its rows only.
        ((scaler.scale(loss) if scaler else loss) * group.world).backward()
        loss = loss.detach()
    if scaler:
        scaler.unscale_(optimizer)
    grad_norm = torch.nn.utils.clip_grad_norm_(model.parameters(), config.max_grad_norm)
    if scaler:
        scaler.step(optimizer)
        scaler.update()
    else:
        optimizer.step()
    scheduler.step()
    return float(loss), float(grad_norm)


class _Pieces:
    """One column tokenised once, split into pieces of similar length, each trimmed to its own longest text.

    Sorting by length before splitting removes most padding, which on CPU is most of
    the saving (queries of 10 and 90 tokens no longer cost 90 each). Padding is masked
    out, so each text's embedding is the same as in one padded forward.
    """

    def __init__(self, model: nn.Module, texts: list[str], size: int | None) -> None:
        device = next(model.parameters()).device
        features = model.preprocess(texts)
        self.features = {key: value.to(device) if isinstance(value, Tensor) else value for key, value in features.items()}
        mask = self.features.get("attention_mask")
        count = len(texts)
        size = size or count
        if mask is None or size >= count:
            self.rows = [torch.arange(i, min(i + size, count), device=device) for i in range(0, count, size)]
            self.lengths = [None] * len(self.rows)
        else:
            lengths = mask.sum(dim=1)
            order = torch.argsort(lengths, descending=True, stable=True)
            self.rows = [order[i:i + size] for i in range(0, count, size)]
            self.lengths = [int(lengths[rows].max()) for rows in self.rows]
        self.width = mask.shape[1] if mask is not None else None
        self.left = getattr(getattr(model, "tokenizer", None), "padding_side", "right") == "left"

    def forward(self, model: nn.Module, number: int) -> Tensor:
        """Embeddings of piece ``number``; ``model`` may be the DDP wrapper of the one planned with."""
        rows, length = self.rows[number], self.lengths[number]
        piece = {}
        for key, value in self.features.items():
            if isinstance(value, Tensor) and value.ndim == 2 and value.shape[1] == self.width:
                value = value[rows]
                if length is not None:
                    value = value[:, -length:] if self.left else value[:, :length]
            piece[key] = value
        return model(piece)["sentence_embedding"]


def embed(model: nn.Module, texts: list[str], sub_batch: int | None = None, runner: nn.Module | None = None) -> Tensor:
    """Sentence embeddings of ``texts`` (in order) through a SentenceTransformer, with autograd unlike ``encode``.

    ``sub_batch`` runs length-sorted pieces of that many texts (less padding); None: one forward.
    ``runner`` is what the forwards go through (the DDP wrapper in distributed training).
    """
    if not texts:
        return torch.zeros((0, model.get_sentence_embedding_dimension()), device=next(model.parameters()).device)
    pieces = _Pieces(model, texts, sub_batch)
    outputs = torch.cat([pieces.forward(runner or model, number) for number in range(len(pieces.rows))])
    return outputs[torch.argsort(torch.cat(pieces.rows))]


def grad_cache_backward(model: nn.Module, loss_fn: Callable[..., Tensor], columns: list[list[str]], chunk: int, *,
                        autocast: contextlib.AbstractContextManager | None = None,
                        scaler: torch.amp.GradScaler | None = None, group: Group | None = None,
                        runner: nn.Module | None = None) -> Tensor:
    """GradCache (Gao et al., 2021): the full-batch gradient with the activation memory of ``chunk`` texts.

    1. encode every chunk without autograd, keeping the embeddings;
    2. compute the loss on them (gathered from every rank in distributed training) and
       its gradient with respect to this rank's embeddings;
    3. re-encode each chunk with autograd and backpropagate that chunk's cached gradient;
       DDP all-reduces the gradients on the last backward only.
    Each chunk's RNG state is saved before step 1 and restored before step 3, so
    dropout draws the same masks in both passes and the result is the gradient of
    the loss actually computed. Chunks are length-sorted as in ``embed``, so
    ``grad_cache=N`` and ``sub_batch=N`` give the same update. Returns the (detached) loss.
    """
    autocast = autocast or contextlib.nullcontext()
    group = group or Group()
    runner = runner or model
    plans = [_Pieces(model, texts, chunk) if texts else None for texts in columns]
    states: list[dict[str, Any]] = []
    cached: list[Tensor] = []
    with torch.no_grad():
        for plan in plans:
            if plan is None:
                cached.append(embed(model, []).requires_grad_())
                continue
            parts = []
            for number in range(len(plan.rows)):
                states.append(_torch_rng_state())
                with autocast:
                    parts.append(plan.forward(model, number))
            embeddings = torch.cat(parts)[torch.argsort(torch.cat(plan.rows))]
            cached.append(embeddings.requires_grad_())
    loss = loss_fn(*[group.gather(embeddings) for embeddings in cached])
    ((scaler.scale(loss) if scaler else loss) * group.world).backward()
    after = _torch_rng_state()
    replay = iter(states)
    work = [(plan, embeddings, number, rows) for plan, embeddings in zip(plans, cached) if plan is not None
            for number, rows in enumerate(plan.rows)]
    for position, (plan, embeddings, number, rows) in enumerate(work):
        _set_torch_rng_state(next(replay))
        with no_sync(runner, last=position == len(work) - 1):
            with autocast:
                out = plan.forward(runner, number)
            out.backward(embeddings.grad[rows].to(out.dtype))
    _set_torch_rng_state(after)  # continue from where the first pass left the generators
    return loss.detach()


def _torch_rng_state() -> dict[str, Any]:
    return {"cpu": torch.get_rng_state(), "cuda": torch.cuda.get_rng_state_all() if torch.cuda.is_available() else []}


def _set_torch_rng_state(state: dict[str, Any]) -> None:
    torch.set_rng_state(state["cpu"])
    if state["cuda"]:
        torch.cuda.set_rng_state_all(state["cuda"])


def _seed_everything(seed: int) -> None:
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)  # all devices


# --- checkpoints ----------------------------------------------------------------------------------

def _complete_checkpoints(directory: Path) -> list[Path]:
    """Renamed-into-place checkpoint directories, newest first (temp dirs are never listed)."""
    if not directory.is_dir():
        return []
    found = [path for path in directory.glob(f"{CHECKPOINT_PREFIX}*") if path.name[len(CHECKPOINT_PREFIX):].isdigit()]
    return sorted(found, key=lambda path: int(path.name[len(CHECKPOINT_PREFIX):]), reverse=True)


def _save_checkpoint(directory: Path, step: int, model: nn.Module, optimizer, scheduler, scaler, settings: dict[str, Any],
                     fingerprint: list, keep: int) -> Path:
    """Write everything the next step depends on into a temp dir, then rename it into place."""
    target = directory / f"{CHECKPOINT_PREFIX}{step:06d}"
    staging = directory / f".tmp-{target.name}-{os.getpid()}"
    shutil.rmtree(staging, ignore_errors=True)
    staging.mkdir()
    try:
        torch.save(model.state_dict(), staging / "model.pt")
        crash_point("checkpoint.write")
        torch.save({"optimizer": optimizer.state_dict(), "scheduler": scheduler.state_dict(),
                    "scaler": scaler.state_dict() if scaler else None, "rng": _torch_rng_state()}, staging / "trainer.pt")
        state = {"step": step, "settings": settings, "shards": fingerprint,
                 "numpy_rng": _numpy_state_to_json(np.random.get_state()), "python_rng": _python_state_to_json(random.getstate()),
                 "files": {name: (staging / name).stat().st_size for name in ("model.pt", "trainer.pt")}}
        # state.json last: a checkpoint without it, or with files of other sizes, is incomplete.
        (staging / "state.json").write_text(json.dumps(state))
        if target.exists():
            shutil.rmtree(target)
        os.replace(staging, target)
    except (OSError, RuntimeError) as error:  # torch.save reports a full disk as a RuntimeError
        shutil.rmtree(staging, ignore_errors=True)
        if isinstance(error, OSError):
            raise write_error(target, error) from None
        needed = sum(t.numel() * t.element_size() for t in model.state_dict().values())
        usage = shutil.disk_usage(directory)
        if usage.free < 3 * needed:  # weights plus AdamW's two moments
            raise MtqaError(f"no space left for {target} (a checkpoint needs about {3 * needed / 2**20:.0f} MiB, "
                            f"{usage.free / 2**20:.1f} MiB are free); nothing was kept of it; free space or choose another --output") from None
        raise MtqaError(f"cannot write checkpoint {target} ({str(error).splitlines()[0]}); nothing was kept of it") from None
    for old in _complete_checkpoints(directory)[max(keep, 1):]:
        shutil.rmtree(old, ignore_errors=True)
    return target


def _resume(directory: Path, model: nn.Module, optimizer, scheduler, scaler, settings: dict[str, Any], fingerprint: list) -> int:
    """Load the newest readable checkpoint; return its step (0 when there is none)."""
    candidates = _complete_checkpoints(directory)
    for path in candidates:
        try:
            state = json.loads((path / "state.json").read_text())
            for name, size in state["files"].items():
                if (path / name).stat().st_size != size:
                    raise ValueError(f"{name} has {(path / name).stat().st_size} bytes, expected {size}")
            weights = torch.load(path / "model.pt", map_location="cpu", weights_only=True)
            trainer = torch.load(path / "trainer.pt", map_location="cpu", weights_only=True)
        except Exception as error:  # any damage means: fall back to the previous checkpoint
            warnings.warn(f"skipping unreadable checkpoint {path} ({type(error).__name__}: {error}); trying the previous one", stacklevel=3)
            continue
        if state["shards"] != fingerprint:
            raise MtqaError(f"{path} was trained on other shards; resume with the same shards or choose another --output")
        changed = [key for key, value in settings.items() if key not in RESUMABLE_CHANGES and state["settings"].get(key) != value]
        if changed:
            details = ", ".join(f"{key} {state['settings'].get(key)!r} -> {settings[key]!r}" for key in changed)
            raise MtqaError(f"cannot resume {path} with different settings ({details}); use the original ones")
        model.load_state_dict(weights)
        optimizer.load_state_dict(trainer["optimizer"])
        scheduler.load_state_dict(trainer["scheduler"])
        if scaler and trainer["scaler"]:
            scaler.load_state_dict(trainer["scaler"])
        _set_torch_rng_state({"cpu": trainer["rng"]["cpu"], "cuda": trainer["rng"]["cuda"] if torch.cuda.is_available() else []})
        np.random.set_state(_numpy_state_from_json(state["numpy_rng"]))
        random.setstate(_python_state_from_json(state["python_rng"]))
        return int(state["step"])
    if candidates:
        warnings.warn(f"no readable checkpoint in {directory}; training from the start", stacklevel=3)
    return 0


def _truncate_log(path: Path, step: int) -> None:
    """Drop log lines of steps after the checkpoint: they are about to be trained again."""
    if not path.exists():
        return
    kept = [line for line in path.read_text(encoding="utf-8").splitlines() if line.strip() and _log_step(line) <= step]
    staging = path.with_name(f".{path.name}.tmp")
    staging.write_text("".join(line + "\n" for line in kept), encoding="utf-8")
    os.replace(staging, path)


def _log_step(line: str) -> float:
    try:
        return json.loads(line)["step"]
    except (ValueError, KeyError, TypeError):
        return math.inf  # a torn last line from a crash


def _numpy_state_to_json(state: tuple) -> list:
    name, keys, position, has_gauss, cached = state
    return [name, keys.tolist(), int(position), int(has_gauss), float(cached)]


def _numpy_state_from_json(state: list) -> tuple:
    name, keys, position, has_gauss, cached = state
    return name, np.array(keys, dtype=np.uint32), position, has_gauss, cached


def _python_state_to_json(state: tuple) -> list:
    version, internal, gauss = state
    return [version, list(internal), gauss]


def _python_state_from_json(state: list) -> tuple:
    version, internal, gauss = state
    return version, tuple(internal), gauss
