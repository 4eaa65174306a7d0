"""Texts to embeddings with autograd, for training: length-sorted pieces, DDP-aware.

A training step hands its loss columns of texts (queries, positives, hard negatives);
:class:`ColumnEncoder` says how they become embeddings: through which module (the
model, or its DDP wrapper), under which autocast, gathered across which process group.
"""

from __future__ import annotations

import contextlib
from dataclasses import dataclass, field
from typing import Callable

import torch
from torch import Tensor, nn

from ..formats.shards import TrainBatch
from .distributed import Group

DEFAULT_CPU_PIECE_SIZE = 16  # on CPU, padding is paid in full; smaller pieces of similar length waste less


class TextPieces:
    """One column tokenised once, split into pieces of similar length, each trimmed to its own longest text.

    Sorting by length before splitting removes most padding, which on CPU is most of
    the saving (queries of 10 and 90 tokens no longer cost 90 each). Padding is masked
    out, so each text's embedding is the same as in one padded forward.
    """

    def __init__(self, model: nn.Module, texts: list[str], size: int | None) -> None:
        device = next(model.parameters()).device
        features = model.preprocess(texts)
        self.features = {key: value.to(device) if isinstance(value, Tensor) else value for key, value in features.items()}
        mask = self.features.get("attention_mask")
        count = len(texts)
        size = size or count
        if mask is None or size >= count:
            self.rows = [torch.arange(i, min(i + size, count), device=device) for i in range(0, count, size)]
            self.lengths = [None] * len(self.rows)
        else:
            lengths = mask.sum(dim=1)
            order = torch.argsort(lengths, descending=True, stable=True)
            self.rows = [order[i : i + size] for i in range(0, count, size)]
            self.lengths = [int(lengths[rows].max()) for rows in self.rows]
        self.width = mask.shape[1] if mask is not None else None
        self.left = getattr(getattr(model, "tokenizer", None), "padding_side", "right") == "left"

    def __len__(self) -> int:
        return len(self.rows)

    def forward(self, model: nn.Module, number: int) -> Tensor:
        """Embeddings of piece ``number``; ``model`` may be the DDP wrapper of the one planned with."""
        rows, length = self.rows[number], self.lengths[number]
        piece = {}
        for key, value in self.features.items():
            if isinstance(value, Tensor) and value.ndim == 2 and value.shape[1] == self.width:
                value = value[rows]
                if length is not None:
                    value = value[:, -length:] if self.left else value[:, :length]
            piece[key] = value
        return model(piece)["sentence_embedding"]

    def restore_order(self, pieces: list[Tensor]) -> Tensor:
        """The pieces' embeddings concatenated back into the column's order."""
        return torch.cat(pieces)[torch.argsort(torch.cat(self.rows))]


def embed(model: nn.Module, texts: list[str], piece_size: int | None = None, runner: nn.Module | None = None) -> Tensor:
    """Sentence embeddings of ``texts`` (in order) through a SentenceTransformer, with autograd unlike ``encode``.

    ``piece_size`` runs length-sorted pieces of that many texts (less padding); None: one forward.
    ``runner`` is what the forwards go through (the DDP wrapper in distributed training).
    """
    if not texts:
        return torch.zeros((0, model.get_sentence_embedding_dimension()), device=next(model.parameters()).device)
    pieces = TextPieces(model, texts, piece_size)
    return pieces.restore_order([pieces.forward(runner or model, number) for number in range(len(pieces))])


def default_piece_size(piece_size: int | None, device: torch.device) -> int | None:
    return piece_size or (DEFAULT_CPU_PIECE_SIZE if device.type == "cpu" else None)


@dataclass
class ColumnEncoder:
    """The model, the module its forwards go through (itself, or its DDP wrapper), autocast, and the process group."""

    model: nn.Module
    runner: nn.Module | None = None
    group: Group = field(default_factory=Group)
    autocast: Callable[[], contextlib.AbstractContextManager] = contextlib.nullcontext

    @property
    def forward_module(self) -> nn.Module:
        return self.runner or self.model


def batch_rows(batch: TrainBatch, start: int, stop: int) -> TrainBatch:
    """Rows ``start:stop`` of the batch (one rank's share in distributed training)."""
    pick = slice(start, stop)
    return TrainBatch(
        batch.index,
        batch.batch_type,
        batch.queries[pick],
        batch.positives[pick],
        batch.positive_context[pick] if batch.positive_context is not None else None,
        batch.negatives[pick] if batch.negatives is not None else None,
        batch.sub_batch[pick] if batch.sub_batch is not None else None,
    )


def sub_batches(batch: TrainBatch) -> list[tuple[str, TrainBatch]]:
    """``(label, rows)`` of each sub-batch in stored order (the xx and xy halves of a multitask batch); a batch
    without labels is one, labelled by its type."""
    labels = batch.sub_batch
    if labels is None:
        return [(batch.batch_type, batch)]
    starts = [i for i in range(len(batch)) if i == 0 or labels[i] != labels[i - 1]]
    return [(labels[start], batch_rows(batch, start, stop)) for start, stop in zip(starts, [*starts[1:], len(batch)])]


def step_columns(
    batch: TrainBatch, query_prefix: str, passage_prefix: str, group: Group | None = None
) -> tuple[list[list[str]], list[tuple[str, int]]]:
    """Every sub-batch's columns one after the other, and each sub-batch's (label, number of columns)."""
    columns, layout = [], []
    for label, rows in sub_batches(batch):
        part = batch_columns(rows, query_prefix, passage_prefix, group)
        columns += part
        layout.append((label, len(part)))
    return columns, layout


def batch_columns(batch: TrainBatch, query_prefix: str, passage_prefix: str, group: Group | None = None) -> list[list[str]]:
    """Prefixed queries, positives and (when the batch has any) hard negatives; this rank's rows only."""
    group = group or Group()
    has_negatives = bool(batch.negative_texts())
    if group.world > 1:
        batch = batch_rows(batch, *group.span(len(batch)))
    columns = [[query_prefix + text for text in batch.queries], [passage_prefix + text for text in batch.positive_texts()]]
    if has_negatives:  # every rank has the column, even one whose rows have no negatives: the gathers must match
        columns.append([passage_prefix + text for text in batch.negative_texts()])
    return columns
