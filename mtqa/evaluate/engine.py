"""The runtime that encodes the evaluation sets (``--eval-engine``): PyTorch, or a float32 CTranslate2 copy.

Evaluating a study run encodes 12,700 texts of the 11-language XQuAD-R pools; on 2 CPU
cores CTranslate2 does it about 1.7x faster than PyTorch. The copy keeps the weights in
float32, so its vectors equal PyTorch's to about 1e-7 and the metrics do not move (int8
would, and is the similarity filter's trade, not evaluation's). Models CTranslate2 does not
run as sentence-transformers does (a Dense layer, an encoder half) stay in PyTorch.
"""

from __future__ import annotations

import contextlib
import dataclasses
import sys
import tempfile
from pathlib import Path
from typing import Callable, Iterator

import numpy as np

from ..encoders.load import encode as torch_encode

TextEncoder = Callable[[list[str], str], np.ndarray]  # (texts, prefix) -> L2-normalised float32 vectors


@contextlib.contextmanager
def evaluation_encoder(model, *, engine: str, workdir: Path, device: str = "cpu", batch_size: int = 64,
                       progress: bool = False) -> Iterator[tuple[TextEncoder, str]]:
    """An encoder of the model as it is now, and the name of the runtime that runs it."""

    def in_torch(texts: list[str], prefix: str) -> np.ndarray:
        return torch_encode(model, texts, prefix=prefix, batch_size=batch_size, progress=progress)

    if engine == "torch":
        yield in_torch, "torch"
        return
    from ..encoders.ct2_encoder import CT2SentenceEncoder, convert, ct2_layout

    # The weights as they are at this step: saved, converted, loaded, then the copies removed.
    with tempfile.TemporaryDirectory(prefix=".tmp-eval-ct2-", dir=workdir) as scratch:
        saved = Path(scratch) / "model"
        model.save(str(saved))
        layout = ct2_layout(str(saved))
        if layout is None:
            print("mtqa: --eval-engine ctranslate2: this model's modules are not Transformer → mean/CLS pooling → Normalize; "
                  "evaluating in PyTorch", file=sys.stderr)
            yield in_torch, "torch"
            return
        layout = dataclasses.replace(layout, max_length=int(model.max_seq_length))
        copy = Path(scratch) / "ct2"
        convert(layout, copy, quantization=None, fallback="--eval-engine torch")
        encoder = CT2SentenceEncoder(layout, model=copy, compute_type="float32", device=device)
    yield (lambda texts, prefix: encoder.encode(texts, prefix=prefix, progress=progress)), "ctranslate2 float32"
