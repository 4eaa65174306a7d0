"""``mtqa.translate(config)`` and ``mtqa.train_eval(config)`` while ``mtqa.translate`` and ``mtqa.train_eval`` are packages.

Once a subpackage is imported, Python sets it as an attribute of its parent, and ``mtqa.translate``
is the package, not the API's function. Giving the package module a ``__call__`` that hands over to
:mod:`mtqa.api` makes both spellings one thing: the package to import from, the function to call.
"""

from __future__ import annotations

import importlib
import sys
import types


def make_callable(module_name: str, function_name: str) -> None:
    """Calling the module ``module_name`` calls ``mtqa.api.<function_name>`` (looked up by name: the API sits above the stages)."""

    class Stage(types.ModuleType):
        def __call__(self, *args, **kwargs):
            return getattr(importlib.import_module("mtqa.api"), function_name)(*args, **kwargs)

    sys.modules[module_name].__class__ = Stage
