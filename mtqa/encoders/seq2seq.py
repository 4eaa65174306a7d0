"""Encoder halves of sequence-to-sequence models (mBART-50, mT5) as bi-encoder starting points.

sentence-transformers loads the encoder alone for T5-family configs (``MT5EncoderModel``),
so an mT5 folder or hub id needs nothing more than mean pooling. For mBART it would load
the whole ``MBartModel`` and pool the *decoder's* output; :class:`MBartEncoderTransformer`
keeps ``MBartModel.get_encoder()`` only, and a folder it saves holds that encoder alone
(``architectures: [MBartEncoder]``). Since sentence-transformers 6 a module class from
outside its own package loads only when trusted, so such a folder loads with
``SentenceTransformer(path, trust_remote_code=True)`` where mtqa is installed.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from sentence_transformers.base.modules.transformer import Transformer

ENCODER_ONLY = "MBartEncoder"


class MBartEncoderTransformer(Transformer):
    """sentence-transformers' Transformer module around mBART's encoder (not the encoder-decoder)."""

    def _load_model(self, model_name_or_path: str, transformer_task: str, config: Any, backend: str, is_peft_model: bool, **model_kwargs):
        from transformers import MBartConfig, MBartModel
        from transformers.models.mbart.modeling_mbart import MBartEncoder

        if not isinstance(config, MBartConfig) or backend != "torch":
            return super()._load_model(model_name_or_path, transformer_task, config, backend, is_peft_model, **model_kwargs)
        if ENCODER_ONLY in (config.architectures or []):
            return MBartEncoder.from_pretrained(model_name_or_path, config=config, **model_kwargs)
        return MBartModel.from_pretrained(model_name_or_path, config=config, **model_kwargs).get_encoder()


def model_type(source: str) -> str | None:
    """The ``model_type`` of a local folder's config.json, or of a hub id's (None when it cannot be read)."""
    import json

    path = Path(source) / "config.json"
    if path.is_file():
        return json.loads(path.read_text(encoding="utf-8")).get("model_type")
    try:
        from transformers import AutoConfig

        return AutoConfig.from_pretrained(source).model_type
    except Exception:  # offline or not a model: the loader reports it
        return None


def is_own_module_folder(source: str) -> bool:
    """A folder mtqa saved with :class:`MBartEncoderTransformer` (its modules.json names the class)."""
    modules = Path(source) / "modules.json"
    return modules.is_file() and f"{__name__}." in modules.read_text(encoding="utf-8")


def mbart_encoder(source: str, *, max_length: int | None, device: str):
    """mBART's encoder, mean-pooled and normalised, as a SentenceTransformer."""
    from sentence_transformers import SentenceTransformer
    from sentence_transformers.sentence_transformer.modules import Normalize, Pooling

    transformer = MBartEncoderTransformer(source, max_seq_length=max_length)
    pooling = Pooling(transformer.get_embedding_dimension(), pooling_mode="mean")
    return SentenceTransformer(modules=[transformer, pooling, Normalize()], device=device)
