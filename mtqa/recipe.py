"""Recipes: one YAML file per experiment, chaining translate -> build-batches -> train-eval.

A recipe lists steps, each a mtqa command with its options. `{out}` in a value is the
run directory. A step whose output is already complete (its manifest.json or
report.json exists) is skipped, so a rerun resumes at the step level. A `compare`
section tabulates the reports of chosen steps in Markdown and JSON.

    name: demo
    steps:
      - name: batches
        command: build-batches
        args: {input: [lareqa:xquad-r], articles: 0-23, output: "{out}/batches"}
      - name: trained
        command: train-eval
        args: {batches: "{out}/batches", model: offline-minilm, eval: [lareqa:xquad-r], output: "{out}/trained"}
    compare: [trained]

A study writes its arms once: ``defaults`` gives every step of a command the args they share,
``grid: {seed: [0, 1, 2]}`` runs every step that names ``{seed}`` once per seed (all of seed 0's
steps first), and a step's ``vary: {lr: [1e-4, 3e-5]}`` expands it per value::

    grid: {seed: [0, 1, 2]}
    defaults:
      train-eval: {model: offline-me5, seed: "{seed}", eval: lareqa:xquad-r}
    steps:
      - name: hybrid-lr{lr}-s{seed}
        vary: {lr: [1e-4, 3e-5]}
        command: train-eval
        args: {batches: "{out}/batches-s{seed}", lr: "{lr}", output: "{out}/hybrid-lr{lr}-s{seed}"}
"""

from __future__ import annotations

import itertools
import json
import shlex
import time
from pathlib import Path
from typing import Any, Callable

from .card import markdown_table
from .errors import MtqaError, first_line
from .evaluate.metrics import HEADLINE_METRICS
from .formats.run_files import MANIFEST, MERGE_RECORD, REPORT, TRAIN_LOG

# Each command a step may run, and the file whose presence means its output is complete.
COMMANDS = {"translate": MANIFEST, "build-batches": MANIFEST, "train-eval": REPORT, "merge": MERGE_RECORD}
POSITIONAL = {"merge": ("base", "tuned")}  # args given as the command's arguments, in this order, not as --options


def load_recipe(path: Path) -> dict[str, Any]:
    import yaml

    try:
        recipe = yaml.safe_load(Path(path).read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise MtqaError(f"recipe not found: {path}") from None
    except yaml.YAMLError as error:
        raise MtqaError(f"{path}: not valid YAML ({first_line(error)})") from None
    if not isinstance(recipe, dict) or not isinstance(recipe.get("steps"), list) or not recipe["steps"]:
        raise MtqaError(f"{path}: a recipe needs a non-empty 'steps' list")
    steps = [with_defaults(step, recipe.get("defaults"), path) for step in recipe["steps"]]
    steps = [gridded for combination in grid_combinations(recipe.get("grid"), path) for gridded in fill_steps(steps, combination)]
    recipe["steps"] = unique_steps([expanded for step in steps for expanded in expand_step(step, path)], path)
    names = set()
    for number, step in enumerate(recipe["steps"], start=1):
        if not isinstance(step, dict) or step.get("command") not in COMMANDS or not isinstance(step.get("args"), dict):
            raise MtqaError(f"{path}: step {number} needs 'command' (one of {', '.join(COMMANDS)}) and an 'args' mapping")
        needed = ("output", *POSITIONAL.get(step["command"], ()))
        missing = [key for key in needed if key not in step["args"]]
        if missing:
            raise MtqaError(f"{path}: step {number} ({step['command']}) needs args.{missing[0]}")
        step.setdefault("name", f"step-{number}")
        if step["name"] in names:
            raise MtqaError(f"{path}: two steps are named {step['name']!r}")
        names.add(step["name"])
    for name in recipe.get("compare", []):
        if name not in names:
            raise MtqaError(f"{path}: compare names {name!r}, which is not a step")
    return recipe


def with_defaults(step: Any, defaults: Any, path: Path) -> Any:
    """``defaults: {train-eval: {model: ..., lr: ...}}`` gives every step of that command those args; the step's own win.

    A step drops a default by setting it to null (or false, for a flag).
    """
    if defaults is None or not isinstance(step, dict):
        return step
    if not isinstance(defaults, dict) or not all(isinstance(args, dict) for args in defaults.values()):
        raise MtqaError(f"{path}: 'defaults' maps a command to its args, e.g. {{train-eval: {{model: offline-me5}}}}")
    unknown = sorted(set(defaults) - set(COMMANDS))
    if unknown:
        raise MtqaError(f"{path}: 'defaults' names {unknown[0]!r}, which is not a command ({', '.join(COMMANDS)})")
    if not isinstance(step.get("args"), dict):
        return step
    return {**step, "args": {**defaults.get(step.get("command"), {}), **step["args"]}}


def grid_combinations(grid: Any, path: Path) -> list[dict[str, Any]]:
    """``grid: {seed: [0, 1, 2]}``: the recipe's steps are written once and run once per value, the first value's
    steps all first (so a partial run compares every arm on the same seeds); steps that do not use a grid
    placeholder run once."""
    if grid is None:
        return [{}]
    if not isinstance(grid, dict) or not grid or not all(isinstance(values, list) and values for values in grid.values()):
        raise MtqaError(f"{path}: 'grid' maps placeholders to non-empty lists, e.g. {{seed: [0, 1, 2]}}")
    return [dict(zip(grid, combination)) for combination in itertools.product(*grid.values())]


def fill(value: Any, values: dict[str, Any]) -> Any:
    """``{key}`` in a string (or in the strings of a list or mapping) replaced by each of ``values``."""
    if isinstance(value, str):
        for key, item in values.items():
            value = value.replace("{" + key + "}", str(item))
        return value
    if isinstance(value, list):
        return [fill(item, values) for item in value]
    return {key: fill(item, values) for key, item in value.items()} if isinstance(value, dict) else value


def fill_steps(steps: list[Any], values: dict[str, Any]) -> list[Any]:
    return [fill(step, values) if isinstance(step, dict) else step for step in steps]


def unique_steps(steps: list[Any], path: Path) -> list[Any]:
    """The steps in order, each once: a grid repeats the steps that use none of its placeholders."""
    seen: dict[str, Any] = {}
    kept = []
    for step in steps:
        name = step.get("name") if isinstance(step, dict) else None
        if name is not None and name in seen and seen[name] == step:
            continue
        if name is not None:
            seen.setdefault(name, step)
        kept.append(step)
    return kept


def expand_step(step: Any, path: Path) -> list[Any]:
    """A step with ``vary: {seed: [0, 1, 2]}`` becomes one step per value (per combination, for several keys).

    ``{seed}`` in its name and argument values takes each value in turn. Studies group runs by
    their output folder's name (``GROUP-sSEED``), so nothing else is recorded here.
    """
    if not isinstance(step, dict) or "vary" not in step:
        return [step]
    vary = step["vary"]
    if not isinstance(vary, dict) or not vary or not all(isinstance(values, list) and values for values in vary.values()):
        raise MtqaError(f"{path}: step {step.get('name')!r}: 'vary' maps placeholders to non-empty lists, e.g. {{seed: [0, 1, 2]}}")
    template = str(step.get("name", "step"))
    expanded = []
    for combination in itertools.product(*vary.values()):
        values = dict(zip(vary, combination))
        copy = {key: value for key, value in step.items() if key != "vary"}
        copy.update(name=fill(template, values), args=fill(step["args"], values))
        expanded.append(copy)
    return expanded


def step_arguments(step: dict[str, Any], out: Path) -> list[str]:
    """The command line of a step: {key: value} -> --key value (lists repeat the option, true flags stand alone)."""
    argv = [step["command"]]
    positional = POSITIONAL.get(step["command"], ())
    argv += [str(step["args"][key]).replace("{out}", str(out)) for key in positional]
    for key, value in step["args"].items():
        if key in positional:
            continue
        option = f"--{key}"
        for item in value if isinstance(value, list) else [value]:
            if item is True:
                argv.append(option)
            elif item is False or item is None:
                continue
            else:
                argv += [option, str(item).replace("{out}", str(out))]
    return argv


def step_output(step: dict[str, Any], out: Path) -> Path:
    return Path(str(step["args"]["output"]).replace("{out}", str(out)))


def is_complete(step: dict[str, Any], out: Path) -> bool:
    return (step_output(step, out) / COMMANDS[step["command"]]).is_file()


def comparison(recipe: dict[str, Any], out: Path) -> tuple[str, list[dict[str, Any]]]:
    """One row per compared step and evaluation set; beside each metric the paper's figure, where the recipe lists one.

    ``paper_results.runs.<step>.<set>.<metric>`` holds the published numbers (e.g. Table 1's mAP and
    Table 2's rank distance of arXiv 2408.10536), so ours and theirs sit side by side.
    """
    published = (recipe.get("paper_results") or {}).get("runs", {})
    rows = []
    for step in recipe["steps"]:
        if step["name"] not in recipe.get("compare", []):
            continue
        report = json.loads((step_output(step, out) / REPORT).read_text())
        for name, item in report["evals"].items():
            paper = published.get(step["name"], {}).get(name, {})
            rows.append(
                {
                    "run": step["name"],
                    "set": name,
                    "steps": (report.get("training") or {}).get("steps", 0),
                    **{key: item.get(key) for key in HEADLINE_METRICS},
                    **{f"paper_{key}": paper[key] for key in HEADLINE_METRICS if key in paper},
                }
            )
    columns = [key for key in HEADLINE_METRICS if any(row[key] is not None for row in rows)]
    with_paper = [key for key in columns if any(f"paper_{key}" in row for row in rows)]

    def number(key: str, value: Any) -> str:
        return "" if value is None else f"{value:.1f}" if key == "rank_distance" else f"{value:.3f}"

    header = ["run", "set", "steps"] + [label for key in columns for label in ([key, "paper"] if key in with_paper else [key])]
    cells = [
        [row["run"], row["set"], row["steps"]]
        + [
            cell
            for key in columns
            for cell in ([number(key, row[key]), number(key, row.get(f"paper_{key}"))] if key in with_paper else [number(key, row[key])])
        ]
        for row in rows
    ]
    return markdown_table(header, cells), rows


STEP_TIMES = "recipe_times.jsonl"  # a line per step that finished, so a recipe run over several sittings adds up


def _log_step_time(recipe: dict[str, Any], step: str, seconds: float, out: Path, echo: Callable[[str], None]) -> None:
    """Append the step's wall time (an interrupted attempt is not counted: its step runs again)."""
    line = json.dumps(
        {"recipe": recipe.get("name"), "step": step, "seconds": round(seconds, 3), "finished": time.strftime("%Y-%m-%dT%H:%M:%S%z")}
    )
    try:
        out.mkdir(parents=True, exist_ok=True)
        with open(out / STEP_TIMES, "a", encoding="utf-8") as log:
            log.write(line + "\n")
    except OSError as error:  # the step's own output is complete; losing its time is no reason to stop
        echo(f"recipe: warning: cannot write {out / STEP_TIMES} ({error.strerror or error}); step times are not kept")


def run_recipe(path: Path, out: Path, *, run_command: Callable[[list[str]], None], dry_run: bool = False, echo=print) -> list[str]:
    """Run every incomplete step in order; returns the names of the steps that ran (or would run).

    ``run_command`` runs one mtqa command line (the CLI's ``main``, passed in by the CLI).
    """
    recipe = load_recipe(path)
    out = Path(out)
    ran = []
    for step in recipe["steps"]:
        argv = step_arguments(step, out)
        if is_complete(step, out):
            echo(f"recipe: {step['name']}: complete, skipped")
            continue
        echo(f"recipe: {step['name']}: {shlex.join(['mtqa', *map(str, argv)])}")
        ran.append(step["name"])
        if dry_run:
            continue
        output = step_output(step, out)
        if output.exists() and step["command"] != "train-eval":
            argv.append("--overwrite")  # an incomplete output left by an interrupted step
        elif step["command"] == "train-eval" and (output / TRAIN_LOG).exists() and "--eval-only" not in argv:
            argv.append("--resume")  # training was interrupted: continue from its last checkpoint
        started = time.perf_counter()
        try:
            run_command(argv)
        except SystemExit as done:
            if done.code:
                raise MtqaError(f"recipe step {step['name']!r} failed (see above); fix it and rerun: complete steps are skipped") from None
        seconds = time.perf_counter() - started
        echo(f"recipe: {step['name']}: done in {seconds:.0f} s")
        _log_step_time(recipe, step["name"], seconds, out, echo)
    if recipe.get("compare") and not dry_run:
        table, rows = comparison(recipe, out)
        (out / "comparison.md").write_text(table + "\n", encoding="utf-8")
        (out / "comparison.json").write_text(
            json.dumps({"recipe": recipe.get("name"), "seed": recipe.get("seed"), "rows": rows}, indent=2) + "\n"
        )
        echo(table)
    if recipe.get("study") and not dry_run:
        echo(write_study_report(recipe, out))
    return ran


def write_study_report(recipe: dict[str, Any], out: Path) -> str:
    """The study section's report over every run finished in ``out`` so far; returns its Markdown."""
    if recipe["study"].get("kind") == "translate-train":
        from .studies.translate_train import write_translate_train

        return write_translate_train(recipe, Path(out))
    from .studies.report import write_study

    return write_study(recipe, Path(out))
