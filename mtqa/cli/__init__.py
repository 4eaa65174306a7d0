"""The `mtqa` command line: the group and its commands, one module each."""

from __future__ import annotations

from . import batches, recipes, train_eval, translate  # noqa: F401  (each registers its commands on the group)
from .group import cli, fill, language_codes, main

__all__ = ["cli", "fill", "language_codes", "main"]
