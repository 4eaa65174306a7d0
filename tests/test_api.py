"""The Python API: the three stages as functions, and docs/python-api.md's example run as written (on smaller settings)."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

import mtqa

DOC = Path(__file__).resolve().parents[1] / "docs" / "python-api.md"


def test_dir_lists_the_stages_and_their_configs_and_import_stays_light():
    assert {"translate", "build_batches", "train_eval", "TranslateConfig", "BuildConfig", "TrainEvalConfig"} <= set(dir(mtqa))
    heavy = subprocess.run(
        [sys.executable, "-c", "import sys, mtqa; print(sorted(m for m in ('torch', 'ctranslate2', 'mtqa.api') if m in sys.modules))"],
        capture_output=True,
        text=True,
    )
    assert heavy.stdout.strip() == "[]"
    with pytest.raises(AttributeError):
        mtqa.no_such_thing  # noqa: B018


def test_bad_input_raises_the_commands_one_line(tmp_path):
    with pytest.raises(mtqa.MtqaError, match="no --input given"):
        mtqa.build_batches(mtqa.BuildConfig(inputs=[], output=tmp_path / "b"))
    assert not (tmp_path / "b").exists()


def test_the_documented_example_runs(tmp_path, monkeypatch, xquad_r, tiny_xlmr, isolated_cache):
    """The page's code, with the tiny model for multilingual-e5-small and fewer articles and steps: the same calls."""
    from mtqa.translate import apertium

    if "eng-spa" not in apertium.installed_modes():
        pytest.skip("Apertium's eng-spa pair is not installed (apt-get install apertium-eng-spa)")
    code = re.search(r"```python\n(.*?)```", DOC.read_text(), re.S).group(1)
    assert len(code.strip().splitlines()) <= 14
    code = (
        code.replace('"offline-me5"', repr(str(tiny_xlmr)))
        .replace('articles="0-19"', 'articles="0-3"')
        .replace("batch_size=32, num_batches=20", "batch_size=8, num_batches=4")
        .replace("max_steps=20", "max_steps=2")
        .replace('eval_articles="40-47"', 'eval_articles="47"')
        .replace('Path("out")', repr(tmp_path / "out").replace("PosixPath", "Path"))
    )
    monkeypatch.chdir(tmp_path)
    namespace: dict = {}
    exec(compile(code, str(DOC), "exec"), namespace)  # noqa: S102
    assert namespace["corpus"]["counts"]["es"]["kept"] > 0
    assert namespace["shards"]["batches_by_type"] == {"xx": 2, "xy": 2}
    assert 0 <= namespace["report"]["evals"]["xquad-r"]["mono_map"] <= 1


def test_the_stage_packages_are_the_functions_too(tmp_path):
    import mtqa.translate  # noqa: F401  (imported: mtqa.translate is now the package)

    with pytest.raises(mtqa.MtqaError, match="--langs names no target language"):
        mtqa.translate(mtqa.TranslateConfig(input="x.json", output=tmp_path / "t", langs=[mtqa.get_language("en")]))
    with pytest.raises(mtqa.MtqaError, match="train-eval needs --batches"):
        mtqa.train_eval(mtqa.TrainEvalConfig(model="m", output=tmp_path / "r"))
