"""Translation model families, all run through the same CTranslate2 path.

* ``nllb``: NLLB-200 (600M distilled, 1.3B, 3.3B): FLORES-200 codes as tokens (``deu_Latn``); the source
  opens with the source code, the target with the target code.
* ``m2m100``: M2M-100 (``facebook/m2m100_418M``, ``facebook/m2m100_1.2B``): the same layout with
  ``__de__`` tokens (ISO 639-1, else ISO 639-3).
* ``madlad``: MADLAD-400 (``google/madlad400-3b-mt``), a T5: the source opens with ``<2de>``; no target prefix.
* ``opus-mt``: OPUS-MT (``Helsinki-NLP/opus-mt-en-de``), Marian: one pair per model, or ``>>deu<<`` opening
  the source in the multi-target models; no target prefix.

The family comes from the model's config (``model_type``: ``m2m_100``, ``t5``, ``marian``), its
vocabulary telling NLLB's ``eng_Latn`` from M2M-100's ``__en__``. A CTranslate2 folder keeps no
``model_type``; mtqa records it when it converts, and otherwise reads it off the tokenizer files
the folder carries. mtqa keeps FLORES codes everywhere else (cache keys, manifests); a family only
maps them, through the one language table, to its tokens.
"""

from __future__ import annotations

import functools
import json
import re
from dataclasses import dataclass
from pathlib import Path

from ...errors import MtqaError
from ...languages import Language, all_languages, get_language

COMPLETE_MARKER = "mtqa-model.json"  # written by mtqa's conversion; records the source model's model_type
# Codes models use where the table's differ: the macrolanguage (OPUS-MT's >>ara<<, >>cmn_Hans<<), or another ISO 639-1 code.
MACROLANGUAGE = {
    "arb": "ara",
    "pes": "fas",
    "zsm": "msa",
    "swh": "swa",
    "ekk": "est",
    "lvs": "lav",
    "npi": "nep",
    "ory": "ori",
    "uzn": "uzb",
    "plt": "mlg",
    "khk": "mon",
    "azj": "aze",
    "gaz": "orm",
    "als": "sqi",
    "ydd": "yid",
    "quy": "que",
    "nob": "nor",
    "zho": "cmn",
}
SHORT_CODE = {"nob": "no", "zho": "zh"}  # M2M-100's __no__, MADLAD-400's <2no> and <2zh_Hant>
M2M100_CODE = {"nso": "ns"}  # M2M-100's own code for Northern Sotho, which has no ISO 639-1 code


@dataclass(frozen=True)
class Family:
    name: str
    label: str
    model_type: str  # the Hugging Face config's
    source_spm: str
    target_spm: str
    tag_in_source: bool  # the target language is a token opening the source, not a target prefix

    @property
    def tokenizer_files(self) -> tuple[str, ...]:
        return tuple(dict.fromkeys((self.source_spm, self.target_spm)))

    def candidates(self, language: Language) -> list[str]:
        """The language's possible tokens, most specific first (a script variant never takes its default script's token)."""
        iso3, script = language.iso639_3, language.script
        variant = is_script_variant(language)
        short = [code for code in (language.code, SHORT_CODE.get(iso3)) if code and "_" not in code]
        if self.name == "nllb":
            return [language.flores]
        if self.name == "m2m100":  # its codes name no script, so a script variant has none
            return (
                []
                if variant
                else [*(f"__{code}__" for code in short), *([f"__{M2M100_CODE[iso3]}__"] if iso3 in M2M100_CODE else []), f"__{iso3}__"]
            )
        if self.name == "madlad":
            if variant:  # <2zh_Hant>
                return [*(f"<2{code}_{script}>" for code in short), f"<2{language.code}>", f"<2{language.flores}>"]
            return [*(f"<2{code}>" for code in short), f"<2{iso3}>"]
        names = [iso3, *([MACROLANGUAGE[iso3]] if iso3 in MACROLANGUAGE else [])]
        scripted = [f">>{name}_{script}<<" for name in names]
        return scripted if variant else [*scripted, *(f">>{name}<<" for name in names), *(f">>{code}<<" for code in short)]

    def token(self, language: Language, vocabulary: set[str]) -> str | None:
        """The language's token in this model's vocabulary, or None when the model does not know it."""
        return next((token for token in self.candidates(language) if token in vocabulary), None)

    def is_language_tag(self, token: str) -> bool:
        return bool(_TAG_PATTERNS[self.name].fullmatch(token))


@functools.lru_cache(maxsize=1)
def _default_scripts() -> dict[str, str]:
    """iso639_3 -> the default script of each language the table writes in several: the one with the ISO 639-1 code, else Latin."""
    scripts: dict[str, list[Language]] = {}
    for language in all_languages():
        scripts.setdefault(language.iso639_3, []).append(language)
    defaults = {}
    for iso3, variants in scripts.items():
        if len(variants) > 1:
            coded = [language for language in variants if "_" not in language.code]
            latin = [language for language in variants if language.script == "Latn"]
            defaults[iso3] = (coded or latin)[0].script if coded or latin else ""  # "": none is the default
    return defaults


def is_script_variant(language: Language) -> bool:
    """A language the table writes in several scripts, in one that is not its default (zho_Hant beside zh, ace_Arab beside ace_Latn).

    Codes that name no script (M2M-100's ``__zh__``, OPUS-MT's ``>>zho<<``) mean the default script, so
    such a variant never takes them.
    """
    default = _default_scripts().get(language.iso639_3)
    return default is not None and language.script != default


NLLB = Family("nllb", "NLLB-200", "m2m_100", "sentencepiece.bpe.model", "sentencepiece.bpe.model", False)
M2M100 = Family("m2m100", "M2M-100", "m2m_100", "sentencepiece.bpe.model", "sentencepiece.bpe.model", False)
MADLAD = Family("madlad", "MADLAD-400", "t5", "spiece.model", "spiece.model", True)
OPUS_MT = Family("opus-mt", "OPUS-MT", "marian", "source.spm", "target.spm", True)
FAMILIES = {family.name: family for family in (NLLB, M2M100, MADLAD, OPUS_MT)}
_TAG_PATTERNS = {
    "nllb": re.compile(r"[a-z]{3}_[A-Z][a-z]{3}"),
    "m2m100": re.compile(r"__[a-z]{2,3}__"),
    "madlad": re.compile(r"<2[A-Za-z_]+>"),
    "opus-mt": re.compile(r">>[A-Za-z_]+<<"),
}
SUPPORTED = "NLLB-200 and M2M-100 (m2m_100), MADLAD-400 (t5) and OPUS-MT (marian)"


def vocabulary_path(model_dir: Path) -> Path | None:
    """A CTranslate2 folder's (shared or source) vocabulary file, if it has one."""
    names = [f"{kind}_vocabulary.{suffix}" for kind in ("shared", "source") for suffix in ("json", "txt")]
    return next((path for name in names if (path := Path(model_dir) / name).is_file()), None)


def read_vocabulary(model_dir: Path) -> list[str]:
    """A CTranslate2 folder's vocabulary (the source side's, where the two differ)."""
    path = vocabulary_path(model_dir)
    if path is not None:
        text = path.read_text(encoding="utf-8")
        return json.loads(text) if path.suffix == ".json" else text.splitlines()
    raise MtqaError(f"{model_dir}: no shared_vocabulary.json; convert the model with CTranslate2's TransformersConverter")


def _json(path: Path) -> dict:
    try:
        return json.loads(path.read_text(encoding="utf-8")) if path.is_file() else {}
    except ValueError:
        return {}


def model_type_of(model_dir: Path) -> str | None:
    """The Hugging Face ``model_type`` of a model folder, converted or not."""
    model_dir = Path(model_dir)
    recorded = _json(model_dir / "config.json").get("model_type") or _json(model_dir / COMPLETE_MARKER).get("model_type")
    if recorded:
        return recorded
    # A CTranslate2 folder converted elsewhere: its tokenizer files tell.
    for family in (OPUS_MT, MADLAD, NLLB):
        if all((model_dir / name).is_file() for name in family.tokenizer_files):
            return family.model_type
    return None


def unsupported(model_type: str | None, model: str) -> MtqaError:
    kind = f"model type {model_type!r}" if model_type else "a model of unknown type"
    return MtqaError(f"{model}: {kind}; mtqa translates with {SUPPORTED} models (e.g. --model facebook/nllb-200-distilled-600M)")


def tokenizer_files(model_type: str | None, model: str) -> tuple[str, ...]:
    """The tokenizer files a model of this ``model_type`` translates with."""
    files = next((family.tokenizer_files for family in FAMILIES.values() if family.model_type == model_type), None)
    if files is None:
        raise unsupported(model_type, model)
    return files


def require_tokenizer_files(folder: Path, model: str) -> str:
    """The folder's ``model_type``, once the tokenizer files its family translates with are there; one line otherwise."""
    model_type = model_type_of(folder)
    missing = [name for name in tokenizer_files(model_type, model) if not (folder / name).is_file()]
    if missing:
        raise MtqaError(
            f"{model}: no {', '.join(missing)} in the model folder; {model_type} translation models ship it next to config.json"
        )
    return model_type


def family_for(model_type: str | None, vocabulary: set[str], model: str) -> Family:
    """The family of a model with this config ``model_type`` and vocabulary; one line naming the supported ones otherwise."""
    if model_type == "m2m_100":
        if "eng_Latn" in vocabulary:
            return NLLB
        if "__en__" in vocabulary:
            return M2M100
        raise MtqaError(
            f"{model}: an m2m_100 model whose vocabulary has neither NLLB's eng_Latn nor M2M-100's __en__; "
            f"mtqa translates with {SUPPORTED} models"
        )
    if model_type == "t5":
        if any(MADLAD.is_language_tag(token) for token in vocabulary):
            return MADLAD
        raise MtqaError(
            f"{model}: a T5 model without MADLAD-400's <2xx> language tokens (mT5 and T5 are not translation models); "
            "pass --model google/madlad400-3b-mt or another MADLAD-400 model"
        )
    if model_type == "marian":
        return OPUS_MT
    raise unsupported(model_type, model)


def _marian_pair(model_dir: Path | None, source: str) -> tuple[Language | None, Language | None]:
    """An OPUS-MT model's source and target language, from its tokenizer config or, failing that, its name."""
    config = _json(model_dir / "tokenizer_config.json") if model_dir else {}
    codes = [config.get("source_lang"), config.get("target_lang")]
    if not all(codes):
        converted_from = _json(model_dir / COMPLETE_MARKER).get("source", "") if model_dir else ""
        named = re.search(r"opus-mt-(?:tc-(?:big|base)-)?([A-Za-z]+)-([A-Za-z]+)", f"{source} {converted_from}")
        codes = [named.group(1), named.group(2)] if named else [None, None]

    def language(code: str | None) -> Language | None:
        try:
            return get_language(code) if code else None
        except MtqaError:  # "mul", "ROMANCE": a group, not a language
            return None

    return language(codes[0]), language(codes[1])


class LanguageTokens:
    """FLORES code -> the model's language token, checked against its vocabulary before any work."""

    def __init__(self, vocabulary: list[str] | set[str], family: Family, *, model_dir: Path | None = None, model: str = "") -> None:
        self.vocabulary = set(vocabulary)
        self.family = family
        self.model = model or str(model_dir)
        self._tokens: dict[str, str] = {}
        # OPUS-MT: one fixed pair, unless the vocabulary holds >>xxx<< target tokens.
        self.source_only: Language | None = None
        self.target_only: Language | None = None
        if family is OPUS_MT:
            self.source_only, target = _marian_pair(model_dir, model)
            if not any(family.is_language_tag(token) for token in self.vocabulary):
                if target is None:
                    raise MtqaError(
                        f"{self.model}: cannot tell which language this OPUS-MT model translates into; put its "
                        "tokenizer_config.json (source_lang, target_lang) next to model.bin"
                    )
                self.target_only = target

    def targets(self) -> list[Language]:
        if self.target_only is not None:
            return [self.target_only]
        return [language for language in all_languages() if self.family.token(language, self.vocabulary)]

    def sources(self) -> list[Language] | None:
        """The languages the model reads; None when any (MADLAD-400 and multi-source OPUS-MT take no source code)."""
        if self.family is OPUS_MT:
            return [self.source_only] if self.source_only else None
        return None if self.family.tag_in_source else self.targets()

    def require(self, source: Language, targets: list[Language]) -> None:
        """One line naming what the model supports, if it cannot translate ``source`` into every one of ``targets``."""
        sources = self.sources()
        if sources is not None and source not in sources:
            raise MtqaError(
                f"--model: {self.model} ({self.family.label}) does not translate from {source.name}, the source; "
                f"it translates from {_shown(sources)}"
            )
        supported = self.targets()
        missing = [language for language in targets if language not in supported]
        if missing:
            raise MtqaError(
                f"--langs: {', '.join(language.code for language in missing)} not supported by {self.model} "
                f"({self.family.label}); it translates into {_shown(supported)}"
            )

    def __call__(self, flores: str) -> str | None:
        """The language's token; None for OPUS-MT's one-pair models, which take none."""
        if self.target_only is not None:
            return None
        token = self._tokens.get(flores)
        if token is None:
            token = self._tokens[flores] = self.family.token(get_language(flores), self.vocabulary) or flores
        return token


def _shown(languages: list[Language]) -> str:
    return ", ".join(language.code for language in languages[:40]) + (f", ... ({len(languages)} in all)" if len(languages) > 40 else "")
