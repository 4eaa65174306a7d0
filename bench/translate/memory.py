#!/usr/bin/env python
"""Where `mtqa translate`'s memory goes, against transformers and against CTranslate2's own floor.

Every method runs in its own fresh process on the same unique segments (the first
``--segments`` of bench.translate.run's list) with the NLLB-200-distilled-600M shape:

  (a) mtqa translate at its default --max-batch-tokens and at 1024, with the process's
      resident set and peak at the end of each stage (the manifest's ``memory_mib``);
  (b) a plain ``ctranslate2.Translator`` on the same converted folder, phase by phase
      (import, tokenizer, model, first batch, all batches) at 4096, 1024 and 256 tokens
      per batch: the floor CTranslate2 itself cannot go below at each size;
  (c) transformers ``generate`` in float32, the baseline of the peak-RSS target.

Peak RSS is ``ru_maxrss`` of each process. Usage: python -m bench.translate.memory [--quick] [--out FILE]
"""

from __future__ import annotations

import argparse
import json
import os
import time
from dataclasses import asdict
from pathlib import Path
from typing import Any

from bench import WORK
from bench.translate import run as bt

PHASE_BATCH_TOKENS = (bt.MAX_BATCH_TOKENS, 1024, 256)
SMALL_BATCH_TOKENS = 1024
TARGETS = {"mtqa_vs_transformers_rss": 0.3, "mtqa_vs_plain_ctranslate2_rss": 1.05}


def settings_from(args: argparse.Namespace) -> bt.Settings:
    return bt.Settings(
        quick=args.quick, workdir=args.workdir.resolve(), out=args.out, xquad=args.xquad, segments=args.segments,
        length=32, beam_size=1, target="deu_Latn", hf_batch_size=16, threads=bt.available_cores(), repeats=1,
    )  # fmt: skip


def run_mtqa(settings: bt.Settings, bench_input: Path, prepared: dict[str, Any], env: dict[str, str], tokens: int) -> dict[str, Any]:
    (result, measured), manifest = bt.run_mtqa(
        settings, bench_input, prepared["hf_dir"], prepared["ct2_dir"], env, f"-memory-{tokens}", ("--max-batch-tokens", str(tokens))
    )
    return {
        "max_batch_tokens": tokens,
        "peak_rss_mib": round(measured.peak_rss_mib, 1),
        "seconds": round(measured.seconds, 2),
        "tokens_per_s": round(result["output_tokens"] / result["translate_s"], 1),
        "stages": manifest["memory_mib"],
    }


def benchmark(settings: bt.Settings) -> dict[str, Any]:
    started = time.perf_counter()
    env = {**os.environ, "MTQA_CACHE": str(settings.workdir / "mtqa-cache"), "TOKENIZERS_PARALLELISM": "false"}
    shape = {**asdict(settings.shape), "name": settings.shape.name}
    prepared, _ = bt.run_role(settings, "prepare", {"models_dir": str(settings.workdir / "models"), "shape": shape}, env)
    inputs = settings.workdir / f"inputs-memory-{settings.segments}"
    bench_input, _, segments, _, _ = bt.make_inputs(
        settings.xquad, settings.segments, Path(prepared["ct2_dir"]) / bt.NLLB.source_spm, inputs
    )
    spec = {"segments": segments, "target": settings.target, "length": settings.length, "beam_size": settings.beam_size,
            "threads": settings.threads, "ct2_dir": prepared["ct2_dir"], "hf_dir": prepared["hf_dir"], "hf_batch_size": settings.hf_batch_size}  # fmt: skip
    mtqa = []
    for tokens in (bt.MAX_BATCH_TOKENS, SMALL_BATCH_TOKENS):
        bt.log(f"(a) mtqa translate, --max-batch-tokens {tokens}")
        mtqa.append(run_mtqa(settings, bench_input, prepared, env, tokens))
    plain = []
    for tokens in PHASE_BATCH_TOKENS:
        bt.log(f"(b) plain CTranslate2 by phase, max_batch_size {tokens} tokens")
        result, measured = bt.run_role(settings, "phases", {**spec, "max_batch_tokens": tokens}, env, f"-{tokens}")
        plain.append({**result, "peak_rss_mib": round(measured.peak_rss_mib, 1)})
    bt.log("(c) transformers float32")
    _, transformers_run = bt.run_role(settings, "transformers", spec, env, "-memory")
    transformers = {"peak_rss_mib": round(transformers_run.peak_rss_mib, 1), "seconds": round(transformers_run.seconds, 1)}
    floor = {run["max_batch_tokens"]: run["peak_rss_mib"] for run in plain}
    ratios = {
        f"mtqa_{run['max_batch_tokens']}_vs_transformers_rss": round(run["peak_rss_mib"] / transformers["peak_rss_mib"], 3) for run in mtqa
    }
    ratios |= {
        f"mtqa_{run['max_batch_tokens']}_vs_plain_ctranslate2_rss": round(run["peak_rss_mib"] / floor[run["max_batch_tokens"]], 3)
        for run in mtqa
    }
    ratios["plain_ctranslate2_floor_vs_transformers_rss"] = {
        str(tokens): round(peak / transformers["peak_rss_mib"], 3) for tokens, peak in floor.items()
    }
    ratios["small_vs_default_tokens_per_s"] = round(mtqa[1]["tokens_per_s"] / mtqa[0]["tokens_per_s"], 3)
    return {
        "date": time.strftime("%Y-%m-%d"),
        "mode": "quick" if settings.quick else "full",
        "machine": bt.machine_info(settings.threads),
        "model": {"shape": shape, "model_bin_mib": prepared["model_bin_mib"]},
        "segments": len(segments),
        "mtqa": mtqa,
        "plain_ctranslate2": plain,
        "transformers": transformers,
        "ratios": ratios,
        "targets": TARGETS,
        "total_s": round(time.perf_counter() - started, 1),
    }


def report(results: dict[str, Any]) -> str:
    plain = results["plain_ctranslate2"]
    lines = [
        f"{results['segments']} segments, NLLB-200-distilled-600M shape, int8 model.bin {results['model']['model_bin_mib']} MiB, "
        f"{results['machine']['cpu']}, {results['date']}.",
        "",
    ]
    lines += ["| phase (plain CTranslate2) | " + " | ".join(f"{run['max_batch_tokens']} tokens" for run in plain) + " |"]
    lines += ["| --- |" + " ---: |" * len(plain)]
    for index, mark in enumerate(plain[0]["marks"]):
        cells = [f"{run['marks'][index]['rss_mib']:.0f} ({run['marks'][index]['peak_rss_mib']:.0f})" for run in plain]
        lines.append(f"| {mark['phase']} | " + " | ".join(cells) + " |")
    lines.append("| tokens/s | " + " | ".join(f"{run['tokens_per_s']:.1f}" for run in plain) + " |")
    mtqa = results["mtqa"]
    lines += ["", "| mtqa translate stage | " + " | ".join(f"{run['max_batch_tokens']} tokens" for run in mtqa) + " |"]
    lines += ["| --- |" + " ---: |" * len(mtqa)]
    for stage in mtqa[0]["stages"]:
        cells = [f"{run['stages'][stage].get('rss_mib', 0):.0f} ({run['stages'][stage]['peak_rss_mib']:.0f})" for run in mtqa]
        lines.append(f"| {stage} | " + " | ".join(cells) + " |")
    lines.append("| process peak | " + " | ".join(f"{run['peak_rss_mib']:.0f}" for run in mtqa) + " |")
    lines.append("| tokens/s (translate step) | " + " | ".join(f"{run['tokens_per_s']:.1f}" for run in mtqa) + " |")
    lines += [
        "",
        f"transformers float32, the same segments: peak {results['transformers']['peak_rss_mib']:.0f} MiB. Throughput at "
        f"{mtqa[1]['max_batch_tokens']} tokens a batch / at {mtqa[0]['max_batch_tokens']}: {results['ratios']['small_vs_default_tokens_per_s']:.2f}.",
    ]
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="the half-size model")
    parser.add_argument("--segments", type=int, default=150, help="unique segments (default: %(default)s)")
    parser.add_argument("--workdir", type=Path, default=WORK)
    parser.add_argument("--out", type=Path, default=WORK / "results-translate-memory.json")
    parser.add_argument("--xquad", type=Path, default=bt.DEFAULT_XQUAD)
    args = parser.parse_args()
    results = benchmark(settings_from(args))
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(results, indent=2) + "\n")
    print(report(results))


if __name__ == "__main__":
    main()
