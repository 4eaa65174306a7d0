"""Encoder halves of sequence-to-sequence models (mBART-50, mT5, NLLB/M2M-100, Marian) as bi-encoder starting points.

sentence-transformers loads T5-family encoders correctly (``MT5EncoderModel``), so an mT5
folder or hub id needs nothing more than mean pooling. For the BART family it goes wrong
in two ways: an mBART checkpoint loads as the whole ``MBartModel`` and the *decoder's*
output is pooled; an NLLB / M2M-100 or Marian checkpoint loads as ``M2M100Encoder`` /
``MarianEncoder`` whose weights, under the checkpoint's ``model.encoder.`` prefix, are not
found, so the encoder is silently random (sentence-transformers 6.2). :class:`EncoderHalfTransformer`
loads the base model and keeps ``get_encoder()``; a folder it saves holds that encoder alone
(``architectures: [MBartEncoder]`` etc.), and :func:`use_stock_module_types` makes it load with
plain ``SentenceTransformer(path)``: sentence-transformers loads a saved NLLB / M2M-100 or Marian
encoder correctly itself (its weights are no longer prefixed); an mBART folder becomes the base
model with an empty decoder, read at its encoder's output. (Since sentence-transformers 6 a
module class from outside its package loads only with ``trust_remote_code=True``, which a
folder naming mtqa's class, as mtqa saved them before, still needs.)
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
WEIGHT_FILES = ("model.safetensors", "pytorch_model.bin", "model.safetensors.index.json")


def use_stock_module_types(folder: Path) -> None:
    """Make a saved encoder half load with plain ``SentenceTransformer(path)``: no module class of mtqa's in modules.json.

    NLLB / M2M-100 and Marian encoders sentence-transformers loads itself. An mBART (or BART)
    encoder it cannot run alone, so the folder becomes the base model with a decoder of no
    layers, the trained encoder inside, and sentence-transformers' Transformer module told to
    take the encoder's output (``encoder_last_hidden_state``): the decoder costs an embedding
    lookup and two layer norms, and ``AutoModel.from_pretrained(path).get_encoder()`` is the encoder.
    """
    folder = Path(folder)
    modules_file = folder / "modules.json"
    modules = json.loads(modules_file.read_text(encoding="utf-8"))
    ours = f"{EncoderHalfTransformer.__module__}.{EncoderHalfTransformer.__name__}"
    for module in modules:
        config = folder / module["path"] / "config.json"
        if module["type"] != ours or not config.is_file():
            continue
        if json.loads(config.read_text(encoding="utf-8")).get("model_type") not in STOCK_ENCODER_TYPES:
            _with_empty_decoder(folder / module["path"])
        module["type"] = f"{Transformer.__module__}.{Transformer.__name__}"
    modules_file.write_text(json.dumps(modules, indent=2), encoding="utf-8")


def _with_empty_decoder(directory: Path) -> None:
    from transformers import AutoConfig, AutoModel

    config = AutoConfig.from_pretrained(directory)
    encoder = _encoder_class(config.model_type, config.architectures[0]).from_pretrained(directory, config=config)
    config.decoder_layers = 0
    config.architectures = None
    model = AutoModel.from_config(config)
    model.encoder.load_state_dict(encoder.state_dict())
    model.shared.weight = model.encoder.embed_tokens.weight  # the shared embeddings are the encoder's
    for name in WEIGHT_FILES:
        (directory / name).unlink(missing_ok=True)
    model.save_pretrained(directory)
    settings_file = directory / "sentence_bert_config.json"
    settings = json.loads(settings_file.read_text(encoding="utf-8"))
    settings["modality_config"] = {"text": {"method": "forward", "method_output_name": "encoder_last_hidden_state"}}
    settings_file.write_text(json.dumps(settings, indent=2), encoding="utf-8")
