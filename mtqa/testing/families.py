"""Tiny random models of the other translation families: MADLAD-400 (T5) and OPUS-MT (Marian)."""

from __future__ import annotations

import io
from pathlib import Path

from .builders import TRAINING_LINES, bart_sizes, t5_sizes, train_sentencepiece


def _madlad_tokenizer(directory: Path, tags_in_spm: bool):
    """MADLAD's ``spiece.model`` with a ``<2xx>`` tag per language (as pieces, or as added tokens), saved with its T5Tokenizer."""
    import sentencepiece as spm
    from sentencepiece import sentencepiece_model_pb2
    from transformers import T5Tokenizer

    from ..languages import all_languages

    tags = sorted({f"<2{language.code}>" for language in all_languages() if "_" not in language.code})
    proto = io.BytesIO()
    spm.SentencePieceTrainer.train(
        sentence_iterator=iter(TRAINING_LINES * 4),
        model_writer=proto,
        vocab_size=700,
        model_type="unigram",
        character_coverage=1.0,
        unk_id=0,
        pad_id=1,
        eos_id=2,
        bos_id=-1,
        normalization_rule_name="nmt_nfkc",
        num_threads=1,
        minloglevel=2,
        hard_vocab_limit=False,
        user_defined_symbols=tags if tags_in_spm else [],
    )
    (directory / "spiece.model").write_bytes(proto.getvalue())
    processor = spm.SentencePieceProcessor(model_proto=proto.getvalue())
    model_proto = sentencepiece_model_pb2.ModelProto()
    model_proto.ParseFromString(proto.getvalue())
    tokenizer = T5Tokenizer(
        vocab=[(processor.id_to_piece(i), processor.get_score(i)) for i in range(processor.get_piece_size())],
        extra_ids=0,
        unk_token="<unk>",
        eos_token="</s>",
        pad_token="<pad>",
        _spm_precompiled_charsmap=model_proto.normalizer_spec.precompiled_charsmap,
    )
    if not tags_in_spm:
        tokenizer.add_tokens(tags)
    tokenizer.save_pretrained(directory)
    return tokenizer


def build_tiny_madlad(
    directory: Path, *, tags_in_spm: bool = True, d_model: int = 32, layers: int = 2, heads: int = 2, ffn: int = 64, seed: int = 0
) -> Path:
    """A random-weight MADLAD-400 (T5) model laid out as the hub's: ``spiece.model`` holding a ``<2xx>`` piece per language.

    Ids as MADLAD's: ``<unk>`` 0 (also the decoder's start), ``<pad>`` 1, ``</s>`` 2; the tags are
    SentencePiece user-defined pieces, so ``"<2de> text"`` encodes the tag whole. ``tags_in_spm=False``
    makes them the tokenizer's added tokens instead, after the pieces.
    """
    import torch
    from transformers import T5Config, T5ForConditionalGeneration

    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    tokenizer = _madlad_tokenizer(directory, tags_in_spm)
    torch.manual_seed(seed)
    config = T5Config(
        vocab_size=len(tokenizer),
        **t5_sizes(d_model, layers, heads, ffn),
        pad_token_id=1,
        eos_token_id=2,
        decoder_start_token_id=0,
        feed_forward_proj="gated-gelu",
        tie_word_embeddings=False,
        initializer_factor=10.0,
    )  # large enough that outputs differ from input to input
    T5ForConditionalGeneration(config).save_pretrained(directory)
    return directory


def build_tiny_opus_mt(
    directory: Path, *, targets: tuple[str, ...] = (), d_model: int = 32, layers: int = 2, heads: int = 2, ffn: int = 64, seed: int = 0
) -> Path:
    """A random-weight OPUS-MT (Marian) model laid out as the hub's: ``source.spm``, ``target.spm``, a shared ``vocab.json``.

    Without ``targets`` it is an en-de pair (``tokenizer_config.json`` names it, as the hub's do);
    with ``targets`` (ISO 639-3 or FLORES codes) an en-mul model with a ``>>code<<`` token for each.
    """
    import json as json_module

    import sentencepiece as spm
    import torch
    from transformers import MarianConfig, MarianMTModel, MarianTokenizer

    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    # Two different SentencePiece models, as OPUS-MT's are, so decoding with the wrong one shows.
    protos = [train_sentencepiece("unigram", size, hard_vocab_limit=False) for size in (300, 240)]
    (directory / "source.spm").write_bytes(protos[0].getvalue())
    (directory / "target.spm").write_bytes(protos[1].getvalue())
    vocab = {"</s>": 0, "<unk>": 1, **{f">>{code}<<": 2 + index for index, code in enumerate(targets)}}
    for proto in protos:
        processor = spm.SentencePieceProcessor(model_proto=proto.getvalue())
        for index in range(3, processor.get_piece_size()):
            vocab.setdefault(processor.id_to_piece(index), len(vocab))
    vocab["<pad>"] = len(vocab)  # last, as Marian's conversion to transformers puts it
    (directory / "vocab.json").write_text(json_module.dumps(vocab, ensure_ascii=False), encoding="utf-8")
    tokenizer = MarianTokenizer(
        str(directory / "source.spm"),
        str(directory / "target.spm"),
        str(directory / "vocab.json"),
        source_lang="en" if not targets else "eng",
        target_lang="de" if not targets else "mul",
    )
    tokenizer.save_pretrained(directory)
    torch.manual_seed(seed)
    config = MarianConfig(
        vocab_size=len(vocab),
        **bart_sizes(d_model, layers, heads, ffn),
        max_position_embeddings=256,
        pad_token_id=vocab["<pad>"],
        eos_token_id=0,
        decoder_start_token_id=vocab["<pad>"],
        init_std=1.0,
        scale_embedding=True,
    )
    MarianMTModel(config).save_pretrained(directory)
    return directory
