"""The cross-lingual similarity filter and the calibrated surface filters, on real text and end to end."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from conftest import run_cli

from mtqa.languages import get_language
from mtqa.translate.filters.chain import LengthRatioFilter, MixedScriptFilter, RepetitionFilter, SimilarityFilter
from mtqa.translate.filters.similarity import best_rival_cosine, best_rival_translation_cosine, symmetric_prefix

GERMAN, CHINESE, GREEK, THAI = get_language("de"), get_language("zh"), get_language("el"), get_language("th")


def test_rivals_are_the_other_sources_of_the_pairs_group():
    sources = np.eye(3, dtype=np.float32)
    outputs = np.array([[0.9, 0.4, 0.0], [0.0, 0.2, 0.9]], dtype=np.float32)
    source_index, output_index = np.array([0, 1, 2]), np.array([0, 1, 1])
    # No groups: every source of the language is a rival; pair 1 (source 1) is beaten by source 2, a negative margin.
    assert best_rival_cosine(sources, outputs, source_index, output_index, None).tolist() == pytest.approx([0.4, 0.9, 0.2])
    # Source 2 in a passage of its own is no rival of source 1, and has none itself.
    best = best_rival_cosine(sources, outputs, source_index, output_index, ["a", "a", "b"])
    assert best[:2].tolist() == pytest.approx([0.4, 0.0]) and np.isneginf(best[2])


def test_source_rivals_are_the_translations_of_the_groups_other_sources():
    sources = np.eye(3, dtype=np.float32)
    outputs = np.array([[0.9, 0.4, 0.0], [0.0, 0.2, 0.9], [0.1, 0.1, 0.95]], dtype=np.float32)
    own = np.array([0, 1, 2])
    # Source 1's best rival translation is source 0's (0.4); source 2 finds source 1's translation closer (0.9) than... its own 0.95.
    assert best_rival_translation_cosine(sources, outputs, own, own, None).tolist() == pytest.approx([0.1, 0.4, 0.9])
    best = best_rival_translation_cosine(sources, outputs, own, own, ["a", "a", "b"])
    assert best[:2].tolist() == pytest.approx([0.0, 0.4]) and np.isneginf(best[2])
    # A translation two sources share is neither's rival; nor is another output of the same source.
    two_owners = best_rival_translation_cosine(sources, outputs, np.array([0, 1, 2]), np.array([0, 0, 2]), None)
    assert two_owners.tolist() == pytest.approx([0.1, 0.1, 0.0])  # not 0.9: sources 0 and 1 share translation 0, their own
    shared = best_rival_translation_cosine(sources, outputs, np.array([0, 0, 1]), np.array([0, 1, 2]), None)
    assert shared.tolist() == pytest.approx([0.1, 0.1, 0.4])


def test_e5_models_get_their_symmetric_prefix():
    assert symmetric_prefix("offline-me5") == "query: "
    assert symmetric_prefix("intfloat/multilingual-e5-base") == "query: "
    assert symmetric_prefix("sentence-transformers/LaBSE") == ""


def test_mixed_script_fails_drift_into_another_script_but_not_names():
    mixed = MixedScriptFilter()
    assert mixed.passes("", "Πόσους πόντους σημείωσε ο Peyton Manning στο Super Bowl 50;", GREEK)
    assert not mixed.passes("", "Πόσους πόντους σημείωσε did Peyton Manning score in the game?", GREEK)
    assert not mixed.passes("", "Wie viele Punkte сколько очков набрал он в игре?", GERMAN)
    assert mixed.passes("", "谁赢得了第50届超级碗 (Super Bowl 50)?", CHINESE)


def test_mixed_script_lets_terms_kept_from_the_source_through():
    # XQuAD-R's human Greek keeps sports terms in English: one or two words that are in the source.
    mixed = MixedScriptFilter()
    source = "Who lost to the Broncos in the divisional round?"
    assert mixed.passes(source, "Ποιος έχασε από τους Μπρόνκος στο divisional round;", GREEK)
    assert mixed.passes("How many tackles did Luke Kuechly register?", "Πόσα tackles κατέγραψε ο Luke Kuechly;", GREEK)
    # The same words not in the source, or a longer run of the source (names inside it included), are drift.
    assert not mixed.passes("Who lost to the Broncos?", "Ποιος έχασε από τους Μπρόνκος στο divisional round;", GREEK)
    assert not mixed.passes("How many tackles did Luke Kuechly register?", "Πόσα tackles did Luke Kuechly register;", GREEK)
    assert not MixedScriptFilter(max_borrowed_words=0).passes(source, "Ποιος έχασε από τους Μπρόνκος στο divisional round;", GREEK)


def test_length_ratio_is_calibrated_on_the_runs_own_outputs():
    source = "How many points did the Broncos score in the first half?"
    good, third = "野马队上半场得了多少分？", "野马队上"
    lengths = LengthRatioFilter()
    # No calibration yet: Chinese's script constant (0.3) is the expectation.
    assert lengths.passes(source, good, CHINESE)
    # A run whose Chinese outputs run at ~0.4 characters per English one; copies of the English are left out.
    run = [(source + "x" * i, "字" * round(0.4 * len(source + "x" * i)), CHINESE) for i in range(30)]
    lengths.prepare(run + [(source, source, CHINESE)] * 40)
    assert lengths.expected["zh"] == pytest.approx(0.4, abs=0.02)
    assert lengths.passes(source, "字" * round(0.4 * len(source)), CHINESE)
    assert not lengths.passes(source, third, CHINESE)  # cut to a third
    assert lengths.report() == {"expected_ratio": {"zh": round(lengths.expected["zh"], 3)}}


def test_repetition_loop_glued_to_chinese_text_is_caught():
    looped = "谁赢得了 Super Bowl 50 的比赛" + "的比赛" * 6
    assert not RepetitionFilter().passes("Who won Super Bowl 50?", looped, CHINESE)
    assert RepetitionFilter().passes("Who won Super Bowl 50?", "谁赢得了 Super Bowl 50 的比赛", CHINESE)
    dates = "该队在 Smith 教练的带领下于 2001 年、2002 年、2003 年和 2004 年赢得冠军。"  # numbers repeat digits, not a loop
    assert RepetitionFilter().passes("Under coach Smith the team won in 2001, 2002, 2003 and 2004.", dates, CHINESE)


def test_repetition_judges_thai_by_longer_character_ngrams():
    # A Thai question has no spaces: ที่ ("that") four times and few distinct letters over 85 characters is not a loop.
    source = "Who has the record of being the oldest quarter back in any Super Bowl game?"
    thai = "ใครเป็นเจ้าของสถิติควอเตอร์แบ็กที่อายุมากที่สุดที่เล่นในซูเปอร์โบว์ลทุกครั้งที่ผ่านมา"
    assert RepetitionFilter().passes(source, thai, THAI)
    assert not RepetitionFilter().passes(source, thai + "ผ่านมา" * 6, THAI)
    assert not RepetitionFilter().passes(source, thai + "มา" * 12, THAI)
    assert not RepetitionFilter().passes("Who won?", "ичหเ{{{{{{{", THAI)  # a short loop back to back, however few characters
    assert not RepetitionFilter().passes("Water", "Wasserwasserwasserwasserwasser", GERMAN)  # a loop inside one word
    for text in ("他笑道：哈哈哈哈。", "人口在二〇〇〇年增长到一〇〇〇〇。", "等等.....谁"):  # four or five of a kind is text
        assert RepetitionFilter().passes("He laughed.", text, CHINESE), text


@pytest.fixture(scope="module")
def me5_cache(me5_model_cache) -> Path:
    """A model cache holding offline-me5 once converted."""
    return me5_model_cache


def _questions(xquad_r: Path, lang: str) -> dict[str, str]:
    from mtqa.formats import lareqa

    return {qa.id: qa.question for paragraph in lareqa.read_language(xquad_r / f"{lang}.json", {0, 1}) for qa in paragraph.questions}


def test_similarity_filter_tells_a_translation_from_a_translation_of_another_question(xquad_r, me5_cache, monkeypatch):
    """XQuAD-R's human translations pass; the same texts paired with a different English question fail, and the vectors are cached."""
    from mtqa.translate.cache import TranslationCache

    monkeypatch.setenv("MTQA_CACHE", str(me5_cache))
    english = _questions(xquad_r, "en")
    segments, swapped = [], []
    for language in (GERMAN, CHINESE):
        translated = _questions(xquad_r, language.code)
        ids = [qid for qid in english if qid in translated]
        segments += [(english[qid], translated[qid], language) for qid in ids]
        # Question i's English source with question i+7's translation: a fluent translation of the wrong sentence.
        swapped += [(english[qid], translated[ids[(i + 7) % len(ids)]], language) for i, qid in enumerate(ids)]
    cache = TranslationCache(me5_cache / "vectors.sqlite")
    similarity = SimilarityFilter(cache=cache)
    similarity.prepare(segments + swapped)
    good_pass = np.mean([similarity.passes(*segment) for segment in segments])
    bad_fail = np.mean([not similarity.passes(*segment) for segment in swapped])
    assert len(segments) > 150 and good_pass >= 0.95 and bad_fail >= 0.9, (good_pass, bad_fail)
    cosine = similarity.scores.cosine
    assert (
        np.mean([cosine[(s, o, lang.code)] for s, o, lang in segments])
        > np.mean([cosine[(s, o, lang.code)] for s, o, lang in swapped]) + 0.05
    )
    first = similarity.report()
    assert first["texts_encoded"] > 0 and first["texts_from_cache"] == 0

    again = SimilarityFilter(cache=cache)
    again.prepare(segments + swapped)  # every vector from the cache: the model is not even loaded
    assert again.report()["texts_encoded"] == 0 and again.scorer._model is None
    assert again.scores.cosine == similarity.scores.cosine and again.scores.margin == similarity.scores.margin
    cache.close()


def test_translate_with_the_similarity_filter_reports_its_distributions(tmp_path, tiny_ct2, tiny_xlmr, small_squad, isolated_cache, capsys):
    """End to end through the CLI with any model train-eval accepts (here a tiny random XLM-R): manifest and card."""
    out = tmp_path / "out"
    env = {**os.environ, "MTQA_CACHE": str(isolated_cache)}
    arguments = [
        "translate",
        "--input",
        str(small_squad),
        "--langs",
        "de,zh",
        "--allow-empty",
        "--model",
        str(tiny_ct2),
        "--beam-size",
        "1",
        "--max-decoding-length",
        "12",
        "--quiet",
        "--similarity",
        "--similarity-model",
        str(tiny_xlmr),
        "--min-similarity",
        "0.99",
    ]
    code, err = run_cli(*arguments, "--output", out, capsys=capsys)
    assert code == 0, err
    manifest = json.loads((out / "manifest.json").read_text())
    similarity = manifest["similarity"]
    assert similarity["model"] == str(tiny_xlmr) and similarity["min_similarity"] == 0.99 and similarity["texts_encoded"] > 0
    assert set(similarity["languages"]) == {"de", "zh"}
    failures = manifest["filters"]["segment_failures"]["similarity"]
    for code, item in similarity["languages"].items():
        assert item["pairs"] > 50 and item["failed"] == failures[code]
        assert item["cosine"]["p5"] <= item["cosine"]["p50"] <= item["cosine"]["p95"] <= 1.0
        assert item["margin"] is not None  # the run has more than enough sources for a margin
    assert "filter_prepare" in manifest["timings_s"]
    card = (out / "README.md").read_text()
    assert "The similarity filter encoded" in card and "| cosine p5 |" in card

    # The same run again, in a process of its own: every vector comes from the cache, the manifest's scores are identical.
    command = [sys.executable, "-m", "mtqa", *arguments, "--output", str(tmp_path / "again")]
    again = subprocess.run(command, capture_output=True, text=True, env=env)
    assert again.returncode == 0, again.stderr
    second = json.loads((tmp_path / "again" / "manifest.json").read_text())["similarity"]
    assert second["texts_encoded"] == 0 and second["texts_from_cache"] == similarity["texts_encoded"]
    assert second["languages"] == similarity["languages"]


def test_bench_filters_builds_each_corruption_as_described():
    from bench.filters.corruptions import KINDS, make_examples

    questions = {
        "en": {"a": "Who won the game in the end?", "b": "Where was the game played?"},
        "de": {"a": "Wer hat das Spiel am Ende gewonnen?", "b": "Wo wurde das Spiel ausgetragen?"},
        "ru": {"a": "Кто выиграл игру в конце?", "b": "Где проходила игра?"},
    }
    examples = make_examples(questions, {"0": ["a", "b"]})
    german_a = {e["kind"]: e["output"] for e in examples if e["lang"] == "de" and e["id"] == "a"}
    assert set(german_a) == {"good", *KINDS}
    assert german_a["good"] == questions["de"]["a"] and german_a["copy"] == questions["en"]["a"] and german_a["empty"] == ""
    assert german_a["wrong_language"] == questions["ru"]["a"]
    assert german_a["other_question"] == german_a["nearby_question"] == questions["de"]["b"]
    assert german_a["truncated"] == questions["de"]["a"][: len(questions["de"]["a"]) // 3].rstrip()
    assert german_a["repetition"].startswith(questions["de"]["a"]) and german_a["repetition"].count("am Ende gewonnen?") == 7
    assert german_a["mixed_script"].startswith("Wer hat das Spi") and german_a["mixed_script"].endswith("в конце?")


def test_model_weights_are_read_once_per_version(tmp_path, monkeypatch):
    """A model's weights name its cached vectors; their hash is remembered by path, size and mtime, not re-read each run."""
    from mtqa import paths

    monkeypatch.setenv("MTQA_CACHE", str(tmp_path / "cache"))
    weights = tmp_path / "model.safetensors"
    weights.write_bytes(os.urandom(paths.MEMO_MIN_BYTES + 1))
    first = paths.remembered_file_sha256(weights)
    assert first == paths.file_sha256(weights)
    reads = []
    real_sha256 = paths.file_sha256
    monkeypatch.setattr(paths, "file_sha256", lambda path: reads.append(path) or real_sha256(path))
    assert paths.remembered_file_sha256(weights) == first and reads == []
    weights.write_bytes(os.urandom(paths.MEMO_MIN_BYTES + 1))  # new weights, in place
    os.utime(weights, ns=(weights.stat().st_atime_ns, weights.stat().st_mtime_ns + 10**9))
    second = paths.remembered_file_sha256(weights)
    assert second == real_sha256(weights) != first and len(reads) == 1
    memo = json.loads((tmp_path / "cache" / paths.HASH_MEMO).read_text())
    assert list(memo.values()) == [second]  # the stale entry is gone
    (tmp_path / "cache" / paths.HASH_MEMO).write_text("not json")
    assert paths.remembered_file_sha256(weights) == second  # a damaged memo is ignored, and rewritten
    assert list(json.loads((tmp_path / "cache" / paths.HASH_MEMO).read_text()).values()) == [second]
