"""The runtime that encodes the evaluation sets (``--eval-engine``): PyTorch, or a float32 CTranslate2 copy.

Evaluation encodes every text of every pool, the longest part of a small run; CTranslate2 does
it faster than PyTorch on a CPU (docs/benchmarks.md has the measured ratio). The copy keeps the weights in
float32, so its vectors equal PyTorch's to about 1e-7 and the metrics do not move (int8
would, and is the similarity filter's trade, not evaluation's). What CTranslate2 does not
run as sentence-transformers does (a Dense layer, an encoder half, a failed conversion)
stays in PyTorch, and so does CUDA, where PyTorch is fast already.
"""

from __future__ import annotations

import contextlib
import dataclasses
import os
import tempfile
from pathlib import Path
from typing import Callable, Iterator

import numpy as np

from .. import log
from ..encoders import ENCODER_ENGINES
from ..encoders.load import encode as torch_encode
from ..errors import MtqaError, first_line
from ..output import remove_stale

TextEncoder = Callable[[list[str], str], np.ndarray]  # (texts, prefix) -> L2-normalised float32 vectors
SCRATCH_PREFIX = ".mtqa-eval-ct2-"  # + pid: a killed run's copies are recognised and removed by the next


@contextlib.contextmanager
def evaluation_encoder(
    model, *, engine: str, workdir: Path, device: str = "cpu", batch_size: int = 64, progress: bool = False
) -> Iterator[tuple[TextEncoder, str]]:
    """An encoder of the model as it is now, and the name of the runtime that runs it."""
    if engine not in ENCODER_ENGINES:
        raise MtqaError(f"--eval-engine {engine!r} is not one of {', '.join(ENCODER_ENGINES)}")

    from tqdm.auto import tqdm

    # One bar for the whole evaluation (texts encoded), not one per call.
    bar = tqdm(unit="text", desc="evaluate", disable=not progress, dynamic_ncols=True)

    def counted(encode: TextEncoder) -> TextEncoder:
        def run(texts: list[str], prefix: str) -> np.ndarray:
            vectors = encode(texts, prefix)
            bar.update(len(texts))
            return vectors

        return run

    def in_torch(texts: list[str], prefix: str) -> np.ndarray:
        return torch_encode(model, texts, prefix=prefix, batch_size=batch_size)

    try:
        with _engine(model, engine, workdir, device, in_torch) as (encode, name):
            yield counted(encode), name
    finally:
        bar.close()


@contextlib.contextmanager
def _engine(model, engine: str, workdir: Path, device: str, in_torch: TextEncoder) -> Iterator[tuple[TextEncoder, str]]:
    if engine == "torch" or device != "cpu":
        yield in_torch, "torch"
        return
    import torch

    # Loading a CTranslate2 model sets this thread's OpenMP thread count to its intra_threads (1):
    # left so, PyTorch would train on one core after the first evaluation.
    threads = torch.get_num_threads()
    try:
        copy = _ctranslate2_copy(model, workdir)
        torch.set_num_threads(threads)
        if copy is None:
            yield in_torch, "torch"
        else:
            yield (lambda texts, prefix: copy.encode(texts, prefix=prefix)), "ctranslate2 float32"
    finally:
        torch.set_num_threads(threads)


def _ctranslate2_copy(model, workdir: Path):
    """The model's weights as they are at this step, saved, converted and loaded; None (and a line why) if it cannot be."""
    from ..encoders.ct2_encoder import CT2SentenceEncoder, convert, ct2_layout

    remove_stale(workdir, SCRATCH_PREFIX)
    with tempfile.TemporaryDirectory(prefix=f"{SCRATCH_PREFIX}{os.getpid()}-", dir=workdir) as scratch:
        saved = Path(scratch) / "model"
        model.save(str(saved), create_model_card=False)
        layout = ct2_layout(str(saved))
        if layout is None:
            log.info("--eval-engine ctranslate2: the model is not Transformer → mean or CLS pooling → Normalize; evaluating in PyTorch")
            return None
        # sentence-transformers 6 keeps max_seq_length out of the saved config; the model has it.
        layout = dataclasses.replace(layout, max_length=int(model.max_seq_length or layout.max_length))
        try:
            convert(layout, Path(scratch) / "ct2", quantization=None, fallback="--eval-engine torch")
            return CT2SentenceEncoder(layout, model=Path(scratch) / "ct2", compute_type="float32")
        except (MtqaError, RuntimeError, ValueError) as error:
            log.info(f"--eval-engine ctranslate2: {first_line(error)}; evaluating in PyTorch")
            return None
