"""What a training run can check before any model loads, in one place and without importing torch.

train-eval calls :func:`checked_manifest` first, so wrong shards or a run folder that cannot be trained
into fail in a second or two; :func:`mtqa.train.trainer.train` calls it only when its caller did not.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from ..errors import MtqaError
from ..formats.run_files import CHECKPOINTS, TRAIN_LOG, complete_checkpoints
from ..formats.shards import read_manifest
from .config import TrainConfig, check_shards_fit


def checked_manifest(config: TrainConfig, shards_dir: Path, output_dir: Path, *, run_folder: bool = True) -> dict[str, Any]:
    """The shards' manifest, once everything a run can check before a model loads is checked: the shards are
    whole (from their footers), fit the options, hold a batch, and (``run_folder``) the output folder can be
    trained into. train-eval calls it first; :func:`train` only when its caller passed no manifest."""
    manifest = read_manifest(shards_dir)
    check_shards_fit(config, manifest, shards_dir)
    if int(manifest["num_batches"]) < 1:
        raise MtqaError(f"{shards_dir}: no batches to train on; rebuild the shards with more data or a smaller --batch-size")
    if run_folder:
        check_run_folder(output_dir, config.resume)
    return manifest


def check_run_folder(output_dir: Path, resume: bool) -> None:
    """A run folder may be trained into: not finished, and holding an earlier run only with --resume (checked before any load too)."""
    if (output_dir / "model").exists():
        raise MtqaError(
            f"{output_dir}/model already exists: that run is finished; choose another --output, or pass --overwrite to replace it"
        )
    if not resume and ((output_dir / TRAIN_LOG).exists() or complete_checkpoints(output_dir / CHECKPOINTS)):
        raise MtqaError(
            f"{output_dir} holds an earlier run; pass --resume to continue it, --overwrite to start it again, or choose another --output"
        )
