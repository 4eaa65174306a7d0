"""The Apertium family on real Apertium output (Debian's apertium-eng-spa; CI installs it)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pyarrow.parquet as pq
import pytest
from conftest import IN_CI, run_cli
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from mtqa.errors import MtqaError
from mtqa.languages import get_language
from mtqa.translate import apertium
from mtqa.translate.apertium import ApertiumPair, ApertiumTranslator
from mtqa.translate.apertium_pipeline import PipelineFailure

MISSING = "Apertium's eng-spa pair is not installed (apt-get install apertium-eng-spa)"


@pytest.fixture(scope="module")
def eng_spa() -> ApertiumPair:
    if "eng-spa" not in apertium.installed_modes() or apertium.shutil.which("apertium") is None:
        if IN_CI:  # .ci/run installs it: its absence there is a broken run
            pytest.fail(f"{MISSING}; .ci/run must install it", pytrace=False)
        pytest.skip(MISSING)
    return apertium.resolve_pairs("apertium:eng-spa", [get_language("es")])["spa_Latn"]


def corpus_rows(folder: Path) -> list[dict]:
    return pq.read_table(next((folder / "data").glob("*.parquet"))).to_pylist()


def test_the_language_table_maps_every_english_pair(tmp_path, monkeypatch):
    """Pairs are found by their mode files' names, whatever apertium has installed here."""
    modes = tmp_path / "modes"
    modes.mkdir()
    for mode in ("eng-spa", "en-gl", "eng-cat_valencia", "spa-eng", "eng-xxq"):
        (modes / f"{mode}.mode").write_text("")
    program = tmp_path / "bin" / "apertium"
    program.parent.mkdir()
    program.write_text("#!/bin/sh\n")
    program.chmod(0o755)
    monkeypatch.setenv("PATH", str(program.parent))
    targets = [get_language(code) for code in ("es", "gl", "ca")]
    pairs = apertium.resolve_pairs("apertium", targets, modes_dir=modes)
    # a variant (eng-cat_valencia) translates into its base language
    assert {flores: pair.mode for flores, pair in pairs.items()} == {
        "spa_Latn": "eng-spa",
        "glg_Latn": "en-gl",
        "cat_Latn": "eng-cat_valencia",
    }
    for mode in ("spa-eng", "eng-xxq"):  # not from English; a code the table lacks
        with pytest.raises(MtqaError, match=f"apertium:{mode}: not an English pair"):
            apertium.resolve_pairs(f"apertium:{mode}", targets[:1], modes_dir=modes)


def test_a_segment_s_newlines_keep_every_segment_aligned(eng_spa):
    translator = ApertiumTranslator({"spa_Latn": eng_spa})
    texts = ["Where is the library?", "The first line.\nThe second line.", "", "Hello.\r\nGoodbye.", "The black cat sleeps."]
    out = translator.translate_texts(texts, eng_spa)
    assert len(out) == len(texts)
    assert out[1].count("\n") == 1 and out[3].count("\n") == 1 and out[2] == ""
    assert "biblioteca" in out[0] and "gato" in out[4]  # real Spanish, each in its own place
    assert out[1] == "\n".join(translator.translate_texts(["The first line.", "The second line."], eng_spa))
    tokens = translator.translate_chunk(texts, ["spa_Latn"] * len(texts), "eng_Latn")
    assert [translator.detokenize(t) for t in tokens] == out  # the tokens give the text back exactly


def test_a_pair_missing_for_a_target_fails_before_any_work(eng_spa, small_squad, tmp_path, capsys):
    code, err = run_cli(
        "translate", "--input", small_squad, "--langs", "de", "--model", "apertium", "--output", tmp_path / "o", capsys=capsys
    )
    assert code == 1 and len(err.strip().splitlines()) == 1
    assert "no installed Apertium pair translates English into de" in err and "eng-spa" in err and "apt-get install apertium-eng-deu" in err
    code, err = run_cli(
        "translate", "--input", small_squad, "--langs", "es,de", "--model", "apertium:eng-spa", "--output", tmp_path / "o", capsys=capsys
    )
    assert code == 1 and "--langs: de not translated by apertium:eng-spa" in err
    code, err = run_cli(
        "translate", "--input", small_squad, "--langs", "es", "--model", "apertium:eng-zzz", "--output", tmp_path / "o", capsys=capsys
    )
    assert code == 1 and "pair eng-zzz is not installed" in err
    assert not (tmp_path / "o").exists()


def test_no_apertium_program_is_one_line_naming_the_package(small_squad, tmp_path, capsys, monkeypatch):
    monkeypatch.setenv("PATH", str(tmp_path))  # no apertium on it
    code, err = run_cli(
        "translate", "--input", small_squad, "--langs", "es", "--model", "apertium", "--output", tmp_path / "o", capsys=capsys
    )
    assert code == 1 and err.strip() == (
        "mtqa: error: --model apertium: no apertium program on PATH; install a pair with "
        "apt-get install apertium-eng-spa (Debian/Ubuntu), then rerun"
    )


def test_neural_options_are_refused_with_apertium(small_squad, tmp_path, capsys):
    code, err = run_cli(
        "translate",
        "--input",
        small_squad,
        "--langs",
        "es",
        "--model",
        "apertium:eng-spa",
        "--beam-size",
        "2",
        "--output",
        tmp_path / "o",
        capsys=capsys,
    )
    assert code == 2 and "--beam-size: CTranslate2 options" in err and "drop --beam-size" in err


class FakePipeline:
    """A stand-in pipeline that echoes segments, crashes on BOOM and answers DOUBLE with two segments."""

    def translate(self, segments: list[str]) -> list[str]:
        if any("BOOM" in segment for segment in segments):
            raise PipelineFailure("transfer exited with status 139 (segfault in transfer)")
        out = [piece for segment in segments for piece in (["one", "two"] if "DOUBLE" in segment else [segment])]
        if len(out) != len(segments):
            raise PipelineFailure(f"returned {len(out)} lines for {len(segments)}")
        return out


@pytest.mark.parametrize(
    "bad, why",
    [("BOOM goes the pair", "transfer exited with status 139 (segfault in transfer)"), ("a DOUBLE answer", "returned 11 lines for 10")],
)
def test_a_crashing_or_miscounting_pair_names_the_pair_and_segment(bad, why):
    pair = ApertiumPair("eng-spa", get_language("es"), None, "test")
    translator = ApertiumTranslator({"spa_Latn": pair}, binary="apertium", pipeline_of=lambda pair: FakePipeline())
    texts = [f"fine {i}" for i in range(9)]
    assert translator.translate_texts(texts, pair) == texts
    with pytest.raises(MtqaError) as error:
        translator.translate_texts(texts[:6] + [bad] + texts[6:], pair)
    assert str(error.value).startswith(f"apertium eng-spa {why} while translating the segment {bad!r}")


def xquad_segments(xquad_r: Path, count: int) -> list[str]:
    """English XQuAD-R questions and sentences, spread over every article, single lines."""
    data = json.loads((xquad_r / "en.json").read_text(encoding="utf-8"))["data"]
    segments = [
        text
        for article in data
        for paragraph in article["paragraphs"]
        for text in [*paragraph["sentences"], *(qa["question"] for qa in paragraph["qas"])]
    ]
    unique = [text.strip() for text in dict.fromkeys(segments) if text.strip() and "\n" not in text]
    return unique[:: max(1, len(unique) // count)][:count]


# Apertium's tagger once tagged "speak" differently after this question: a new ambiguity class ('known') grew its table.
LEAKY = ["Southern Californian communities are well known to be large, spread - out, and what other characteristic?"]
VICTIM = "Who went to Wittenberg to hear Luther speak?"


@pytest.fixture(scope="module")
def alone(eng_spa, xquad_r) -> dict[str, str]:
    """Each segment as the apertium command translates it in a process of its own."""
    from concurrent.futures import ThreadPoolExecutor

    segments = [*LEAKY, VICTIM, *xquad_segments(xquad_r, 40)]

    def one(segment: str) -> str:
        return subprocess.run(
            ["apertium", "-u", "eng-spa"], input=segment + "\n", capture_output=True, text=True, check=True
        ).stdout.strip()

    with ThreadPoolExecutor(4) as pool:
        return dict(zip(segments, pool.map(one, segments)))


def test_a_leaking_neighbour_does_not_change_a_segment(eng_spa, alone):
    translator = ApertiumTranslator({"spa_Latn": eng_spa})
    assert translator.translate_texts([*LEAKY, VICTIM], eng_spa) == [alone[LEAKY[0]], alone[VICTIM]]
    assert alone[VICTIM].endswith("hablar?")


@settings(max_examples=4, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(order=st.randoms(use_true_random=False), chunk=st.integers(min_value=1, max_value=45))
def test_each_segment_gets_its_translation_alone_whatever_shares_its_chunk(eng_spa, alone, order, chunk):
    segments = list(alone)
    order.shuffle(segments)
    translator = ApertiumTranslator({"spa_Latn": eng_spa})
    got = [
        text for start in range(0, len(segments), chunk) for text in translator.translate_texts(segments[start : start + chunk], eng_spa)
    ]
    assert got == [alone[segment] for segment in segments]
    ends = [alone[segment] for segment in segments if segment.endswith(".")]
    assert ends and all(text.endswith(".") for text in ends)  # full stops survive


def test_lines_of_a_segment_are_translated_alone_and_joined(eng_spa, alone):
    translator = ApertiumTranslator({"spa_Latn": eng_spa})
    assert translator.translate_texts([f"{LEAKY[0]}\n{VICTIM}", "", "  "], eng_spa) == [f"{alone[LEAKY[0]]}\n{alone[VICTIM]}", "", ""]


def test_the_cache_key_carries_the_pair_and_its_package_version(eng_spa):
    assert eng_spa.package == "apertium-eng-spa" and eng_spa.version
    upgraded = ApertiumPair(eng_spa.mode, eng_spa.target, eng_spa.package, eng_spa.version + "+1")
    assert apertium.namespace({"spa_Latn": eng_spa}, 512) != apertium.namespace({"spa_Latn": upgraded}, 512)
    assert json.loads(apertium.namespace({"spa_Latn": eng_spa}, 512))["pairs"]["spa_Latn"] == ["eng-spa", eng_spa.package, eng_spa.version]


def test_translate_killed_mid_run_resumes_from_the_cache_to_the_same_corpus(eng_spa, small_squad, tmp_path, isolated_cache, capsys):
    args = ["translate", "--input", small_squad, "--langs", "es", "--model", "apertium:eng-spa", "--max-batch-tokens", "400", "--quiet"]
    env = {**os.environ, "MTQA_CACHE": str(isolated_cache), "MTQA_CRASH_AT": "translate.chunk:3"}
    killed = subprocess.run(
        [sys.executable, "-m", "mtqa", *map(str, args), "--output", str(tmp_path / "a")], env=env, capture_output=True, text=True
    )
    assert killed.returncode == -9, killed.stderr
    assert not (tmp_path / "a").exists()  # nothing half-written
    code, err = run_cli(*args, "--output", tmp_path / "a", capsys=capsys)
    assert code == 0, err
    resumed = json.loads((tmp_path / "a" / "manifest.json").read_text())
    assert resumed["segments"]["cache_hits"] >= 2 and resumed["segments"]["translated"] > 0  # two chunks were committed before the kill
    assert resumed["model"]["family"] == "apertium" and resumed["model"]["pairs"]["spa_Latn"]["mode"] == "eng-spa"
    code, err = run_cli(*args, "--no-cache", "--output", tmp_path / "b", capsys=capsys)
    assert code == 0, err
    assert corpus_rows(tmp_path / "a") == corpus_rows(tmp_path / "b")
    card = (tmp_path / "a" / "README.md").read_text()
    assert "Apertium, the rule-based translator, pair eng-spa (apertium-eng-spa" in card


def test_filters_on_real_apertium_output_drop_exactly_the_flagged_rows(eng_spa, small_squad, tmp_path, capsys):
    common = ["translate", "--input", small_squad, "--langs", "es", "--model", "apertium:eng-spa", "--quiet"]
    assert run_cli(*common, "--output", tmp_path / "filtered", capsys=capsys)[0] == 0
    assert run_cli(*common, "--no-filter", "--output", tmp_path / "all", capsys=capsys)[0] == 0
    every = [row for row in corpus_rows(tmp_path / "all") if row["lang"] == "es"]
    kept = {row["id"] for row in corpus_rows(tmp_path / "filtered") if row["lang"] == "es"}
    from mtqa.translate.align import keeps

    flagged = {row["id"] for row in every if not keeps(row["flags"], "answer")}  # the default scope: question and answer sentence
    assert len(every) == 97 and kept == {row["id"] for row in every} - flagged
    assert 0 < len(flagged) < 0.2 * len(every)  # Apertium leaves some questions half English; most pass
    reasons = {flag.split(":")[1] for row in every for flag in row["flags"]}
    assert reasons <= {"langid", "length", "copy", "script", "repeats", "empty", "similarity"}, reasons
    manifest = json.loads((tmp_path / "filtered" / "manifest.json").read_text())
    assert manifest["counts"]["es"] == {"kept": len(kept), "dropped": len(flagged)}


def test_round_trip_flags_exactly_the_outputs_whose_back_translation_drifts(eng_spa, small_squad, tmp_path, isolated_cache, capsys):
    from mtqa.translate.filters.round_trip import sentence_chrf

    args = ["translate", "--input", small_squad, "--langs", "es", "--model", "apertium:eng-spa", "--round-trip", "--no-filter", "--quiet"]
    assert run_cli(*args, "--output", tmp_path / "a", capsys=capsys)[0] == 0
    rows = [row for row in corpus_rows(tmp_path / "a") if row["lang"] == "es"]
    english = {row["id"]: row for row in corpus_rows(tmp_path / "a") if row["lang"] == "en"}
    back = ApertiumTranslator({"eng_Latn": apertium.resolve_reverse_pair(get_language("es"))})
    questions = [row["question"] for row in rows]
    scores = [
        sentence_chrf(b, english[row["id"]]["question"]) for b, row in zip(back.translate_texts(questions, back.pairs["eng_Latn"]), rows)
    ]
    flagged = ["question:round_trip" in row["flags"] for row in rows]
    assert flagged == [score < 49.0 for score in scores] and 0 < sum(flagged) < len(rows)
    manifest = json.loads((tmp_path / "a" / "manifest.json").read_text())
    assert manifest["round_trip"]["min_chrf"] == 49.0 and manifest["round_trip"]["back_translated"] > len(rows)
    # A rerun finds every back-translation in the cache: nothing is translated again, and the verdicts are the same.
    code, err = run_cli(*args[:-1], "--output", tmp_path / "b", capsys=capsys)
    assert code == 0 and "0 translated now" in err
    assert [row["flags"] for row in corpus_rows(tmp_path / "b")] == [row["flags"] for row in corpus_rows(tmp_path / "a")]


def test_round_trip_without_a_reverse_pair_is_one_line(eng_spa, tmp_path):
    (tmp_path / "eng-spa.mode").write_text(eng_spa.mode_file.read_text())
    with pytest.raises(MtqaError) as error:
        apertium.resolve_reverse_pair(get_language("es"), tmp_path)
    assert str(error.value).startswith("--round-trip: no installed Apertium pair translates es (Spanish) back into English")
    assert apertium.resolve_reverse_pair(get_language("es")).mode == "spa-eng"  # the plain pair, not spa-eng_US
