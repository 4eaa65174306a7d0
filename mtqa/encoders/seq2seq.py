"""Encoder halves of sequence-to-sequence models (mBART-50, mT5, NLLB/M2M-100, Marian) as bi-encoder starting points.

sentence-transformers loads T5-family encoders correctly (``MT5EncoderModel``), so an mT5
folder or hub id needs nothing more than mean pooling. For the BART family it goes wrong
in two ways: an mBART checkpoint loads as the whole ``MBartModel`` and the *decoder's*
output is pooled; an NLLB / M2M-100 or Marian checkpoint loads as ``M2M100Encoder`` /
``MarianEncoder`` whose weights, under the checkpoint's ``model.encoder.`` prefix, are not
found, so the encoder is silently random (sentence-transformers 6.2). :class:`EncoderHalfTransformer`
loads the base model and keeps ``get_encoder()``; a folder it saves holds that encoder alone
(``architectures: [MBartEncoder]`` etc.). Since sentence-transformers 6 a module class from
outside its own package loads only when trusted, so such a folder loads with
``SentenceTransformer(path, trust_remote_code=True)`` where mtqa is installed.
"""

from __future__ import annotations

import importlib
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


def encoder_half(source: str, *, max_length: int | None, device: str):
    """A BART-family model's encoder, mean-pooled and normalised, as a SentenceTransformer."""
    from sentence_transformers import SentenceTransformer
    from sentence_transformers.sentence_transformer.modules import Normalize, Pooling

    transformer = EncoderHalfTransformer(source, max_seq_length=max_length)
    pooling = Pooling(transformer.get_embedding_dimension(), pooling_mode="mean")
    return SentenceTransformer(modules=[transformer, pooling, Normalize()], device=device)
