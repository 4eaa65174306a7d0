"""What users share and trust: output permissions follow the umask; a non-English translate input is called out."""

from __future__ import annotations

import json
import os
import re

import pytest

from mtqa.output import atomic_directory, atomic_write
from mtqa.translate.inputs import warn_if_not_english


@pytest.mark.parametrize("umask, folder_mode, file_mode", [(0o022, 0o755, 0o644), (0o077, 0o700, 0o600)])
def test_outputs_follow_the_umask(tmp_path, umask, folder_mode, file_mode):
    previous = os.umask(umask)
    try:
        with atomic_directory(tmp_path / "out") as staging:
            atomic_write(staging / "report.json", "{}")
            (staging / "model").mkdir(mode=0o700)
            (staging / "model" / "model.safetensors").write_bytes(b"")
            os.chmod(staging / "model" / "model.safetensors", 0o600)  # as safetensors writes weights, whatever the umask
    finally:
        os.umask(previous)
    assert (tmp_path / "out").stat().st_mode & 0o777 == folder_mode  # mkdtemp alone would give 0700
    assert (tmp_path / "out" / "report.json").stat().st_mode & 0o777 == file_mode
    assert (tmp_path / "out" / "model").stat().st_mode & 0o777 == folder_mode
    assert (tmp_path / "out" / "model" / "model.safetensors").stat().st_mode & 0o777 == file_mode


def questions(xquad_r, lang: str) -> list[str]:
    document = json.loads((xquad_r / f"{lang}.json").read_text(encoding="utf-8"))
    return [qa["question"] for article in document["data"][:2] for paragraph in article["paragraphs"] for qa in paragraph["qas"]]


def test_a_german_input_gets_one_warning_naming_its_language(xquad_r, capsys):
    warn_if_not_english(questions(xquad_r, "de"), "de.json")
    err = capsys.readouterr().err
    assert err.startswith("mtqa: warning: --input de.json looks like German (de), not English") and err.count("\n") == 1
    warn_if_not_english(questions(xquad_r, "en"), "en.json")
    assert capsys.readouterr().err == ""


def test_a_one_off_step_is_one_line_with_its_time_and_a_failure_adds_none(capsys):
    from mtqa.stages import announced

    with announced("converted a"):
        pass
    assert re.fullmatch(r"mtqa: converted a in \d+\.\d s\n", capsys.readouterr().err)
    with pytest.raises(ValueError), announced("converted b"):
        raise ValueError("broken")
    assert capsys.readouterr().err == ""  # the error's own line stays the only one


def test_messages_and_warnings_share_one_setup(capsys):
    from mtqa import log

    log.setup()
    log.info("skipped 2 bad rows")
    log.warning("the cache was damaged")
    assert capsys.readouterr().err.splitlines() == ["mtqa: skipped 2 bad rows", "mtqa: warning: the cache was damaged"]
    ours = log.one_line_warning("a warning of mtqa's own", UserWarning, str(log.PACKAGE / "train" / "trainer.py"), 1)
    theirs = log.one_line_warning("deprecated", FutureWarning, "/site-packages/transformers/x.py", 7)
    assert (
        ours == "mtqa: warning: a warning of mtqa's own\n" and theirs == "/site-packages/transformers/x.py:7: FutureWarning: deprecated\n"
    )


def test_a_merged_model_is_readable_as_the_umask_says(tmp_path, tiny_xlmr, capsys):
    """sentence-transformers' save writes model.safetensors 0600; the saved folder follows the umask like every output."""
    from conftest import run_cli

    previous = os.umask(0o022)
    try:
        code, err = run_cli("merge", tiny_xlmr, tiny_xlmr, "--lam", "0.5", "--output", tmp_path / "merged", capsys=capsys)
    finally:
        os.umask(previous)
    assert code == 0, err
    modes = {path.name: path.stat().st_mode & 0o777 for path in (tmp_path / "merged").rglob("*") if path.is_file()}
    assert modes["model.safetensors"] == 0o644 and set(modes.values()) == {0o644}
