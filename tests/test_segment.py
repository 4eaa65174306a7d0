import json

from mtqa.formats.lareqa import answer_sentence_index
from mtqa.translate.segment import Span, split_sentences


def test_offsets_point_at_the_sentences():
    text = "Dr. Smith went to Washington, D.C. in 1990.  He met Mr. Jones there! Did it rain? Yes."
    spans = split_sentences(text)
    sentences = [text[s:e] for s, e in spans]
    assert sentences == ["Dr. Smith went to Washington, D.C. in 1990.", "He met Mr. Jones there!", "Did it rain?", "Yes."]


def test_answer_sentence_is_the_one_containing_answer_start():
    text = "One sentence here. Two sentence here.   Three."
    spans = split_sentences(text)
    assert answer_sentence_index(spans, text.index("Two")) == 1
    assert answer_sentence_index(spans, text.index("here.", 20)) == 1
    assert answer_sentence_index(spans, text.index("Three") - 1) == 2  # whitespace belongs to the next sentence
    assert answer_sentence_index([Span(0, 5)], 0) == 0


def test_agrees_with_xquad_r_sentence_breaks(xquad_r):
    """pysbd reproduces the human-checked LAReQA segmentation for most English passages."""
    document = json.loads((xquad_r / "en.json").read_text())
    paragraphs = [p for article in document["data"] for p in article["paragraphs"]]
    same = 0
    for paragraph in paragraphs:
        context = paragraph["context"]
        spans = split_sentences(context)
        same += [context[s:e] for s, e in spans] == [s.strip() for s in paragraph["sentences"]]
    assert same / len(paragraphs) >= 0.85


def test_nothing_is_lost_between_sentences(xquad_r):
    document = json.loads((xquad_r / "en.json").read_text())
    for article in document["data"][:10]:
        for paragraph in article["paragraphs"]:
            context = paragraph["context"]
            spans = split_sentences(context)
            covered = "".join(context[s:e] for s, e in spans)
            assert covered.replace(" ", "") == "".join(context.split())
