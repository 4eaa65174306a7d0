"""mtqa: English QA data -> multilingual retrieval training data (arXiv 2408.10536)."""

__version__ = "0.1.0"
