import random

import ctranslate2
import pytest

from mtqa.translate.cache import TranslationCache
from mtqa.translate.model.translator import DecodingOptions, ModelTranslator, translate_segments
from mtqa.translate.plan import split_to_fit

GREEDY = DecodingOptions(beam_size=1, max_decoding_length=12)


@pytest.fixture(scope="module")
def translator(tiny_ct2):
    return ModelTranslator(tiny_ct2, device="cpu", threads=2, max_batch_tokens=96)


@pytest.fixture(scope="module")
def sentences(xquad_r):
    import json

    document = json.loads((xquad_r / "en.json").read_text())
    return [s.strip() for article in document["data"][:2] for p in article["paragraphs"] for s in p["sentences"]][:40]


def plain_ctranslate2(model_dir, translator, segments, options):
    """The reference: one translate_batch call, as in CTranslate2's NLLB example."""
    model = ctranslate2.Translator(str(model_dir), device="cpu", intra_threads=2)
    results = model.translate_batch(
        [translator.tokenize(text, "eng_Latn", target) for text, target in segments],
        target_prefix=[[target] for _, target in segments],
        beam_size=1,
        max_decoding_length=options.max_decoding_length,
    )
    return [translator.detokenize(result.hypotheses[0][1:]) for result in results]


def test_greedy_output_equals_plain_ctranslate2(tiny_ct2, translator, sentences):
    segments = [(text, "deu_Latn") for text in sentences] + [(text, "zho_Hans") for text in sentences[:10]]
    shuffled = segments[:] + segments[:7]  # duplicated inputs
    random.Random(0).shuffle(shuffled)
    outputs, stats = translate_segments(
        translator, TranslationCache(None), "ns", shuffled, "eng_Latn", GREEDY, progress=False, chunk_tokens=200
    )
    reference = plain_ctranslate2(tiny_ct2, translator, segments, GREEDY)
    assert [outputs[segment] for segment in segments] == reference
    assert len(set(reference)) > len(reference) // 2, "the tiny model should not say the same thing for every input"
    assert stats.unique_segments == len(segments) and stats.translated == len(segments)


def test_empty_and_whitespace_inputs_translate_to_empty(translator):
    outputs, stats = translate_segments(
        translator, TranslationCache(None), "ns", [("", "deu_Latn"), ("   ", "deu_Latn")], "eng_Latn", GREEDY, progress=False
    )
    assert outputs == {("", "deu_Latn"): "", ("   ", "deu_Latn"): ""}
    assert stats.translated == 0


def test_long_input_is_split_not_truncated(tiny_ct2, translator, sentences):
    long_text = " ".join(sentences[:12])
    limit = 64
    assert len(translator.tokenize(long_text, "eng_Latn", "deu_Latn")) > 3 * limit
    options = DecodingOptions(beam_size=1, max_decoding_length=12, max_input_tokens=limit)
    outputs, stats = translate_segments(
        translator, TranslationCache(None), "ns", [(long_text, "deu_Latn")], "eng_Latn", options, progress=False
    )
    assert stats.split_long == 1 and stats.translated >= 3
    pieces = split_to_fit(long_text, lambda t: len(translator.tokenize(t, "eng_Latn", "deu_Latn")), limit)
    assert " ".join(pieces).split() == long_text.split()  # nothing dropped
    assert all(len(translator.tokenize(piece, "eng_Latn", "deu_Latn")) <= limit for piece in pieces)
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
    second, stats2 = translate_segments(
        translator, cache, "ns", segments + [(sentences[20], "spa_Latn")], "eng_Latn", GREEDY, progress=False
    )
    assert stats1.translated == 15 and stats1.cache_hits == 0
    assert stats2.translated == 1 and stats2.cache_hits == 15
    assert all(second[s] == first[s] for s in segments)
    other, stats3 = translate_segments(translator, cache, "other-options", segments[:3], "eng_Latn", GREEDY, progress=False)
    assert stats3.cache_hits == 0  # different decoding options or model: a different key


# --- alignment and filtering of translated rows ---------------------------------------------------


def _record():
    from mtqa.translate.align import segment_record
    from mtqa.translate.segment import split_sentences

    context = "The river is long. It flows through 7 countries. Boats use it."
    record = {
        "id": "q1",
        "title": "t",
        "question": "How many countries?",
        "context": context,
        "answer_text": "7",
        "answer_start": context.index("7"),
    }
    return segment_record(record, split_sentences(context))


def test_answer_text_is_null_unless_found_verbatim_in_the_answer_sentence():
    from mtqa.languages import get_language
    from mtqa.translate.align import translated_row

    record, german = _record(), get_language("de")
    no_flags = lambda source, output, language: []  # noqa: E731
    keeps_number = {"It flows through 7 countries.": "Er fließt durch 7 Länder.", "7": "sieben"}
    row = translated_row(record, german, lambda text, language: keeps_number.get(text, f"[{text}]"), no_flags)
    assert row.answer_sentence == 1 and row.answer_text == "7"  # the English span itself occurs
    spelled = {"It flows through 7 countries.": "Er fließt durch sieben Länder.", "7": "sieben"}
    row = translated_row(record, german, lambda text, language: spelled.get(text, f"[{text}]"), no_flags)
    assert row.answer_text == "sieben"  # its own translation occurs
    lost = {"It flows through 7 countries.": "Er fließt durch viele Länder.", "7": "sieben"}
    row = translated_row(record, german, lambda text, language: lost.get(text, f"[{text}]"), no_flags)
    assert row.answer_text is None  # neither: left empty, not guessed


def test_filter_scope_passage_also_drops_rows_with_a_bad_other_sentence():
    from mtqa.languages import get_language
    from mtqa.translate.align import Aligner
    from mtqa.translate.filters.chain import Filter, FilterChain, FilterOptions

    class Shouting(Filter):
        name = "shouting"

        def passes(self, source, output, language):
            return not output.isupper()

    record, german = _record(), get_language("de")
    # Only the last sentence (not the answer sentence) fails.
    translate = lambda text, language: text.upper() if text == "Boats use it." else f"de {text}"  # noqa: E731
    by_scope = {}
    for scope in ("answer", "passage"):
        aligner = Aligner(FilterChain([Shouting()]), FilterOptions(scope=scope), translate)
        by_scope[scope] = aligner, aligner.rows(record, [german])
    answer, passage = by_scope["answer"], by_scope["passage"]
    assert [row.lang for row in answer[1]] == ["en", "de"] and answer[1][1].flags == ["sentence:shouting"]
    assert [row.lang for row in passage[1]] == ["en"]
    assert passage[0].counts(["en", "de"]) == {"en": {"kept": 1, "dropped": 0}, "de": {"kept": 0, "dropped": 1}}
    assert passage[0].report()["dropped_examples_by_reason"] == {"shouting": {"de": 1}}
    assert passage[0].report()["segment_failures"] == {"shouting": {"de": 1}}
    # With filtering off the row stays, its flags still set.
    aligner = Aligner(FilterChain([Shouting()]), FilterOptions(scope="passage", enabled=False), translate)
    assert [row.flags for row in aligner.rows(record, [german])] == [[], ["sentence:shouting"]]


def test_conversion_cache_is_keyed_by_quantization_and_revision(tiny_nllb):
    from mtqa.translate.model.ct2_model import resolve_model, resolve_tokenizer

    first = resolve_model(str(tiny_nllb), quantization="int8")
    again = resolve_model(str(tiny_nllb), quantization="int8")
    other = resolve_model(str(tiny_nllb), quantization="float32")
    assert again.path == first.path and again.fingerprint == first.fingerprint
    assert other.path != first.path and other.fingerprint != first.fingerprint
    assert (first.path / "model.bin").stat().st_size < (other.path / "model.bin").stat().st_size  # int8 weights are smaller
    # no revision means "main"; every other (revision, quantization) pair is its own folder, not converted yet
    assert resolve_tokenizer(str(tiny_nllb), revision="main") == (first.path, first.fingerprint)
    assert resolve_tokenizer(str(tiny_nllb), quantization="float32", revision="main") == (other.path, other.fingerprint)
    assert resolve_tokenizer(str(tiny_nllb), revision="abc123") == (tiny_nllb, None)
