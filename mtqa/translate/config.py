"""`mtqa translate`'s options: choices, defaults and the typed config the CLI fills."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from ..devices import DEVICES
from ..languages import Language
from .filters.chain import FilterOptions
from .model.ct2_model import DEFAULT_MODEL, QUANTIZATIONS
from .model.translator import MAX_BATCH_TOKENS, DecodingOptions

# Where chunks are translated (--executor): this process, or a Ray cluster.
EXECUTORS = ("local", "ray")


@dataclass
class TranslateConfig:
    input: str
    output: Path | None
    langs: list[Language]
    split: str = "train"
    columns: str | None = None
    on_bad_row: str = "fail"
    limit: int | None = None
    articles: str | None = None  # SQuAD .json inputs: article indices, e.g. 0-19
    model: str = DEFAULT_MODEL
    revision: str | None = None
    quantization: str = QUANTIZATIONS[0]
    device: str = DEVICES[0]
    compute_type: str = "default"
    threads: int | None = None
    max_batch_tokens: int = MAX_BATCH_TOKENS
    executor: str = EXECUTORS[0]
    ray_address: str | None = None
    ray_workers: int | None = None
    decoding: DecodingOptions = field(default_factory=DecodingOptions)
    filters: FilterOptions = field(default_factory=FilterOptions)
    use_cache: bool = True
    license: str | None = None
    overwrite: bool = False
    allow_empty: bool = False  # write the corpus even when the filters leave a requested language no rows
    progress: bool = True
    dry_run: bool = False
    assume_tokens_per_second: float | None = None
