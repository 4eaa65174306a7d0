"""The front door: every `mtqa …` command in README.md and docs/ parses with the real CLI, every relative link resolves,
and the README's results table is what the results files say."""

from __future__ import annotations

import re
import shlex
import subprocess
import sys
from pathlib import Path

import click
import pytest

from mtqa.cli import cli

ROOT = Path(__file__).resolve().parents[1]
PAGES = [ROOT / "README.md", ROOT / "CHANGELOG.md", *sorted((ROOT / "docs").glob("*.md"))]
FENCE = re.compile(r"```(?:sh|bash)?\n(.*?)```", re.S)
LINK = re.compile(r"\[[^\]]*\]\(([^)\s]+)\)")


def commands(page: Path) -> list[str]:
    """`mtqa …` lines of the page's shell blocks, continuation lines joined, comments dropped."""
    found = []
    for block in FENCE.findall(page.read_text(encoding="utf-8")):
        for line in block.replace("\\\n", " ").splitlines():
            line = line.split("  #")[0].strip()
            if line.startswith("mtqa "):
                found.append(line)
    return found


def parse(argv: list[str]) -> None:
    """Parse as click would run it, without running: each group resolves its subcommand, which parses its own options."""
    command, name, context = cli, "mtqa", None
    while True:
        context = command.make_context(name, argv, parent=context)
        if not isinstance(command, click.Group):
            return
        name, command, argv = command.resolve_command(context, context.protected_args + context.args)


CASES = [(page.relative_to(ROOT).as_posix(), line) for page in PAGES for line in commands(page)]


def test_the_pages_show_commands():
    assert len(CASES) >= 15 and {page for page, _ in CASES} >= {"README.md", "docs/translate.md", "docs/train-eval.md"}


@pytest.mark.parametrize("page, line", CASES, ids=[f"{page}:{i}" for i, (page, _) in enumerate(CASES)])
def test_every_command_parses(page, line):
    try:
        parse(shlex.split(line)[1:])
    except click.ClickException as error:
        pytest.fail(f"{page}: `{line}` does not parse: {error.format_message()}")


def test_every_relative_link_resolves():
    broken = []
    for page in PAGES:
        for target in LINK.findall(page.read_text(encoding="utf-8")):
            if re.match(r"[a-z]+:", target) or target.startswith("#"):
                continue
            path = (page.parent / target.split("#")[0]).resolve()
            if not path.exists():
                broken.append(f"{page.relative_to(ROOT)} -> {target}")
    assert not broken, broken


def test_the_readme_results_table_is_generated_from_the_results():
    done = subprocess.run([sys.executable, "-m", "mtqa.studies.results_table", "--check"], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr


def test_no_page_speaks_of_how_the_project_was_built():
    words = re.compile(r"shared/data|code frozen|reset machine|fetched here|status: available", re.I)
    found = [f"{page.relative_to(ROOT)}: {match.group(0)}" for page in PAGES for match in words.finditer(page.read_text(encoding="utf-8"))]
    assert not found, found
