"""The `mtqa` group, the helpers every command shares, and the entry point.

Every choice list and default comes from the module that uses it (the configs and
their constants); options are copied into those typed configs by field name.
"""

from __future__ import annotations

import contextlib
import shlex
import signal
import sys
import threading
import traceback
from dataclasses import fields
from typing import Any, Iterator, TypeVar

import click

from .. import __version__, log
from ..devices import DEVICES
from ..errors import MtqaError, OptionError
from ..interrupts import Terminated, advice_of
from ..languages import parse_languages

Config = TypeVar("Config")


def fill(cls: type[Config], options: dict[str, Any], **overrides: Any) -> Config:
    """``cls`` built from the options named like its fields, then ``overrides``."""
    names = {item.name for item in fields(cls)}
    return cls(**{**{key: value for key, value in options.items() if key in names}, **overrides})


def language_codes(spec: str | None, option: str) -> list[str] | None:
    """ISO 639-1 or FLORES-200 codes -> the short codes data sets use (``deu_Latn`` -> ``de``)."""
    return [language.code for language in parse_languages(spec, option=option)] if spec else None


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="mtqa")
@click.option("--verbose", is_flag=True, help="Show tracebacks for errors.")
def cli(verbose: bool) -> None:
    """mtqa: English QA data -> multilingual retrieval training data.

    \b
    Example:
      mtqa translate --input squad.json --langs de,zh --output out/mt
      mtqa build-batches --input out/mt --output out/batches
      mtqa train-eval --batches out/batches --model sentence-transformers/LaBSE --output out/run
    """


def _given(*names: str) -> list[str]:
    """Those of ``names`` the user typed (not left at their defaults), as --option spellings."""
    from click.core import ParameterSource

    context = click.get_current_context()
    spelling = {param.name: max(param.opts, key=len) for param in context.command.params}
    return [spelling[name] for name in names if context.get_parameter_source(name) == ParameterSource.COMMANDLINE]


def _refuse_unless(condition: bool, names: tuple[str, ...], needs: str, fix: str) -> None:
    """Options that apply only where ``condition`` holds are refused (exit 2) when typed without it."""
    given = _given(*names)
    if given and not condition:
        shown = ", ".join(given)
        raise click.UsageError(f"{shown} {'applies' if len(given) == 1 else 'apply'} only {needs}; {fix.format(shown=shown)}")


def device_option(runtime: str):
    """The ``--device`` option every command shares; ``auto`` resolves with the runtime that does the command's work."""
    return click.option(
        "--device",
        type=click.Choice(DEVICES),
        default=DEVICES[0],
        show_default=True,
        help=f"auto: CUDA where {runtime} sees a GPU, else the CPU.",
    )


def _take_alias(options: dict[str, Any], alias: str, name: str) -> None:
    """A hidden old spelling's value becomes ``name``'s; both typed with different values is refused (exit 2)."""
    value = options.pop(alias)
    if value is None:
        return
    if _given(name) and options[name] != value:
        old, new = _given(alias, name)
        raise click.UsageError(f"{old} is the old name of {new}, and they disagree ({value} against {options[name]}); give {new} once")
    options[name] = value


def _invocation() -> list[str]:
    """The command line as typed (``main``'s arguments; ``sys.argv`` when click was driven another way)."""
    obj = click.get_current_context().obj
    return obj["argv"] if isinstance(obj, dict) and "argv" in obj else ["mtqa", *sys.argv[1:]]


@contextlib.contextmanager
def _terminate_cleanly() -> Iterator[None]:
    """SIGTERM raises Terminated for the block (the previous handler comes back after: main() also runs in-process)."""

    def raise_terminated(signum, frame):
        raise Terminated

    if threading.current_thread() is not threading.main_thread():  # signal handlers can only be set there
        yield
        return
    previous = signal.signal(signal.SIGTERM, raise_terminated)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


# What a rerun of each command does after a stop, where the stage itself attached no advice.
AFTER_STOP = {
    "translate": "nothing half-written was left; rerun the same command to resume (finished translations are cached)",
    "build-batches": "nothing was written; rerun the same command (the same --seed gives the same shards)",
    "recipe": "rerun the same command to resume (finished steps are skipped)",
}


def _after_stop(stop: BaseException, args: list[str]) -> str:
    """The line after 'interrupted': what was kept, and the command that goes on from there."""
    advice = advice_of(stop)
    if advice is not None:
        resume, what = advice
        command = ["mtqa", *[arg for arg in args if arg != "--verbose"]]
        if resume and "--resume" not in command:
            command.append("--resume")
        return f"{what}; continue with: {shlex.join(command)}" if resume else what
    name = next((arg for arg in args if not arg.startswith("-")), "")
    if name == "translate" and "--no-cache" in args:
        return "nothing half-written was left, and nothing was cached (--no-cache): rerunning starts over"
    return AFTER_STOP.get(name, "nothing half-written was left")


def main(argv: list[str] | None = None) -> None:
    """Entry point: user errors end in one line and a non-zero exit, never a traceback."""
    args = sys.argv[1:] if argv is None else list(argv)
    log.setup()
    verbose = "--verbose" in args
    if verbose:  # the group's flag, accepted after the subcommand too
        args = ["--verbose", *[arg for arg in args if arg != "--verbose"]]
    try:
        with _terminate_cleanly():
            cli.main(args=args, prog_name="mtqa", standalone_mode=False, obj={"argv": ["mtqa", *args]})
    except click.exceptions.Exit as done:
        sys.exit(done.exit_code)
    except click.ClickException as error:
        context = getattr(error, "ctx", None)
        command = context.command_path if context else "mtqa"
        click.echo(f"{command}: error: {error.format_message()} (see '{command} --help')", err=True)
        sys.exit(2)
    except MtqaError as error:
        if verbose:
            traceback.print_exc()
        click.echo(f"mtqa: error: {error}", err=True)
        sys.exit(2 if isinstance(error, OptionError) else 1)  # click's convention: 2 for a wrong command line
    except (Terminated, KeyboardInterrupt, click.Abort) as stop:
        click.echo(f"mtqa: {'terminated' if isinstance(stop, Terminated) else 'interrupted'}; {_after_stop(stop, args)}", err=True)
        sys.exit(143 if isinstance(stop, Terminated) else 130)
    except Exception as error:  # a bug, not a user error: still one line unless asked
        if verbose:
            traceback.print_exc()
        click.echo(f"mtqa: internal error: {type(error).__name__}: {error} (rerun with --verbose for details)", err=True)
        sys.exit(1)
