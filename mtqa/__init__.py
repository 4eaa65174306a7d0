"""mtqa: English QA data -> multilingual retrieval training data (arXiv 2408.10536).

The three stages are functions here, as the commands are on the command line: :func:`translate`,
:func:`build_batches` and :func:`train_eval`, each taking the typed config its command builds
(docs/python-api.md). They load on first use, so ``import mtqa`` stays light.
"""

__version__ = "0.1.0"

API_NAMES = (
    "BuildConfig",
    "FilterOptions",
    "Language",
    "MtqaError",
    "SamplerConfig",
    "TrainConfig",
    "TrainEvalConfig",
    "TranslateConfig",
    "build_batches",
    "get_language",
    "train_eval",
    "translate",
)
__all__ = ["__version__", *API_NAMES]


def __getattr__(name: str):
    if name in API_NAMES:
        import importlib

        # By name, on first use: the façade sits on top of the stages (mtqa.api), while every module imports
        # this package for __version__, so a static import here would run the layers upwards.
        return getattr(importlib.import_module("mtqa.api"), name)
    raise AttributeError(f"module 'mtqa' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted({*globals(), *API_NAMES})
