"""bench-batches: build-batches on a synthetic parallel corpus vs a plain pyarrow read+write.

Both sides handle the same rows in the same run. Targets: build-batches takes at
most 2x the plain read+write time and stays under 2 GiB peak RSS.

    python bench/bench_batches.py            # 2,000,000 rows
    python bench/bench_batches.py --quick    # 200,000 rows
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from measure import machine, measure  # noqa: E402

LANGS = ["en", "ar", "de", "es", "hi", "ru", "th", "tr", "zh", "vi"]
QUESTIONS_PER_PASSAGE = 5  # SQuAD's shape
SENTENCES_PER_PASSAGE = 5


def make_corpus(directory: Path, rows: int, seed: int = 0) -> None:
    """A corpus in `mtqa translate` format: rows/len(LANGS) examples in every language."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    rng = np.random.default_rng(seed)
    words = np.array(["".join(rng.choice(list("abcdefghijklmnopqrstuvwxyz"), size=rng.integers(2, 10))) for _ in range(5000)])
    examples = rows // len(LANGS)
    passages = examples // QUESTIONS_PER_PASSAGE
    data = directory / "data"
    data.mkdir(parents=True, exist_ok=True)

    def sentence(count: int) -> list[str]:
        picks = rng.integers(0, len(words), size=(count, 22))
        return [" ".join(words[row]) + "." for row in picks]

    for file_index, lang in enumerate(LANGS):
        sentences = np.array(sentence(passages * SENTENCES_PER_PASSAGE), dtype=object).reshape(passages, SENTENCES_PER_PASSAGE)
        contexts = [" ".join(row) for row in sentences]
        questions = [" ".join(words[row]) + "?" for row in rng.integers(0, len(words), size=(examples, 9))]
        passage_of = np.arange(examples) // QUESTIONS_PER_PASSAGE
        table = pa.table(
            {
                "id": pa.array([f"q{i}" for i in range(examples)]),
                "lang": pa.array([lang] * examples),
                "title": pa.array([""] * examples),
                "question": pa.array(questions),
                "context": pa.array([contexts[p] for p in passage_of]),
                "sentences": pa.array([list(sentences[p]) for p in passage_of], pa.list_(pa.string())),
                "answer_sentence": pa.array(rng.integers(0, SENTENCES_PER_PASSAGE, size=examples).astype(np.int32)),
                "answer_text": pa.array([None] * examples, pa.string()),
                "flags": pa.array([[] for _ in range(examples)], pa.list_(pa.string())),
            }
        )
        pq.write_table(table, data / f"train-{file_index:05d}-of-{len(LANGS):05d}.parquet", compression="zstd")


PLAIN = """
import sys, pyarrow.parquet as pq, pathlib
source, target = pathlib.Path(sys.argv[1]), pathlib.Path(sys.argv[2])
target.mkdir(parents=True, exist_ok=True)
for path in sorted((source / "data").glob("*.parquet")):
    table = pq.read_table(path, columns=["id", "lang", "question", "context", "sentences", "answer_sentence"])
    pq.write_table(table.select(["id", "lang", "question", "context"]), target / path.name, compression="zstd")
"""


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--rows", type=int)
    parser.add_argument("--workdir", type=Path, default=Path("bench/work"))
    parser.add_argument("--out", type=Path, default=Path("bench/results-batches.json"))
    parser.add_argument("--positive", default="passage", choices=["passage", "sentence", "sentence+context"])
    args = parser.parse_args()
    rows = args.rows or (200_000 if args.quick else 2_000_000)
    corpus = args.workdir / f"corpus-{rows}"
    if not (corpus / "data").is_dir():
        started = time.perf_counter()
        shutil.rmtree(corpus, ignore_errors=True)
        make_corpus(corpus, rows)
        print(f"made a synthetic {rows:,}-row corpus in {time.perf_counter() - started:.0f}s", file=sys.stderr)

    plain_out, batches_out = args.workdir / "plain-out", args.workdir / "batches-out"
    for path in (plain_out, batches_out):
        shutil.rmtree(path, ignore_errors=True)
    plain = measure([sys.executable, "-c", PLAIN, str(corpus), str(plain_out)])
    built = measure(
        [
            sys.executable,
            "-m",
            "mtqa",
            "build-batches",
            "--input",
            str(corpus),
            "--output",
            str(batches_out),
            "--quiet",
            "--positive",
            args.positive,
        ]
    )
    manifest = json.loads((batches_out / "manifest.json").read_text())
    results = {
        "date": time.strftime("%Y-%m-%d"),
        "machine": machine(),
        "rows": rows,
        "rows_written": manifest["rows"],
        "positive": args.positive,
        "plain_read_write": {**plain, "rows_per_s": rows / plain["seconds"]},
        "build_batches": {**built, "rows_per_s": rows / built["seconds"]},
        "time_ratio": built["seconds"] / plain["seconds"],
        "targets": {"time_ratio_max": 2.0, "peak_rss_mib_max": 2048},
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(results, indent=2) + "\n")
    print(
        f"bench-batches on {results['machine']}, {rows:,} input rows ({manifest['rows']:,} written in "
        f"{manifest['num_batches']:,} batches, {args.positive} positives)"
    )
    print("| method | seconds | rows/s | peak RSS MiB |")
    print("| --- | ---: | ---: | ---: |")
    for name, key in (("plain pyarrow read+write", "plain_read_write"), ("mtqa build-batches", "build_batches")):
        item = results[key]
        print(f"| {name} | {item['seconds']:.1f} | {item['rows_per_s']:,.0f} | {item['peak_rss_mib']:.0f} |")
    print(
        f"time ratio build/plain: {results['time_ratio']:.2f} (target <= 2.0); "
        f"build peak RSS {built['peak_rss_mib']:.0f} MiB (target < 2048)"
    )


if __name__ == "__main__":
    main()
