"""Weight-space ensembling (WiSE-FT; Wortsman et al., "Robust fine-tuning of zero-shot models", CVPR 2022).

Every shared tensor becomes θ = (1 − λ)·θ_base + λ·θ_tuned: λ 0 is the base model, λ 1 the fine-tuned
one. Fine-tuning a strong retriever on a few thousand pairs moves it away from what it knew; the
merge keeps much of both at no cost at inference. Integer buffers (position ids) are the tuned
model's: they are indices, not weights.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Mapping

from ..errors import MtqaError, OptionError
from ..formats.run_files import MERGE_RECORD

# λ values `--merge-base auto` tries on the dev articles (1.0: the fine-tuned model as it is).
AUTO_GRID = (0.25, 0.5, 0.75, 1.0)


def parse_lambda(value: str | None) -> float | str | None:
    """``--merge-base``: a number in [0, 1], or ``auto``; None when off."""
    if value is None:
        return None
    if value == "auto":
        return "auto"
    try:
        lam = float(value)
    except ValueError:
        raise OptionError(f"--merge-base {value!r}: give λ between 0 and 1 (e.g. 0.5), or auto to choose it on the dev articles") from None
    if not 0 <= lam <= 1:
        raise MtqaError(f"--merge-base {value}: λ must be between 0 (the base model) and 1 (the fine-tuned one)")
    return lam


def interpolate(
    base: Mapping[str, Any], tuned: Mapping[str, Any], lam: float, *, names: tuple[str, str] = ("base", "tuned")
) -> dict[str, Any]:
    """(1 − λ)·base + λ·tuned for every tensor; one line naming the first tensor the two models do not share."""
    missing = [name for name in tuned if name not in base] + [name for name in base if name not in tuned]
    if missing:
        where = names[1] if missing[0] in tuned else names[0]
        raise MtqaError(
            f"cannot merge {names[0]} and {names[1]}: tensor {missing[0]!r} is only in {where}; "
            "merge two models of one architecture (the tuned one trained from the base)"
        )
    merged = {}
    for name, value in tuned.items():
        other = base[name]
        if tuple(other.shape) != tuple(value.shape):
            raise MtqaError(
                f"cannot merge {names[0]} and {names[1]}: tensor {name!r} is {tuple(other.shape)} in {names[0]} but "
                f"{tuple(value.shape)} in {names[1]}; merge two models of one architecture"
            )
        merged[name] = (other.to(value.dtype) * (1 - lam) + value * lam) if value.is_floating_point() else value.clone()
    return merged


def merge_folders(base: str, tuned: str, lam: float, output: Path, *, overwrite: bool = False) -> Path:
    """`mtqa merge`: two sentence-transformers models (folders or names train-eval accepts) -> their merge in ``output``."""
    from ..encoders.load import load_encoder, save_encoder
    from ..output import check_writable_parent

    check_writable_parent(Path(output))
    if Path(output).exists() and not overwrite:
        raise MtqaError(f"output {output} already exists; choose another --output or pass --overwrite")
    base_model, tuned_model = load_encoder(base, option="BASE"), load_encoder(tuned, option="TUNED")
    tuned_model.load_state_dict(interpolate(base_model.state_dict(), tuned_model.state_dict(), lam, names=(base, tuned)))
    record = {"method": "WiSE-FT", "lambda": lam, "base": base, "tuned": tuned}
    save_encoder(tuned_model, Path(output), extra_files={MERGE_RECORD: json.dumps(record, indent=2) + "\n"}, overwrite=overwrite)
    return Path(output)


def save_merged(model, target: Path, record: dict[str, Any]) -> None:
    """Replace the run's saved model with the merged one (by rename: a crash leaves the old one), with its record."""
    from ..encoders.load import save_encoder

    save_encoder(model, Path(target), extra_files={MERGE_RECORD: json.dumps(record, indent=2) + "\n"}, overwrite=True)
