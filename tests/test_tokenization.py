"""The token ids fed to CTranslate2 equal what transformers' NLLB tokenizer produces."""

import json
import sys

import pytest
from transformers import AutoTokenizer

from mtqa.translate.model.translator import ModelTranslator

TEXTS = [
    "Where is the library?",
    "The Panthers defense gave up just 308 points, ranking sixth in the league.",
    "Der schnelle braune Fuchs springt über den faulen Hund.",
    "图书馆在哪里？",
    "double  spaces   inside",
]


@pytest.fixture(scope="module")
def translator(tiny_ct2):
    return ModelTranslator(tiny_ct2, device="cpu", threads=1)


@pytest.mark.parametrize("source_lang", ["eng_Latn", "deu_Latn", "zho_Hans"])
def test_ids_match_transformers(tiny_nllb, tiny_ct2, translator, source_lang):
    vocabulary = json.loads((tiny_ct2 / "shared_vocabulary.json").read_text())
    ids_of = {token: index for index, token in enumerate(vocabulary)}
    unknown = ids_of["<unk>"]
    hf = AutoTokenizer.from_pretrained(tiny_nllb, src_lang=source_lang)
    for text in TEXTS:
        ours = [ids_of.get(token, unknown) for token in translator.tokenize(text, source_lang, "deu_Latn")]
        assert ours == hf(text).input_ids, text
        assert ours[0] == hf.convert_tokens_to_ids(source_lang) and ours[-1] == hf.eos_token_id


def test_tiny_tokenizer_round_trips(tiny_nllb, translator):
    hf = AutoTokenizer.from_pretrained(tiny_nllb, src_lang="eng_Latn")
    for text in TEXTS:
        ours = translator.detokenize(translator.tokenize(text, "eng_Latn", "deu_Latn")[1:-1])
        assert hf.decode(hf(text).input_ids, skip_special_tokens=True) == ours
        assert hf.unk_token_id not in hf(text).input_ids
        if text.isascii():  # NFKC normalisation aside (e.g. full-width "？"), text comes back unchanged
            assert ours == " ".join(text.split())


def test_output_text_equals_transformers_decode_skipping_special_tokens(tiny_nllb, tiny_ct2, translator):
    """Stray language codes and other special tokens inside a hypothesis never reach the text."""
    vocabulary = json.loads((tiny_ct2 / "shared_vocabulary.json").read_text())
    ids_of = {token: index for index, token in enumerate(vocabulary)}
    hf = AutoTokenizer.from_pretrained(tiny_nllb, src_lang="eng_Latn")
    pieces = translator.tokenizer.source_sp.encode("Where is the library? The defense gave up 308 points.", out_type=str)
    hypotheses = [
        pieces[:4] + ["nno_Latn"] + pieces[4:],  # a language code mid-sentence, as NLLB emits
        ["deu_Latn", *pieces, "</s>"],
        pieces[:2] + ["<unk>", "<pad>"] + pieces[2:] + ["zho_Hans", "<s>"],
        ["fra_Latn"],
        [],
    ]
    for tokens in hypotheses:
        expected = hf.decode([ids_of[token] for token in tokens], skip_special_tokens=True)
        assert translator.detokenize(tokens) == expected.strip(), tokens
    assert "nno_Latn" not in translator.detokenize(hypotheses[0])
    # What the tiny model really emits (random weights: codes and all) decodes the same way too.
    sources = [translator.tokenize(text, "eng_Latn", "deu_Latn") for text in TEXTS]
    from mtqa.translate.model.translator import DecodingOptions

    for tokens in translator.translate_tokens(sources, ["deu_Latn"] * len(sources), DecodingOptions(beam_size=1, max_decoding_length=24)):
        assert translator.detokenize(tokens) == hf.decode([ids_of[token] for token in tokens], skip_special_tokens=True).strip()


def test_a_cache_written_before_the_special_token_fix_is_never_read(tmp_path, translator):
    from mtqa.translate.cache import TranslationCache, translation_key
    from mtqa.translate.model.translator import DecodingOptions, translate_segments

    options = DecodingOptions(beam_size=1, max_decoding_length=16)
    old_namespace = json.dumps({"model": "m", **options.__dict__}, sort_keys=True)  # version 1 had no text_version
    cache = TranslationCache(tmp_path / "cache.sqlite")
    cache.put_many([(translation_key(old_namespace, "eng_Latn", "deu_Latn", "Where is the library?"), "stale nno_Latn text")])
    translations, stats = translate_segments(
        translator, cache, options.namespace("m"), [("Where is the library?", "deu_Latn")], "eng_Latn", options, progress=False
    )
    cache.close()
    assert stats.cache_hits == 0 and stats.translated == 1
    assert translations[("Where is the library?", "deu_Latn")] != "stale nno_Latn text"


@pytest.mark.parametrize("family", ["nllb", "madlad"])
def test_tokenizer_json_gives_the_vocabulary_transformers_gives(tmp_path, family, monkeypatch):
    """The language check reads tokenizer.json without transformers: it must see what transformers' tokenizer sees."""
    import shutil

    from mtqa.testing import build_tiny_madlad, build_tiny_nllb
    from mtqa.translate.model.tokenizer import tokenizer_vocabulary

    folder = (build_tiny_nllb if family == "nllb" else build_tiny_madlad)(tmp_path / family)
    tokenizer = AutoTokenizer.from_pretrained(str(folder))
    expected = {*tokenizer.get_vocab(), *getattr(tokenizer, "lang_token_to_id", {}), *tokenizer.all_special_tokens}
    without_json = shutil.copytree(folder, tmp_path / "no-json")
    (without_json / "tokenizer.json").unlink()
    assert set(tokenizer_vocabulary(without_json)) == expected  # no tokenizer.json: transformers' tokenizer says it
    with monkeypatch.context() as blocked:
        blocked.setitem(sys.modules, "transformers", None)  # any import of transformers now fails
        assert set(tokenizer_vocabulary(folder)) == expected
