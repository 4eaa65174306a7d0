"""`mtqa recipe run` and `mtqa recipe report`."""

from __future__ import annotations

from pathlib import Path

import click

from ..errors import MtqaError
from .group import cli, main


@cli.group()
def recipe() -> None:
    """Run declarative experiments (recipes/*.yaml): translate -> build-batches -> train-eval.

    \b
    Example:
      mtqa recipe run recipes/minilm-xquad-split.yaml --out out/minilm-xquad-split
    """


@recipe.command(
    "run",
    epilog="""\b
Example:
  mtqa recipe run recipes/minilm-xquad-split.yaml --out out/minilm-xquad-split
  mtqa recipe run recipes/paper-xlmr.yaml --out out/paper-xlmr --dry-run
""",
)
@click.argument("path", type=click.Path(path_type=Path))
@click.option("--output", "--out", "out", type=click.Path(path_type=Path), help="Run directory ({out} in the recipe); default out/NAME.")
@click.option("--dry-run", is_flag=True, help="Print the commands that would run.")
def recipe_run(path: Path, out: Path | None, dry_run: bool) -> None:
    """Run a recipe's steps in order, skipping those whose output is complete."""
    from ..recipe import load_recipe, run_recipe

    out = out or Path("out") / (load_recipe(path).get("name") or path.stem)
    run_recipe(path, out, run_command=main, dry_run=dry_run, echo=lambda line: click.echo(line, err=True))


@recipe.command(
    "report",
    epilog="""\b
Example:
  mtqa recipe report recipes/translate-train.yaml --output out/translate-train
""",
)
@click.argument("path", type=click.Path(path_type=Path))
@click.option("--output", "--out", "out", type=click.Path(path_type=Path), help="The recipe's run directory; default out/NAME.")
def recipe_report(path: Path, out: Path | None) -> None:
    """Write the recipe's study report from the runs finished so far, running nothing."""
    from ..recipe import load_recipe, write_study_report

    recipe = load_recipe(path)
    if not recipe.get("study"):
        raise MtqaError(f"{path}: no 'study' section, so no report to write; recipe run writes its comparison")
    out = out or Path("out") / (recipe.get("name") or path.stem)
    if not out.is_dir():
        raise MtqaError(f"--output {out}: not found; give the folder the recipe ran in")
    click.echo(write_study_report(recipe, out))
