"""The bundled trainer: InfoNCE over the batches of `mtqa build-batches`, one stored batch per step.

AdamW, linear warm-up and decay, gradient clipping, GradCache (a loss wrapper, see
:mod:`.losses`), atomic checkpoints with exact resume (:mod:`.checkpoints`),
``train_log.jsonl``, evaluation and early stopping every ``eval_every`` steps, and the
final model in ``OUTPUT/model`` (sentence-transformers and plain Hugging Face layout).

The batch composition (X-X / X-Y, arXiv 2408.10536) is decided by build-batches;
the trainer never reorders or reshuffles: row order and batch order are the data.
"""

from __future__ import annotations

import contextlib
import copy
import dataclasses
import json
import math
import time
import warnings
from pathlib import Path
from typing import Any, Callable, Iterator

import torch
from torch import nn

from ..encoders.load import save_encoder
from ..errors import MtqaError
from ..faults import crash_point
from ..formats.run_files import TRAIN_LOG
from ..formats.shards import TrainBatch, iter_batches, read_manifest
from ..interrupts import Terminated, let_stops_into_backward, uninterrupted
from ..output import write_error
from . import checkpoints
from .config import TrainConfig
from .distributed import Group, current_group, wrap
from .encode import ColumnEncoder, default_piece_size, embed, step_columns
from .losses import CachedEmbeddingLoss, EmbeddingLoss, InfoNCELoss, ScoreDistillationLoss, SubBatchLoss
from .preflight import checked_manifest
from .rng import seed_everything

EvalHook = Callable[[int, nn.Module], dict]


def train(
    config: TrainConfig,
    model: nn.Module,
    shards_dir: Path,
    output_dir: Path,
    on_eval: EvalHook | None = None,
    progress: bool = True,
    manifest: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """Train ``model`` (a SentenceTransformer) on the shards; return a summary.

    Writes ``output_dir/train_log.jsonl`` (a line per step), ``checkpoints/step-NNNNNN/``
    every ``save_every`` steps, and the final model to ``output_dir/model``.
    """
    run = _Run(config, model, Path(shards_dir), Path(output_dir), manifest)
    from tqdm.auto import tqdm

    bar = tqdm(
        total=run.max_steps, initial=run.start, unit="step", desc="train", disable=not progress or not run.group.is_main, dynamic_ncols=True
    )
    losses: list[float] = []
    evals: dict[str, Any] = {}
    samples, started, stopped_at = 0, time.perf_counter(), None
    stopping = _EarlyStopping(config)
    model.train()
    try:
        with _open_log(run) as log:
            for step, batch in zip(range(run.start + 1, run.max_steps + 1), _cycle(run.shards_dir, run.manifest, run.start)):
                began = time.perf_counter()
                lr = run.scheduler.get_last_lr()[0]
                loss, grad_norm = run.step(batch)
                losses.append(loss)
                samples += len(batch)
                record = _step_record(step, loss, lr, grad_norm, batch, began)
                stop = _evaluate_at(step, record, run, on_eval, stopping)
                evals = record.get("eval", evals)
                if run.group.is_main:
                    _append(log, record, run.log_path)
                crash_point("train.step")
                if config.save_every and step % config.save_every == 0 and step < run.max_steps:
                    run.save_checkpoint(step)
                bar.update(1)
                bar.set_postfix(loss=f"{loss:.4f}", refresh=False)
                if stop:
                    stopped_at = step
                    break
    except (KeyboardInterrupt, Terminated):
        bar.close()
        if run.done > run.saved:  # the steps since the last checkpoint are kept: a stopped run loses the step it was in, no more
            run.save_checkpoint(run.done)
        raise
    finally:
        bar.close()
    seconds = time.perf_counter() - started
    stopping.restore_best(model)
    summary = _summary(run, samples, seconds, losses, evals, stopped_at, stopping)
    if run.group.is_main:
        save_encoder(model, run.output_dir / "model", progress=progress)
    return summary


def _open_log(run: "_Run"):
    """The step log, opened for appending on rank 0 (other ranks write none); a disk that refuses it is named."""
    if not run.group.is_main:
        return contextlib.nullcontext()
    try:
        return open(run.log_path, "a", encoding="utf-8")
    except OSError as error:
        raise write_error(run.log_path, error) from None


def _append(log, record: dict[str, Any], path: Path) -> None:
    """One step's line, flushed; only a failure of this write is reported as the log's (evaluation's writes name their own files)."""
    try:
        log.write(json.dumps(record, default=float) + "\n")
        log.flush()
    except OSError as error:
        raise write_error(path, error) from None


def _step_record(step: int, loss: float, lr: float, grad_norm: float, batch: TrainBatch, began: float) -> dict[str, Any]:
    """The train_log.jsonl line of one step."""
    return {
        "step": step,
        "loss": _finite(loss, 6),
        "lr": lr,
        "grad_norm": _finite(grad_norm, 4),
        "samples_per_s": round(len(batch) / (time.perf_counter() - began), 2),
        "batch_type": batch.batch_type,
        "batch_index": batch.index,
    }


def _evaluate_at(step: int, record: dict[str, Any], run: "_Run", on_eval: EvalHook | None, stopping: "_EarlyStopping") -> bool:
    """At every --eval-every steps and the last: the eval hook and the validation loss into ``record``; whether to stop early.

    Rank 0 evaluates; every rank agrees on stopping.
    """
    config, model = run.config, run.model
    if not config.eval_every or (step % config.eval_every and step != run.max_steps):
        return False
    stop = False
    if run.group.is_main:
        model.eval()
        if on_eval:
            record["eval"] = dict(on_eval(step, model))
        if config.validation_batches:
            record["val_loss"] = validation_loss(config, model, run.score_loss, run.device)
            stop = stopping.update(record["val_loss"], step, model)
        model.train()
    return run.group.agree(stop)


def _summary(run: "_Run", samples: int, seconds: float, losses: list[float], evals: dict[str, Any], stopped_at: int | None,
             stopping: "_EarlyStopping") -> dict[str, Any]:  # fmt: skip
    """What train() returns and the report keeps."""
    return {
        "steps": run.max_steps,
        "resumed_from": run.start,
        "processes": run.group.world,
        "samples": samples,
        "seconds": round(seconds, 3),
        "samples_per_s": round(samples / seconds, 2) if seconds else None,
        "first_loss": losses[0] if losses else None,
        "final_loss": losses[-1] if losses else None,
        "eval": evals,
        "stopped_early_at": stopped_at,
        "best_validation": stopping.summary(),
        "model": str(run.output_dir / "model"),
        "train_log": str(run.log_path),
    }


class _Run:
    """Everything a training run holds: checked folders, optimizer, schedule, loss, and where it resumes."""

    def __init__(self, config: TrainConfig, model: nn.Module, shards_dir: Path, output_dir: Path, manifest: dict[str, Any] | None) -> None:
        self.config, self.model, self.shards_dir, self.output_dir = config, model, shards_dir, output_dir
        # The caller's manifest comes checked (train-eval checks before any model loads); without one, check here.
        self.manifest = manifest or checked_manifest(config, shards_dir, output_dir)
        num_batches = int(self.manifest["num_batches"])
        self.group = group = current_group()
        if group.world > 1 and group.device.type == "cuda":
            model.to(group.device)
        self.device = next(model.parameters()).device
        if config.precision != "fp32" and self.device.type != "cuda":
            raise MtqaError(f"--precision {config.precision} needs a CUDA device; on {self.device.type} use --precision fp32")
        self.max_steps = config.max_steps or num_batches
        if self.max_steps > num_batches:
            warnings.warn(
                f"{self.max_steps} steps but {num_batches} stored batches: the shards repeat in the same order "
                "(build-batches --epochs N gives fresh shuffles)",
                stacklevel=3,
            )
        if config.max_length:
            model.max_seq_length = config.max_length
        self.fingerprint = [shard.get("sha256") for shard in self.manifest["shards"]]
        self.settings = {**dataclasses.asdict(config), "max_steps": self.max_steps}
        self.checkpoints = output_dir / "checkpoints"
        self.log_path = output_dir / TRAIN_LOG
        group.barrier()  # every rank has checked the folder before rank 0 writes to it
        if group.is_main:
            self.checkpoints.mkdir(parents=True, exist_ok=True)
            checkpoints.remove_unfinished(self.checkpoints)
        if config.freeze_word_embeddings:
            freeze_word_embeddings(model)
        self._set_up_optimisation(wrap(model, group))
        let_stops_into_backward(model.parameters())
        self._resume()

    def _set_up_optimisation(self, runner) -> None:
        """AdamW (no decay on 1-D tensors), the linear schedule, the loss and the column encoder."""
        config, model = self.config, self.model
        decay = [p for p in model.parameters() if p.requires_grad and p.ndim >= 2]
        no_decay = [p for p in model.parameters() if p.requires_grad and p.ndim < 2]
        self.optimizer = torch.optim.AdamW(
            [{"params": decay, "weight_decay": config.weight_decay}, {"params": no_decay, "weight_decay": 0.0}], lr=config.lr
        )
        from transformers import get_linear_schedule_with_warmup

        warmup = config.warmup_steps if config.warmup_steps is not None else round(config.warmup_ratio * self.max_steps)
        self.scheduler = get_linear_schedule_with_warmup(self.optimizer, warmup, self.max_steps)
        self.scaler = torch.amp.GradScaler("cuda") if config.precision == "fp16" else None
        self.score_loss = self.loss_fn = InfoNCELoss(config.temperature, config.symmetric)
        self.teacher = None
        if config.distill_weight:
            self.teacher = frozen_copy(self.model)  # the base, before any checkpoint is loaded into the model
            self.loss_fn = ScoreDistillationLoss(
                self.score_loss, config.distill_weight, config.temperature, negatives=config.distill_negatives
            )
        dtype = torch.bfloat16 if config.precision == "bf16" else torch.float16
        autocast = (lambda: torch.autocast(self.device.type, dtype=dtype)) if config.precision != "fp32" else contextlib.nullcontext
        self.encoder = ColumnEncoder(model, runner, self.group, autocast)

    def _resume(self) -> None:
        """Seed, then with --resume continue from the newest readable checkpoint; the validation shards are checked now."""
        config, model, group, output_dir = self.config, self.model, self.group, self.output_dir
        self.start = 0
        seed_everything(config.seed)
        self.done = self.saved = 0  # the last whole step, the last step checkpointed
        if config.resume:
            self.start = checkpoints.resume(
                self.checkpoints, model, self.optimizer, self.scheduler, self.scaler, self.settings, self.fingerprint
            )
            self.done = self.saved = self.start
            if group.is_main:
                checkpoints.truncate_log(self.log_path, self.start)
            if self.start >= self.max_steps:
                raise MtqaError(f"{output_dir}: the checkpoint is at step {self.start} of {self.max_steps}; nothing left to train")
        if config.validation_batches:
            read_manifest(Path(config.validation_batches), option="--validation-batches")  # a bad folder fails before training starts

    def step(self, batch: TrainBatch) -> tuple[float, float]:
        """One optimizer step on ``batch``; in distributed training this rank encodes its rows only."""
        config, scaler = self.config, self.scaler
        columns, objective = step_objective(config, batch, self.loss_fn, self.device, self.group)
        if self.teacher is not None:
            with torch.no_grad():
                piece_size = default_piece_size(config.piece_size, self.device)
                self.loss_fn.set_teacher([self.group.gather(embed(self.teacher, texts, piece_size)) for texts in columns])
        self.optimizer.zero_grad(set_to_none=True)
        loss = objective(self.encoder, columns)
        # x world size: DDP averages the ranks' gradients, and each rank holds the gradient through its rows only.
        ((scaler.scale(loss) if scaler else loss) * self.group.world).backward()
        with uninterrupted():  # a stop waits for the update (milliseconds): the weights are always those of a whole step
            if scaler:
                scaler.unscale_(self.optimizer)
            grad_norm = torch.nn.utils.clip_grad_norm_(self.model.parameters(), config.max_grad_norm)
            if scaler:
                scaler.step(self.optimizer)
                scaler.update()
            else:
                self.optimizer.step()
            self.scheduler.step()
            self.done += 1
        return float(loss.detach()), float(grad_norm)

    def save_checkpoint(self, step: int) -> None:
        self.saved = step
        if self.group.is_main:
            checkpoints.save_checkpoint(
                self.checkpoints,
                step,
                self.model,
                self.optimizer,
                self.scheduler,
                self.scaler,
                self.settings,
                self.fingerprint,
                self.config.keep_checkpoints,
            )
        self.group.barrier()  # no rank runs ahead of a checkpoint it may have to resume from


class _EarlyStopping:
    """Tracks the best validation loss; with ``patience``, says when to stop and restores the best weights."""

    def __init__(self, config: TrainConfig) -> None:
        self.patience, self.every = config.patience, config.eval_every
        self.best: tuple[float, int, dict] | None = None

    def update(self, loss: float, step: int, model: nn.Module) -> bool:
        if self.best is None or loss < self.best[0]:
            self.best = (loss, step, copy.deepcopy(model.state_dict()))
        return bool(self.patience) and (step - self.best[1]) >= self.patience * self.every

    def restore_best(self, model: nn.Module) -> None:
        if self.best is not None and self.patience:
            model.load_state_dict(self.best[2])  # early stopping keeps the weights with the best validation loss

    def summary(self) -> dict[str, Any] | None:
        return {"loss": self.best[0], "step": self.best[1]} if self.best is not None else None


def frozen_copy(model: nn.Module) -> nn.Module:
    """A copy of ``model`` that never trains: no gradients, dropout off."""
    teacher = copy.deepcopy(model)
    teacher.requires_grad_(False)
    return teacher.eval()


def freeze_word_embeddings(model: nn.Module) -> None:
    """Keep the token embedding matrix as it is (most of a multilingual encoder's weights: 96M of e5-small's 118M)."""
    embeddings = model[0].auto_model.get_input_embeddings() if hasattr(model[0], "auto_model") else None
    if embeddings is None:
        raise MtqaError("--freeze-word-embeddings: this model has no input embedding matrix to freeze")
    embeddings.weight.requires_grad_(False)


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


def step_objective(
    config: TrainConfig, batch: TrainBatch, loss_fn: nn.Module, device: torch.device, group: Group | None = None, cached: bool = True
) -> tuple[list[list[str]], nn.Module]:
    """A step's columns of texts and the objective that scores them: InfoNCE, summed over a multitask step's
    sub-batches with their weights, wrapped in GradCache when ``config.grad_cache`` (and ``cached``) asks for it."""
    columns, layout = step_columns(batch, config.query_prefix, config.passage_prefix, group)
    if len(layout) > 1:
        weights = {"xx": config.xx_weight, "xy": config.xy_weight}
        loss_fn = SubBatchLoss(loss_fn, [(weights.get(label, 1.0), width) for label, width in layout])
    if config.grad_cache and cached:
        return columns, CachedEmbeddingLoss(loss_fn, config.grad_cache)
    return columns, EmbeddingLoss(loss_fn, default_piece_size(config.piece_size, device))


def validation_loss(config: TrainConfig, model: nn.Module, loss_fn: nn.Module, device: torch.device) -> float:
    """Mean InfoNCE over the held-out shards, without gradients."""
    encoder = ColumnEncoder(model)
    total, count = 0.0, 0
    with torch.no_grad():
        for batch in iter_batches(Path(config.validation_batches)):
            columns, objective = step_objective(config, batch, loss_fn, device, cached=False)
            total += float(objective(encoder, columns))
            count += 1
    return round(total / max(1, count), 6)
