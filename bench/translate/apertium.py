#!/usr/bin/env python
"""Apertium, each segment translated alone, against the old way (``apertium -u -f line`` per chunk), side by side.

Both translate the unique English segments of XQuAD-R (questions and sentences of every
article) into Spanish, in the chunks mtqa makes (``--max-batch-tokens`` space-separated
tokens), one chunk per worker thread as :class:`~mtqa.translate.apertium.ApertiumExecutor`
runs them. The two alternate within each repeat; the figure is the median segments/s. It
also counts the segments whose old translation differs from the one they get alone.

    python -m bench.translate.apertium [--repeats 3] [--out bench/results/apertium-isolation.json]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from bench import RESULTS, ROOT
from bench.measure import available_cores, machine
from mtqa.languages import get_language
from mtqa.translate import apertium
from mtqa.translate.model.translator import MAX_BATCH_TOKENS


def xquad_segments(data: Path) -> list[str]:
    articles = json.loads((data / "xquad-r" / "en.json").read_text(encoding="utf-8"))["data"]
    texts = [
        text
        for article in articles
        for paragraph in article["paragraphs"]
        for text in [*paragraph["sentences"], *(qa["question"] for qa in paragraph["qas"])]
    ]
    return [text for text in dict.fromkeys(text.strip() for text in texts) if text]


def chunks(segments: list[str], max_tokens: int) -> list[list[str]]:
    out, current, tokens = [], [], 0
    for segment in segments:
        size = len(segment.split(" "))
        if current and tokens + size > max_tokens:
            out.append(current)
            current, tokens = [], 0
        current.append(segment)
        tokens += size
    return out + ([current] if current else [])


def old_way(lines: list[str], mode: str) -> list[str]:
    """What mtqa did before: every line of the chunk through one ``apertium -u -f line`` (lines see each other)."""
    flat = [line for text in lines for line in text.split("\n")]
    done = subprocess.run(
        ["apertium", "-u", "-f", "line", mode], input="".join(f"{line}\n" for line in flat), capture_output=True, text=True
    )
    output = [line.rstrip(" ") for line in done.stdout.split("\n")[: len(flat)]]
    translated = iter(output)
    return ["\n".join(next(translated) for _ in text.split("\n")) for text in lines]


def timed(translate, work: list[list[str]], workers: int) -> tuple[float, list[str]]:
    start = time.perf_counter()
    with ThreadPoolExecutor(workers) as pool:
        results = list(pool.map(translate, work))
    return time.perf_counter() - start, [text for chunk in results for text in chunk]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--max-batch-tokens", type=int, default=MAX_BATCH_TOKENS)
    parser.add_argument("--out", type=Path, default=RESULTS / "apertium-isolation.json")
    args = parser.parse_args()
    if args.repeats < 1:
        parser.error("--repeats must be at least 1")
    data = Path(os.environ.get("MTQA_DATA", ROOT.parent / "shared" / "data"))
    pair = apertium.resolve_pairs("apertium:eng-spa", [get_language("es")])["spa_Latn"]
    translator = apertium.ApertiumTranslator({"spa_Latn": pair})
    segments = xquad_segments(data)
    work, workers = chunks(segments, args.max_batch_tokens), available_cores()
    seconds: dict[str, list[float]] = {"old": [], "alone": []}
    outputs: dict[str, list[str]] = {}
    for _ in range(args.repeats):
        for name, translate in (
            ("old", lambda chunk: old_way(chunk, pair.mode)),
            ("alone", lambda chunk: translator.translate_texts(chunk, pair)),
        ):
            took, outputs[name] = timed(translate, work, workers)
            seconds[name].append(took)
    rate = {name: len(segments) / statistics.median(values) for name, values in seconds.items()}
    result = {
        "machine": machine(),
        "date": time.strftime("%Y-%m-%d"),
        "pair": pair.describe(),
        "segments": len(segments),
        "chunks": len(work),
        "workers": workers,
        "repeats": args.repeats,
        "segments_per_s": {name: round(value, 1) for name, value in rate.items()},
        "ratio_alone_to_old": round(rate["alone"] / rate["old"], 3),
        "target_ratio": 0.8,
        "segments_that_differ": sum(a != b for a, b in zip(outputs["old"], outputs["alone"])),
        "segments_that_differ_beyond_final_punctuation": sum(
            a.rstrip(".?!") != b.rstrip(".?!") for a, b in zip(outputs["old"], outputs["alone"])
        ),
        "old_without_final_full_stop": sum(1 for s, t in zip(segments, outputs["old"]) if s.endswith(".") and not t.endswith(".")),
        "alone_without_final_full_stop": sum(1 for s, t in zip(segments, outputs["alone"]) if s.endswith(".") and not t.endswith(".")),
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    temporary = args.out.with_suffix(".tmp")
    temporary.write_text(json.dumps(result, indent=2) + "\n")
    temporary.replace(args.out)
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
