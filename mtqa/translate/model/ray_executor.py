"""Translation on a Ray cluster: the same chunks, tokens and decoding as the local executor.

The driver plans the chunks and owns the cache. The chunks still missing become a Ray
Dataset; ``map_batches`` runs them through a pool of actors, each holding one CTranslate2
translator (one per GPU, or per ``threads`` CPU cores), and the outputs stream back to the
driver, which commits every chunk to the cache as it arrives. Workers never write the
cache, so there is nothing to merge and nothing to race on: a chunk is translated twice
only if a worker died before its result reached the driver — Ray then restarts the actor
and retries the chunk — and a driver that dies loses only the chunks in flight.
"""

from __future__ import annotations

import logging
import os
from dataclasses import asdict
from pathlib import Path
from typing import Any, Iterable, Iterator

from ...errors import MtqaError, first_line
from ...faults import crash_point
from .translator import MAX_BATCH_TOKENS, ChunkWork, DecodingOptions, ModelTranslator

INSTALL_HINT = "--executor ray needs Ray: pip install 'mtqa[ray]' (or pip install 'ray[data]')"


def require_ray() -> None:
    try:
        import ray  # noqa: F401
    except ImportError:
        raise MtqaError(INSTALL_HINT) from None


class ChunkTranslator:
    """A Ray Data actor: loads the model once, then translates one chunk per call."""

    def __init__(
        self, model_dir: str, device: str, compute_type: str, threads: int, max_batch_tokens: int, options: dict[str, Any]
    ) -> None:
        self.translator = ModelTranslator(
            Path(model_dir), device=device, compute_type=compute_type, threads=threads, max_batch_tokens=max_batch_tokens
        )
        self.options = DecodingOptions(**options)

    def __call__(self, batch):
        import pyarrow as pa

        rows = []
        for row in batch.to_pylist():
            crash_point("ray.chunk")
            outputs = self.translator.translate_chunk(row["texts"], row["targets"], row["source_lang"], self.options)
            rows.append({"chunk": row["chunk"], "outputs": outputs})
        return pa.Table.from_pylist(rows)


class RayExecutor:
    """Runs the chunks on Ray: a local instance by default, or the cluster at ``address``."""

    name = "ray"

    def __init__(
        self,
        model_dir: Path,
        options: DecodingOptions,
        *,
        device: str = "auto",
        compute_type: str = "default",
        threads: int | None = None,
        max_batch_tokens: int = MAX_BATCH_TOKENS,
        address: str | None = None,
        workers: int | None = None,
    ) -> None:
        require_ray()
        self.model_dir, self.options, self.device = Path(model_dir), options, device
        self.compute_type, self.threads, self.max_batch_tokens = compute_type, threads, max_batch_tokens
        self.address, self.workers = address, workers
        self.pool_size = 0
        self.device_used = device  # "auto" until the cluster is seen

    def _start(self) -> bool:
        """Start or join Ray; True when this process started it (and must stop it)."""
        import ray

        if ray.is_initialized():
            return False
        os.environ.setdefault("RAY_AUTH_MODE", "disabled")  # a throwaway local instance needs no token
        quiet = {"include_dashboard": False, "log_to_driver": False, "logging_level": logging.WARNING}
        try:
            if self.address:
                ray.init(address=self.address, log_to_driver=False, logging_level=logging.WARNING)
            else:
                ray.init(address="local", num_cpus=len(os.sched_getaffinity(0)), **quiet)
        except (ConnectionError, RuntimeError, ValueError) as error:
            where = f"the Ray cluster at {self.address}" if self.address else "a local Ray instance"
            raise MtqaError(f"cannot start or reach {where} ({first_line(error)}); check --ray-address") from None
        from ray.data import DataContext

        context = DataContext.get_current()
        context.enable_progress_bars = False
        context.print_on_execution_start = False
        for handler in logging.getLogger("ray.data").handlers:
            handler.setLevel(logging.ERROR)
        return True

    def run(self, work: Iterable[ChunkWork]) -> Iterator[tuple[int, list[list[str]]]]:
        work = list(work)
        if not work:
            return
        import ray
        import ray.data

        started_here = self._start()
        try:
            resources = ray.cluster_resources()
            gpus = int(resources.get("GPU", 0))
            use_gpus = self.device == "cuda" or (self.device == "auto" and gpus > 0)
            self.device_used = "cuda" if use_gpus else "cpu"
            if self.device == "cuda" and not gpus:
                raise MtqaError("--device cuda was asked for, but the Ray cluster has no GPU; use --device cpu")
            threads = 1 if use_gpus else (self.threads or 1)
            slots = gpus if use_gpus else max(1, int(resources.get("CPU", 1)) // threads)
            self.pool_size = max(1, min(self.workers or slots, len(work)))
            dataset = ray.data.from_items(
                [
                    {"chunk": index, "texts": texts, "targets": targets, "source_lang": source_lang}
                    for index, texts, targets, source_lang in work
                ]
            )
            translated = dataset.map_batches(
                ChunkTranslator,
                fn_constructor_kwargs={
                    "model_dir": str(self.model_dir),
                    "device": "cuda" if use_gpus else "cpu",
                    "compute_type": self.compute_type,
                    "threads": threads,
                    "max_batch_tokens": self.max_batch_tokens,
                    "options": asdict(self.options),
                },
                batch_size=1,
                batch_format="pyarrow",
                compute=ray.data.ActorPoolStrategy(size=self.pool_size),
                num_cpus=threads if not use_gpus else 1,
                num_gpus=1 if use_gpus else None,
            )
            for row in translated.iter_rows():
                yield int(row["chunk"]), [list(tokens) for tokens in row["outputs"]]
        finally:
            if started_here:
                ray.shutdown()
