"""`mtqa translate` end to end on the tiny model, as a user runs it."""

import json
import os
import re
from pathlib import Path

import pyarrow.parquet as pq
import pytest

FAST = ["--beam-size", "1", "--max-decoding-length", "12", "--quiet"]


from conftest import run_mtqa as mtqa  # noqa: E402

# Runs the CLI as `python -m mtqa` does, then names the heavy modules the process ended up holding.
REPORT_MODULES = (
    "import atexit, sys; "
    "atexit.register(lambda: print('heavy modules:', sorted(m for m in ('torch', 'transformers') if m in sys.modules), file=sys.stderr)); "
    "sys.argv[0] = 'mtqa'; from mtqa.cli import main; main()"
)


def test_translate_writes_an_aligned_corpus(tmp_path, tiny_nllb, small_squad, isolated_cache, capfd):
    """From a Hugging Face folder not yet converted: the conversion runs in a child, so torch never enters the translating process."""
    out = tmp_path / "out"
    result = mtqa(
        "translate",
        "--input",
        small_squad,
        "--langs",
        "de,zho_Hans",
        "--model",
        tiny_nllb,
        "--output",
        out,
        "--no-filter",
        *FAST,
        cache=isolated_cache,
        code=REPORT_MODULES,
    )
    assert result.returncode == 0, result.stderr
    assert "converted" in result.stderr and "heavy modules: []" in result.stderr, result.stderr
    assert sorted(p.name for p in out.iterdir()) == ["README.md", "data", "manifest.json"]
    manifest = json.loads((out / "manifest.json").read_text())
    assert set(manifest["memory_mib"]) <= set(manifest["timings_s"]) and "translate" in manifest["memory_mib"]
    assert all(0 < stage["rss_mib"] <= stage["peak_rss_mib"] for stage in manifest["memory_mib"].values())

    import datasets

    corpus = datasets.load_dataset("parquet", data_dir=str(out), split="train")
    assert corpus.num_rows == 97 * 3
    # The folder itself loads by its card, whose split datasets takes whole (it warned of a malformed split).
    capfd.readouterr()
    by_card = datasets.load_dataset(str(out), split="train")
    warned = capfd.readouterr().err
    assert by_card.num_rows == 97 * 3 and "malformed" not in warned, warned
    rows = corpus.to_list()
    by_key = {(row["id"], row["lang"]): row for row in rows}
    english = [row for row in rows if row["lang"] == "en"]
    empty = 0
    for row in english:
        for lang in ("de", "zh"):
            other = by_key[(row["id"], lang)]
            assert len(other["sentences"]) == len(row["sentences"])
            assert other["answer_sentence"] == row["answer_sentence"]
            assert other["question"] != row["question"]
            assert not re.search(r"[a-z]{3}_[A-Z][a-z]{3}", other["question"] + " ".join(other["sentences"]))  # no stray language codes
            empty += not other["question"]  # the random model sometimes emits language codes only: nothing is left of them
        assert row["answer_text"] in row["sentences"][row["answer_sentence"]]
    assert empty < len(english)  # most questions do come out as text
    assert [row["lang"] for row in rows[:3]] == ["en", "de", "zh"]

    manifest = json.loads((out / "manifest.json").read_text())
    segments = manifest["segments"]
    assert segments["requested"] == 2 * sum(2 + len(r["sentences"]) for r in english)
    assert segments["unique"] < segments["requested"] / 2  # passages are shared by several questions
    assert segments["translated"] == segments["pieces"] == segments["unique"] and segments["cache_hits"] == 0
    assert manifest["counts"]["de"]["kept"] == 97

    card = (out / "README.md").read_text()
    front = card.split("---")[1]
    assert "- de" in front and "- zh" in front and "size_categories" in front and "license:" in front

    again = mtqa(
        "translate",
        "--input",
        small_squad,
        "--langs",
        "de,zh",
        "--model",
        tiny_nllb,
        "--output",
        tmp_path / "again",
        "--no-filter",
        *FAST,
        cache=isolated_cache,
    )
    assert again.returncode == 0, again.stderr
    second = json.loads((tmp_path / "again" / "manifest.json").read_text())["segments"]
    assert second["translated"] == 0 and second["cache_hits"] == segments["unique"]
    assert (out / "data").joinpath(os.listdir(out / "data")[0]).read_bytes() == (tmp_path / "again" / "data").joinpath(
        os.listdir(out / "data")[0]
    ).read_bytes()


def test_filters_drop_noise_and_report_why(tmp_path, tiny_ct2, small_squad, isolated_cache):
    out = tmp_path / "out"
    args = ["translate", "--input", small_squad, "--langs", "ru", "--model", tiny_ct2, "--output", out, *FAST]
    emptied = mtqa(*args, cache=isolated_cache)  # random weights do not produce Russian: every row goes
    assert emptied.returncode == 1 and not out.exists()
    assert emptied.stderr.strip().splitlines()[-1].startswith("mtqa: error: --langs ru: the filters dropped every one of its 97 rows (")
    assert "--allow-empty" in emptied.stderr
    result = mtqa(*args, "--allow-empty", cache=isolated_cache)
    assert result.returncode == 0, result.stderr
    assert "mtqa: warning: ru: the filters dropped 97 of 97 rows (100%: " in result.stderr
    manifest = json.loads((out / "manifest.json").read_text())
    ru = manifest["counts"]["ru"]
    assert ru["kept"] == 0 and ru["dropped"] == 97
    assert manifest["filters"]["dropped_examples_by_reason"]["langid"]["ru"] > 0
    table = pq.read_table(next((out / "data").iterdir())).to_pylist()
    assert all(row["lang"] == "en" or not row["flags"] for row in table)
    assert "dropped" in result.stderr and "langid" in result.stderr  # the summary table


# Kill and resume: tests/test_faults.py kills translate at crash points and checks the resumed corpus byte for byte.


ONE_PARAGRAPH = {
    "data": [
        {
            "title": "t",
            "paragraphs": [{"context": "abc", "qas": [{"id": "1", "question": "q?", "answers": [{"text": "abc", "answer_start": 7}]}]}],
        }
    ]
}
NO_QUESTION = {
    "data": [{"title": "t", "paragraphs": [{"context": "abc", "qas": [{"id": "1", "answers": [{"text": "abc", "answer_start": 0}]}]}]}]
}


@pytest.mark.parametrize(
    "file_name, content, extra, message",
    [
        ("missing.json", None, [], "input file not found"),
        ("bad.json", "{oops", [], "not valid JSON"),
        ("empty.jsonl", "", [], "no answerable questions"),
        ("offset.json", json.dumps(ONE_PARAGRAPH), [], "outside the context"),
        ("fields.json", json.dumps(NO_QUESTION), [], "missing or empty field 'question'"),
        (None, None, ["--langs", "de,xx"], "unknown language 'xx'"),
        (None, None, ["--model", "/no/such/model"], "model folder not found"),
        (None, None, ["--langs", "en"], "no target language"),
    ],
)
def test_bad_input_is_one_line_and_leaves_nothing(tmp_path, tiny_nllb, small_squad, file_name, content, extra, message):
    path = small_squad if file_name is None else tmp_path / file_name
    if content is not None:
        path.write_text(content)
    out = tmp_path / "out"
    args = ["translate", "--input", path, "--model", tiny_nllb, "--output", out, *FAST, *extra]
    result = mtqa(*args, cache=tmp_path / "cache")
    assert result.returncode != 0
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and message in lines[0], result.stderr
    assert "Traceback" not in result.stderr
    assert not out.exists()


def test_unwritable_output_fails_before_work(tmp_path, tiny_nllb, small_squad):
    locked = tmp_path / "locked"
    locked.mkdir()
    locked.chmod(0o500)
    # root may write anywhere on disk, but not into /proc
    target = locked / "out" if os.geteuid() != 0 else Path("/proc/mtqa-test-output")
    try:
        result = mtqa("translate", "--input", small_squad, "--model", tiny_nllb, "--output", target, *FAST, cache=tmp_path / "c")
    finally:
        locked.chmod(0o700)
    lines = result.stderr.strip().splitlines()
    assert result.returncode == 1 and len(lines) == 1 and "cannot write to" in lines[0], result.stderr
    assert not target.exists()
    assert not (tmp_path / "c" / "models").exists()  # refused before converting the model


def test_output_that_is_a_file_is_refused(tmp_path, tiny_nllb, small_squad):
    target = tmp_path / "taken"
    target.write_text("keep me")
    result = mtqa("translate", "--input", small_squad, "--model", tiny_nllb, "--output", target, "--overwrite", *FAST, cache=tmp_path / "c")
    assert result.returncode == 1 and "not a directory" in result.stderr
    assert target.read_text() == "keep me"


def test_unreachable_hub_model_says_how_to_provide_one(tmp_path, small_squad):
    result = mtqa(
        "translate",
        "--input",
        small_squad,
        "--model",
        "facebook/nllb-200-distilled-600M",
        "--output",
        tmp_path / "o",
        *FAST,
        cache=tmp_path / "c",
    )
    assert result.returncode == 1
    line = result.stderr.strip().splitlines()
    assert len(line) == 1 and "--model PATH" in line[0]


def test_round_trip_back_translates_with_the_same_neural_model(tmp_path, tiny_ct2, small_squad, isolated_cache):
    """NLLB translates both ways: the back-translation goes through the same model and cache, and random weights fail the round trip."""
    out = tmp_path / "out"
    args = ["translate", "--input", small_squad, "--langs", "ru", "--model", tiny_ct2, "--round-trip", "--no-filter", *FAST]
    result = mtqa(*args, "--output", out, cache=isolated_cache)
    assert result.returncode == 0, result.stderr
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["round_trip"]["back_translated"] > 0
    assert manifest["filters"]["segment_failures"]["round_trip"]["ru"] > 0
    again = mtqa(*args, "--output", tmp_path / "again", cache=isolated_cache)
    assert again.returncode == 0 and "0 translated now" in again.stderr


def _cuda_visible() -> bool:
    import ctranslate2

    return ctranslate2.get_cuda_device_count() > 0


@pytest.mark.skipif(_cuda_visible(), reason="a CUDA device is visible: --device cuda is valid here")
def test_device_cuda_without_a_gpu_fails_before_the_model_is_converted(tmp_path, tiny_nllb, small_squad, isolated_cache):
    result = mtqa("translate", "--input", small_squad, "--langs", "de", "--model", tiny_nllb, "--device", "cuda", "--output", tmp_path / "o",
                  *FAST, cache=isolated_cache)  # fmt: skip
    assert result.returncode == 1 and result.stderr.strip().splitlines() == [
        "mtqa: error: --device cuda: CTranslate2 sees no CUDA device here; use --device cpu, or auto to take one where there is"
    ]
    assert not (isolated_cache / "models").exists()  # nothing was converted first


def test_an_unreachable_hub_dataset_fails_at_once_in_offline_mode(tmp_path, isolated_cache):
    """No network: the hub client is put in offline mode (its cache still serves) instead of retrying for half a minute."""
    result = mtqa("translate", "--input", "hf:someone/no-such-squad", "--langs", "de", "--output", tmp_path / "o", cache=isolated_cache,
                  env={"HF_ENDPOINT": "http://127.0.0.1:9"})  # fmt: skip
    assert result.returncode == 1 and "cannot load Hugging Face dataset 'someone/no-such-squad'" in result.stderr
    assert "OfflineModeIsEnabled" in result.stderr
