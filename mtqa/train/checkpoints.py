"""Training checkpoints: everything the next step depends on, written whole or not at all.

``OUTPUT/checkpoints/step-NNNNNN/`` holds ``model.pt``, ``trainer.pt`` (optimizer,
scheduler, scaler, torch RNG) and ``state.json`` (step, settings, shard fingerprint,
NumPy and Python RNG, file sizes), written last. A checkpoint is staged in a ``.tmp-``
folder and renamed into place, so a crash never leaves a half-written one listed;
resuming falls back to the previous checkpoint when the newest is damaged.
"""

from __future__ import annotations

import json
import math
import os
import shutil
import warnings
from pathlib import Path
from typing import Any

import torch
from torch import nn

from ..errors import MtqaError, first_line
from ..faults import crash_point
from ..formats.run_files import CHECKPOINT_PREFIX, complete_checkpoints
from ..output import write_error
from .rng import host_rng_state, set_host_rng_state, set_torch_rng_state, torch_rng_state

# Settings that may change between a run and its resumption without changing what is learned.
RESUMABLE_CHANGES = {
    "save_every",
    "keep_checkpoints",
    "eval_every",
    "resume",
    "grad_cache",
    "piece_size",
    "sub_batch",
    "precision",
}  # sub_batch: piece_size's old name


def remove_unfinished(directory: Path) -> None:
    """Remove checkpoints interrupted while being written."""
    for leftover in directory.glob(".tmp-*"):
        shutil.rmtree(leftover, ignore_errors=True)


def save_checkpoint(
    directory: Path, step: int, model: nn.Module, optimizer, scheduler, scaler, settings: dict[str, Any], fingerprint: list, keep: int
) -> Path:
    """Write everything the next step depends on into a temp dir, then rename it into place."""
    target = directory / f"{CHECKPOINT_PREFIX}{step:06d}"
    staging = directory / f".tmp-{target.name}-{os.getpid()}"
    shutil.rmtree(staging, ignore_errors=True)
    staging.mkdir()
    try:
        torch.save(model.state_dict(), staging / "model.pt")
        crash_point("checkpoint.write")
        torch.save(
            {
                "optimizer": optimizer.state_dict(),
                "scheduler": scheduler.state_dict(),
                "scaler": scaler.state_dict() if scaler else None,
                "rng": torch_rng_state(),
            },
            staging / "trainer.pt",
        )
        state = {
            "step": step,
            "settings": settings,
            "shards": fingerprint,
            **host_rng_state(),
            "files": {name: (staging / name).stat().st_size for name in ("model.pt", "trainer.pt")},
        }
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
            raise MtqaError(
                f"no space left for {target} (a checkpoint needs about {3 * needed / 2**20:.0f} MiB, "
                f"{usage.free / 2**20:.1f} MiB are free); nothing was kept of it; free space or choose another --output"
            ) from None
        raise MtqaError(f"cannot write checkpoint {target} ({first_line(error)}); nothing was kept of it") from None
    for old in complete_checkpoints(directory)[max(keep, 1) :]:
        shutil.rmtree(old, ignore_errors=True)
    return target


def resume(directory: Path, model: nn.Module, optimizer, scheduler, scaler, settings: dict[str, Any], fingerprint: list) -> int:
    """Load the newest readable checkpoint; return its step (0 when there is none)."""
    candidates = complete_checkpoints(directory)
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
        # A setting the checkpoint does not name is one an older mtqa did not have: its default then held.
        changed = [key for key, value in settings.items() if key not in RESUMABLE_CHANGES and state["settings"].get(key, value) != value]
        if changed:
            details = ", ".join(f"{key} {state['settings'].get(key)!r} -> {settings[key]!r}" for key in changed)
            raise MtqaError(f"cannot resume {path} with different settings ({details}); use the original ones")
        model.load_state_dict(weights)
        optimizer.load_state_dict(trainer["optimizer"])
        scheduler.load_state_dict(trainer["scheduler"])
        if scaler and trainer["scaler"]:
            scaler.load_state_dict(trainer["scaler"])
        set_torch_rng_state({"cpu": trainer["rng"]["cpu"], "cuda": trainer["rng"]["cuda"] if torch.cuda.is_available() else []})
        set_host_rng_state(state)
        return int(state["step"])
    if candidates:
        warnings.warn(f"no readable checkpoint in {directory}; training from the start", stacklevel=3)
    else:
        from ..log import info

        info(f"--resume: no checkpoint in {directory}; training starts from step 0")
    return 0


def truncate_log(path: Path, step: int) -> None:
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
