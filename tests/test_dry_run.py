"""`mtqa translate --dry-run`: the plan's counts are the real run's, without loading (or converting) the model."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from mtqa.languages import get_language
from mtqa.translate.config import TranslateConfig
from mtqa.translate.job import run_translate
from mtqa.translate.model.translator import DecodingOptions

FAST_DECODING = DecodingOptions(beam_size=1, max_decoding_length=12)


def config(small_squad, model, output=None, **extra) -> TranslateConfig:
    return TranslateConfig(
        input=str(small_squad),
        output=output,
        langs=[get_language("de"), get_language("zh")],
        model=str(model),
        decoding=FAST_DECODING,
        progress=False,
        allow_empty=True,  # the tiny model's random output fails every filter
        **extra,
    )


def test_dry_run_counts_what_the_real_run_translates_and_then_what_the_cache_holds(
    tmp_path, tiny_ct2, small_squad, monkeypatch, isolated_cache
):
    import ctranslate2

    real_translator = ctranslate2.Translator

    def no_model(*args, **kwargs):
        raise AssertionError("a dry run must not load the model")

    monkeypatch.setattr(ctranslate2, "Translator", no_model)
    before = run_translate(config(small_squad, tiny_ct2, dry_run=True, assume_tokens_per_second=100.0))
    assert not (isolated_cache / "translations.sqlite").exists()  # a dry run writes nothing, not even an empty cache
    assert not before["cache_consulted"] and before["cache_reason"].startswith("no translation cache yet at")
    monkeypatch.setattr(ctranslate2, "Translator", real_translator)

    manifest = run_translate(config(small_squad, tiny_ct2, output=tmp_path / "out"))
    segments = manifest["segments"]
    total = before["total"]
    assert total["cached_pieces"] == 0
    assert before["requested"] == segments["requested"] and total["segments"] == segments["unique"]
    assert total["pieces"] == segments["pieces"] == segments["translated"]
    assert total["source_tokens"] == total["tokens_to_translate"] == segments["source_tokens"]
    assert set(before["per_target"]) == {"deu_Latn", "zho_Hans"}
    assert sum(row["segments"] for row in before["per_target"].values()) == total["segments"]
    assert before["hours"] == pytest.approx(total["tokens_to_translate"] / 100.0 / 3600)

    monkeypatch.setattr(ctranslate2, "Translator", no_model)
    after = run_translate(config(small_squad, tiny_ct2, dry_run=True, assume_tokens_per_second=100.0))
    assert after["total"]["cached_pieces"] == total["pieces"] and after["total"]["tokens_to_translate"] == 0 and after["hours"] == 0
    assert after["cache_consulted"] and after["cache_reason"] is None
    assert run_translate(config(small_squad, tiny_ct2, dry_run=True, use_cache=False))["cache_reason"] == "--no-cache"


def test_dry_run_on_an_unconverted_model_reads_its_tokenizer_and_converts_nothing(tiny_nllb, tiny_ct2, small_squad, isolated_cache):
    plan = run_translate(config(small_squad, tiny_nllb, dry_run=True))
    assert not (isolated_cache / "models").exists()  # nothing converted
    assert not plan["cache_consulted"] and plan["total"]["cached_pieces"] == 0
    assert plan["cache_reason"].startswith("the model is not converted yet") or plan["cache_reason"].startswith("no translation cache yet")
    same = run_translate(config(small_squad, tiny_ct2, dry_run=True))  # the converted copy: the same tokenizer
    assert same["total"]["source_tokens"] == plan["total"]["source_tokens"] and same["per_target"] == plan["per_target"]


def test_dry_run_cli_prints_the_plan_and_writes_nothing(tmp_path, tiny_ct2, small_squad, isolated_cache):
    env = {**os.environ, "MTQA_CACHE": str(isolated_cache)}
    workdir = tmp_path / "cwd"
    workdir.mkdir()
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "mtqa",
            "translate",
            "--input",
            str(small_squad),
            "--langs",
            "de,zh",
            "--model",
            str(tiny_ct2),
            "--dry-run",
            "--assume-tokens-per-second",
            "50",
        ],
        capture_output=True,
        text=True,
        env=env,
        cwd=workdir,
    )
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert lines[0].split() == ["target", "segments", "pieces", "source", "tokens", "cached", "pieces", "tokens", "to", "translate"]
    assert lines[1].split()[0] == "deu_Latn" and lines[3].split()[0] == "total"
    assert "97 examples" in result.stdout and "at 50 output tokens/s (--assume-tokens-per-second)" in result.stdout
    assert list(workdir.iterdir()) == []


def test_the_measured_rate_ships_with_the_package():
    """The estimate's rate comes from package data, so an installed mtqa (no bench/ folder) has it too."""
    from importlib import resources

    from mtqa.translate.dry_run import RATES_FILE, measured_tokens_per_second

    assert resources.files("mtqa").joinpath(RATES_FILE).is_file()
    rate, source = measured_tokens_per_second()
    assert rate > 0 and source.startswith("the full make bench of ")


def test_dry_run_counts_the_round_trip_back_translations(small_squad, tiny_ct2, isolated_cache):
    plain = run_translate(config(small_squad, tiny_ct2, dry_run=True, assume_tokens_per_second=100.0))
    with_round_trip = config(small_squad, tiny_ct2, dry_run=True, assume_tokens_per_second=100.0)
    with_round_trip.filters.round_trip = True
    planned = run_translate(with_round_trip)
    assert "round_trip" not in plain
    cost = planned["round_trip"]
    assert cost["segments"] == plain["total"]["segments"] and cost["tokens_to_translate"] == plain["total"]["source_tokens"]
    assert cost["hours"] == pytest.approx(plain["total"]["source_tokens"] / 100.0 / 3600)
