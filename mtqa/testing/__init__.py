"""Tiny models for tests and install smoke checks.

``python -m mtqa.testing tiny-nllb DIR`` writes a random-weight NLLB-architecture model (M2M100) in
Hugging Face format: a SentencePiece BPE vocabulary trained on a few lines, every FLORES-200
language code as a special token, and ``sentencepiece.bpe.model`` next to it, exactly as the hub's
NLLB repositories lay it out. ``tiny-m2m100``, ``tiny-madlad``, ``tiny-opus-mt`` (en-de) and
``tiny-opus-mt-mul`` (``>>deu<<`` targets) do the same for the other translation families, and
``tiny-mbart``, ``tiny-mt5`` and ``tiny-xlmr`` write starting points for ``mtqa train-eval``. Their
outputs are noise; their plumbing is the real thing.
"""

from __future__ import annotations

import argparse
import shutil
import sys
import tempfile
from pathlib import Path

from .builders import TRAINING_LINES, build_tiny_m2m100, build_tiny_nllb, build_tiny_seq2seq, build_tiny_xlmr, train_sentencepiece
from .families import build_tiny_madlad, build_tiny_opus_mt

__all__ = [
    "TRAINING_LINES",
    "build_tiny_m2m100",
    "build_tiny_madlad",
    "build_tiny_nllb",
    "build_tiny_opus_mt",
    "build_tiny_seq2seq",
    "build_tiny_xlmr",
    "main",
    "train_sentencepiece",
]

TINY_MODELS = {
    "tiny-nllb": (build_tiny_nllb, "NLLB"),
    "tiny-m2m100": (build_tiny_m2m100, "M2M-100"),
    "tiny-madlad": (build_tiny_madlad, "MADLAD-400"),
    "tiny-madlad-added-tags": (lambda directory: build_tiny_madlad(directory, tags_in_spm=False), "MADLAD-400 (tags as added tokens)"),
    "tiny-opus-mt": (build_tiny_opus_mt, "OPUS-MT en-de"),
    "tiny-opus-mt-mul": (lambda directory: build_tiny_opus_mt(directory, targets=("deu", "spa", "zho_Hans")), "OPUS-MT en-mul"),
    # Starting points for train-eval: encoder halves of seq2seq models, and an XLM-R.
    "tiny-mbart": (lambda directory: build_tiny_seq2seq(directory, "mbart"), "mBART"),
    "tiny-mt5": (lambda directory: build_tiny_seq2seq(directory, "mt5"), "mT5"),
    "tiny-xlmr": (build_tiny_xlmr, "XLM-R"),
}
ENCODER_MODELS = {"tiny-mbart", "tiny-mt5", "tiny-xlmr"}


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(
        prog="python -m mtqa.testing", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    commands = parser.add_subparsers(dest="command", required=True)
    for name, (_, label) in TINY_MODELS.items():
        tiny = commands.add_parser(name, help=f"write a tiny random {label} model (Hugging Face format) to DIR")
        tiny.add_argument("directory", type=Path)
        tiny.add_argument("--force", action="store_true", help="replace DIR if it exists")
    args = parser.parse_args(argv)
    if args.directory.exists() and any(args.directory.iterdir()) and not args.force:
        sys.exit(f"python -m mtqa.testing: error: {args.directory} is not empty (pass --force to replace it)")
    build, label = TINY_MODELS[args.command]
    staging = Path(tempfile.mkdtemp(prefix=f".{args.command}-", dir=args.directory.parent if args.directory.parent.exists() else None))
    build(staging)
    if args.directory.exists():
        shutil.rmtree(args.directory)
    shutil.move(str(staging), str(args.directory))
    command = "train-eval --batches BATCHES" if args.command in ENCODER_MODELS else "translate"
    print(f"wrote a tiny random {label} model to {args.directory}; try: mtqa {command} --model {args.directory} ...")
