"""bench-batches: build-batches on a synthetic parallel corpus vs a plain pyarrow read+write.

Both sides handle the same rows in the same run, at each of several corpus sizes.
Targets: at the first size, build-batches takes at most 2x the plain read+write
time and stays under 2 GiB; at the largest it stays under 4 GiB, and its time and
memory per row stay within 1.2x of the first size's.

Memory is the peak of the process's anonymous memory (its heap). build-batches
reads texts back through a memory map of its spill files, and those pages, which
``ru_maxrss`` also counts, belong to the kernel's file cache: it may drop them at
any time. Both peaks are in the results.

    python -m bench.batches                     # 2M, 5M and 20M rows
    python -m bench.batches --rows 2000000      # one size
    python -m bench.batches --quick             # 200,000 rows
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
import time
from pathlib import Path

import numpy as np

from bench import WORK
from bench.measure import machine, measure

LANGS = ["en", "ar", "de", "es", "hi", "ru", "th", "tr", "zh", "vi"]
QUESTIONS_PER_PASSAGE = 5  # SQuAD's shape
SENTENCES_PER_PASSAGE = 5
GENERATOR = 2  # bumped when make_corpus changes, so a cached corpus is remade
FULL_SIZES = [2_000_000, 5_000_000, 20_000_000]
TARGETS = {"time_ratio_max": 2.0, "peak_rss_mib_max": 2048, "largest_peak_anon_mib_max": 4096, "per_row_ratio_max": 1.2}


def make_corpus(directory: Path, rows: int, seed: int = 0) -> None:
    """A corpus in `mtqa translate` format: rows/len(LANGS) examples in every language, in its row groups.

    Written a row group at a time, so a 20M-row corpus never sits in memory whole.
    """
    import pyarrow as pa
    import pyarrow.parquet as pq

    from mtqa.formats.parallel_corpus import ROW_GROUP_ROWS, corpus_schema

    rng = np.random.default_rng(seed)
    words = np.array(["".join(rng.choice(list("abcdefghijklmnopqrstuvwxyz"), size=rng.integers(2, 10))) for _ in range(5000)])
    examples = rows // len(LANGS)
    data = directory / "data"
    data.mkdir(parents=True, exist_ok=True)

    def texts(count: int, length: int, end: str) -> list[str]:
        return [" ".join(row) + end for row in words[rng.integers(0, len(words), size=(count, length))].tolist()]

    schema = corpus_schema()
    for file_index, lang in enumerate(LANGS):
        path = data / f"train-{file_index:05d}-of-{len(LANGS):05d}.parquet"
        with pq.ParquetWriter(path, schema, compression="zstd") as writer:
            for start in range(0, examples, ROW_GROUP_ROWS):  # ROW_GROUP_ROWS is a multiple of QUESTIONS_PER_PASSAGE
                count = min(ROW_GROUP_ROWS, examples - start)
                passages = -(-count // QUESTIONS_PER_PASSAGE)
                sentences = texts(passages * SENTENCES_PER_PASSAGE, 22, ".")
                grouped = [sentences[i : i + SENTENCES_PER_PASSAGE] for i in range(0, len(sentences), SENTENCES_PER_PASSAGE)]
                passage_of = np.arange(count) // QUESTIONS_PER_PASSAGE
                columns = {
                    "id": [f"q{i}" for i in range(start, start + count)],
                    "lang": [lang] * count,
                    "title": [""] * count,
                    "question": texts(count, 9, "?"),
                    "context": [" ".join(grouped[p]) for p in passage_of],
                    "sentences": [grouped[p] for p in passage_of],
                    "answer_sentence": rng.integers(0, SENTENCES_PER_PASSAGE, size=count).astype(np.int32),
                    "answer_text": [None] * count,
                    "flags": [[] for _ in range(count)],
                }
                writer.write_table(pa.table(columns, schema=schema), row_group_size=ROW_GROUP_ROWS)


PLAIN = """
import sys, pyarrow.parquet as pq, pathlib
source, target = pathlib.Path(sys.argv[1]), pathlib.Path(sys.argv[2])
target.mkdir(parents=True, exist_ok=True)
for path in sorted((source / "data").glob("*.parquet")):
    table = pq.read_table(path, columns=["id", "lang", "question", "context", "sentences", "answer_sentence"])
    pq.write_table(table.select(["id", "lang", "question", "context"]), target / path.name, compression="zstd")
"""


def corpus_of(workdir: Path, rows: int) -> Path:
    """The synthetic corpus of ``rows`` rows, made once (remade when the generator changes)."""
    corpus = workdir / f"corpus-{rows}"
    marker = corpus / "bench-corpus.json"
    if not marker.is_file() or json.loads(marker.read_text()) != {"rows": rows, "generator": GENERATOR}:
        started = time.perf_counter()
        shutil.rmtree(corpus, ignore_errors=True)
        make_corpus(corpus, rows)
        marker.write_text(json.dumps({"rows": rows, "generator": GENERATOR}))
        print(f"made a synthetic {rows:,}-row corpus in {time.perf_counter() - started:.0f}s", file=sys.stderr, flush=True)
    return corpus


def measure_size(workdir: Path, rows: int, positive: str) -> dict:
    """Plain read+write and build-batches on one corpus, side by side."""
    corpus = corpus_of(workdir, rows)
    plain_out, batches_out = workdir / "plain-out", workdir / "batches-out"
    for path in (plain_out, batches_out):
        shutil.rmtree(path, ignore_errors=True)
    plain = measure([sys.executable, "-c", PLAIN, str(corpus), str(plain_out)])
    command = [sys.executable, "-m", "mtqa", "build-batches", "--input", str(corpus), "--output", str(batches_out), "--quiet"]
    built = measure(command + ["--positive", positive])
    manifest = json.loads((batches_out / "manifest.json").read_text())
    shutil.rmtree(batches_out, ignore_errors=True)
    shutil.rmtree(plain_out, ignore_errors=True)
    return {
        "rows": rows,
        "rows_written": manifest["rows"],
        "num_batches": manifest["num_batches"],
        "timings_s": manifest["timings_s"],
        "plain_read_write": {**plain, "rows_per_s": rows / plain["seconds"]},
        "build_batches": {
            **built,
            "rows_per_s": rows / built["seconds"],
            "us_per_row": 1e6 * built["seconds"] / rows,
            "anon_bytes_per_row": built["peak_anon_mib"] * 2**20 / rows,
        },
        "time_ratio": built["seconds"] / plain["seconds"],
    }


def scaling_ratios(sizes: list[dict]) -> dict:
    """The largest size's cost per row over the first size's."""
    first, last = sizes[0]["build_batches"], sizes[-1]["build_batches"]
    return {
        "time_per_row": last["us_per_row"] / first["us_per_row"],
        "memory_per_row": last["anon_bytes_per_row"] / first["anon_bytes_per_row"],
    }


def plot_scaling(result: dict, path: Path) -> None:
    """Time and memory per row against rows, from a result's ``sizes``."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    sizes = result["sizes"]
    rows = [size["rows"] / 1e6 for size in sizes]
    figure, (left, right) = plt.subplots(1, 2, figsize=(9, 3.4))
    left.plot(rows, [s["build_batches"]["us_per_row"] for s in sizes], "o-", label="mtqa build-batches")
    left.plot(rows, [1e6 * s["plain_read_write"]["seconds"] / s["rows"] for s in sizes], "s--", label="plain pyarrow read+write")
    left.set(xlabel="input rows (millions)", ylabel="µs per row", title="time per row", ylim=(0, None))
    right.plot(rows, [s["build_batches"]["peak_anon_mib"] / 1024 for s in sizes], "o-", label="anonymous (heap) peak")
    right.plot(rows, [s["build_batches"]["peak_rss_mib"] / 1024 for s in sizes], "^:", label="RSS peak, with mapped file pages")
    right.axhline(result["targets"]["largest_peak_anon_mib_max"] / 1024, color="grey", linewidth=0.8, label="4 GiB target")
    right.set(xlabel="input rows (millions)", ylabel="GiB", title="build-batches peak memory", ylim=(0, None))
    for axes in (left, right):
        axes.set_xticks(rows, [f"{value:g}" for value in rows])
        axes.legend(fontsize=7)
    figure.suptitle(f"build-batches scaling, {result['date']}, {result['machine']}", fontsize=9)
    figure.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    figure.savefig(path, dpi=110)
    plt.close(figure)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--rows", help="comma-separated corpus sizes, smallest first (default 2000000,5000000,20000000)")
    parser.add_argument("--workdir", type=Path, default=WORK)
    parser.add_argument("--out", type=Path, default=WORK / "results-batches.json")
    parser.add_argument("--positive", default="passage", choices=["passage", "sentence", "sentence+context"])
    args = parser.parse_args()
    rows = [int(value) for value in args.rows.split(",")] if args.rows else ([200_000] if args.quick else FULL_SIZES)
    sizes = []
    for count in rows:
        sizes.append(measure_size(args.workdir, count, args.positive))
        item = sizes[-1]
        print(
            f"{count:,} rows: build-batches {item['build_batches']['seconds']:.1f} s, {item['build_batches']['peak_anon_mib']:.0f} MiB heap "
            f"({item['build_batches']['peak_rss_mib']:.0f} MiB RSS); plain {item['plain_read_write']['seconds']:.1f} s",
            file=sys.stderr,
            flush=True,
        )
    first = sizes[0]
    results = {
        "date": time.strftime("%Y-%m-%d"),
        "machine": machine(),
        "positive": args.positive,
        **{key: first[key] for key in ("rows", "rows_written", "plain_read_write", "build_batches", "time_ratio")},
        "sizes": sizes,
        **({"scaling": scaling_ratios(sizes)} if len(sizes) > 1 else {}),
        "targets": TARGETS,
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(results, indent=2) + "\n")
    print(report(results))


def report(results: dict) -> str:
    lines = [
        f"bench-batches on {results['machine']}, {results['positive']} positives",
        "| rows | method | seconds | rows/s | heap peak MiB | RSS peak MiB |",
        "| ---: | --- | ---: | ---: | ---: | ---: |",
    ]
    for size in results["sizes"]:
        for name, key in (("plain pyarrow read+write", "plain_read_write"), ("mtqa build-batches", "build_batches")):
            item = size[key]
            lines.append(
                f"| {size['rows']:,} | {name} | {item['seconds']:.1f} | {item['rows_per_s']:,.0f} | {item['peak_anon_mib']:.0f} | {item['peak_rss_mib']:.0f} |"
            )
    lines.append(f"time ratio build/plain at {results['rows']:,} rows: {results['time_ratio']:.2f} (target <= {TARGETS['time_ratio_max']})")
    if "scaling" in results:
        largest = results["sizes"][-1]
        lines.append(
            f"at {largest['rows']:,} rows: heap peak {largest['build_batches']['peak_anon_mib']:.0f} MiB (target <= "
            f"{TARGETS['largest_peak_anon_mib_max']}); per row vs {results['rows']:,}: time {results['scaling']['time_per_row']:.2f}x, "
            f"memory {results['scaling']['memory_per_row']:.2f}x (targets <= {TARGETS['per_row_ratio_max']})"
        )
    return "\n".join(lines)


if __name__ == "__main__":
    main()
