"""User-facing errors: one line saying what is wrong, where, and how to fix it."""


class MtqaError(Exception):
    """An error caused by the user's input or environment, reported without a traceback."""
