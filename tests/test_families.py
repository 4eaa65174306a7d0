"""Translation families through the same CTranslate2 path: NLLB-200, M2M-100, MADLAD-400 and OPUS-MT.

Each family's tiny random model is built as the hub lays it out, converted by mtqa's own path, and
held to transformers' tokenizer for that family: the same source ids, and greedy output equal to
plain CTranslate2 decoded by transformers.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from conftest import cache_sharing_models, run_cli

from mtqa.errors import MtqaError
from mtqa.languages import get_language
from mtqa.translate.model.families import family_for, model_type_of, read_vocabulary
from mtqa.translate.model.tokenizer import ModelTokenizer
from mtqa.translate.model.translator import DecodingOptions, ModelTranslator

SENTENCES = ["Where is the library?", "The Panthers defense gave up just 308 points, ranking sixth in the league."]
FAMILIES = ["nllb", "m2m100", "madlad", "madlad-added-tags", "opus-mt", "opus-mt-mul"]


@pytest.fixture(scope="module")
def tiny(tmp_path_factory, tiny_nllb):
    """family -> (Hugging Face folder, CTranslate2 folder converted as `mtqa translate --model` converts it)."""
    from mtqa import testing
    from mtqa.translate.model.ct2_model import resolve_model

    built: dict[str, tuple[Path, Path]] = {}

    def get(family: str) -> tuple[Path, Path]:
        if family not in built:
            if family == "nllb":
                source = tiny_nllb
            else:
                build, _ = testing.TINY_MODELS[f"tiny-{family}"]
                source = build(tmp_path_factory.mktemp(f"tiny-{family}"))
            with pytest.MonkeyPatch.context() as patch:
                patch.setenv("MTQA_CACHE", str(tmp_path_factory.mktemp(f"{family}-cache")))
                built[family] = (source, resolve_model(str(source)).path)
        return built[family]

    return get


def transformers_tokenizer(folder: Path, family: str):
    from transformers import AutoTokenizer

    source_lang = {"nllb": "eng_Latn", "m2m100": "en"}.get(family)
    return AutoTokenizer.from_pretrained(folder, **({"src_lang": source_lang} if source_lang else {}))


def transformers_source(family: str, text: str, target: str) -> str:
    """What a transformers user feeds the tokenizer to translate ``text`` into ``target`` (ISO code)."""
    if family.startswith("madlad"):
        return f"<2{target}> {text}"
    if family == "opus-mt-mul":
        return f">>{get_language(target).iso639_3}<< {text}"
    return text


@pytest.mark.parametrize("family", FAMILIES)
def test_the_family_is_read_off_config_and_vocabulary(tiny, family):
    source, converted = tiny(family)
    expected = family.replace("-mul", "").replace("-added-tags", "")
    for folder in (source, converted):  # a Hugging Face folder (config.json) and the converted one (mtqa's marker)
        assert ModelTokenizer(folder).family.name == expected
    marker = converted / "mtqa-model.json"
    marker.rename(marker.with_suffix(".bak"))
    try:  # converted elsewhere: the tokenizer files tell
        assert family_for(model_type_of(converted), set(read_vocabulary(converted)), "m").name == expected
    finally:
        marker.with_suffix(".bak").rename(marker)


def test_nllb_conversion_and_cache_keys_are_as_before_families(tiny):
    _, converted = tiny("nllb")
    assert sorted(path.name for path in converted.iterdir()) == [
        "config.json",
        "model.bin",
        "mtqa-model.json",
        "sentencepiece.bpe.model",
        "shared_vocabulary.json",
    ]
    assert (
        "family" not in json.loads(DecodingOptions().namespace("fp", "nllb"))
        and json.loads(DecodingOptions().namespace("fp", "madlad"))["family"] == "madlad"
    )


@pytest.mark.parametrize(
    "family, code, vocabulary, token",
    [
        ("opus-mt", "zh", {">>cmn_Hans<<", ">>cmn_Hant<<"}, ">>cmn_Hans<<"),
        ("opus-mt", "zho_Hant", {">>cmn_Hans<<", ">>cmn_Hant<<"}, ">>cmn_Hant<<"),
        ("opus-mt", "ar", {">>ara<<"}, ">>ara<<"),
        ("opus-mt", "de", {">>deu<<"}, ">>deu<<"),
        ("madlad", "zho_Hant", {"<2zh>", "<2zh_Hant>"}, "<2zh_Hant>"),
        ("madlad", "zh", {"<2zh>", "<2zh_Hant>"}, "<2zh>"),
        ("madlad", "nb", {"<2no>"}, "<2no>"),
        ("m2m100", "nb", {"__no__"}, "__no__"),
        ("madlad", "zho_Hant", {"<2zh>"}, None),  # never the default script's token
        ("m2m100", "zho_Hant", {"__zh__"}, None),
        ("opus-mt", "zho_Hant", {">>cmn<<", ">>zho<<", ">>zh<<"}, None),
        ("m2m100", "nso_Latn", {"__ns__"}, "__ns__"),  # M2M-100's own code for Northern Sotho
    ],
)
def test_language_tokens_follow_each_familys_codes(family, code, vocabulary, token):
    from mtqa.translate.model.families import FAMILIES

    assert FAMILIES[family].token(get_language(code), vocabulary) == token


def test_an_opus_mt_pair_is_read_off_the_model_name_when_its_config_lacks_it():
    from mtqa.translate.model.families import OPUS_MT, LanguageTokens

    languages = LanguageTokens({"</s>", "<unk>"}, OPUS_MT, model="Helsinki-NLP/opus-mt-tc-big-en-tr")
    assert languages.source_only == get_language("en") and languages.targets() == [get_language("tr")]


def test_unsupported_architectures_end_in_one_line():
    with pytest.raises(MtqaError, match="neither NLLB's eng_Latn nor M2M-100's __en__"):
        family_for("m2m_100", {"<s>", "hello"}, "m")
    with pytest.raises(MtqaError, match="a T5 model without MADLAD-400's <2xx>"):
        family_for("t5", {"<pad>", "▁the"}, "google/mt5-base")
    with pytest.raises(MtqaError, match="model type 'bert'; mtqa translates with NLLB-200 and M2M-100"):
        family_for("bert", set(), "bert-base")


@pytest.mark.parametrize("family", FAMILIES)
def test_token_ids_are_transformers_own(tiny, family):
    source, converted = tiny(family)
    tokenizer = transformers_tokenizer(source, family)
    ours = ModelTokenizer(converted)
    for text in SENTENCES + ["图书馆在哪里？", "Kütüphane   nerede?"]:  # mtqa strips every segment first
        tokens = ours.tokenize(text, "eng_Latn", "deu_Latn")
        assert tokenizer.convert_tokens_to_ids(tokens) == tokenizer(transformers_source(family, text, "de")).input_ids


def test_conversion_keeps_m2m100s_language_codes_at_the_tokenizers_ids(tiny):
    source, converted = tiny("m2m100")
    tokenizer = transformers_tokenizer(source, "m2m100")
    vocabulary = read_vocabulary(converted)
    assert len(vocabulary) == json.loads((source / "config.json").read_text())["vocab_size"]
    for token in ("__en__", "__de__", "__zh__"):
        assert vocabulary.index(token) == tokenizer.convert_tokens_to_ids(token)


@pytest.mark.parametrize("family", FAMILIES)
def test_greedy_output_is_plain_ctranslate2_decoded_by_transformers(tiny, family):
    import ctranslate2

    source, converted = tiny(family)
    tokenizer = transformers_tokenizer(source, family)
    options = DecodingOptions(beam_size=1, max_decoding_length=16)
    translator = ModelTranslator(converted, threads=1)
    targets = ["deu_Latn", "spa_Latn"]
    ours = [
        translator.detokenize(tokens)
        for tokens in translator.translate_tokens(
            [translator.tokenize(t, "eng_Latn", target) for t, target in zip(SENTENCES, targets)], targets, options
        )
    ]

    plain = ctranslate2.Translator(str(converted), intra_threads=1)
    sources = [
        tokenizer.convert_ids_to_tokens(tokenizer(transformers_source(family, text, get_language(target).code)).input_ids)
        for text, target in zip(SENTENCES, targets)
    ]
    prefixed = family in ("nllb", "m2m100")
    prefix = {"nllb": targets, "m2m100": ["__de__", "__es__"]}.get(family)
    results = plain.translate_batch(
        sources, target_prefix=[[code] for code in prefix] if prefixed else None, beam_size=1, max_decoding_length=16
    )
    hypotheses = [result.hypotheses[0][1:] if prefixed else result.hypotheses[0] for result in results]
    # A random model emits language tokens anywhere; transformers 5 no longer counts M2M-100's, MADLAD-400's or
    # OPUS-MT's as special and would keep them as text. mtqa drops them, as NLLB's decode does.
    tag = re.compile(
        {"nllb": r"[a-z]{3}_[A-Z][a-z]{3}", "m2m100": r"__[a-z]+__", "opus-mt": r">>\w+<<"}.get(family[:7], r"<2\w+>")
    ).fullmatch
    expected = [
        tokenizer.decode(tokenizer.convert_tokens_to_ids([t for t in tokens if not tag(t)]), skip_special_tokens=True).strip()
        for tokens in hypotheses
    ]
    assert ours == expected
    assert any(text for text in ours)


@pytest.mark.parametrize(
    "family, asked, supported",
    [
        ("m2m100", "ace_Arab", " de,"),
        ("madlad", "ace_Arab", " de,"),
        ("opus-mt", "zh", "into de"),
        ("opus-mt-mul", "fr", "into de, es, zh"),
    ],
)
def test_a_language_the_model_lacks_ends_in_one_line_naming_what_it_supports(tiny, family, asked, supported):
    _, converted = tiny(family)
    languages = ModelTokenizer(converted, model="the-model").languages
    languages.require(get_language("en"), [get_language("de")])  # every tiny model translates en -> de
    with pytest.raises(MtqaError) as error:
        languages.require(get_language("en"), [get_language("de"), get_language(asked)])
    message = str(error.value)
    assert "\n" not in message and f"{get_language(asked).code} not supported by the-model" in message and supported in message


def test_a_one_pair_opus_mt_model_refuses_another_source(tiny):
    _, converted = tiny("opus-mt")
    with pytest.raises(MtqaError, match="does not translate from German, the source; it translates from en"):
        ModelTokenizer(converted, model="opus").languages.require(get_language("de"), [get_language("de")])


def test_an_opus_mt_folder_without_its_pair_says_what_to_add(tiny, tmp_path):
    import shutil

    _, converted = tiny("opus-mt")
    bare = tmp_path / "ct2"
    shutil.copytree(converted, bare)
    (bare / "tokenizer_config.json").unlink()
    (bare / "mtqa-model.json").unlink()
    with pytest.raises(MtqaError, match="cannot tell which language this OPUS-MT model translates into; put its tokenizer_config.json"):
        ModelTokenizer(bare)


@pytest.mark.parametrize("family", ["m2m100", "madlad", "opus-mt"])
def test_translate_cli_writes_a_corpus_and_refuses_a_missing_language(tmp_path, tiny, family, small_squad, isolated_cache, capsys):
    source, converted = tiny(family)
    capsys.readouterr()  # building the tiny model prints its own bars
    base = ["translate", "--input", str(small_squad), "--model", str(source), "--beam-size", "1", "--max-decoding-length", "8",
            "--no-filter", "--quiet"]  # fmt: skip

    def run(*extra: str) -> tuple[int, str]:
        return run_cli(*base, *extra, capsys=capsys)

    code, err = run("--langs", "de,ace_Arab", "--output", str(tmp_path / "no"))
    assert code == 1 and len(err.strip().splitlines()) == 1 and "not supported by" in err
    assert not (tmp_path / "no").exists() and not (isolated_cache / "models").exists()  # refused before converting
    cache_sharing_models(isolated_cache, converted.parents[1])  # converted once, by the fixture, through the same path
    code, err = run("--langs", "de", "--output", str(tmp_path / "out"))
    assert code == 0, err
    manifest = json.loads((tmp_path / "out" / "manifest.json").read_text())
    assert manifest["model"]["family"] == family and manifest["counts"]["de"]["kept"] == 97


@pytest.mark.parametrize("family", ["madlad", "opus-mt-mul"])
def test_dry_run_counts_the_real_runs_tokens_where_the_target_tag_opens_the_source(tmp_path, tiny, family, small_squad, isolated_cache):
    from mtqa.translate.config import TranslateConfig
    from mtqa.translate.job import run_translate

    source, converted = tiny(family)

    def run(**extra):
        return run_translate(
            TranslateConfig(
                input=str(small_squad),
                langs=[get_language("de"), get_language("es")],
                model=str(source),
                decoding=DecodingOptions(beam_size=1, max_decoding_length=8),
                progress=False,
                allow_empty=True,  # random weights: the filters may drop a language whole
                **extra,
            )
        )

    plan = run(dry_run=True, output=None)
    assert not (isolated_cache / "models").exists()  # the tokenizer only: nothing converted
    cache_sharing_models(isolated_cache, converted.parents[1])
    segments = run(output=tmp_path / "out")["segments"]
    assert plan["total"]["pieces"] == segments["translated"] and plan["total"]["source_tokens"] == segments["source_tokens"]
