"""A sentence-transformers model run by CTranslate2's int8 encoder: the similarity filter's fast path.

The similarity filter of `mtqa translate` encodes every source and every translation of a
run. CTranslate2's int8 ``Encoder`` runs multilingual-e5-small 3.7x faster than PyTorch
float32 on 2 CPU cores, its vectors keeping cosine 0.9987 with float32's on average (README,
filter benchmark). Folders of the
sentence-transformers shape Transformer → Pooling (mean or CLS) → Normalize, of a type
CTranslate2 converts (BERT, XLM-R, RoBERTa, DistilBERT, CamemBERT), take this path; any
other model (a Dense layer, an encoder half, a hub id) is encoded in PyTorch.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator

import numpy as np

from ..errors import MtqaError, first_line
from ..output import atomic_directory
from ..paths import available_cores, cache_root
from ..stages import announced

CT2_MODEL_TYPES = frozenset({"bert", "xlm-roberta", "roberta", "distilbert", "camembert"})
QUANTIZATION = "int8"
# Sentences are short: one core per batch, as many batches at once as there are cores, beats
# every core on one batch (measured by the filter benchmark), and small batches pad little.
BATCH_SIZE = 8
COMPLETE = "mtqa-encoder.json"  # written last: a folder without it is an interrupted conversion
TRANSFORMER, POOLING, NORMALIZE = "Transformer", "Pooling", "Normalize"


@dataclass(frozen=True)
class EncoderLayout:
    """What the CTranslate2 path needs to know of a sentence-transformers folder."""

    folder: Path
    pooling: str  # "mean" or "cls"
    max_length: int
    lower_case: bool = False  # sentence_bert_config.json's do_lower_case


def _json(path: Path) -> dict:
    try:
        value = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return value if isinstance(value, (dict, list)) else {}


def ct2_layout(source: str) -> EncoderLayout | None:
    """The layout of a local folder CTranslate2 can run exactly as sentence-transformers would; None otherwise."""
    folder = Path(source).expanduser()
    modules = _json(folder / "modules.json")
    if not isinstance(modules, list) or not modules:
        return None
    kinds = [str(module.get("type", "")).rsplit(".", 1)[-1] for module in modules]
    if kinds not in ([TRANSFORMER, POOLING], [TRANSFORMER, POOLING, NORMALIZE]) or modules[0].get("path", "") != "":
        return None
    if _json(folder / "config.json").get("model_type") not in CT2_MODEL_TYPES:
        return None
    pooling = _pooling(_json(folder / modules[1].get("path", "1_Pooling") / "config.json"))
    if pooling is None:
        return None
    settings = _json(folder / "sentence_bert_config.json")
    return EncoderLayout(folder, pooling, int(settings.get("max_seq_length") or 512), bool(settings.get("do_lower_case")))


def _pooling(config: dict) -> str | None:
    """``mean`` or ``cls`` from a Pooling config, as sentence-transformers 6 writes it (``pooling_mode``) or as older versions did."""
    if "pooling_mode" in config:  # {"pooling_mode": "mean", "include_prompt": true}
        mode = config["pooling_mode"]
        return mode if mode in ("mean", "cls") and config.get("include_prompt", True) else None
    modes = tuple(key for key, value in config.items() if key.startswith("pooling_mode_") and value)
    return {("pooling_mode_mean_tokens",): "mean", ("pooling_mode_cls_token",): "cls"}.get(modes)


def _folder_key(folder: Path) -> str:
    """The converted copy is named by the folder's path and the size and time of its files."""
    resolved = folder.resolve()
    stats = sorted((str(p.relative_to(resolved)), p.stat().st_size, int(p.stat().st_mtime)) for p in resolved.rglob("*") if p.is_file())
    return hashlib.sha256(json.dumps([str(resolved), stats, QUANTIZATION]).encode()).hexdigest()[:12]


@contextlib.contextmanager
def _absolute_positions() -> Iterator[None]:
    """CTranslate2's BERT and RoBERTa loaders assert ``config.position_embedding_type``, which transformers 5 no longer sets."""
    from transformers import BertConfig, RobertaConfig, XLMRobertaConfig

    patched = [cls for cls in (BertConfig, RobertaConfig, XLMRobertaConfig) if "position_embedding_type" not in vars(cls)]
    for cls in patched:
        cls.position_embedding_type = "absolute"
    try:
        yield
    finally:
        for cls in patched:
            del cls.position_embedding_type


def converted(layout: EncoderLayout) -> Path:
    """The CTranslate2 int8 copy of ``layout.folder``, converted once into ``$MTQA_CACHE/models``."""
    from filelock import FileLock

    target = cache_root() / "models" / f"ct2-encoder--{layout.folder.name}--{_folder_key(layout.folder)}"
    if (target / COMPLETE).is_file():
        return target
    target.parent.mkdir(parents=True, exist_ok=True)
    with FileLock(str(target) + ".lock"):
        if (target / COMPLETE).is_file():
            return target
        done = f"converted {layout.folder} to CTranslate2 {QUANTIZATION} in {target} (once)"
        with announced(done), atomic_directory(target, overwrite=True) as staging:
            convert(layout, staging, quantization=QUANTIZATION, fallback="--similarity-engine torch")
    return target


def convert(layout: EncoderLayout, target: Path, *, quantization: str | None, fallback: str) -> None:
    """Write the CTranslate2 copy of ``layout.folder`` into ``target`` (None: float32, the weights as they are)."""
    from ctranslate2.converters import TransformersConverter
    from transformers.utils import logging as transformers_logging

    transformers_logging.disable_progress_bar()
    try:
        with _absolute_positions():
            TransformersConverter(str(layout.folder), low_cpu_mem_usage=True).convert(str(target), quantization=quantization, force=True)
    except Exception as error:
        message = first_line(error)
        raise MtqaError(f"cannot convert {layout.folder} to CTranslate2 ({message}); pass {fallback}") from None
    (target / COMPLETE).write_text(json.dumps({"source": str(layout.folder), "quantization": quantization or "float32"}))


def _tokenizer(layout: EncoderLayout):
    """Texts -> token ids as the folder's tokenizer makes them, truncated to the model's length.

    The ``tokenizers`` library reads ``tokenizer.json`` itself in about a second; transformers'
    AutoTokenizer takes several for XLM-R's 250,000 pieces, a cost the filter would pay on every run.
    """
    path = layout.folder / "tokenizer.json"
    if path.is_file():
        from tokenizers import Tokenizer

        tokenizer = Tokenizer.from_file(str(path))
        tokenizer.enable_truncation(layout.max_length)
        tokenizer.no_padding()
        return lambda texts: [encoding.ids for encoding in tokenizer.encode_batch(texts)]
    from transformers import AutoTokenizer

    slow = AutoTokenizer.from_pretrained(str(layout.folder))
    return lambda texts: slow(texts, truncation=True, max_length=layout.max_length)["input_ids"]


class CT2SentenceEncoder:
    """Encodes like ``SentenceTransformer.encode(normalize_embeddings=True)``, on CTranslate2's encoder.

    By default int8, converted once into the cache (the similarity filter); ``model`` names a
    copy converted elsewhere, run in ``compute_type`` (evaluation's float32 copy).
    """

    def __init__(
        self, layout: EncoderLayout, *, threads: int | None = None, model: Path | None = None, compute_type: str = QUANTIZATION
    ) -> None:
        import ctranslate2

        self.layout = layout
        self.replicas = max(1, threads or available_cores())
        model = model or converted(layout)
        with ThreadPoolExecutor(1) as loader:  # the tokenizer (about a second for XLM-R) loads while the encoder does
            tokenizer = loader.submit(_tokenizer, layout)
            self.encoder = ctranslate2.Encoder(
                str(model), device="cpu", compute_type=compute_type, intra_threads=1, inter_threads=self.replicas
            )
            self._tokenize = tokenizer.result()

    def encode(self, texts: list[str], *, prefix: str = "", batch_size: int = BATCH_SIZE, progress: bool = False) -> np.ndarray:
        """L2-normalised float32 vectors, batched shortest first (as sentence-transformers does) to pad little.

        Each batch's vectors depend on that batch alone, so the result is the same however many
        replicas run them.
        """
        from tqdm import tqdm

        inputs = [prefix + text for text in texts]
        if self.layout.lower_case:
            inputs = [text.lower() for text in inputs]
        ids = self._tokenize(inputs)
        order = np.argsort([len(row) for row in ids], kind="stable")
        batches = [order[start : start + batch_size] for start in range(0, len(texts), batch_size)]
        result = np.zeros((len(texts), 0), dtype=np.float32)
        with (
            ThreadPoolExecutor(self.replicas) as pool,
            tqdm(total=len(batches), desc="encoding", unit="batch", disable=not progress) as bar,
        ):
            # CTranslate2 releases the GIL: each replica runs one batch at a time on its own core.
            for rows, pooled in zip(batches, pool.map(lambda rows: self._pooled([ids[i] for i in rows]), batches)):
                if not result.shape[1]:
                    result = np.zeros((len(texts), pooled.shape[1]), dtype=np.float32)
                result[rows] = pooled
                bar.update()
        return result

    def _pooled(self, batch: list[list[int]]) -> np.ndarray:
        hidden = np.asarray(self.encoder.forward_batch(batch).last_hidden_state, dtype=np.float32)
        lengths = np.array([len(row) for row in batch])
        if self.layout.pooling == "cls":
            pooled = hidden[:, 0]
        else:
            mask = (np.arange(hidden.shape[1])[None, :] < lengths[:, None])[..., None]
            pooled = (hidden * mask).sum(axis=1) / lengths[:, None]
        return pooled / np.maximum(np.linalg.norm(pooled, axis=1, keepdims=True), 1e-12)
