"""bench-train: `mtqa.train` vs a training loop with sentence-transformers' MultipleNegativesRankingLoss.

Both sides train the offline all-MiniLM-L6-v2 on the same stored batches, in the
same order (build-batches shards of XQuAD-R sentence positives, or of a synthetic
corpus when XQuAD-R is absent), with the same prefixes, max_length, optimiser
settings and number of steps; each in its own subprocess, so peak RSS (os.wait4)
is its own. Target: mtqa trains at >= 1.0x the samples/s at <= 1.0x the memory.

    python -m bench.train         # 100 steps
    python -m bench.train --quick # 10 steps
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from bench import ROOT, WORK
from bench.measure import machine, measure
from mtqa.paths import find_data
from mtqa.train.config import TrainConfig

XQUAD_R = find_data("xquad-r")
QUERY, PASSAGE = TrainConfig.query_prefix, TrainConfig.passage_prefix


def make_shards(target: Path, steps: int, batch_size: int) -> str:
    """Shards with ``steps`` batches; returns what they were made from."""
    if XQUAD_R is not None:
        source, spec = "XQuAD-R (sentence positives)", f"lareqa:{XQUAD_R}"
    else:
        from bench.batches import make_corpus

        corpus = target.parent / "train-corpus"
        make_corpus(corpus, max(2000, steps * batch_size * 2))
        source, spec = "synthetic corpus (bench.batches)", str(corpus)
    subprocess.run(
        [
            sys.executable,
            "-m",
            "mtqa",
            "build-batches",
            "--input",
            spec,
            "--output",
            str(target),
            "--overwrite",
            "--quiet",
            "--batch-size",
            str(batch_size),
            "--num-batches",
            str(steps),
            "--positive",
            "sentence",
        ],
        check=True,
        cwd=ROOT,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    return source


def run_mtqa(shards: Path, steps: int, max_length: int, result: Path) -> None:
    from mtqa.encoders.load import load_encoder, offline_minilm
    from mtqa.train.trainer import train

    model = load_encoder(str(offline_minilm()), max_length=max_length)
    config = TrainConfig(max_steps=steps, save_every=None, query_prefix=QUERY, passage_prefix=PASSAGE)
    with tempfile.TemporaryDirectory() as output:
        summary = train(config, model, shards, Path(output) / "run", progress=False)
    result.write_text(
        json.dumps(
            {
                "samples": summary["samples"],
                "train_seconds": summary["seconds"],
                "first_loss": summary["first_loss"],
                "final_loss": summary["final_loss"],
            }
        )
    )


def run_sentence_transformers(shards: Path, steps: int, max_length: int, result: Path) -> None:
    """A minimal loop around the library's own loss (its Trainer needs accelerate, which mtqa does not install)."""
    import torch
    from sentence_transformers import SentenceTransformer
    from sentence_transformers.sentence_transformer.losses import MultipleNegativesRankingLoss
    from transformers import get_linear_schedule_with_warmup

    from mtqa.encoders.load import offline_minilm
    from mtqa.formats.shards import iter_batches

    torch.manual_seed(0)
    model = SentenceTransformer(str(offline_minilm()), device="cpu")
    model.max_seq_length = max_length
    loss_fn = MultipleNegativesRankingLoss(model, scale=20.0)  # scale 20 = temperature 0.05
    decay = [p for p in model.parameters() if p.ndim >= 2]
    no_decay = [p for p in model.parameters() if p.ndim < 2]
    optimizer = torch.optim.AdamW([{"params": decay, "weight_decay": 0.01}, {"params": no_decay, "weight_decay": 0.0}], lr=3e-5)
    scheduler = get_linear_schedule_with_warmup(optimizer, round(0.1 * steps), steps)
    model.train()
    losses, samples = [], 0
    started = time.perf_counter()
    for _, batch in zip(range(steps), iter_batches(shards)):
        # Tokenised per column, as the library's data collator does; the loss embeds the columns.
        features = [
            model.preprocess([QUERY + text for text in batch.queries]),
            model.preprocess([PASSAGE + text for text in batch.positive_texts()]),
        ]
        loss = loss_fn(features, None)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        optimizer.step()
        scheduler.step()
        optimizer.zero_grad(set_to_none=True)
        losses.append(loss.item())
        samples += len(batch)
    seconds = time.perf_counter() - started
    with tempfile.TemporaryDirectory() as output:
        model.save(str(Path(output) / "model"))  # mtqa saves its final model too
    result.write_text(json.dumps({"samples": samples, "train_seconds": seconds, "first_loss": losses[0], "final_loss": losses[-1]}))


def run_side(side: str, shards: Path, steps: int, max_length: int, result: Path, env: dict[str, str]) -> dict[str, Any]:
    """One trainer in its own process: its wall time and peak memory, and what it reported."""
    command = [sys.executable, "-m", "bench.train", "--side", side, "--shards", str(shards), "--result", str(result)]
    process = measure([*command, "--steps", str(steps), "--max-length", str(max_length)], env=env, cwd=ROOT)
    inner = json.loads(result.read_text())
    return {**process, **inner, "samples_per_s": inner["samples"] / inner["train_seconds"]}


def print_results(results: dict[str, Any]) -> None:
    mtqa, st = results["mtqa"], results["sentence-transformers"]
    print(
        f"bench-train on {results['machine']}: {results['steps']} steps of {results['batch_size']} ({results['data']}), "
        f"max_length {results['max_length']}"
    )
    print("| trainer | train s | samples/s | wall s | peak RSS MiB | loss first -> last |")
    print("| --- | ---: | ---: | ---: | ---: | --- |")
    for name, item in (("mtqa.train (InfoNCE)", mtqa), ("sentence-transformers MNRL loop", st)):
        print(
            f"| {name} | {item['train_seconds']:.1f} | {item['samples_per_s']:.1f} | {item['seconds']:.1f} | "
            f"{item['peak_rss_mib']:.0f} | {item['first_loss']:.3f} -> {item['final_loss']:.3f} |"
        )
    print(f"speed ratio mtqa/st: {results['speed_ratio']:.2f} (target >= 1.0); memory ratio: {results['memory_ratio']:.2f} (target <= 1.0)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--steps", type=int)
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--max-length", type=int, default=128)
    parser.add_argument("--workdir", type=Path, default=WORK)
    parser.add_argument("--out", type=Path, default=WORK / "results-train.json")
    parser.add_argument("--side", choices=["mtqa", "sentence-transformers"], help=argparse.SUPPRESS)
    parser.add_argument("--shards", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--result", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    steps = args.steps or (10 if args.quick else 100)
    if args.side:  # one side, in its own process
        run = run_mtqa if args.side == "mtqa" else run_sentence_transformers
        run(args.shards, steps, args.max_length, args.result)
        return

    shards = args.workdir / f"train-shards-{steps}x{args.batch_size}"
    shutil.rmtree(shards, ignore_errors=True)
    shards.parent.mkdir(parents=True, exist_ok=True)
    source = make_shards(shards, steps, args.batch_size)
    env = {
        **os.environ,
        "HF_HUB_OFFLINE": "1",
        "TOKENIZERS_PARALLELISM": "false",
    }
    results = {
        "date": time.strftime("%Y-%m-%d"),
        "machine": machine(),
        "data": source,
        "steps": steps,
        "batch_size": args.batch_size,
        "max_length": args.max_length,
        "model": "all-MiniLM-L6-v2 (offline)",
    }
    for side in ("mtqa", "sentence-transformers"):
        results[side] = run_side(side, shards, steps, args.max_length, args.workdir / f"result-{side}.json", env)
    mtqa, st = results["mtqa"], results["sentence-transformers"]
    results["speed_ratio"] = mtqa["samples_per_s"] / st["samples_per_s"]
    results["memory_ratio"] = mtqa["peak_rss_mib"] / st["peak_rss_mib"]
    results["targets"] = {"speed_ratio_min": 1.0, "memory_ratio_max": 1.0}
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(results, indent=2) + "\n")

    print_results(results)


if __name__ == "__main__":
    main()
