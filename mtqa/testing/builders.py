"""Tiny random models: NLLB, M2M-100, the mBART / mT5 encoder starting points and XLM-R, with their SentencePiece vocabularies."""

from __future__ import annotations

import io
import shutil
import string
from pathlib import Path

TRAINING_LINES = [
    string.ascii_letters + string.digits + string.punctuation,
    "The Panthers defense gave up just 308 points, ranking sixth in the league.",
    "Where is the library? How many points did the defense surrender?",
    "Pro Bowl defensive tackle Kawann Short led the team in sacks with 11.",
    "Der schnelle braune Fuchs springt über den faulen Hund. Wo ist die Bibliothek?",
    "¿Dónde está la biblioteca? El rápido zorro marrón salta sobre el perro perezoso.",
    "Быстрая коричневая лиса прыгает через ленивую собаку. Где библиотека?",
    "图书馆在哪里？敏捷的棕色狐狸跳过了懒狗。黑豹队的防守只丢了308分。",
    "أين المكتبة؟ الثعلب البني السريع يقفز فوق الكلب الكسول.",
    "पुस्तकालय कहाँ है? तेज़ भूरी लोमड़ी आलसी कुत्ते के ऊपर कूदती है।",
    "ห้องสมุดอยู่ที่ไหน สุนัขจิ้งจอกสีน้ำตาลกระโดดข้ามสุนัขขี้เกียจ",
    "Kütüphane nerede? Hızlı kahverengi tilki tembel köpeğin üzerinden atlar.",
]


def train_sentencepiece(model_type: str, vocab_size: int, **options) -> io.BytesIO:
    """A SentencePiece model of TRAINING_LINES; every character gets a piece, so no <unk> on them."""
    import sentencepiece as spm

    proto = io.BytesIO()
    spm.SentencePieceTrainer.train(
        sentence_iterator=iter(TRAINING_LINES * 4),
        model_writer=proto,
        vocab_size=vocab_size,
        model_type=model_type,
        character_coverage=1.0,
        unk_id=0,
        bos_id=1,
        eos_id=2,
        pad_id=-1,
        normalization_rule_name="nmt_nfkc",
        num_threads=1,
        minloglevel=2,
        **options,
    )
    return proto


# The ids fairseq's BART-family models (M2M-100, NLLB, mBART) give <s>, <pad> and </s>.
BART_IDS = {"scale_embedding": True, "pad_token_id": 1, "bos_token_id": 0, "eos_token_id": 2}


def bart_sizes(d_model: int, layers: int, heads: int, ffn: int) -> dict:
    """The size fields of a BART-family config (M2M-100, NLLB, mBART, Marian): as many encoder layers as decoder ones."""
    return {
        "d_model": d_model,
        "encoder_layers": layers,
        "decoder_layers": layers,
        "encoder_attention_heads": heads,
        "decoder_attention_heads": heads,
        "encoder_ffn_dim": ffn,
        "decoder_ffn_dim": ffn,
    }


def t5_sizes(d_model: int, layers: int, heads: int, ffn: int) -> dict:
    """The size fields of a T5-family config (mT5, MADLAD-400)."""
    return {
        "d_model": d_model,
        "d_kv": d_model // heads,
        "d_ff": ffn,
        "num_layers": layers,
        "num_decoder_layers": layers,
        "num_heads": heads,
    }


def _nllb_tokenizer(directory: Path, vocab_size: int):
    """An NllbTokenizer over a SentencePiece BPE model trained on a few lines, written as ``sentencepiece.bpe.model``."""
    import sentencepiece as spm
    from tokenizers.models import BPE
    from transformers.convert_slow_tokenizer import SentencePieceExtractor
    from transformers.models.nllb.tokenization_nllb import NllbTokenizer

    proto = train_sentencepiece("bpe", vocab_size)
    spm_path = directory / "sentencepiece.bpe.model"
    spm_path.write_bytes(proto.getvalue())

    # NLLB's fairseq layout: <s> <pad> </s> <unk>, then SentencePiece pieces shifted
    # by one, then the language codes. Building the vocabulary explicitly (rather
    # than letting transformers convert the .model file) keeps language codes from
    # colliding with piece ids, which transformers 5.x otherwise lets happen.
    processor = spm.SentencePieceProcessor(model_proto=proto.getvalue())
    vocab = {"<s>": 0, "<pad>": 1, "</s>": 2, "<unk>": 3}
    for piece_id in range(3, processor.get_piece_size()):
        vocab[processor.id_to_piece(piece_id)] = piece_id + 1
    extracted = SentencePieceExtractor(str(spm_path)).extract(BPE)
    tokenizer = NllbTokenizer(
        vocab=vocab,
        merges=extracted["merges"],
        _spm_precompiled_charsmap=extracted["_spm_precompiled_charsmap"],
        src_lang="eng_Latn",
    )
    return tokenizer


def build_tiny_nllb(
    directory: Path,
    *,
    vocab_size: int = 400,
    d_model: int = 64,
    layers: int = 2,
    heads: int = 4,
    ffn_dim: int = 128,
    max_positions: int = 1024,
    model_vocab_size: int | None = None,
    seed: int = 0,
) -> Path:
    """Write a random-weight NLLB-architecture model with a working tokenizer to ``directory``.

    ``model_vocab_size`` larger than the tokenizer pads the embedding matrix, as
    NLLB-200's own 256,206 rows do (used by the benchmark for the real shape).
    """
    import torch
    from transformers import M2M100Config, M2M100ForConditionalGeneration

    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    tokenizer = _nllb_tokenizer(directory, vocab_size)

    torch.manual_seed(seed)
    config = M2M100Config(
        vocab_size=max(len(tokenizer), model_vocab_size or 0),
        **bart_sizes(d_model, layers, heads, ffn_dim),
        **BART_IDS,
        max_position_embeddings=max_positions,
        decoder_start_token_id=2,
        init_std=1.0,  # large enough that outputs differ from input to input
        tokenizer_class="NllbTokenizer",
    )
    model = M2M100ForConditionalGeneration(config)
    model.generation_config.max_length = 64
    model.save_pretrained(directory)
    tokenizer.save_pretrained(directory)
    return directory


def build_tiny_xlmr(
    directory: Path, *, vocab_size: int = 250, hidden: int = 32, layers: int = 2, heads: int = 2, intermediate: int = 64, seed: int = 0
) -> Path:
    """Write a random-weight XLM-RoBERTa encoder (``XLMRobertaModel``) with a working tokenizer to ``directory``.

    The vocabulary is a SentencePiece Unigram model trained on ``TRAINING_LINES``,
    laid out as fairseq/XLM-R does: ``<s> <pad> </s> <unk>``, the pieces, ``<mask>``
    last. The tokenizer is built from that vocabulary explicitly (not converted
    from the .model file by transformers) and saved as ``tokenizer.json``, so
    ``AutoTokenizer.from_pretrained(directory)`` gets exactly it.
    """
    import sentencepiece as spm
    import torch
    from sentencepiece import sentencepiece_model_pb2
    from transformers import XLMRobertaConfig, XLMRobertaModel, XLMRobertaTokenizer

    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    # hard_vocab_limit off: a few lines support only so many unigram pieces; take what they give.
    proto = train_sentencepiece("unigram", vocab_size, hard_vocab_limit=False)
    processor = spm.SentencePieceProcessor(model_proto=proto.getvalue())
    vocab = [("<s>", 0.0), ("<pad>", 0.0), ("</s>", 0.0), ("<unk>", 0.0)]
    vocab += [(processor.id_to_piece(i), processor.get_score(i)) for i in range(3, processor.get_piece_size())]
    vocab.append(("<mask>", 0.0))
    model_proto = sentencepiece_model_pb2.ModelProto()
    model_proto.ParseFromString(proto.getvalue())
    tokenizer = XLMRobertaTokenizer(
        vocab=vocab, _spm_precompiled_charsmap=model_proto.normalizer_spec.precompiled_charsmap, model_max_length=512
    )
    tokenizer.save_pretrained(directory)

    torch.manual_seed(seed)
    config = XLMRobertaConfig(
        vocab_size=len(vocab),
        hidden_size=hidden,
        num_hidden_layers=layers,
        num_attention_heads=heads,
        intermediate_size=intermediate,
        max_position_embeddings=514,  # XLM-R's: positions start after padding_idx 1
        pad_token_id=1,
        bos_token_id=0,
        eos_token_id=2,
        type_vocab_size=1,
        tokenizer_class="XLMRobertaTokenizer",
    )
    XLMRobertaModel(config).save_pretrained(directory)
    return directory


def build_tiny_m2m100(directory: Path, *, d_model: int = 32, layers: int = 2, heads: int = 2, ffn: int = 64, seed: int = 0) -> Path:
    """A random-weight M2M-100 model with the hub's layout: ``vocab.json``, ``sentencepiece.bpe.model``, ``__de__`` codes.

    The model's vocabulary is the tokenizer's (vocab.json, then its 100 language codes) plus the
    8 made-up words M2M-100 pads with.
    """
    import json as json_module

    import sentencepiece as spm
    import torch
    from transformers import M2M100Config, M2M100ForConditionalGeneration, M2M100Tokenizer

    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    proto = train_sentencepiece("bpe", 300)
    spm_file = directory / "sentencepiece.bpe.model"
    spm_file.write_bytes(proto.getvalue())
    processor = spm.SentencePieceProcessor(model_proto=proto.getvalue())
    vocab = {"<s>": 0, "<pad>": 1, "</s>": 2, "<unk>": 3}
    for index in range(3, processor.get_piece_size()):
        vocab.setdefault(processor.id_to_piece(index), len(vocab))
    (directory / "vocab.json").write_text(json_module.dumps(vocab, ensure_ascii=False), encoding="utf-8")
    tokenizer = M2M100Tokenizer(vocab_file=str(directory / "vocab.json"), spm_file=str(spm_file), src_lang="en", tgt_lang="de")
    tokenizer.save_pretrained(directory)
    torch.manual_seed(seed)
    config = M2M100Config(
        vocab_size=len(vocab) + len(tokenizer.lang_token_to_id) + 8,
        **bart_sizes(d_model, layers, heads, ffn),
        **BART_IDS,
        max_position_embeddings=1024,
        decoder_start_token_id=2,
        init_std=1.0,
    )
    M2M100ForConditionalGeneration(config).save_pretrained(directory)
    return directory


def build_tiny_seq2seq(
    directory: Path, family: str, *, d_model: int = 32, layers: int = 2, heads: int = 2, ffn: int = 64, seed: int = 0
) -> Path:
    """A random-weight mBART (``family`` "mbart") or mT5 ("mt5") encoder-decoder with a working tokenizer, as the hub ships them.

    mBART gets the XLM-R-layout SentencePiece vocabulary of :func:`build_tiny_xlmr` (mBART-50's
    layout); mT5 a T5 tokenizer over the same pieces (``<pad> </s> <unk>`` first).
    """
    import torch
    from transformers import AutoTokenizer, MBartConfig, MBartForConditionalGeneration, MT5Config, MT5ForConditionalGeneration, T5Tokenizer

    directory = Path(directory)
    vocabulary = build_tiny_xlmr(directory / ".vocabulary")
    tokenizer = AutoTokenizer.from_pretrained(vocabulary)
    torch.manual_seed(seed)
    if family == "mbart":
        tokenizer.save_pretrained(directory)
        config = MBartConfig(vocab_size=len(tokenizer), **bart_sizes(d_model, layers, heads, ffn), **BART_IDS, max_position_embeddings=128)
        MBartForConditionalGeneration(config).save_pretrained(directory)
    elif family == "mt5":
        pieces = [(tokenizer.convert_ids_to_tokens(i), -1.0) for i in range(4, len(tokenizer) - 1)]
        t5 = T5Tokenizer(vocab=[("<pad>", 0.0), ("</s>", 0.0), ("<unk>", 0.0), *pieces], extra_ids=0)
        t5.save_pretrained(directory)
        config = MT5Config(
            vocab_size=len(t5),
            **t5_sizes(d_model, layers, heads, ffn),
            pad_token_id=0,
            eos_token_id=1,
            decoder_start_token_id=0,
        )
        MT5ForConditionalGeneration(config).save_pretrained(directory)
    else:
        raise ValueError(f"unknown family {family!r}; use mbart or mt5")

    shutil.rmtree(vocabulary)
    return directory
