"""`make demo`'s chain, fast variant: real Apertium Spanish where Apertium is installed, else a labelled smoke run."""

import json
import os
import subprocess
import sys

from conftest import cache_sharing_models

from mtqa import demo
from mtqa.translate import apertium


def test_demo_runs_the_whole_chain(tmp_path, xquad_r, me5_model_cache):
    cache = cache_sharing_models(tmp_path / "cache", me5_model_cache)  # offline-me5 as the other tests converted it
    env = {
        **os.environ,
        "MTQA_DEMO_FAST": "1",
        "MTQA_DEMO_OUT": str(tmp_path / "demo"),
        "MTQA_DATA": str(xquad_r.parent),
        "HF_HUB_OFFLINE": "1",
        "MTQA_CACHE": str(cache),
        "MTQA_DEMO_INSTALL": "0",
    }
    result = subprocess.run([sys.executable, "-m", "mtqa.demo"], capture_output=True, text=True, env=env, cwd=tmp_path)
    assert result.returncode == 0, result.stderr[-3000:]
    if "eng-spa" in apertium.installed_modes():
        examples = result.stderr[result.stderr.index("demo: 3 of the Apertium translations") :].splitlines()[1:13]
        assert [line.strip()[:1] for line in examples[::2]] == ["Q", "A"] * 3  # English beside Spanish, three times
        assert "SMOKE RUN" not in result.stderr
        assert "demo: training on what step 1 translated: English and Apertium's Spanish of articles 0-1" in result.stderr
        translated = "translated"
    else:
        assert "SMOKE RUN" in result.stderr  # said once, in one line, before the smoke run
        assert "demo: training on XQuAD-R's human translations of articles 0-1" in result.stderr
        translated = "translated-SMOKE-RUN"
    table = result.stdout[result.stdout.index("| model | mono mAP") :]
    assert "| untrained |" in table and "| hybrid, 2 steps |" in table
    assert "mono: questions search passages in their own language" in table and "rank distance: how far apart" in table
    batches = json.loads((tmp_path / "demo" / "batches" / "manifest.json").read_text())
    assert batches["config"]["alpha_schedule"] == "exact" and batches["batches_by_type"] == {"xx": 1, "xy": 1}
    assert "$ mtqa train-eval" in result.stderr and "--quiet" not in result.stderr.split("$ mtqa train-eval")[-1].splitlines()[0]
    for name in (translated, "batches", "untrained", "trained"):
        assert (tmp_path / "demo" / name).is_dir()
    assert (tmp_path / "demo" / "trained" / "model").is_dir()


def test_without_apertium_the_demo_says_how_to_get_real_output(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("PATH", str(tmp_path))
    monkeypatch.setenv("MTQA_DEMO_INSTALL", "0")
    assert demo.apertium_ready() is False
    assert (
        capsys.readouterr().err == "demo: Apertium is not installed; for real Spanish translations run: apt-get install apertium-eng-spa\n"
    )
