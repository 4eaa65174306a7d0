"""The Hugging Face model card of a model trained by `mtqa train-eval`: what it was trained from, on what, how, and how it scores.

sentence-transformers writes a generic card (or keeps the base model's) when it saves;
publishing that folder would publish a false card, so train-eval replaces it.
"""

from __future__ import annotations

import shlex
import sys
from pathlib import Path
from typing import Any

from ..card import markdown_table
from ..evaluate.report import format_value, lareqa_rows
from ..output import atomic_write
from ..train.config import TrainConfig


def base_licence(model_folder: Path | None) -> str | None:
    """The ``license`` of a base model's own card (its metadata, read by huggingface_hub), where it has one."""
    if model_folder is None or not (Path(model_folder) / "README.md").is_file():
        return None
    from huggingface_hub import ModelCard

    try:
        licence = ModelCard.load(Path(model_folder) / "README.md").data.license
    except Exception:  # a card whose metadata does not parse names no licence
        return None
    return str(licence) if licence else None


LAREQA_METRICS = {"mono_map": "mono mAP", "cross_map": "cross mAP", "multi_map": "multi mAP", "rank_distance": "rank distance"}


def card_metadata(base_model: str, licence: str, languages: list[str], report: dict[str, Any]):
    """The card's front matter: the model's lineage, and its LAReQA results as model-index (the Hub shows them)."""
    from huggingface_hub import EvalResult, ModelCardData

    results = [
        EvalResult(task_type="text-retrieval", task_name="Language-agnostic answer retrieval (LAReQA)", dataset_type=item.get("source", name),
                   dataset_name=name, dataset_config=f"articles {item.get('articles', 'all')}; {', '.join(item.get('languages', []))}",
                   metric_type=metric, metric_name=label, metric_value=round(float(item[metric]), 4))
        for name, item in report.get("evals", {}).items() if item.get("kind") == "lareqa"
        for metric, label in LAREQA_METRICS.items() if item.get(metric) is not None
    ]  # fmt: skip
    return ModelCardData(
        library_name="sentence-transformers",
        pipeline_tag="sentence-similarity",
        tags=["sentence-transformers", "mtqa", "multilingual", "retrieval"],
        license=licence,
        base_model=base_model,
        language=languages or None,
        model_name=f"{Path(base_model).name or base_model}-mtqa",
        eval_results=results or None,
    )


def render_model_card(
    *,
    base_model: str,
    base_folder: Path | None,
    shards: dict[str, Any] | None,
    train: TrainConfig,
    report: dict[str, Any],
    command: list[str] | None = None,
) -> str:
    licence = base_licence(base_folder) or "unknown"
    # The languages the batches hold (the inputs may have more than --langs kept).
    languages = sorted({code for pair in (shards or {}).get("pairs", {}) for code in pair.split("-", 1)})
    lines = [
        "---", card_metadata(base_model, licence, languages, report).to_yaml(), "---", "",
        f"# {Path(base_model).name or base_model}, fine-tuned by mtqa for multilingual retrieval", "",
        f"Base model: `{base_model}`. Fine-tuned with `mtqa train-eval` {report.get('mtqa_version', '')} "
        "(InfoNCE with in-batch negatives, one stored batch per step; arXiv 2408.10536).", "",
    ]  # fmt: skip
    lines += _data_section(shards, languages) + _training_section(train, report.get("training") or {})
    lines += _merge_section(report.get("merge")) + _evaluation_section(report)
    lines += ["## How it was made", "", "```", shlex.join(command or ["mtqa", *sys.argv[1:]]), "```", "",
              f"Licence: {licence}, carried over from the base model" + ("" if licence != "unknown" else " (its card names none)") + ".",
              ""]  # fmt: skip
    return "\n".join(lines)


def _data_section(shards: dict[str, Any] | None, languages: list[str]) -> list[str]:
    if not shards:
        return []
    config = shards.get("config", {})
    batch_rows = [[kind, count] for kind, count in shards.get("batches_by_type", {}).items()]
    return [
        "## Training data", "",
        f"Shards from `mtqa build-batches`: mode `{config.get('mode')}`, X-X probability (α) {config.get('mono_prob')}, "
        f"batch size {config.get('batch_size')}, positives `{config.get('positive')}`, seed {shards.get('seed')}; "
        f"{shards.get('num_batches')} batches, {shards.get('rows')} rows; languages {', '.join(languages) or '-'}.", "",
        "Inputs: " + "; ".join(f"`{item['spec']}` ({item['examples']} examples)" for item in shards.get("inputs", [])), "",
        markdown_table(["batch type", "batches"], batch_rows), "",
    ]  # fmt: skip


def _training_section(train: TrainConfig, training: dict[str, Any]) -> list[str]:
    settings = [
        ["steps", training.get("steps")], ["learning rate", train.lr], ["weight decay", train.weight_decay],
        ["warm-up ratio", train.warmup_ratio], ["temperature", train.temperature], ["seed", train.seed],
        ["query prefix", f"`{train.query_prefix}`"], ["passage prefix", f"`{train.passage_prefix}`"],
        ["max length", train.max_length or "the model's"], ["processes", training.get("processes")],
        ["final loss", format_value(training.get("final_loss"), 4)],
    ]  # fmt: skip
    return ["## Training", "", markdown_table(["setting", "value"], settings), "",
            "Encode queries and passages with the prefixes above, as in training.", ""]  # fmt: skip


def _merge_section(merge: dict[str, Any] | None) -> list[str]:
    if not merge:
        return []
    chosen = f", chosen on articles {merge['chosen_on']} from {', '.join(merge['dev_scores'])}" if merge.get("dev_scores") else ""
    return ["## Weight-space ensemble (WiSE-FT)", "",
            f"These weights are (1 − λ)·base + λ·fine-tuned with λ = {merge['lambda']}{chosen}; the base is `{merge['base']}`.", ""]  # fmt: skip


def _evaluation_section(report: dict[str, Any]) -> list[str]:
    rows = lareqa_rows(report)
    if not rows:
        return []
    return ["## Evaluation (mAP, LAReQA protocol; rank distance: lower is less language bias)", "",
            markdown_table(["set", "mono", "cross", "multi", "rank distance"], rows), ""]  # fmt: skip


def write_model_card(model_dir: Path, **details: Any) -> None:
    atomic_write(Path(model_dir) / "README.md", render_model_card(**details))
