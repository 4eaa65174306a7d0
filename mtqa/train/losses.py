"""Training losses as small composable modules, in the style of sentence-transformers.

* :class:`InfoNCELoss` scores embeddings: queries against the batch's positives and
  hard negatives.
* :class:`EmbeddingLoss` encodes a step's columns of texts with autograd and applies it.
* :class:`CachedEmbeddingLoss` does the same with GradCache (Gao et al., 2021), as
  sentence-transformers' ``CachedMultipleNegativesRankingLoss`` does: the full-batch
  gradient with the activation memory of one chunk.

The trainer calls either as ``loss = objective(encoder, columns)`` and then
``(loss * scale).backward()`` once, with no random draws in between: the cached loss
replays its chunks inside that backward and then leaves the generators where its
first pass left them, as the uncached loss would.
"""

from __future__ import annotations

import functools

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from ..errors import MtqaError
from .distributed import no_sync
from .encode import ColumnEncoder, TextPieces, embed
from .rng import set_torch_rng_state, torch_rng_state


class InfoNCELoss(nn.Module):
    """Cross-entropy over cosine similarities / temperature, with row i's positive as target i.

    Each query is scored against every positive of the batch and every hard negative
    of the batch (all rows' negatives, flattened). ``symmetric`` adds the
    passage-to-query direction (each positive against the batch's queries) and
    averages the two.
    """

    def __init__(self, temperature: float = 0.05, symmetric: bool = False) -> None:
        super().__init__()
        if temperature <= 0:
            raise MtqaError(f"temperature must be positive, got {temperature}")
        self.temperature, self.symmetric = temperature, symmetric

    def forward(self, queries: Tensor, positives: Tensor, negatives: Tensor | None = None) -> Tensor:
        target = torch.arange(len(queries), device=queries.device)
        loss = F.cross_entropy(in_batch_scores(queries, positives, negatives, temperature=self.temperature), target)
        if self.symmetric:
            loss = (loss + F.cross_entropy(in_batch_scores(positives, queries, temperature=self.temperature), target)) / 2
        return loss


def in_batch_scores(queries: Tensor, positives: Tensor, negatives: Tensor | None = None, *, temperature: float) -> Tensor:
    """Cosine similarity / temperature of every query against the batch's positives, then its hard negatives."""
    # fp32 even under autocast: 1/0.05 scales bf16 rounding error 20-fold.
    candidates = positives if negatives is None or len(negatives) == 0 else torch.cat([positives, negatives])
    return F.normalize(queries.float(), dim=-1) @ F.normalize(candidates.float(), dim=-1).T / temperature


class ScoreDistillationLoss(nn.Module):
    """``loss`` plus ``weight`` · KL(teacher ‖ student) over each query's scores against the batch's candidates.

    The teacher is the frozen base model: keeping the student's in-batch score distribution near
    the base model's holds on to what the base knew (its monolingual ranking) while InfoNCE teaches
    the new task. :meth:`set_teacher` receives the teacher's embeddings of the step's columns
    before the objective runs; both sides score with the same temperature. With ``negatives=False``
    the KL term scores the batch's positives only: the base's view of the hard negatives (other
    sentences of the gold paragraph, which it often confuses with the answer) is left out of the target.
    """

    def __init__(self, loss: nn.Module, weight: float, temperature: float = 0.05, negatives: bool = True) -> None:
        super().__init__()
        if weight <= 0 or temperature <= 0:
            raise MtqaError(f"distillation weight and temperature must be positive, got {weight} and {temperature}")
        self.loss, self.weight, self.temperature, self.negatives = loss, weight, temperature, negatives
        self.teacher: list[Tensor] | None = None

    def set_teacher(self, embeddings: list[Tensor]) -> None:
        self.teacher = [column.detach().float() for column in embeddings]

    def forward(self, *embeddings: Tensor) -> Tensor:
        if self.teacher is None or len(self.teacher) != len(embeddings):
            raise MtqaError("score distillation needs the teacher's embeddings of the same columns; call set_teacher first")
        scored = len(embeddings) if self.negatives else 2
        student = F.log_softmax(in_batch_scores(*embeddings[:scored], temperature=self.temperature), dim=-1)
        teacher = F.log_softmax(in_batch_scores(*self.teacher[:scored], temperature=self.temperature), dim=-1)
        return self.loss(*embeddings) + self.weight * F.kl_div(student, teacher, log_target=True, reduction="batchmean")


class SubBatchLoss(nn.Module):
    """Multitask steps: a weighted sum of ``loss`` over sub-batches, each scored against its own rows only.

    The embeddings arrive as the sub-batches' columns one after the other; ``layout`` gives
    each sub-batch's weight and number of columns (2, or 3 with hard negatives).
    """

    def __init__(self, loss: nn.Module, layout: list[tuple[float, int]]) -> None:
        super().__init__()
        self.loss, self.layout = loss, layout

    def forward(self, *embeddings: Tensor) -> Tensor:
        total, start = None, 0
        for weight, width in self.layout:
            term = weight * self.loss(*embeddings[start : start + width])
            total, start = term if total is None else total + term, start + width
        return total


class EmbeddingLoss(nn.Module):
    """Encode each column with autograd (length-sorted pieces of ``piece_size`` texts), gather, score with ``loss``."""

    def __init__(self, loss: nn.Module, piece_size: int | None = None) -> None:
        super().__init__()
        self.loss, self.piece_size = loss, piece_size

    def forward(self, encoder: ColumnEncoder, columns: list[list[str]]) -> Tensor:
        with encoder.autocast():
            embeddings = [embed(encoder.model, texts, self.piece_size, runner=encoder.forward_module) for texts in columns]
        return self.loss(*[encoder.group.gather(column) for column in embeddings])


class CachedEmbeddingLoss(nn.Module):
    """GradCache: the gradient of ``loss`` over the whole batch, encoding ``chunk`` texts at a time.

    1. ``forward`` encodes every chunk without autograd, keeping the embeddings, computes
       the loss on them (gathered from every rank in distributed training) and its
       gradient with respect to this rank's embeddings;
    2. the loss it returns carries a hook: when the caller backpropagates, each chunk is
       encoded again with autograd and receives its cached gradient, scaled by whatever
       the caller multiplied the loss by (a GradScaler's scale, the world size).
       DDP all-reduces the gradients on the last chunk's backward only.
    Each chunk's RNG state is saved in step 1 and restored in step 2, so dropout draws
    the same masks in both passes and the result is the gradient of the loss actually
    computed. Chunks are length-sorted as in :class:`EmbeddingLoss`, so ``chunk=N`` and
    ``piece_size=N`` give the same update.
    """

    def __init__(self, loss: nn.Module, chunk: int) -> None:
        super().__init__()
        self.loss, self.chunk = loss, chunk

    def forward(self, encoder: ColumnEncoder, columns: list[list[str]]) -> Tensor:
        plans = [TextPieces(encoder.model, texts, self.chunk) if texts else None for texts in columns]
        states: list[dict] = []
        cached: list[Tensor] = []
        with torch.no_grad():
            for plan in plans:
                if plan is None:
                    cached.append(embed(encoder.model, []).requires_grad_())
                    continue
                parts = []
                for number in range(len(plan)):
                    states.append(torch_rng_state())
                    with encoder.autocast():
                        parts.append(plan.forward(encoder.model, number))
                # fp32 whatever the autocast dtype: the cached gradient must not underflow before the caller's scale reaches it.
                cached.append(plan.restore_order(parts).float().requires_grad_())
        loss = self.loss(*[encoder.group.gather(embeddings) for embeddings in cached])
        if not torch.is_grad_enabled():
            return loss
        loss.backward()  # d loss / d embeddings, into each cached tensor's .grad
        after = torch_rng_state()
        surrogate = loss.detach().requires_grad_()
        surrogate.register_hook(functools.partial(self._replay, encoder, plans, cached, states, after))
        return surrogate

    @staticmethod
    def _replay(
        encoder: ColumnEncoder, plans: list[TextPieces | None], cached: list[Tensor], states: list[dict], after: dict, scale: Tensor
    ) -> None:
        replay = iter(states)
        work = [
            (plan, embeddings, number, rows)
            for plan, embeddings in zip(plans, cached)
            if plan is not None
            for number, rows in enumerate(plan.rows)
        ]
        with torch.enable_grad():
            for position, (plan, embeddings, number, rows) in enumerate(work):
                set_torch_rng_state(next(replay))
                with no_sync(encoder.forward_module, last=position == len(work) - 1):
                    with encoder.autocast():
                        out = plan.forward(encoder.forward_module, number)
                    out.backward((embeddings.grad[rows] * scale).to(out.dtype))
        set_torch_rng_state(after)  # continue from where the first pass left the generators
