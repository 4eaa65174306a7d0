"""The route a command's config takes through mtqa's calls: how many functions receive it (stops), in how many
files, and how often the route climbs back up a layer (a call into a higher layer of the package's map than the
stop before it: formats and shared modules 1, encoders 2, stages 3, cli / recipe / train_eval / studies 4).

It runs the command in-process on tiny models and XQuAD-R, with a profiler that notes every call into mtqa whose
arguments hold the command's config, or a part of it (TrainConfig inside TrainEvalConfig, ...):

    MTQA_DATA=../shared/data python tools/config_route.py train-eval [--list]
    MTQA_DATA=../shared/data python tools/config_route.py translate

A measuring tool for reviews of the code's shape (issue 40), not part of the package.
"""

from __future__ import annotations

import argparse
import contextlib
import io
import sys
import tempfile
from pathlib import Path

CONFIG_TYPES = {
    "train-eval": {"TrainEvalConfig", "TrainConfig", "EvalSettings"},
    "translate": {"TranslateConfig", "FilterOptions"},
}
TOP = {"cli", "recipe", "demo", "__main__", "studies", "train_eval", "api"}
STAGES = {"translate", "batches", "train", "evaluate"}


def layer(module: str) -> int:
    parts = module.split(".")
    head = parts[1] if len(parts) > 1 else ""
    return 4 if head in TOP else 3 if head in STAGES else 2 if head == "encoders" else 1


def route(argv: list[str], types: set[str]) -> list[tuple[str, str]]:
    """(module, function) of every call into mtqa whose arguments hold a config object, in call order."""
    import mtqa

    root = str(Path(mtqa.__file__).resolve().parent)
    stops: list[tuple[str, str]] = []

    def profile(frame, event, arg):
        if event != "call" or not frame.f_code.co_filename.startswith(root):
            return
        code = frame.f_code
        names = code.co_varnames[: code.co_argcount + code.co_kwonlyargcount]
        if any(type(frame.f_locals.get(name)).__name__ in types for name in names):
            stops.append((frame.f_globals.get("__name__", "?"), code.co_qualname))

    from mtqa.cli import main

    sys.setprofile(profile)
    try:
        with contextlib.redirect_stdout(io.StringIO()):  # the command's own report
            main(argv)
    finally:
        sys.setprofile(None)
    return stops


def prepare(command: str, work: Path) -> list[str]:
    from mtqa.cli import main
    from mtqa.paths import find_data
    from mtqa.testing import build_tiny_nllb, build_tiny_xlmr

    xquad = find_data("xquad-r")
    if xquad is None:
        raise SystemExit("set MTQA_DATA to the folder holding xquad-r/")
    if command == "translate":
        model = build_tiny_nllb(work / "nllb")
        return ["translate", "--input", str(xquad / "en.json"), "--model", str(model), "--langs", "de", "--allow-empty",
                "--max-decoding-length", "8", "--output", str(work / "corpus"), "--quiet"]  # fmt: skip
    model = build_tiny_xlmr(work / "xlmr")
    with contextlib.redirect_stdout(io.StringIO()):
        main(["build-batches", "--input", f"lareqa:{xquad}", "--articles", "0-1", "--batch-size", "8", "--num-batches", "4",
              "--positive", "sentence", "--output", str(work / "shards"), "--quiet"])  # fmt: skip
    return ["train-eval", "--batches", str(work / "shards"), "--model", str(model), "--max-length", "32", "--eval",
            f"lareqa:{xquad}", "--eval-articles", "47", "--eval-langs", "en,de", "--output", str(work / "run"), "--quiet"]  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("command", choices=sorted(CONFIG_TYPES))
    parser.add_argument("--list", action="store_true", help="print every stop")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        stops = route(prepare(args.command, Path(folder)), CONFIG_TYPES[args.command])
    distinct = list(dict.fromkeys(stops))
    climbs = sum(layer(after[0]) > layer(before[0]) for before, after in zip(distinct, distinct[1:]))
    if args.list:
        for module, function in distinct:
            print(f"  {layer(module)} {module}.{function}")
    files = {module for module, _ in distinct}
    print(f"{args.command}: {len(distinct)} stops in {len(files)} files, {climbs} climbs back up a layer ({len(stops)} calls)")


if __name__ == "__main__":
    main()
