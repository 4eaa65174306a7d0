"""`make demo`'s chain, fast variant: offline, so the translation step is a labelled smoke run."""

import os
import subprocess
import sys


def test_demo_runs_the_whole_chain(tmp_path, xquad_r):
    env = {**os.environ, "MTQA_DEMO_FAST": "1", "MTQA_DEMO_OUT": str(tmp_path / "demo"), "MTQA_DATA": str(xquad_r.parent),
           "HF_HUB_OFFLINE": "1", "MTQA_CACHE": str(tmp_path / "cache")}
    result = subprocess.run([sys.executable, "-m", "mtqa.demo"], capture_output=True, text=True, env=env, cwd=tmp_path)
    assert result.returncode == 0, result.stderr[-3000:]
    assert "SMOKE RUN" in result.stderr  # said once, in one line, before the smoke run
    table = result.stdout[result.stdout.index("| model | mono mAP"):]
    assert "| untrained |" in table and "| hybrid, 2 steps |" in table
    for name in ("translated-SMOKE-RUN", "batches", "untrained", "trained"):
        assert (tmp_path / "demo" / name).is_dir()
    assert (tmp_path / "demo" / "trained" / "model").is_dir()
