"""`mtqa build-batches`."""

from __future__ import annotations

from pathlib import Path

import click

from ..batches.config import ALPHA_SCHEDULES, DATASET_SAMPLINGS, MODES, POSITIVES, XY_SCOPES, BuildConfig, SamplerConfig
from ..errors import MtqaError, OptionError
from .group import _refuse_unless, cli, fill, language_codes

BUILD_EXAMPLE = """\b
Examples:
  mtqa build-batches --input out/squad-mt --output out/batches
  mtqa build-batches --input lareqa:xquad-r --articles 0-23 \\
      --mode hybrid --alpha 0.5 --positive sentence --output out/xquad-batches
  mtqa build-batches --stats out/batches
"""


def _parse_weights(spec: str | None) -> dict[str, float] | None:
    if not spec:
        return None
    weights = {}
    for item in spec.split(","):
        code, sep, value = item.partition("=")
        try:
            weights[code.strip()] = float(value)
        except ValueError:
            raise OptionError(f"--lang-weights: cannot read {item!r}; use CODE=WEIGHT pairs such as de=2,es=1") from None
        if not sep or weights[code.strip()] < 0:
            raise OptionError(f"--lang-weights: cannot read {item!r}; use CODE=WEIGHT pairs such as de=2,es=1")
    return weights


@cli.command("build-batches", epilog=BUILD_EXAMPLE)
@click.option("--input", "inputs", multiple=True, help="mtqa translate output DIR, or lareqa:PATH (repeatable).")
@click.option("--output", type=click.Path(path_type=Path), help="Directory for shards, manifest.json and README.md.")
@click.option("--mode", type=click.Choice(MODES), default=SamplerConfig.mode, show_default=True)
@click.option(
    "--alpha",
    "--mono-prob",
    "mono_prob",
    type=click.FloatRange(0, 1),
    default=SamplerConfig.mono_prob,
    show_default=True,
    help="The paper's α. Hybrid: probability of an X-X batch; multitask: the X-X share of each step's rows. "
    "(--mono-prob is its earlier name; the manifest keeps the key mono_prob.)",
)
@click.option(
    "--alpha-schedule",
    type=click.Choice(ALPHA_SCHEDULES),
    default=SamplerConfig.alpha_schedule,
    show_default=True,
    help="Hybrid and xx: random draws each batch's type (the paper); exact gives round(α·N) X-X batches in a seeded order, "
    "each X-X language its share to within one (needs --num-batches).",
)
@click.option(
    "--xy-scope",
    type=click.Choice(XY_SCOPES),
    default=SamplerConfig.xy_scope,
    show_default=True,
    help="X-Y: a language pair per row, or one per batch.",
)
@click.option("--batch-size", type=click.IntRange(min=1), default=SamplerConfig.batch_size, show_default=True)
@click.option("--positive", type=click.Choice(POSITIVES), default=SamplerConfig.positive, show_default=True)
@click.option(
    "--hard-negatives",
    type=click.IntRange(min=0),
    default=BuildConfig.hard_negatives,
    show_default=True,
    help="Other sentences of the positive's passage (sentence positives).",
)
@click.option("--langs", help="Use only these languages: ISO 639-1 or FLORES-200 codes, e.g. en,de,zh.")
@click.option("--lang-weights", help="Relative language weights, e.g. en=2,de=1 (default: uniform).")
@click.option("--lang-temperature", type=click.FloatRange(min=0, min_open=True), help="Weight languages by size^(1/T).")
@click.option("--dataset-sampling", type=click.Choice(DATASET_SAMPLINGS), default=SamplerConfig.dataset_sampling, show_default=True)
@click.option(
    "--dataset-temperature", type=click.FloatRange(min=0, min_open=True), default=SamplerConfig.dataset_temperature, show_default=True
)
@click.option("--epochs", type=click.IntRange(min=1), default=SamplerConfig.epochs, show_default=True)
@click.option("--num-batches", type=click.IntRange(min=1), help="Stop after N batches (overrides --epochs).")
@click.option("--seed", type=int, default=SamplerConfig.seed, show_default=True)
@click.option("--articles", help="lareqa inputs: article indices to use, e.g. 0-23.")
@click.option("--batches-per-shard", type=click.IntRange(min=1), help="Default: about 100,000 rows per shard.")
@click.option("--overwrite", is_flag=True, help="Replace an existing --output.")
@click.option("--quiet", is_flag=True, help="No progress bar.")
@click.option(
    "--stats", "stats_dir", type=click.Path(path_type=Path), help="Inspect a shard directory instead: print its mix, write a heatmap PNG."
)
@click.option("--plot", type=click.Path(path_type=Path), help="With --stats: where to write the heatmap (default DIR/pairs.png).")
def build_batches(**options) -> None:
    """Compose monolingual (X-X) and cross-lingual (X-Y) batches into training shards.

    Every batch is X-X with probability --alpha, else X-Y (hybrid mode, the
    method of arXiv 2408.10536). Same inputs and --seed give byte-identical shards.
    """
    from ..batches import job as batches_job
    from ..batches.stats import stats_text

    _check_options(options)
    if options["stats_dir"]:
        _show_stats(options["stats_dir"], options["plot"])
        return
    if not options["inputs"]:
        raise OptionError("build-batches needs --input (or --stats DIR to inspect shards)")
    if options["output"] is None:
        raise MtqaError("build-batches needs --output DIR")
    sampler = fill(
        SamplerConfig, options, langs=language_codes(options["langs"], "--langs"), lang_weights=_parse_weights(options["lang_weights"])
    )
    config = fill(BuildConfig, options, inputs=list(options["inputs"]), sampler=sampler, progress=not options["quiet"])
    manifest = batches_job.run_build_batches(config)
    click.echo(stats_text(manifest), err=True)
    click.echo(
        f"wrote {manifest['num_batches']} batches ({manifest['rows']} rows) in {len(manifest['shards'])} shards to {config.output}",
        err=True,
    )


def _check_options(options: dict) -> None:
    """Options that do not apply, or conflict, are refused before any work."""
    # Every option but these builds shards, which --stats does not.
    inspecting = ("stats_dir", "plot", "quiet")
    building = tuple(param.name for param in click.get_current_context().command.params if param.name not in inspecting)
    _refuse_unless(
        not options["stats_dir"], building, "when building (--stats only inspects a shard directory)", "drop {shown}, or drop --stats"
    )
    _refuse_unless(bool(options["stats_dir"]), ("plot",), "with --stats DIR", "add --stats DIR, or drop {shown}")
    _refuse_unless(
        any(spec.startswith("lareqa:") for spec in options["inputs"]),
        ("articles",),
        "to lareqa: inputs",
        "drop {shown} (a translate output holds the articles it was made from; mtqa translate --articles picks them)",
    )
    if options["lang_weights"] and options["lang_temperature"]:
        raise click.UsageError("--lang-weights and --lang-temperature both weight languages; give one of them")


def _show_stats(directory: Path, plot: Path | None) -> None:
    """--stats: a shard directory's mix, and its heatmap."""
    from ..batches.stats import stats_text, write_heatmap
    from ..formats.shards import read_manifest

    manifest = read_manifest(directory, option="--stats")
    click.echo(stats_text(manifest))
    plot = plot or directory / "pairs.png"
    write_heatmap(manifest, plot)
    click.echo(f"heatmap: {plot}")
