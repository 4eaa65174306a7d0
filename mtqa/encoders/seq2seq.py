"""Encoder halves of sequence-to-sequence models (mBART-50, mT5, NLLB/M2M-100, Marian) as bi-encoder starting points.

sentence-transformers loads T5-family encoders correctly (``MT5EncoderModel``), so an mT5
folder or hub id needs nothing more than mean pooling. For the BART family it goes wrong
in two ways: an mBART checkpoint loads as the whole ``MBartModel`` and the *decoder's*
output is pooled; an NLLB / M2M-100 or Marian checkpoint loads as ``M2M100Encoder`` /
``MarianEncoder`` whose weights, under the checkpoint's ``model.encoder.`` prefix, are not
found, so the encoder is silently random (sentence-transformers 6.2). :class:`EncoderHalfTransformer`
loads the base model and keeps ``get_encoder()``; a folder it saves holds that encoder alone
(``architectures: [MBartEncoder]`` etc.). sentence-transformers loads such a saved NLLB / M2M-100
or Marian encoder correctly itself (its weights are no longer prefixed), so those folders name
its own Transformer class and load with plain ``SentenceTransformer(path)``. No class of its own
runs an mBART encoder alone, and since sentence-transformers 6 a module class from outside its
package loads only when trusted, so an mBART folder loads with
``SentenceTransformer(path, trust_remote_code=True)`` where mtqa is installed.
"""

from __future__ import annotations

import importlib
import json
from pathlib import Path
from typing import Any

from sentence_transformers.base.modules.transformer import Transformer

from . import ENCODER_HALF_TYPES


def _encoder_class(model_type: str, name: str):
    module = model_type.replace("-", "_")
    return getattr(importlib.import_module(f"transformers.models.{module}.modeling_{module}"), name)


class EncoderHalfTransformer(Transformer):
    """sentence-transformers' Transformer module around a BART-family encoder (not the encoder-decoder)."""

    def _load_model(self, model_name_or_path: str, transformer_task: str, config: Any, backend: str, is_peft_model: bool, **model_kwargs):
        if getattr(config, "model_type", None) not in ENCODER_HALF_TYPES or backend != "torch":
            return super()._load_model(model_name_or_path, transformer_task, config, backend, is_peft_model, **model_kwargs)
        saved = [name for name in (config.architectures or []) if name.endswith("Encoder")]
        if saved:  # a folder this module saved: the encoder's own weights, unprefixed
            return _encoder_class(config.model_type, saved[0]).from_pretrained(model_name_or_path, config=config, **model_kwargs)
        from transformers import AutoModel

        return AutoModel.from_pretrained(model_name_or_path, config=config, **model_kwargs).get_encoder()


def encoder_half(source: str, *, pooling: str = "mean", max_length: int | None, device: str):
    """A BART-family model's encoder, pooled (``mean`` or ``cls``) and normalised, as a SentenceTransformer."""
    from sentence_transformers import SentenceTransformer
    from sentence_transformers.sentence_transformer.modules import Normalize, Pooling

    transformer = EncoderHalfTransformer(source, max_seq_length=max_length)
    pooling = Pooling(transformer.get_embedding_dimension(), pooling_mode=pooling)
    return SentenceTransformer(modules=[transformer, pooling, Normalize()], device=device)


# Encoders sentence-transformers itself loads encoder-only from a folder holding their weights unprefixed.
STOCK_ENCODER_TYPES = ("m2m_100", "marian")


def use_stock_module_types(folder: Path) -> None:
    """Name sentence-transformers' own Transformer in a saved folder's modules.json where it loads the encoder alone."""
    modules_file = Path(folder) / "modules.json"
    modules = json.loads(modules_file.read_text(encoding="utf-8"))
    ours = f"{EncoderHalfTransformer.__module__}.{EncoderHalfTransformer.__name__}"
    changed = False
    for module in modules:
        config = Path(folder) / module["path"] / "config.json"
        if module["type"] == ours and config.is_file() and json.loads(config.read_text(encoding="utf-8")).get("model_type") in STOCK_ENCODER_TYPES:
            module["type"], changed = f"{Transformer.__module__}.{Transformer.__name__}", True
    if changed:
        modules_file.write_text(json.dumps(modules, indent=2), encoding="utf-8")
