#!/usr/bin/env python
"""Benchmark `mtqa translate` against bare CTranslate2 and Hugging Face transformers.

Three ways of translating the SAME unique English segments into one language,
each in its own process so that its peak memory is its own:

  (a) mtqa         the real CLI, ``python -m mtqa translate``, end to end: load the
                   SQuAD file, split sentences, load the CTranslate2 int8 model,
                   translate, filter, align and write the Parquet corpus.
  (b) ctranslate2  a bare CTranslate2 script: load the same int8 model, tokenise with
                   SentencePiece, ``translate_iterable(max_batch_size=4096,
                   batch_type="tokens")``, detokenise.
  (c) transformers ``M2M100ForConditionalGeneration.generate`` in float32, batches of
                   sentences sorted by length, the NLLB tokenizer.

What is compared
  * Work: (a) reads a SQuAD file made of whole XQuAD-R English examples; (b) and (c)
    get exactly the list of unique pieces mtqa translates for it (question, every
    passage sentence and the answer text of each example, deduplicated and split for
    length with mtqa's own functions). The report checks that all three translated
    that many segments, from the same source tokens, into the same output tokens.
  * Output length: fixed. Every method runs L decoder steps per segment, greedy or
    with the same beam (``min = max = L``: CTranslate2 ``min/max_decoding_length``,
    transformers ``min/max_new_tokens``). The first step emits the target language
    code, so each segment yields L-1 text tokens; "output tokens" counts those, as
    mtqa's manifest does.
  * Time: "seconds" is the wall time of the whole process (interpreter start,
    imports, model load, translation, and for mtqa also filtering and writing), as
    a user sees it; "translate s" is the translation step alone as each process
    measured it. tokens/s = output tokens / seconds. (a) and (b), whose ratio is
    judged to 5%, run ``--repeats`` times in turn and the median of the paired ratios counts
    (the machine may be shared); (c), several times slower, runs once.
  * Memory: peak RSS of each process (``ru_maxrss`` from ``os.wait4``). A child's
    figure also covers the harness's memory at fork time, so the harness never
    imports torch or CTranslate2 (model building runs in a child too) and stays
    small (``checks.harness_peak_rss_mib`` in the results).
  * Model: random weights with the NLLB-200-distilled-600M shape (``--quick``: a
    smaller one) and the real 256,206-row vocabulary; the SentencePiece tokenizer is
    a tiny one, so sources are longer in tokens than with the real NLLB vocabulary.

Finally, the dedup factor of mtqa on a SQuAD-shaped input: the whole XQuAD-R English
file into two languages with a tiny model, as reported by the manifest.

Usage: python -m bench.translate.run [--quick] [--workdir bench/work] [--out FILE]
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import os
import sys
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from bench import ROOT, WORK
from bench.measure import available_cores, machine_info, measure
from bench.translate.children import MAX_BATCH_TOKENS
from bench.translate.inputs import make_inputs
from bench.translate.ratios import (
    QUICK_TARGETS,
    TARGETS,
    ProcessRun,
    Run,
    compare,
    paired_ratios,
    ray_figures,
    same_work,
    similarity_ratios,
    summarise,
)
from bench.translate.report import report
from mtqa.paths import find_data
from mtqa.translate.model.families import NLLB

_XQUAD_R = find_data("xquad-r")
DEFAULT_XQUAD = _XQUAD_R / "en.json" if _XQUAD_R else None  # $MTQA_DATA/xquad-r, as every command finds it
NLLB_VOCAB_SIZE = 256_206
DEDUP_LANGS = "de,es"
DEDUP_MAX_DECODING_LENGTH = 8


@dataclass(frozen=True)
class ModelShape:
    d_model: int
    layers: int
    heads: int
    ffn_dim: int
    vocab_size: int = NLLB_VOCAB_SIZE
    max_positions: int = 1024

    @property
    def name(self) -> str:
        return f"nllb-d{self.d_model}-l{self.layers}-h{self.heads}-f{self.ffn_dim}-v{self.vocab_size}"


FULL_SHAPE = ModelShape(d_model=1024, layers=12, heads=16, ffn_dim=4096)  # NLLB-200-distilled-600M
QUICK_SHAPE = ModelShape(d_model=512, layers=6, heads=8, ffn_dim=2048)


@dataclass
class Settings:
    quick: bool
    workdir: Path
    out: Path
    xquad: Path
    segments: int
    length: int
    beam_size: int
    target: str
    hf_batch_size: int
    threads: int
    repeats: int

    @property
    def shape(self) -> ModelShape:
        return QUICK_SHAPE if self.quick else FULL_SHAPE


# --------------------------------------------------------------------------- harness


def run_measured(command: list[str], log: Path, env: dict[str, str]) -> ProcessRun:
    """Run ``command`` to completion; its wall time and its own peak RSS."""
    return ProcessRun(**measure(command, env, log=log, cwd=ROOT))


def run_role(settings: Settings, role: str, spec: dict[str, Any], env: dict[str, str], tag: str = "") -> tuple[dict[str, Any], ProcessRun]:
    runs = settings.workdir / "runs"
    runs.mkdir(parents=True, exist_ok=True)
    name = f"{role}{tag}"
    spec = {**spec, "result": str(runs / f"{name}.result.json")}
    spec_path = runs / f"{name}.spec.json"
    spec_path.write_text(json.dumps(spec))
    command = [sys.executable, "-m", "bench.translate.children", role, str(spec_path)]
    measured = run_measured(command, settings.workdir / "logs" / f"{name}.log", env)
    return json.loads(Path(spec["result"]).read_text()), measured


def mtqa_command(
    settings: Settings, input_path: Path, output: Path, model: str, langs: str, *, min_length: int, max_length: int, beam_size: int
) -> list[str]:
    return [
        sys.executable, "-m", "mtqa", "translate",
        "--input", str(input_path),
        "--output", str(output),
        "--langs", langs,
        "--model", model,
        "--beam-size", str(beam_size),
        "--min-decoding-length", str(min_length),
        "--max-decoding-length", str(max_length),
        "--max-batch-tokens", str(MAX_BATCH_TOKENS),
        "--threads", str(settings.threads),
        "--no-cache", "--quiet", "--overwrite",
        "--allow-empty",  # random weights: the filters may drop every row, which is work measured, not a failure
    ]  # fmt: skip


LABELS = {"mtqa": "(a) mtqa translate (CLI, CT2 int8)", "ctranslate2": "(b) CTranslate2 int8", "transformers": "(c) transformers float32"}


def run_mtqa(
    settings: Settings, bench_input: Path, model_dir: str, expected_ct2_dir: str, env: dict[str, str], tag: str, extra: tuple[str, ...] = ()
) -> tuple[Run, dict[str, Any]]:
    """(a): the real CLI, end to end; the figures come from its manifest."""
    output = settings.workdir / "runs" / f"bench-mtqa{tag}"
    command = mtqa_command(
        settings, bench_input, output, model_dir, settings.target,
        min_length=settings.length, max_length=settings.length, beam_size=settings.beam_size,
    ) + list(extra)  # fmt: skip
    measured = run_measured(command, settings.workdir / "logs" / f"mtqa{tag}.log", env)
    manifest = json.loads((output / "manifest.json").read_text())
    if manifest["model"]["path"] != expected_ct2_dir:  # a conversion inside the timed run would skew it
        raise SystemExit(f"bench: mtqa used {manifest['model']['path']}, not the prepared {expected_ct2_dir}")
    segments = manifest["segments"]
    result = {
        "segments": segments["translated"],
        "source_tokens": segments["source_tokens"],
        "output_tokens": segments["output_tokens"],
        "translate_s": manifest["timings_s"]["translate"],
        # The filter stage: length calibration (and similarity encoding, when on), then the per-segment checks and alignment.
        "filter_s": manifest["timings_s"].get("filter_prepare", 0.0) + manifest["timings_s"]["filter_align"],
    }
    return (result, measured), manifest


@dataclass
class Prepared:
    """The models and inputs every method shares."""

    models: dict[str, Any]  # the prepare child's report: model folders, sizes
    prepare_run: ProcessRun
    bench_input: Path
    subset: dict[str, int]
    segments: list[str]
    full_input: Path
    full_counts: dict[str, int]
    spec: dict[str, Any]  # what the (b), (c) and (d) children read


def prepare(settings: Settings, env: dict[str, str], shape: dict[str, Any]) -> Prepared:
    workdir = settings.workdir
    log(f"preparing models in {workdir / 'models'} (built and converted once, then reused)")
    models, prepare_run = run_role(settings, "prepare", {"models_dir": str(workdir / "models"), "shape": shape}, env)
    bench_input, subset, segments, full_input, full_counts = make_inputs(
        settings.xquad, settings.segments, Path(models["ct2_dir"]) / NLLB.source_spm, workdir / "inputs"
    )
    log(
        f"{len(segments)} unique segments from {subset['examples']} examples; {settings.length} decoder steps each, beam {settings.beam_size}"
    )
    spec = {
        "segments": segments,
        "target": settings.target,
        "length": settings.length,
        "beam_size": settings.beam_size,
        "threads": settings.threads,
        "hf_batch_size": settings.hf_batch_size,
        "ct2_dir": models["ct2_dir"],
        "hf_dir": models["hf_dir"],
    }
    return Prepared(models, prepare_run, bench_input, subset, segments, full_input, full_counts, spec)


def run_methods(settings: Settings, prepared: Prepared, env: dict[str, str]) -> tuple[dict[str, list[Run]], dict[str, Any]]:
    """(a), (b) and (c), and (a)'s last manifest."""
    # (a) and (b) are judged against each other to a few per cent: run them in turn,
    # --repeats times; the median of the paired ratios is the figure. (c) is several times
    # slower and its targets have wide margins: it runs once.
    runs: dict[str, list[Run]] = {"mtqa": [], "ctranslate2": [], "transformers": []}
    manifest: dict[str, Any] = {}
    for repeat in range(settings.repeats):
        tag = f"-{repeat + 1}"
        log(f"(a) mtqa translate, run {repeat + 1}/{settings.repeats}")
        run, manifest = run_mtqa(settings, prepared.bench_input, prepared.models["hf_dir"], prepared.models["ct2_dir"], env, tag)
        runs["mtqa"].append(run)
        log(f"(b) CTranslate2, run {repeat + 1}/{settings.repeats}")
        runs["ctranslate2"].append(run_role(settings, "ctranslate2", prepared.spec, env, tag))
    log("(c) transformers")
    runs["transformers"].append(run_role(settings, "transformers", prepared.spec, env))
    return runs, manifest


def run_ray(settings: Settings, prepared: Prepared, env: dict[str, str]) -> dict[str, Any] | None:
    """(a) again on a local Ray instance, where Ray is installed."""
    if importlib.util.find_spec("ray") is None:
        return None
    log("(a) again with --executor ray: a local Ray instance, one actor with the same threads")
    ray_output = settings.workdir / "runs" / "bench-mtqa-ray"
    ray_command = mtqa_command(
        settings, prepared.bench_input, ray_output, prepared.models["hf_dir"], settings.target,
        min_length=settings.length, max_length=settings.length, beam_size=settings.beam_size,
    ) + ["--executor", "ray"]  # fmt: skip
    ray_run = run_measured(ray_command, settings.workdir / "logs" / "mtqa-ray.log", env)
    ray_manifest = json.loads((ray_output / "manifest.json").read_text())
    local_output = settings.workdir / "runs" / "bench-mtqa-1"
    corpus = "data/train-00000-of-00001.parquet"
    return {
        "seconds": round(ray_run.seconds, 2),
        "translate_s": ray_manifest["timings_s"]["translate"],
        "identical_output": (ray_output / corpus).read_bytes() == (local_output / corpus).read_bytes(),
    }


def run_dedup(settings: Settings, prepared: Prepared, env: dict[str, str]) -> dict[str, Any]:
    """The dedup factor of all of XQuAD-R English, translated by the tiny model."""
    log(f"dedup factor: all of XQuAD-R English into {DEDUP_LANGS} with a tiny model")
    dedup_output = settings.workdir / "runs" / "dedup-xquad-r"
    dedup_command = mtqa_command(
        settings, prepared.full_input, dedup_output, prepared.models["tiny_hf_dir"], DEDUP_LANGS,
        min_length=0, max_length=DEDUP_MAX_DECODING_LENGTH, beam_size=1,
    )  # fmt: skip
    dedup_run = run_measured(dedup_command, settings.workdir / "logs" / "dedup.log", env)
    dedup_manifest = json.loads((dedup_output / "manifest.json").read_text())
    return {
        "input": str(prepared.full_input),
        "examples": prepared.full_counts["examples"],
        "passages": prepared.full_counts["passages"],
        "langs": DEDUP_LANGS,
        "max_decoding_length": DEDUP_MAX_DECODING_LENGTH,
        "segments": dedup_manifest["segments"],
        "seconds": round(dedup_run.seconds, 1),
        "timings_s": dedup_manifest["timings_s"],
    }


def benchmark(settings: Settings) -> dict[str, Any]:
    total_started = time.perf_counter()
    settings.workdir = workdir = settings.workdir.resolve()
    workdir.mkdir(parents=True, exist_ok=True)
    env = {**os.environ, "MTQA_CACHE": str(workdir / "mtqa-cache"), "TOKENIZERS_PARALLELISM": "false"}
    shape = {**asdict(settings.shape), "name": settings.shape.name}
    prepared = prepare(settings, env, shape)
    runs, manifest = run_methods(settings, prepared, env)
    log("(d) the similarity filter (offline-me5, CTranslate2 int8) on the same segments paired with German XQuAD-R text")
    similarity_run = run_role(settings, "similarity", {**prepared.spec, "german": str(settings.xquad.with_name("de.json"))}, env)
    ray_result = run_ray(settings, prepared, env)
    dedup = run_dedup(settings, prepared, env)

    methods = {name: {"label": LABELS[name], **summarise(method_runs)} for name, method_runs in runs.items()}
    ratios, passed = compare(methods["mtqa"], methods["ctranslate2"], methods["transformers"])
    targets = {**TARGETS, **(QUICK_TARGETS if settings.quick else {})}
    paired_ratios(runs, targets, ratios, passed)
    similarity_ratios(runs, similarity_run, ratios, passed)
    return {
        "mode": "quick" if settings.quick else "full",
        "machine": machine_info(settings.threads),
        "settings": {
            "segments_requested": settings.segments,
            "decoding_length": settings.length,
            "beam_size": settings.beam_size,
            "target": settings.target,
            "transformers_batch_size": settings.hf_batch_size,
            "ctranslate2_max_batch_tokens": MAX_BATCH_TOKENS,
            "repeats_a_b": settings.repeats,
        },
        "model": {"shape": shape, **prepared.models, "prepare_process_s": round(prepared.prepare_run.seconds, 1)},
        "input": {
            "file": str(prepared.bench_input),
            "examples": prepared.subset["examples"],
            "passages": prepared.subset["passages"],
            "unique_segments": len(prepared.segments),
            "mtqa_manifest_segments": manifest["segments"],
            "mtqa_timings_s": manifest["timings_s"],
        },
        "methods": methods,
        "checks": same_work(methods, settings, len(prepared.segments)),
        "ratios": ratios,
        "targets": targets,
        "passed": passed,
        **ray_figures(ray_result, methods["mtqa"]["seconds"], manifest),
        "dedup": dedup,
        "total_s": round(time.perf_counter() - total_started, 1),
    }


def log(message: str) -> None:
    print(f"bench: {message}", file=sys.stderr, flush=True)


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="smaller model and input: a few minutes on 2 cores")
    parser.add_argument("--workdir", type=Path, default=WORK, help="models, inputs, runs and logs (default: %(default)s)")
    parser.add_argument("--out", type=Path, default=WORK / "results-translate.json", help="JSON results (default: %(default)s)")
    parser.add_argument("--xquad", type=Path, default=DEFAULT_XQUAD, help="XQuAD-R English file (default: $MTQA_DATA/xquad-r/en.json)")
    parser.add_argument("--segments", type=int, help="unique segments to translate (default: 100 quick, 600 full)")
    parser.add_argument("--length", type=int, default=32, help="decoder steps per segment, language code included (default: %(default)s)")
    parser.add_argument("--beam-size", type=int, default=1, help="the same in all three methods (default: %(default)s)")
    parser.add_argument("--target", default="deu_Latn", help="FLORES-200 target language (default: %(default)s)")
    parser.add_argument("--hf-batch-size", type=int, default=16, help="sentences per transformers batch (default: %(default)s)")
    parser.add_argument("--threads", type=int, default=available_cores(), help="threads for every method (default: the cores available)")
    parser.add_argument(
        "--repeats", type=int, default=3, help="runs of (a) and (b), in turn; the median of the paired ratios counts (default: %(default)s)"
    )
    args = parser.parse_args(argv)
    if args.repeats < 1:
        parser.error("--repeats must be at least 1 (the (a)/(b) figure is a median over paired runs)")
    if args.length < 2:
        parser.error("--length must be at least 2 (the first step is the language code)")
    return args


def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)
    settings = Settings(
        quick=args.quick,
        workdir=args.workdir,
        out=args.out,
        xquad=args.xquad,
        segments=args.segments or (100 if args.quick else 600),
        length=args.length,
        beam_size=args.beam_size,
        target=args.target,
        hf_batch_size=args.hf_batch_size,
        threads=args.threads,
        repeats=args.repeats,
    )
    if settings.xquad is None or not settings.xquad.is_file():
        raise SystemExit(
            f"bench: XQuAD-R English file not found: {settings.xquad or '$MTQA_DATA/xquad-r/en.json'} (pass --xquad, or set MTQA_DATA)"
        )
    results = benchmark(settings)
    settings.out.parent.mkdir(parents=True, exist_ok=True)
    settings.out.write_text(json.dumps(results, indent=2) + "\n")
    print(report(results))
    log(f"wrote {settings.out}")


if __name__ == "__main__":
    main()
