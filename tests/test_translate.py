import random

import ctranslate2
import pytest

from mtqa.cache import TranslationCache
from mtqa.translate import DecodingOptions, NllbTranslator, split_to_fit, translate_segments

GREEDY = DecodingOptions(beam_size=1, max_decoding_length=12)


@pytest.fixture(scope="module")
def translator(tiny_ct2):
    return NllbTranslator(tiny_ct2, device="cpu", threads=2, max_batch_tokens=96)


@pytest.fixture(scope="module")
def sentences(xquad_r):
    import json

    document = json.loads((xquad_r / "en.json").read_text())
    return [s.strip() for article in document["data"][:2] for p in article["paragraphs"] for s in p["sentences"]][:40]


def plain_ctranslate2(model_dir, translator, segments, options):
    """The reference: one translate_batch call, as in CTranslate2's NLLB example."""
    model = ctranslate2.Translator(str(model_dir), device="cpu", intra_threads=2)
    results = model.translate_batch(
        [translator.tokenize(text, "eng_Latn") for text, _ in segments],
        target_prefix=[[target] for _, target in segments],
        beam_size=1,
        max_decoding_length=options.max_decoding_length,
    )
    return [translator.detokenize(result.hypotheses[0][1:]) for result in results]


def test_greedy_output_equals_plain_ctranslate2(tiny_ct2, translator, sentences):
    segments = [(text, "deu_Latn") for text in sentences] + [(text, "zho_Hans") for text in sentences[:10]]
    shuffled = segments[:] + segments[:7]  # duplicated inputs
    random.Random(0).shuffle(shuffled)
    outputs, stats = translate_segments(translator, TranslationCache(None), "ns", shuffled, "eng_Latn", GREEDY, progress=False, chunk_tokens=200)
    reference = plain_ctranslate2(tiny_ct2, translator, segments, GREEDY)
    assert [outputs[segment] for segment in segments] == reference
    assert len(set(reference)) > len(reference) // 2, "the tiny model should not say the same thing for every input"
    assert stats.unique_segments == len(segments) and stats.translated == len(segments)


def test_empty_and_whitespace_inputs_translate_to_empty(translator):
    outputs, stats = translate_segments(translator, TranslationCache(None), "ns", [("", "deu_Latn"), ("   ", "deu_Latn")], "eng_Latn", GREEDY, progress=False)
    assert outputs == {("", "deu_Latn"): "", ("   ", "deu_Latn"): ""}
    assert stats.translated == 0


def test_long_input_is_split_not_truncated(tiny_ct2, translator, sentences):
    long_text = " ".join(sentences[:12])
    limit = 64
    assert len(translator.tokenize(long_text, "eng_Latn")) > 3 * limit
    options = DecodingOptions(beam_size=1, max_decoding_length=12, max_input_tokens=limit)
    outputs, stats = translate_segments(translator, TranslationCache(None), "ns", [(long_text, "deu_Latn")], "eng_Latn", options, progress=False)
    assert stats.split_long == 1 and stats.translated >= 3
    pieces = split_to_fit(long_text, lambda t: len(translator.tokenize(t, "eng_Latn")), limit)
    assert " ".join(pieces).split() == long_text.split()  # nothing dropped
    assert all(len(translator.tokenize(piece, "eng_Latn")) <= limit for piece in pieces)
    reference = plain_ctranslate2(tiny_ct2, translator, [(piece, "deu_Latn") for piece in pieces], options)
    assert outputs[(long_text, "deu_Latn")] == " ".join(reference)


def test_split_to_fit_handles_text_without_spaces():
    text = "字" * 100
    pieces = split_to_fit(text, len, 30)
    assert "".join(pieces) == text and all(len(piece) <= 30 for piece in pieces)


def test_cache_serves_a_second_run(tmp_path, translator, sentences):
    segments = [(text, "spa_Latn") for text in sentences[:15]]
    cache = TranslationCache(tmp_path / "cache.sqlite")
    first, stats1 = translate_segments(translator, cache, "ns", segments, "eng_Latn", GREEDY, progress=False)
    second, stats2 = translate_segments(translator, cache, "ns", segments + [(sentences[20], "spa_Latn")], "eng_Latn", GREEDY, progress=False)
    assert stats1.translated == 15 and stats1.cache_hits == 0
    assert stats2.translated == 1 and stats2.cache_hits == 15
    assert all(second[s] == first[s] for s in segments)
    other, stats3 = translate_segments(translator, cache, "other-options", segments[:3], "eng_Latn", GREEDY, progress=False)
    assert stats3.cache_hits == 0  # different decoding options or model: a different key
