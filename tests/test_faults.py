"""Faults injected for real: SIGKILL at named points, damaged caches and checkpoints, full and
read-only disks, and two runs racing for one output.

Crash points are chosen at random from a seeded generator; set MTQA_FAULT_SEED to try others.
"""

from __future__ import annotations

import json
import os
import random
import re
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pyarrow.parquet as pq
import pytest

FAULT_SEED = int(os.environ.get("MTQA_FAULT_SEED", "0"))
KILLED = -signal.SIGKILL
CORPUS = "data/train-00000-of-00001.parquet"


from conftest import run_cli  # noqa: E402
from conftest import run_mtqa as mtqa  # noqa: E402

PROGRESS = re.compile(r"mtqa: (loaded|converted|downloaded) .* in \d+\.\d s")  # a finished step's one line, before any error


def one_line_error(result) -> str:
    """The error's one line; the progress lines of steps that finished before it may precede it."""
    lines = [line for line in result.stderr.strip().splitlines() if not PROGRESS.fullmatch(line)]
    assert result.returncode != 0 and "Traceback" not in result.stderr, result.stderr
    assert len(lines) == 1, result.stderr
    return lines[0]


def leftovers(folder: Path) -> list[str]:
    """Hidden files mtqa stages or locks with: none may be left after a run ends, well or badly."""
    return sorted(p.name for p in folder.iterdir() if p.name.startswith((".mtqa-", ".tmp")))


def cache_rows(cache: Path) -> int:
    connection = sqlite3.connect(cache / "translations.sqlite")
    try:
        return connection.execute("SELECT COUNT(*) FROM translations").fetchone()[0]
    finally:
        connection.close()


# --- translate -------------------------------------------------------------------------------------

TRANSLATE = ["--langs", "de,es", "--allow-empty", "--beam-size", "1", "--max-decoding-length", "24", "--max-batch-tokens", "64", "--quiet"]


def test_translate_killed_while_translating_and_writing_loses_and_duplicates_nothing(
    tmp_path, tiny_ct2, small_squad, reference_translation
):
    args = ["translate", "--input", small_squad, "--model", tiny_ct2, *TRANSLATE]
    reference = reference_translation(*TRANSLATE)
    expected = json.loads((reference / "manifest.json").read_text())

    rng = random.Random(FAULT_SEED)
    cache, out = tmp_path / "cache", tmp_path / "out"
    points = [f"translate.chunk:{rng.randint(1, 8)}" for _ in range(2)] + ["output.write:1", "output.commit:1"]
    committed = [0]
    for point in points:
        crashed = mtqa(*args, "--output", out, cache=cache, crash_at=point)
        assert crashed.returncode == KILLED, (point, crashed.stderr)
        assert not out.exists(), f"killed at {point}, yet the output looks complete"
        committed.append(cache_rows(cache))
    # each kill during translation kept what was committed before it, and only that
    assert committed[1] < committed[2] < expected["segments"]["pieces"], committed
    assert committed[3] == committed[4] == expected["segments"]["pieces"]  # then killed while writing the output

    final = mtqa(*args, "--output", out, cache=cache)
    assert final.returncode == 0, final.stderr
    segments = json.loads((out / "manifest.json").read_text())["segments"]
    assert segments["cache_hits"] == expected["segments"]["pieces"] and segments["translated"] == 0
    assert (out / CORPUS).read_bytes() == (reference / CORPUS).read_bytes()
    rows = pq.read_table(out / CORPUS, columns=["id", "lang"]).to_pylist()
    assert len(rows) == len({(row["id"], row["lang"]) for row in rows}) == expected["rows"]
    assert cache_rows(cache) == expected["segments"]["pieces"]  # one entry per piece, none twice
    assert leftovers(tmp_path) == []  # the dead runs' staging folders were cleared


def test_torn_and_damaged_cache_is_detected_and_recovered(tmp_path, tiny_ct2, small_squad, reference_translation):
    args = ["translate", "--input", small_squad, "--model", tiny_ct2, *TRANSLATE]
    reference = reference_translation(*TRANSLATE)
    cache, out = tmp_path / "cache", tmp_path / "out"
    database, wal = cache / "translations.sqlite", cache / "translations.sqlite-wal"

    assert mtqa(*args, "--output", out, cache=cache, crash_at="translate.chunk:6").returncode == KILLED
    before = cache_rows(cache)
    # A torn write: the last WAL frame only half on disk. SQLite's frame checksums drop it.
    assert mtqa(*args, "--output", out, cache=cache, crash_at="translate.chunk:3").returncode == KILLED
    size = wal.stat().st_size
    assert size > 4096
    with open(wal, "r+b") as handle:
        handle.truncate(size - 2000)
    (cache / "translations.sqlite-shm").unlink()  # shared memory does not survive a power loss either
    after_tear = cache_rows(cache)
    assert before < after_tear  # the earlier, whole frames survive

    # Damage the database itself: the last connection to close folds the WAL into it; then cut it in half.
    sqlite3.connect(database).close()
    assert not wal.exists()
    with open(database, "r+b") as handle:
        handle.truncate(database.stat().st_size // 2)
    final = mtqa(*args, "--output", out, cache=cache)
    assert final.returncode == 0, final.stderr
    assert "mtqa: warning: translation cache" in final.stderr and "was damaged" in final.stderr
    assert list(cache.glob("translations.sqlite.damaged-*"))  # kept for inspection, out of the way
    assert (out / CORPUS).read_bytes() == (reference / CORPUS).read_bytes()


def test_a_full_cache_is_reported_not_mistaken_for_damage(tmp_path):
    from mtqa.errors import MtqaError
    from mtqa.translate.cache import TranslationCache

    path = tmp_path / "translations.sqlite"
    cache = TranslationCache(path)
    cache.put_many((bytes([i % 256, i // 256]) * 16, "x" * 200) for i in range(200))
    cache._db.execute(f"PRAGMA max_page_count = {cache._db.execute('PRAGMA page_count').fetchone()[0]}")  # no room to grow
    with pytest.raises(MtqaError, match="no space left for the translation cache"):
        cache.put_many((bytes([i % 256, i // 256 + 100]) * 16, "y" * 4000) for i in range(50))
    cache.close()
    assert not list(tmp_path.glob("*.damaged-*")) and len(TranslationCache(path)) == 200  # nothing moved aside or lost


# --- build-batches ---------------------------------------------------------------------------------


def _batches_args(xquad_r: Path, out: Path) -> list:
    return [
        "build-batches",
        "--input",
        f"lareqa:{xquad_r}",
        "--articles",
        "0-5",
        "--batch-size",
        "8",
        "--num-batches",
        "12",
        "--batches-per-shard",
        "2",
        "--positive",
        "sentence",
        "--output",
        out,
        "--quiet",
    ]


def _shard_set(folder: Path) -> dict[str, bytes]:
    files = {p.relative_to(folder).as_posix(): p.read_bytes() for p in folder.rglob("*") if p.is_file()}
    manifest = json.loads(files.pop("manifest.json"))
    manifest.pop("timings_s"), manifest.pop("memory_mib")  # how long and how much memory: the machine's, not the output's
    files["manifest.json"] = json.dumps(manifest, sort_keys=True).encode()
    files.pop("README.md")  # the card shows timings too; everything it says is in the manifest
    return files


def test_build_batches_killed_mid_write_leaves_nothing_that_looks_complete(tmp_path, xquad_r):
    reference = mtqa(*_batches_args(xquad_r, tmp_path / "ref"), cache=tmp_path / "c")
    assert reference.returncode == 0, reference.stderr
    rng = random.Random(FAULT_SEED)
    out = tmp_path / "out"
    for point in (f"batches.shard:{rng.randint(1, 5)}", "output.commit:1"):
        crashed = mtqa(*_batches_args(xquad_r, out), cache=tmp_path / "c", crash_at=point)
        assert crashed.returncode == KILLED, crashed.stderr
        assert not out.exists()
        read = mtqa("train-eval", "--batches", out, "--model", "offline-minilm", "--output", tmp_path / "run", cache=tmp_path / "c")
        assert "not found" in one_line_error(read) or "no manifest.json" in read.stderr
    final = mtqa(*_batches_args(xquad_r, out), cache=tmp_path / "c")
    assert final.returncode == 0, final.stderr
    assert _shard_set(out) == _shard_set(tmp_path / "ref")
    assert leftovers(tmp_path) == []


# --- train-eval ------------------------------------------------------------------------------------


def _final_weights(run: Path) -> dict:
    from safetensors.torch import load_file

    return load_file(str(next((run / "model").rglob("model.safetensors"))))


def test_train_eval_killed_resumes_to_the_same_weights_and_metrics(tmp_path, tiny_xlmr, xquad_r):
    shards = tmp_path / "shards"
    built = mtqa(
        "build-batches",
        "--input",
        f"lareqa:{xquad_r}",
        "--articles",
        "0-3",
        "--batch-size",
        "8",
        "--positive",
        "sentence",
        "--num-batches",
        "10",
        "--output",
        shards,
        "--quiet",
        cache=tmp_path / "c",
    )
    assert built.returncode == 0, built.stderr

    def train_eval(run: Path, *extra: str, crash_at: str | None = None):
        return mtqa(
            "train-eval",
            "--batches",
            shards,
            "--model",
            tiny_xlmr,
            "--max-length",
            "32",
            "--save-every",
            "2",
            "--eval",
            f"lareqa:{xquad_r}",
            "--eval-articles",
            "47",
            "--eval-langs",
            "en,de",
            "--output",
            run,
            "--quiet",
            *extra,
            cache=tmp_path / "c",
            crash_at=crash_at,
        )

    # Killed while writing its report, after training: no report.json, so nothing takes it for finished; --resume evaluates the saved model.
    straight = tmp_path / "straight"
    assert train_eval(straight, crash_at="report.write:1").returncode == KILLED
    assert (straight / "model").is_dir() and (straight / "report.md").is_file() and not (straight / "report.json").exists()
    stamp = (straight / "model" / "model.safetensors").stat().st_mtime_ns
    finished = train_eval(straight, "--resume")
    assert finished.returncode == 0, finished.stderr
    assert (straight / "model" / "model.safetensors").stat().st_mtime_ns == stamp  # not trained again
    assert json.loads((straight / "report.json").read_text())["training"]["steps"] == 10

    run = tmp_path / "run"
    step = random.Random(FAULT_SEED).choice([5, 7])  # between checkpoints
    assert train_eval(run, crash_at=f"train.step:{step}").returncode == KILLED
    assert not (run / "model").exists() and not (run / "report.json").exists()
    # killed again while writing the next checkpoint: a temp folder, never a checkpoint
    assert train_eval(run, "--resume", crash_at="checkpoint.write:1").returncode == KILLED
    checkpoints = sorted(p.name for p in (run / "checkpoints").iterdir())
    assert [name for name in checkpoints if not name.startswith(".tmp")] == [f"step-{s:06d}" for s in range(step - 3, step, 2)]
    # and the newest checkpoint damaged on disk
    newest = run / "checkpoints" / f"step-{step - 1:06d}" / "model.pt"
    newest.write_bytes(newest.read_bytes()[: newest.stat().st_size // 3])

    resumed = train_eval(run, "--resume")
    assert resumed.returncode == 0, resumed.stderr
    assert "mtqa: warning: skipping unreadable checkpoint" in resumed.stderr
    report, expected = (json.loads((folder / "report.json").read_text()) for folder in (run, tmp_path / "straight"))
    assert report["training"]["resumed_from"] == step - 3
    weights, reference = _final_weights(run), _final_weights(tmp_path / "straight")
    assert weights.keys() == reference.keys()
    assert all(bool((weights[name] == reference[name]).all()) for name in weights)
    for key in ("mono_map", "cross_map", "multi_map", "rank_distance"):
        assert report["evals"]["xquad-r"][key] == expected["evals"]["xquad-r"][key]
    log = [json.loads(line) for line in (run / "train_log.jsonl").read_text().splitlines()]
    assert [entry["step"] for entry in log] == list(range(1, 11))
    assert leftovers(run / "checkpoints") == []


# --- full and read-only disks ----------------------------------------------------------------------


def _mount_tmpfs(folder: Path, options: str) -> bool:
    folder.mkdir(parents=True, exist_ok=True)
    return subprocess.run(["mount", "-t", "tmpfs", "-o", options, "tmpfs", str(folder)], capture_output=True).returncode == 0


@pytest.fixture
def full_disk(tmp_path):
    """A 2 MiB filesystem with 12 KiB left: room to start a run, not to finish it."""
    disk = tmp_path / "disk"
    if not _mount_tmpfs(disk, "size=2m"):
        pytest.skip("cannot mount a tmpfs here (needs root); the full-disk path is then untested")
    free = os.statvfs(disk).f_bavail * os.statvfs(disk).f_frsize
    (disk / "ballast").write_bytes(b"\0" * (free - 12 * 1024))
    yield disk
    subprocess.run(["umount", "-l", str(disk)], check=False)


@pytest.fixture
def read_only_disk(tmp_path):
    disk = tmp_path / "ro"
    if os.geteuid() != 0:
        disk.mkdir()
        disk.chmod(0o500)
        yield disk
        disk.chmod(0o700)
        return
    if not _mount_tmpfs(disk, "ro,size=1m"):
        pytest.skip("cannot mount a read-only tmpfs as root here")
    yield disk
    subprocess.run(["umount", "-l", str(disk)], check=False)


def _command(name: str, tmp_path, tiny_ct2, tiny_xlmr, small_squad, xquad_r, out: Path) -> list:
    """``name``'s arguments, writing to ``out``; train-eval's shards are built first, and only for it."""
    if name == "translate":
        return ["translate", "--input", small_squad, "--model", tiny_ct2, *TRANSLATE, "--no-filter", "--output", out]
    if name == "build-batches":
        return _batches_args(xquad_r, out)
    shards = tmp_path / "shards"
    if not shards.exists():
        built = mtqa(*_batches_args(xquad_r, shards), cache=tmp_path / "c")
        assert built.returncode == 0, built.stderr
    return [
        "train-eval",
        "--batches",
        shards,
        "--model",
        tiny_xlmr,
        "--max-length",
        "16",
        "--save-every",
        "1",
        "--max-steps",
        "2",
        "--output",
        out,
        "--quiet",
    ]


@pytest.mark.parametrize("command", ["translate", "build-batches", "train-eval"])
def test_full_disk_is_one_clear_error_and_nothing_half_written(tmp_path, full_disk, tiny_ct2, tiny_xlmr, small_squad, xquad_r, command):
    out = full_disk / "out"
    args = _command(command, tmp_path, tiny_ct2, tiny_xlmr, small_squad, xquad_r, out)
    line = one_line_error(mtqa(*args, cache=tmp_path / "c"))
    assert "no space left" in line and "free space or choose another --output" in line, line
    if command == "train-eval":  # a run folder stays for --resume, but holds no checkpoint, model or report
        assert not list((out / "checkpoints").iterdir()) and not (out / "model").exists() and not (out / "report.json").exists()
    else:
        assert not out.exists()
    assert leftovers(full_disk) == []


def test_vectors_on_a_full_disk_are_one_clear_error(full_disk):
    import numpy as np

    from mtqa.errors import MtqaError
    from mtqa.evaluate.search import encode_to_disk

    vectors = np.ones((20_000, 64), dtype=np.float32)  # 5 MiB: more than the disk holds
    with pytest.raises(MtqaError, match="no space left for .*corpus.npy"):
        encode_to_disk(lambda texts: vectors[: len(texts)], ["t"] * 20_000, full_disk / "corpus.npy", chunk=4_000)
    assert not (full_disk / "corpus.npy").exists()


@pytest.mark.parametrize("command", ["translate", "build-batches", "train-eval"])
def test_read_only_output_is_refused_before_any_work(tmp_path, read_only_disk, tiny_ct2, tiny_xlmr, small_squad, xquad_r, command):
    out = read_only_disk / "out"
    args = _command(command, tmp_path, tiny_ct2, tiny_xlmr, small_squad, xquad_r, out)
    line = one_line_error(mtqa(*args, cache=tmp_path / "c"))
    assert "cannot write to" in line and "choose a writable --output" in line, line
    assert not out.exists()


# --- two runs, one output --------------------------------------------------------------------------


def _slow_translate_holding_its_lock(tmp_path: Path, tiny_ct2: Path, small_squad: Path, out: Path):
    """A translate run started in the background, once it holds the lock on ``out``: (the process, the lock file)."""
    slow = [*TRANSLATE[:-3], "--max-decoding-length", "64", "--max-batch-tokens", "32", "--quiet"]
    run = mtqa("translate", "--input", small_squad, "--model", tiny_ct2, *slow, "--output", out, cache=tmp_path / "c", wait=False)
    lock = tmp_path / f".mtqa-lock-{out.name}"
    deadline = time.time() + 60
    while not (lock.exists() and lock.read_text().strip()) and run.poll() is None and time.time() < deadline:
        time.sleep(0.05)
    return run, lock


def test_a_second_run_on_the_same_output_is_refused_while_the_first_runs(tmp_path, tiny_ct2, small_squad, xquad_r):
    out = tmp_path / "out"
    first, lock = _slow_translate_holding_its_lock(tmp_path, tiny_ct2, small_squad, out)
    try:
        assert first.poll() is None, first.stderr.read()
        for args in (["translate", "--input", small_squad, "--model", tiny_ct2, *TRANSLATE], _batches_args(xquad_r, out)[:-3]):
            line = one_line_error(mtqa(*args, "--output", out, "--overwrite", cache=tmp_path / "c2"))
            assert f"output {out} is being written by another mtqa run (pid {first.pid})" in line, line
    finally:
        first.send_signal(signal.SIGKILL)
        first.wait()
    assert not out.exists()
    # the kernel released the dead run's lock: the next run goes ahead
    again = mtqa(*_batches_args(xquad_r, out), cache=tmp_path / "c")
    assert again.returncode == 0, again.stderr
    assert not lock.exists()


def test_a_lock_left_to_a_dead_runs_child_for_a_moment_does_not_refuse_the_next_run(tmp_path, xquad_r):
    """A run killed while starting a child: the child holds the lock until it execs, after the run is reaped."""
    out = tmp_path / "out"
    dead = subprocess.Popen(["true"])
    dead.wait()
    lock = tmp_path / f".mtqa-lock-{out.name}"
    lock.write_text(str(dead.pid))
    # The lingering child: holds the flock for half a second, then lets go as an exec would.
    code = "import fcntl, sys, time; f = open(sys.argv[1], 'a'); fcntl.flock(f, fcntl.LOCK_EX); print(flush=True); time.sleep(0.5)"
    child = subprocess.Popen([sys.executable, "-c", code, str(lock)], stdout=subprocess.PIPE, text=True)
    try:
        child.stdout.readline()  # the lock is held
        run = mtqa(*_batches_args(xquad_r, out), cache=tmp_path / "c")
    finally:
        child.wait()
    assert run.returncode == 0, run.stderr
    assert not lock.exists()


def test_sigterm_leaves_no_staging_folder_or_lock_and_says_so_in_one_line(tmp_path, tiny_ct2, small_squad):
    out = tmp_path / "out"
    run, _ = _slow_translate_holding_its_lock(tmp_path, tiny_ct2, small_squad, out)
    assert run.poll() is None, run.stderr.read()
    run.send_signal(signal.SIGTERM)
    stderr = run.communicate(timeout=60)[1]
    assert run.returncode == 143, stderr
    assert "mtqa: terminated; nothing half-written was left" in stderr and "Traceback" not in stderr, stderr
    assert leftovers(tmp_path) == [] and not out.exists()


def test_ctrl_c_in_training_keeps_the_steps_done_and_prints_the_command_that_resumes(tmp_path, tiny_xlmr, xquad_r):
    import shlex

    shards = tmp_path / "shards"
    args = ["--input", f"lareqa:{xquad_r}", "--articles", "0-3", "--batch-size", "8", "--positive", "sentence", "--num-batches", "30"]
    assert mtqa("build-batches", *args, "--output", shards, "--quiet", cache=tmp_path / "c").returncode == 0
    run = tmp_path / "run"
    train = ["train-eval", "--batches", shards, "--model", tiny_xlmr, "--max-length", "32", "--eval", f"lareqa:{xquad_r}"]
    train += ["--eval-articles", "47", "--eval-langs", "en,de", "--output", run, "--quiet"]  # --save-every stays 1000: never reached
    first = mtqa(*train, cache=tmp_path / "c", wait=False)
    log, deadline = run / "train_log.jsonl", time.time() + 120
    while (not log.exists() or log.read_text().count("\n") < 3) and first.poll() is None and time.time() < deadline:
        time.sleep(0.05)
    first.send_signal(signal.SIGINT)
    stderr = first.communicate(timeout=60)[1]
    assert first.returncode == 130 and "Traceback" not in stderr, stderr
    line = next(line for line in stderr.splitlines() if line.startswith("mtqa: interrupted;"))
    assert "keeps a checkpoint at step " in line, line
    kept = int(line.split("keeps a checkpoint at step ")[1].split(";")[0])
    assert kept >= 3 and (run / "checkpoints" / f"step-{kept:06d}").is_dir()
    words = shlex.split(line.split("; continue with: ")[1])
    assert words[0] == "mtqa" and words[-1] == "--resume" and words[1:-1] == list(map(str, train))
    resumed = mtqa(*words[1:], cache=tmp_path / "c")
    assert resumed.returncode == 0, resumed.stderr
    report = json.loads((run / "report.json").read_text())
    assert report["training"]["resumed_from"] == kept and report["training"]["steps"] == 30


def test_resume_without_a_checkpoint_says_it_starts_from_step_0(tmp_path, tiny_xlmr, xquad_r, capsys):
    shards = tmp_path / "shards"
    args = ["--input", f"lareqa:{xquad_r}", "--articles", "0-3", "--batch-size", "8", "--positive", "sentence", "--num-batches", "2"]
    assert run_cli("build-batches", *args, "--output", shards, "--quiet", capsys=capsys)[0] == 0
    code, err = run_cli("train-eval", "--batches", shards, "--model", tiny_xlmr, "--max-length", "32", "--output", tmp_path / "run",
                        "--resume", capsys=capsys)  # fmt: skip
    assert code == 0, err
    assert f"mtqa: --resume: no checkpoint in {tmp_path / 'run' / 'checkpoints'}; training starts from step 0" in err
