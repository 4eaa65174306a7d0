"""One way mtqa talks to the terminal: the ``mtqa`` logger, one line a message, written through tqdm.

Progress bars are tqdm's; a message written while a bar is drawn would tear it, so the handler
writes with ``tqdm.write``. Messages read ``mtqa: ...`` and warnings ``mtqa: warning: ...``; the
Python warnings mtqa's own modules raise (``warnings.warn``) come through the same handler, and
other libraries' warnings say whose they are. Results (tables, reports) are the commands' output
and go to stdout through click, not here.
"""

from __future__ import annotations

import logging
import warnings
from pathlib import Path

LOGGER = "mtqa"
PACKAGE = Path(__file__).resolve().parent


class TqdmHandler(logging.Handler):
    def emit(self, record: logging.LogRecord) -> None:
        from tqdm.auto import tqdm

        try:
            tqdm.write(self.format(record), file=_stderr())
        except Exception:  # a logging call never takes the run down
            self.handleError(record)


def _stderr():
    import sys

    return sys.stderr  # looked up each time: tests and tools swap it


class _Format(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        kind = "warning: " if record.levelno >= logging.WARNING else ""
        return f"mtqa: {kind}{record.getMessage()}"


def logger() -> logging.Logger:
    """The ``mtqa`` logger, set up once: INFO and above, one line each, through tqdm."""
    log = logging.getLogger(LOGGER)
    if not any(isinstance(handler, TqdmHandler) for handler in log.handlers):
        handler = TqdmHandler()
        handler.setFormatter(_Format())
        log.addHandler(handler)
        log.setLevel(logging.INFO)
        log.propagate = False
    return log


def info(message: str) -> None:
    logger().info(message)


def warning(message: str) -> None:
    logger().warning(message)


def one_line_warning(message, category, filename, lineno, line=None) -> str:
    """``warnings.formatwarning`` for the command line: mtqa's own warnings as its other lines, others with their origin."""
    if Path(filename).resolve().is_relative_to(PACKAGE):
        return f"mtqa: warning: {message}\n"
    return f"{filename}:{lineno}: {category.__name__}: {message}\n"


def setup() -> None:
    """Called once by the command line: the logger, and Python warnings in the same one-line form."""
    logger()
    warnings.formatwarning = one_line_warning
