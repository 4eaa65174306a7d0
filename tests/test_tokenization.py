"""The token ids fed to CTranslate2 equal what transformers' NLLB tokenizer produces."""

import json

import pytest
from transformers import AutoTokenizer

from mtqa.translate.nllb import NllbTranslator

TEXTS = [
    "Where is the library?",
    "The Panthers defense gave up just 308 points, ranking sixth in the league.",
    "Der schnelle braune Fuchs springt über den faulen Hund.",
    "图书馆在哪里？",
    "double  spaces   inside",
]


@pytest.fixture(scope="module")
def translator(tiny_ct2):
    return NllbTranslator(tiny_ct2, device="cpu", threads=1)


@pytest.mark.parametrize("source_lang", ["eng_Latn", "deu_Latn", "zho_Hans"])
def test_ids_match_transformers(tiny_nllb, tiny_ct2, translator, source_lang):
    vocabulary = json.loads((tiny_ct2 / "shared_vocabulary.json").read_text())
    ids_of = {token: index for index, token in enumerate(vocabulary)}
    unknown = ids_of["<unk>"]
    hf = AutoTokenizer.from_pretrained(tiny_nllb, src_lang=source_lang)
    for text in TEXTS:
        ours = [ids_of.get(token, unknown) for token in translator.tokenize(text, source_lang)]
        assert ours == hf(text).input_ids, text
        assert ours[0] == hf.convert_tokens_to_ids(source_lang) and ours[-1] == hf.eos_token_id


def test_tiny_tokenizer_round_trips(tiny_nllb, translator):
    hf = AutoTokenizer.from_pretrained(tiny_nllb, src_lang="eng_Latn")
    for text in TEXTS:
        ours = translator.detokenize(translator.tokenize(text, "eng_Latn")[1:-1])
        assert hf.decode(hf(text).input_ids, skip_special_tokens=True) == ours
        assert hf.unk_token_id not in hf(text).input_ids
        if text.isascii():  # NFKC normalisation aside (e.g. full-width "？"), text comes back unchanged
            assert ours == " ".join(text.split())
