"""Translation model families that share the NLLB recipe: ``[source code] + pieces + </s>``, target prefix ``[target code]``.

* ``nllb``: NLLB-200 (600M distilled, 1.3B, 3.3B), FLORES-200 codes as tokens (``deu_Latn``);
* ``m2m100``: M2M-100 (``facebook/m2m100_418M``, ``facebook/m2m100_1.2B``), ``__de__`` tokens
  from the ISO 639-1 code (ISO 639-3 where a language has none).

The family is read off the model's vocabulary, which both the CTranslate2 folder and the
Hugging Face tokenizer carry, so a converted folder needs no extra marker. mtqa keeps
FLORES codes everywhere else (cache keys, manifests); a family only maps them to its tokens.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

from ..errors import MtqaError
from ..languages import Language, all_languages, get_language

FAMILIES = ("nllb", "m2m100")


@dataclass(frozen=True)
class Family:
    name: str
    label: str

    def candidates(self, language: Language) -> list[str]:
        if self.name == "nllb":
            return [language.flores]
        return [f"__{language.code}__", f"__{language.iso639_3}__"]

    def token(self, language: Language, vocabulary: set[str]) -> str | None:
        """The language's token in this model's vocabulary, or None when the model does not know it."""
        return next((token for token in self.candidates(language) if token in vocabulary), None)


NLLB = Family("nllb", "NLLB-200")
M2M100 = Family("m2m100", "M2M-100")


def vocabulary_path(model_dir: Path) -> Path | None:
    """A CTranslate2 folder's shared vocabulary file (``.json`` or ``.txt``), if it has one."""
    return next((path for name in ("shared_vocabulary.json", "shared_vocabulary.txt") if (path := Path(model_dir) / name).is_file()), None)


def read_vocabulary(model_dir: Path) -> list[str]:
    """A CTranslate2 folder's shared vocabulary."""
    path = vocabulary_path(model_dir)
    if path is not None:
        text = path.read_text(encoding="utf-8")
        return json.loads(text) if path.suffix == ".json" else text.splitlines()
    raise MtqaError(f"{model_dir}: no shared_vocabulary.json; convert the model with CTranslate2's TransformersConverter")


def detect_family(vocabulary: set[str]) -> Family:
    if "eng_Latn" in vocabulary:
        return NLLB
    if "__en__" in vocabulary:
        return M2M100
    raise MtqaError("the model's vocabulary has neither NLLB's eng_Latn nor M2M-100's __en__; mtqa translates with "
                    "NLLB-200 and M2M-100 models (pass --model facebook/nllb-200-distilled-600M or facebook/m2m100_418M)")


class LanguageTokens:
    """FLORES code -> the model's language token, checked against its vocabulary before any work."""

    def __init__(self, vocabulary: list[str]) -> None:
        self.vocabulary = set(vocabulary)
        self.family = detect_family(self.vocabulary)
        self._tokens: dict[str, str] = {}

    def supported(self) -> list[Language]:
        return [language for language in all_languages() if self.family.token(language, self.vocabulary)]

    def require(self, languages: list[Language], model: str) -> None:
        """One line naming what the model supports, if it lacks any of ``languages``."""
        missing = [language for language in languages if self.family.token(language, self.vocabulary) is None]
        if missing:
            supported = self.supported()
            shown = ", ".join(language.code for language in supported[:40]) + (f", ... ({len(supported)} in all)" if len(supported) > 40 else "")
            raise MtqaError(f"--langs: {', '.join(language.code for language in missing)} not supported by {model} "
                            f"({self.family.label}); it translates {shown}")

    def __call__(self, flores: str) -> str:
        token = self._tokens.get(flores)
        if token is None:
            token = self._tokens[flores] = self.family.token(get_language(flores), self.vocabulary) or flores
        return token
