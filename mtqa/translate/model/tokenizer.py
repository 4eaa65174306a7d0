"""Text <-> tokens for every translation family, as each family's transformers tokenizer does it.

* NLLB-200, M2M-100: source ``[source code] + pieces + </s>``, target prefix ``[target code]``, the
  first output token (the code) dropped.
* MADLAD-400: the SentencePiece model encodes ``"<2de> " + text`` (the tag is one of its pieces; encoding
  it with the text keeps the word-boundary piece before it, as transformers does), then ``</s>``.
* OPUS-MT: ``[>>deu<<] + source pieces + </s>`` (the tag only in multi-target models); output decoded
  with the SentencePiece model transformers' MarianTokenizer decodes with.
"""

from __future__ import annotations

from pathlib import Path
from typing import Sequence

from ...errors import MtqaError, first_line
from .families import OPUS_MT, Family, LanguageTokens, family_for, read_vocabulary, require_tokenizer_files, vocabulary_path

EOS = "</s>"
_SPECIAL = {"<s>", "</s>", "<pad>", "<unk>", "<mask>"}


def tokenizer_vocabulary(model_dir: Path) -> list[str]:
    """The vocabulary of a model folder: the CTranslate2 one, else (a Hugging Face folder, for a dry run) the tokenizer's.

    transformers 5's M2M100Tokenizer leaves its ``__de__`` codes out of ``get_vocab()``; they are added back.
    """
    if vocabulary_path(model_dir):
        return read_vocabulary(model_dir)
    from_file = _fast_tokenizer_vocabulary(model_dir)
    if from_file is not None:
        return from_file
    import warnings

    from transformers import AutoTokenizer

    with warnings.catch_warnings():  # MarianTokenizer asks for sacremoses, which only its unused normalize() needs
        warnings.simplefilter("ignore")
        try:
            tokenizer = AutoTokenizer.from_pretrained(str(model_dir))
        except Exception as error:  # missing or broken tokenizer files
            message = first_line(error)
            raise MtqaError(
                f"{model_dir}: cannot load the model's tokenizer ({message}); the folder needs the tokenizer files "
                "the hub ships with the model (tokenizer.json or vocab.json, tokenizer_config.json)"
            ) from None
    return [*tokenizer.get_vocab(), *getattr(tokenizer, "lang_token_to_id", {}), *tokenizer.all_special_tokens]


def _fast_tokenizer_vocabulary(model_dir: Path) -> list[str] | None:
    """The vocabulary a fast tokenizer's ``tokenizer.json`` holds (its model's, then its added tokens), or None.

    What ``get_vocab()`` returns, read without importing transformers, and with it torch: a translate
    run then never holds them, whether or not the model still needs converting (that runs in a child).
    Families whose language codes live in transformers' code (M2M-100) ship no tokenizer.json.
    """
    import json

    try:
        document = json.loads((model_dir / "tokenizer.json").read_text(encoding="utf-8"))
        vocabulary = document["model"]["vocab"]
        tokens = list(vocabulary) if isinstance(vocabulary, dict) else [entry[0] for entry in vocabulary]
        return [*tokens, *(added["content"] for added in document.get("added_tokens", []))]
    except (OSError, ValueError, KeyError, TypeError, IndexError):
        return None


class ModelTokenizer:
    """A translation model's tokenizer: its SentencePiece model(s) and language tokens, without the model."""

    def __init__(self, model_dir: Path, *, model: str = "") -> None:
        import sentencepiece

        model_dir = Path(model_dir)
        model_type = require_tokenizer_files(model_dir, model or str(model_dir))
        vocabulary = tokenizer_vocabulary(model_dir)
        self.family: Family = family_for(model_type, set(vocabulary), model or str(model_dir))
        self.languages = LanguageTokens(vocabulary, self.family, model_dir=model_dir, model=model or str(model_dir))
        self.source_sp = sentencepiece.SentencePieceProcessor(model_file=str(model_dir / self.family.source_spm))
        self.target_sp = sentencepiece.SentencePieceProcessor(model_file=str(model_dir / self.family.target_spm))
        if self.family is OPUS_MT and not any(model_dir.glob("target_vocabulary.*")):
            # MarianTokenizer decodes with the source model when the vocabulary is shared (transformers' default).
            self.target_sp = self.source_sp
        self._special: dict[str, bool] = {}
        # MADLAD-400's tags are pieces of its SentencePiece model, encoded whole with the text. A model whose
        # tags are only added tokens gets them as transformers treats added tokens: split off, then the text.
        probe = next((token for token in vocabulary if self.family.is_language_tag(token)), None) if self.family.name == "madlad" else None
        self._tag_in_pieces = probe is not None and probe in self.source_sp.encode(f"{probe} x", out_type=str)

    def tokenize(self, text: str, source_lang: str, target_lang: str) -> list[str]:
        """The source tokens for translating ``text`` from ``source_lang`` into ``target_lang`` (FLORES codes)."""
        if self.family.name == "madlad":
            tag = self.languages(target_lang)
            if self._tag_in_pieces:
                return [*self.source_sp.encode(f"{tag} {text}", out_type=str), EOS]
            return [tag, *self.source_sp.encode(text, out_type=str), EOS]
        pieces = self.source_sp.encode(text, out_type=str)
        if self.family is OPUS_MT:
            tag = self.languages(target_lang)
            return [*([tag] if tag else []), *pieces, EOS]
        return [self.languages(source_lang), *pieces, EOS]

    def target_prefix(self, target_lang: str) -> list[str] | None:
        return None if self.family.tag_in_source else [self.languages(target_lang)]

    def output(self, hypothesis: Sequence[str]) -> list[str]:
        """A hypothesis without the target code the prefix put first, where there is one."""
        return list(hypothesis) if self.family.tag_in_source else list(hypothesis[1:])

    def detokenize(self, tokens: Sequence[str]) -> str:
        """Text of output tokens with special tokens skipped, as transformers' ``decode(skip_special_tokens=True)``.

        Language tokens are skipped too: NLLB sometimes emits one mid-sentence, and it must not reach the corpus.
        """
        text = self.target_sp.decode_pieces([token for token in tokens if not self.is_special(token)])
        return text.replace("\u2581", " ").strip()  # an out-of-model piece keeps its word-boundary mark (MarianTokenizer's cleanup)

    def is_special(self, token: str) -> bool:
        special = self._special.get(token)
        if special is None:
            if token in _SPECIAL or self.family.is_language_tag(token):
                special = True
            elif self.family is OPUS_MT:  # a shared vocabulary: pieces of either SentencePiece model are text
                special = False
            else:  # NLLB's and M2M-100's added tokens are everything the SentencePiece model does not hold as a piece
                piece = self.target_sp.piece_to_id(token)
                special = piece == self.target_sp.unk_id() or self.target_sp.is_control(piece) or self.target_sp.is_unknown(piece)
            self._special[token] = special
        return special
