"""`mtqa train-eval`: train a bi-encoder on batch shards (:mod:`mtqa.train`), then evaluate it and write the report."""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

from .. import __version__
from ..encoders.load import base_model_id, check_model_source, load_encoder, resolve_model_name
from ..errors import MtqaError, OptionError
from ..evaluate.config import parse_eval_spec
from ..evaluate.lareqa import load_lareqa
from ..evaluate.metrics import HEADLINE_METRICS
from ..evaluate.report import write_report
from ..evaluate.run import EvalSettings, evaluate_model, prepare_sets
from ..formats.run_files import TRAINED
from ..interrupts import advise, is_stop
from ..output import atomic_write, check_writable_parent, output_lock, write_error
from ..paths import resolve_data_set
from ..stages import announced
from .config import TrainEvalConfig
from .model_card import write_model_card


def _eval_settings(config: TrainEvalConfig) -> EvalSettings:
    return EvalSettings(
        engine=config.eval_engine,
        device=config.device,
        batch_size=config.encode_batch_size,
        progress=config.progress,
        query_prefix=config.query_prefix,
        passage_prefix=config.passage_prefix,
        candidate=config.candidate,
        articles=config.eval_articles,
    )


def run_train_eval(config: TrainEvalConfig) -> dict[str, Any]:
    manifest = None  # the options were checked when the config was made (TrainEvalConfig.__post_init__)
    if config.batches is not None and not config.eval_only:
        from ..train.preflight import checked_manifest

        # Once, here: wrong shards or a run folder that cannot be trained into fail before the model loads.
        into = not config.overwrite and _finished_training(config) is None  # --overwrite removes the folder below
        manifest = checked_manifest(config.train, config.batches, config.output, run_folder=into)
    check_model_source(config.model)  # a wrong path fails now, before torch is imported
    if config.overwrite and config.output.exists():
        _remove_earlier_run(config.output)
    if config.device in ("auto", "cuda"):
        import torch

        if config.device == "cuda" and not torch.cuda.is_available():  # before the model loads, not after
            raise MtqaError("--device cuda: PyTorch sees no CUDA device here; use --device cpu, or auto to take one where there is")
        config.device = "cuda" if torch.cuda.is_available() else "cpu"
    if config.train.precision != "fp32" and config.device != "cuda" and not config.eval_only:
        raise OptionError(
            f"--precision {config.train.precision} needs a CUDA device (--device cuda); on {config.device} use --precision fp32"
        )
    from ..train.distributed import current_group  # imports torch: only once the cheap checks have passed

    group = current_group()
    if not group.is_main:
        return _train_on_other_rank(config)
    check_writable_parent(config.output)
    with output_lock(config.output):
        existed = config.output.exists()
        try:
            return _train_eval(config, manifest)
        except BaseException as stop:
            if not existed:
                _remove_if_nothing_written(config.output)
            if is_stop(stop) and not config.eval_only:
                _advise_after_stop(stop, config.output)
            raise


def _finished_training(config: TrainEvalConfig) -> dict[str, Any] | None:
    """With --resume, the training record of a run whose training finished (its model saved) but whose report was not written."""
    record = config.output / TRAINED
    if config.eval_only or not config.train.resume or not record.is_file() or not (config.output / "model").is_dir():
        return None
    try:
        return json.loads(record.read_text())
    except ValueError:
        return None  # torn: train again from the checkpoints


def _merge_with_base(model, config: TrainEvalConfig, output: Path) -> dict[str, Any]:
    """WiSE-FT: the trained model merged with its base, λ fixed or chosen on the dev articles; saved as the run's model."""
    from ..train.merge import AUTO_GRID, interpolate, save_merged

    base = load_encoder(config.model, pooling=config.pooling, max_length=config.max_length, device=config.device).state_dict()
    tuned = {name: value.detach().clone() for name, value in model.state_dict().items()}
    scores = None
    if config.merge_base == "auto":
        dev = [
            (spec, load_lareqa(resolve_data_set(spec.source), articles=config.merge_dev_articles, langs=config.eval_langs))
            for spec in map(parse_eval_spec, config.evals)
            if spec.kind == "lareqa"
        ]
        scores = {}
        for lam in AUTO_GRID:
            model.load_state_dict(interpolate(base, tuned, lam))
            results = evaluate_model(model, dev, _eval_settings(config), output, final=False)
            scores[lam] = float(sum(item[f"{s}_map"] for item in results.values() for s in ("mono", "cross", "multi")) / (3 * len(results)))
        lam = max(AUTO_GRID, key=lambda value: (scores[value], -value))  # a tie goes to the smaller step away from the base
    else:
        lam = config.merge_base
    model.load_state_dict(interpolate(base, tuned, lam))
    record = {
        "method": "WiSE-FT",
        "lambda": lam,
        "base": config.model,
        "chosen_on": config.merge_dev_articles,
        "dev_scores": {str(key): round(value, 4) for key, value in scores.items()} if scores else None,
    }
    save_merged(model, output / "model", record)
    return record


def _train_on_other_rank(config: TrainEvalConfig) -> dict[str, Any]:
    """Under torchrun, ranks other than 0 train their share of each batch; rank 0 evaluates and writes."""
    if config.eval_only:
        return {}
    from ..train.trainer import train

    model = load_encoder(config.model, pooling=config.pooling, max_length=config.max_length, device=config.device)
    return {"training": train(config.train, model, config.batches, config.output, progress=False)}


# What marks a folder as an earlier train-eval run, which --overwrite may remove.
RUN_MARKERS = ("report.json", "train_log.jsonl", "training.json", "model", "checkpoints")


def _remove_earlier_run(output: Path) -> None:
    """--overwrite: an earlier run's folder goes, under its lock; any other folder is refused, never deleted."""
    if output.is_dir() and not any(output.iterdir()):
        return
    if not output.is_dir() or not any((output / marker).exists() for marker in RUN_MARKERS):
        raise MtqaError(f"--overwrite replaces an earlier train-eval run, and {output} is not one; choose another --output")
    from ..train.distributed import current_group

    if current_group().is_main:
        with output_lock(output):
            shutil.rmtree(output)
    current_group().barrier()


def _advise_after_stop(stop: BaseException, output: Path) -> None:
    """What a stopped training run kept, and that --resume goes on from it; or that nothing was kept."""
    from ..formats.run_files import complete_checkpoints

    if (output / "model").is_dir():
        advise(stop, resume=True, what=f"training had finished ({output / 'model'}); the evaluation had not")
        return
    kept = complete_checkpoints(output / "checkpoints")
    if kept:
        advise(stop, resume=True, what=f"{output} keeps a checkpoint at step {int(kept[0].name.split('-')[-1])}")
    elif output.exists():
        advise(stop, resume=True, what=f"{output} holds the run but no checkpoint yet (--resume starts it from step 0)")
    else:
        advise(stop, resume=False, what="no step had finished, and nothing was kept; rerun the same command")


def _remove_if_nothing_written(folder: Path) -> None:
    """A run that failed before writing a byte leaves no folder behind to be mistaken for a result."""
    if folder.is_dir() and not any(path.is_file() and path.stat().st_size for path in folder.rglob("*")):
        shutil.rmtree(folder, ignore_errors=True)


def _train_eval(config: TrainEvalConfig, manifest: dict[str, Any] | None) -> dict[str, Any]:
    prepared = prepare_sets(config.evals, articles=config.eval_articles, langs=config.eval_langs, beir_split=config.beir_split)
    output = config.output
    finished = _finished_training(config)
    source = str(output / "model") if finished else config.model
    with announced(f"loaded {source} on {config.device}"):
        model = load_encoder(source, pooling=config.pooling, max_length=config.max_length, device=config.device)
    try:
        output.mkdir(parents=True, exist_ok=True)
    except OSError as error:
        raise write_error(output, error) from None
    report: dict[str, Any] = {
        "mtqa_version": __version__,
        "model": config.model,
        "training": None,
        "prefixes": {"query": config.query_prefix, "passage": config.passage_prefix},
    }
    if finished:  # killed after training, during the final evaluation: the saved model is the result
        report.update(finished)
    elif not config.eval_only:
        from ..train.trainer import train

        def on_eval(step: int, model) -> dict[str, Any]:
            results = evaluate_model(model, prepared, _eval_settings(config), output, final=False)
            return {name: {key: item[key] for key in HEADLINE_METRICS if key in item} for name, item in results.items()}

        report["training"] = train(
            config.train, model, config.batches, output, on_eval=on_eval if prepared else None, progress=config.progress, manifest=manifest
        )
        if config.merge_base is not None:
            report["merge"] = _merge_with_base(model, config, output)
        atomic_write(output / TRAINED, json.dumps({key: report[key] for key in ("training", "merge") if key in report}, indent=2) + "\n")
    report["evals"] = evaluate_model(model, prepared, _eval_settings(config), output)
    if report["training"] is not None:  # the card before the report: report.json, written last, marks the run complete
        base = Path(resolve_model_name(config.model))
        write_model_card(
            output / "model",
            base_model=base_model_id(config.model),
            base_folder=base if base.is_dir() else None,
            shards=manifest,
            train=config.train,
            report=report,
            command=config.command,
        )
    write_report(report, output)
    return report
