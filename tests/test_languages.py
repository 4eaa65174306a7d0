import pytest

from mtqa.errors import MtqaError
from mtqa.languages import PAPER_TARGETS, all_languages, get_language, parse_languages


def test_every_nllb_language_is_in_the_table():
    from transformers.models.nllb.tokenization_nllb import FAIRSEQ_LANGUAGE_CODES

    assert [language.flores for language in all_languages()] == list(FAIRSEQ_LANGUAGE_CODES)
    codes = [language.code for language in all_languages()]
    assert len(codes) == len(set(codes))


@pytest.mark.parametrize(
    "code, flores",
    [
        ("de", "deu_Latn"),
        ("deu_Latn", "deu_Latn"),
        ("DEU_LATN", "deu_Latn"),
        ("zh", "zho_Hans"),
        ("ar", "arb_Arab"),
        ("deu", "deu_Latn"),
        ("no", "nob_Latn"),
    ],
)
def test_codes_resolve(code, flores):
    assert get_language(code).flores == flores


def test_paper_targets_resolve_in_order():
    assert [language.flores for language in parse_languages(",".join(PAPER_TARGETS))] == [
        "arb_Arab",
        "zho_Hans",
        "deu_Latn",
        "hin_Deva",
        "rus_Cyrl",
        "spa_Latn",
        "tha_Thai",
        "tur_Latn",
    ]


def test_unknown_code_suggests_near_matches():
    with pytest.raises(MtqaError, match=r"unknown language 'deu_Ltn'.*deu_Latn|unknown language 'deu_Ltn'.*\bde\b"):
        get_language("deu_Ltn")


def test_a_language_named_twice_and_an_empty_list_are_refused():
    with pytest.raises(MtqaError, match=r"^--langs: es and spa_Latn are both Spanish \(es\); give it once$"):
        parse_languages("es,spa_Latn")
    assert [language.code for language in parse_languages("de,es")] == ["de", "es"]
    with pytest.raises(MtqaError):
        parse_languages(" , ")
