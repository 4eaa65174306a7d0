"""Data-parallel training across processes: torchrun / accelerate launch, one process per device.

Every rank reads the same shards and takes its slice of each batch. The embeddings of all
ranks are gathered so the loss sees the whole batch's in-batch negatives: a rank's own
slice keeps its autograd graph, the others' arrive as constants. Each rank therefore
computes the single-process loss L exactly and the gradient of L through its own rows;
scaling the backward by the world size undoes DistributedDataParallel's averaging, so the
summed update equals the single-process update on the whole batch.
"""

from __future__ import annotations

import contextlib
import os
from dataclasses import dataclass
from datetime import timedelta

import torch
from torch import Tensor, nn

from ..errors import MtqaError


@dataclass(frozen=True)
class Group:
    rank: int = 0
    world: int = 1
    local_rank: int = 0

    @property
    def is_main(self) -> bool:
        return self.rank == 0

    def span(self, rows: int) -> tuple[int, int]:
        """This rank's contiguous share of ``rows`` (the first ranks take one more when uneven)."""
        if rows < self.world:
            raise MtqaError(f"a batch of {rows} rows cannot be split over {self.world} processes; use bigger batches or fewer processes")
        base, extra = divmod(rows, self.world)
        start = self.rank * base + min(self.rank, extra)
        return start, start + base + (self.rank < extra)

    def gather(self, local: Tensor) -> Tensor:
        """Every rank's rows, in rank order; only this rank's rows carry gradients."""
        if self.world == 1:
            return local
        import torch.distributed as dist

        local = local.float()  # an empty column is float32 while others may be half: buffers must match
        size = torch.tensor([len(local)], device=local.device)
        sizes = [torch.zeros_like(size) for _ in range(self.world)]
        dist.all_gather(sizes, size)
        longest = int(max(sizes))
        padded = local.new_zeros((longest, *local.shape[1:]))
        padded[: len(local)] = local.detach()
        parts = [torch.empty_like(padded) for _ in range(self.world)]
        dist.all_gather(parts, padded)
        parts = [part[: int(count)] for part, count in zip(parts, sizes)]
        parts[self.rank] = local
        return torch.cat(parts)

    def agree(self, flag: bool) -> bool:
        """Rank 0's decision, on every rank (e.g. early stopping)."""
        if self.world == 1:
            return flag
        import torch.distributed as dist

        value = torch.tensor([int(flag)], device=self.device)
        dist.broadcast(value, 0)
        return bool(value.item())

    def barrier(self) -> None:
        if self.world > 1:
            import torch.distributed as dist

            dist.barrier()

    @property
    def device(self) -> torch.device:
        import torch.distributed as dist

        backend = dist.get_backend() if dist.is_initialized() else "gloo"
        return torch.device("cuda", self.local_rank) if backend == "nccl" else torch.device("cpu")


def current_group() -> Group:
    """The process group torchrun / accelerate set up in the environment; joined on first call."""
    world = int(os.environ.get("WORLD_SIZE", "1"))
    if world == 1:
        return Group()
    import torch.distributed as dist

    local_rank = int(os.environ.get("LOCAL_RANK", "0"))
    if not dist.is_initialized():
        backend = "nccl" if torch.cuda.is_available() and dist.is_nccl_available() else "gloo"
        if backend == "nccl":
            torch.cuda.set_device(local_rank)
        # Ranks wait in a collective while rank 0 evaluates or writes a checkpoint alone: NCCL's
        # default 10 minutes is too short for a large evaluation set.
        minutes = float(os.environ.get("MTQA_DIST_TIMEOUT_MIN", "180"))
        dist.init_process_group(backend, timeout=timedelta(minutes=minutes))
    return Group(rank=dist.get_rank(), world=dist.get_world_size(), local_rank=local_rank)


def freeze_unused(model: nn.Module, probe: list[str]) -> list[str]:
    """Stop training parameters no forward reaches (e.g. an unused pooler): DDP needs every trained one to get a gradient.

    They would never change anyway (AdamW skips parameters without gradients), so the
    update is the same as in one process. The probe runs without touching the RNG state.
    """
    state = torch.get_rng_state()
    cuda_state = torch.cuda.get_rng_state_all() if torch.cuda.is_available() else None
    features = model.preprocess(probe)
    device = next(model.parameters()).device
    output = model({key: value.to(device) if isinstance(value, Tensor) else value for key, value in features.items()})
    output["sentence_embedding"].sum().backward()
    frozen = []
    for name, parameter in model.named_parameters():
        if parameter.requires_grad and parameter.grad is None:
            parameter.requires_grad_(False)
            frozen.append(name)
        parameter.grad = None
    torch.set_rng_state(state)
    if cuda_state is not None:
        torch.cuda.set_rng_state_all(cuda_state)
    return frozen


def wrap(model: nn.Module, group: Group) -> nn.Module:
    """The module forwards run through: ``model`` itself, or its DistributedDataParallel wrapper."""
    # Frozen in every run, one process included: the optimizer's parameter groups, and so its
    # checkpoints, are then the same whatever the number of processes that resumes them.
    freeze_unused(model, ["probe"])
    if group.world == 1:
        return model
    from torch.nn.parallel import DistributedDataParallel

    device = next(model.parameters()).device
    # No buffer sync in forward: ranks may run different numbers of forwards per step (uneven slices, pieces).
    import inspect

    sync = (
        "forward_sync_buffers" if "forward_sync_buffers" in inspect.signature(DistributedDataParallel).parameters else "broadcast_buffers"
    )
    return DistributedDataParallel(model, device_ids=[device.index] if device.type == "cuda" else None, **{sync: False})


def no_sync(runner: nn.Module, last: bool) -> contextlib.AbstractContextManager:
    """Skip DDP's gradient all-reduce on every backward of a step but the last."""
    return contextlib.nullcontext() if last or not hasattr(runner, "no_sync") else runner.no_sync()
