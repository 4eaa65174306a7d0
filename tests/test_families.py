"""Translation families through the same CTranslate2 path: NLLB-200 and M2M-100 (tiny random models, real conversion)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from mtqa.errors import MtqaError
from mtqa.languages import get_language
from mtqa.translate.families import LanguageTokens, detect_family, read_vocabulary
from mtqa.translate.nllb import DecodingOptions, NllbTranslator

SENTENCES = ["Where is the library?", "The Panthers defense gave up just 308 points, ranking sixth in the league."]


@pytest.fixture(scope="module")
def tiny_m2m100(tmp_path_factory) -> Path:
    from mtqa.testing import build_tiny_m2m100

    return build_tiny_m2m100(tmp_path_factory.mktemp("tiny-m2m100"))


@pytest.fixture(scope="module")
def m2m100_ct2(tiny_m2m100, tmp_path_factory) -> Path:
    """Converted through mtqa's own path, as `mtqa translate --model` converts it."""
    from mtqa.translate.ct2_model import resolve_model

    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("MTQA_CACHE", str(tmp_path_factory.mktemp("m2m100-cache")))
        return resolve_model(str(tiny_m2m100)).path


def test_the_family_is_read_off_the_vocabulary(m2m100_ct2, tiny_ct2):
    assert detect_family(set(read_vocabulary(m2m100_ct2))).name == "m2m100"
    assert detect_family(set(read_vocabulary(tiny_ct2))).name == "nllb"
    with pytest.raises(MtqaError, match="neither NLLB's eng_Latn nor M2M-100's __en__"):
        detect_family({"<s>", "hello"})


def test_conversion_keeps_m2m100s_language_codes_at_the_tokenizers_ids(tiny_m2m100, m2m100_ct2):
    from transformers import AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(tiny_m2m100)
    vocabulary = read_vocabulary(m2m100_ct2)
    config = json.loads((tiny_m2m100 / "config.json").read_text())
    assert len(vocabulary) == config["vocab_size"]
    for token in ("__en__", "__de__", "__zh__"):
        assert vocabulary.index(token) == tokenizer.convert_tokens_to_ids(token)


def test_token_ids_are_transformers_own(tiny_m2m100, m2m100_ct2):
    from transformers import AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(tiny_m2m100, src_lang="en")
    translator = NllbTranslator(m2m100_ct2, load_model=False)
    for text in SENTENCES:
        tokens = translator.tokenize(text, "eng_Latn")
        assert tokens[0] == "__en__"
        assert tokenizer.convert_tokens_to_ids(tokens) == tokenizer(text).input_ids


def test_greedy_output_is_plain_ctranslate2_decoded_by_transformers(tiny_m2m100, m2m100_ct2):
    import ctranslate2
    from transformers import AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(tiny_m2m100, src_lang="en")
    options = DecodingOptions(beam_size=1, max_decoding_length=16)
    translator = NllbTranslator(m2m100_ct2)
    ours = [translator.detokenize(tokens) for tokens in
            translator.translate_tokens([translator.tokenize(t, "eng_Latn") for t in SENTENCES], ["deu_Latn"] * 2, options)]
    plain = ctranslate2.Translator(str(m2m100_ct2), intra_threads=1)
    sources = [tokenizer.convert_ids_to_tokens(tokenizer(t).input_ids) for t in SENTENCES]
    results = plain.translate_batch(sources, target_prefix=[["__de__"]] * 2, beam_size=1, max_decoding_length=16)
    # transformers 5's M2M100Tokenizer no longer counts __xx__ codes as special, so its decode would keep a code the
    # random model emits mid-sentence; mtqa drops them, as transformers 4 and NLLB's decode do.
    codes = set(tokenizer.lang_token_to_id)
    expected = [tokenizer.decode(tokenizer.convert_tokens_to_ids([t for t in r.hypotheses[0][1:] if t not in codes]), skip_special_tokens=True)
                for r in results]
    assert ours == [text.strip() for text in expected]


def test_a_language_the_model_lacks_ends_in_one_line_naming_what_it_supports(m2m100_ct2):
    tokens = LanguageTokens(read_vocabulary(m2m100_ct2))
    tokens.require([get_language("en"), get_language("de")], "m2m")  # both known
    with pytest.raises(MtqaError) as error:
        tokens.require([get_language("en"), get_language("ace_Arab")], "m2m")
    message = str(error.value)
    assert "\n" not in message and "ace_Arab not supported by m2m (M2M-100)" in message and "it translates" in message and " de," in message


def test_translate_cli_on_m2m100_writes_a_corpus_and_refuses_a_missing_language(tmp_path, tiny_m2m100, small_squad, isolated_cache):
    env = {**os.environ, "MTQA_CACHE": str(isolated_cache)}
    base = [sys.executable, "-m", "mtqa", "translate", "--input", str(small_squad), "--model", str(tiny_m2m100), "--beam-size", "1",
            "--max-decoding-length", "8", "--no-filter", "--quiet"]
    done = subprocess.run(base + ["--langs", "de", "--output", str(tmp_path / "out")], capture_output=True, text=True, env=env)
    assert done.returncode == 0, done.stderr
    manifest = json.loads((tmp_path / "out" / "manifest.json").read_text())
    assert manifest["model"]["family"] == "m2m100" and manifest["counts"]["de"]["kept"] == 97
    refused = subprocess.run(base + ["--langs", "ace_Arab", "--output", str(tmp_path / "no")], capture_output=True, text=True, env=env)
    assert refused.returncode == 1 and len(refused.stderr.strip().splitlines()) == 1 and "not supported by" in refused.stderr
    assert not (tmp_path / "no").exists()
