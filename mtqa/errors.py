"""User-facing errors: one line saying what is wrong, where, and how to fix it."""


class MtqaError(Exception):
    """An error caused by the user's input or environment, reported without a traceback (exit status 1)."""


class OptionError(MtqaError):
    """The command line is wrong in itself, whatever the files hold: an option's value, or options that conflict
    or need another (exit status 2, as click gives its own usage errors)."""


def first_line(error: BaseException) -> str:
    """An exception's first line for a one-line message (its type's name when it says nothing)."""
    text = str(error).strip()
    return text.splitlines()[0] if text else type(error).__name__
