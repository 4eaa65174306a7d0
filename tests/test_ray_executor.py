"""`mtqa translate --executor ray` on a local Ray instance (2 CPUs): the same bytes as the local executor,
the cache as the source of truth, and a worker killed mid-chunk retried by Ray."""

from __future__ import annotations

import importlib.util
import json
import signal
import sys
from pathlib import Path

import pytest
from conftest import run_mtqa

needs_ray = pytest.mark.skipif(importlib.util.find_spec("ray") is None, reason="Ray is an optional extra (pip install 'mtqa[ray]')")

CORPUS = "data/train-00000-of-00001.parquet"
ARGS = [
    "--langs",
    "de,es",
    "--allow-empty",
    "--limit",
    "30",
    "--beam-size",
    "1",
    "--max-decoding-length",
    "24",
    "--max-batch-tokens",
    "64",
    "--quiet",
]


def translate(squad: Path, model: Path, out: Path, cache: Path, *extra: str, crash_at: str | None = None, env: dict | None = None):
    return run_mtqa(
        "translate", "--input", squad, "--model", model, *ARGS, "--output", out, *extra, cache=cache, crash_at=crash_at, env=env
    )


def segments(out: Path) -> dict:
    return json.loads((out / "manifest.json").read_text())["segments"]


@needs_ray
def test_ray_output_is_byte_identical_and_resumes_from_the_cache(tmp_path, tiny_ct2, small_squad, reference_translation):
    local = reference_translation(*ARGS)

    # A local run killed part-way leaves chunks in the cache; Ray translates only the rest.
    cache = tmp_path / "c-ray"
    crashed = translate(small_squad, tiny_ct2, tmp_path / "ray", cache, crash_at="translate.chunk:3")
    assert crashed.returncode == -signal.SIGKILL
    ray_run = translate(small_squad, tiny_ct2, tmp_path / "ray", cache, "--executor", "ray")
    assert ray_run.returncode == 0, ray_run.stderr
    assert (tmp_path / "ray" / CORPUS).read_bytes() == (local / CORPUS).read_bytes()
    done = segments(tmp_path / "ray")
    assert done["cache_hits"] > 0 and done["translated"] == done["pieces"] - done["cache_hits"]
    assert json.loads((tmp_path / "ray" / "manifest.json").read_text())["model"]["executor"] == "ray"
    assert "Traceback" not in ray_run.stderr


@needs_ray
def test_a_worker_killed_mid_chunk_is_retried_and_nothing_is_lost(tmp_path, tiny_ct2, small_squad, reference_translation):
    local = reference_translation(*ARGS)
    marker = tmp_path / "crashed-once"
    ray_run = translate(
        small_squad,
        tiny_ct2,
        tmp_path / "ray",
        tmp_path / "c-ray",
        "--executor",
        "ray",
        "--ray-workers",
        "2",
        crash_at="ray.chunk:2",
        env={"MTQA_CRASH_MARKER": str(marker)},
    )
    assert ray_run.returncode == 0, ray_run.stderr
    assert marker.exists(), "the worker should have been killed once"
    assert (tmp_path / "ray" / CORPUS).read_bytes() == (local / CORPUS).read_bytes()
    assert segments(tmp_path / "ray")["translated"] == segments(local)["translated"]


def test_without_ray_the_executor_says_how_to_install_it(monkeypatch, tiny_ct2):
    from mtqa.errors import MtqaError
    from mtqa.translate.model.ray_executor import INSTALL_HINT, RayExecutor
    from mtqa.translate.model.translator import DecodingOptions

    monkeypatch.setitem(sys.modules, "ray", None)
    with pytest.raises(MtqaError) as error:
        RayExecutor(tiny_ct2, DecodingOptions())
    assert str(error.value) == INSTALL_HINT and "pip install 'mtqa[ray]'" in INSTALL_HINT
