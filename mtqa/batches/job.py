"""`mtqa build-batches`: index corpora -> compose batches -> write shards, manifest and card."""

from __future__ import annotations

import json
from collections import Counter
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa

from .. import __version__, log
from ..card import markdown_table, render_card
from ..errors import MtqaError, OptionError
from ..faults import crash_point
from ..formats import shards
from ..formats.lareqa import parse_articles
from ..output import atomic_directory, claim_output
from ..stages import StageTimer, release_free_memory
from .checks import Outcome, check_mode_honoured, validate
from .config import BuildConfig, SamplerConfig
from .corpus_index import Corpus, TextStores, load_corpus
from .sampler import Batch, SamplingReport, allowed_languages, corpus_size, iterate_batches

EPOCH_DEFINITION = """\
An epoch uses every (example, language) pair of every input as a query at most
once (in `en` mode, every English example). Each corpus's epoch ends when no
further full batch can be formed from its unused pairs; those are counted as
`leftover_units`. `--epochs N` runs N such passes with fresh shuffles;
`--num-batches N` stops after N batches, starting new epochs as needed."""


class _ShardWriter:
    """Collects whole batches and writes them as numbered Parquet shards.

    A batch is kept as id arrays; names and texts are gathered by Arrow when its shard is written.
    """

    def __init__(self, directory: Path, corpora: list[Corpus], stores: TextStores, config: BuildConfig) -> None:
        self.directory, self.corpora, self.stores, self.config = directory, corpora, stores, config
        self.positive = config.sampler.positive
        self.rng = np.random.default_rng([config.sampler.seed, 1])
        # Every corpus's languages and example ids in one Arrow array each; a row's code is its corpus's offset plus its index.
        self.lang_names = pa.array([code for corpus in corpora for code in corpus.langs], pa.string())
        self.lang_offsets = np.cumsum([0] + [len(corpus.langs) for corpus in corpora])
        self.example_names = pa.array([name for corpus in corpora for name in corpus.example_ids], pa.string())
        self.example_offsets = np.cumsum([0] + [corpus.num_examples for corpus in corpora])
        self.dataset_names = pa.array([corpus.name for corpus in corpora], pa.string())
        self.shards: list[dict[str, Any]] = []
        self.parts: list[dict[str, Any]] = []
        self.negatives: list[list[int]] = []
        # Gathering texts and compressing a shard runs in Arrow with the GIL released,
        # so one writer thread overlaps it with sampling the next shard.
        self._pool = ThreadPoolExecutor(max_workers=1)
        self._pending: Future | None = None

    @property
    def batches(self) -> int:
        return len(self.parts)

    def add(self, batch_index: int, batch: Batch) -> None:
        corpus = self.corpora[batch.corpus]
        query_rows = corpus.row_of[batch.examples, batch.query_langs]
        positive_rows = corpus.row_of[batch.examples, batch.positive_langs]
        self.parts.append(
            {
                "batch_index": batch_index,
                "batch_type": batch.batch_type,
                "corpus": batch.corpus,
                "query_lang": batch.query_langs + self.lang_offsets[batch.corpus],
                "positive_lang": batch.positive_langs + self.lang_offsets[batch.corpus],
                "example": batch.examples + self.example_offsets[batch.corpus],
                "query": corpus.question[query_rows],
                "positive": corpus.context[positive_rows] if self.positive == "passage" else corpus.answer_sentence[positive_rows],
                "context": corpus.context[positive_rows] if self.positive == "sentence+context" else None,
                "sub_batch": batch.sub_batches,
            }
        )
        if self.config.hard_negatives:
            self.negatives += self._hard_negatives(corpus, batch, positive_rows)

    def _hard_negatives(self, corpus: Corpus, batch: Batch, positive_rows: np.ndarray) -> list[list[int]]:
        # Never a positive of the batch, nor a translation of one: the answer sentence of any of its examples in any language.
        rows = corpus.row_of[batch.examples]
        forbidden = set(corpus.answer_sentence[rows[rows >= 0]].tolist())
        negatives = []
        for row in positive_rows:
            start, count = corpus.sentences_start[row], corpus.sentences_count[row]
            others = [i for i in corpus.sentence_ids[start : start + count] if i not in forbidden]
            pick = self.rng.permutation(len(others))[: self.config.hard_negatives]
            negatives.append([int(others[i]) for i in sorted(pick)])
        return negatives

    def flush(self) -> None:
        """Hand the collected batches to the writer thread (at most one shard waits in memory)."""
        if not self.parts:
            return
        self._wait()
        self._pending = self._pool.submit(self._write, self.parts, self.negatives, len(self.shards))
        self.shards.append({})
        self.parts, self.negatives = [], []

    def close(self) -> None:
        """Wait for the last shard; its errors surface here."""
        self._wait()

    def abandon(self) -> None:
        self._pool.shutdown(wait=True)

    def _wait(self) -> None:
        if self._pending is not None:
            number, entry = self._pending.result()
            self.shards[number] = entry
            self._pending = None

    def _write(self, parts: list[dict[str, Any]], negatives: list[list[int]], number: int) -> tuple[int, dict[str, Any]]:
        sizes = [len(part["example"]) for part in parts]
        per_batch = lambda name: np.repeat([part[name] for part in parts], sizes)  # noqa: E731
        column = lambda name: pa.array(np.concatenate([part[name] for part in parts]))  # noqa: E731
        arrays = {
            "batch_index": pa.array(per_batch("batch_index"), pa.int64()),
            "batch_type": pa.array(per_batch("batch_type"), pa.string()),
            "query_lang": self.lang_names.take(column("query_lang")),
            "positive_lang": self.lang_names.take(column("positive_lang")),
            "dataset": self.dataset_names.take(pa.array(per_batch("corpus"))),
            "example_id": self.example_names.take(column("example")),
        }
        positive_store = self.stores.passages if self.positive == "passage" else self.stores.sentences
        arrays["query"] = self.stores.questions.take(np.concatenate([part["query"] for part in parts])).cast(pa.string())
        arrays["positive"] = positive_store.take(np.concatenate([part["positive"] for part in parts])).cast(pa.string())
        if self.positive == "sentence+context":
            arrays["positive_context"] = self.stores.passages.take(np.concatenate([part["context"] for part in parts])).cast(pa.string())
        if self.config.hard_negatives:
            lengths = np.array([len(ids) for ids in negatives], np.int64)
            offsets = pa.array(np.concatenate([[0], np.cumsum(lengths)]).astype(np.int32))
            flat = np.array([i for ids in negatives for i in ids], np.int64)
            arrays["negatives"] = pa.ListArray.from_arrays(offsets, self.stores.sentences.take(flat).cast(pa.string()))
        if parts[0]["sub_batch"] is not None:
            arrays["sub_batch"] = pa.array(np.concatenate([part["sub_batch"] for part in parts]), pa.string())
        entry = shards.write_shard(
            self.directory, number, pa.table(arrays), batches=len(parts), row_group_size=max(1, self.config.sampler.batch_size) * 64
        )
        crash_point("batches.shard")
        return number, entry


def run_build_batches(config: BuildConfig) -> dict[str, Any]:
    if not config.inputs:
        raise MtqaError("no --input given; pass a directory written by mtqa translate or lareqa:PATH")
    if config.hard_negatives and config.sampler.positive == "passage":
        raise OptionError("--hard-negatives needs sentence positives; add --positive sentence (or sentence+context)")
    with claim_output(config.output, overwrite=config.overwrite):
        return _build_batches(config)


def _build_batches(config: BuildConfig) -> dict[str, Any]:
    timer = StageTimer()
    with atomic_directory(config.output, overwrite=config.overwrite) as staging:
        # The texts' spill files live beside the output (unlinked at once): the disk the user chose for it.
        stores = TextStores(spill_dir=staging)
        with timer.stage("index"):
            corpora = _index(config, stores)
            release_free_memory()
        validate(corpora, config.sampler)
        stores.seal()
        for corpus in corpora:
            corpus.use_canonical_ids(stores)

        from tqdm.auto import tqdm

        sampler = config.sampler
        per_shard = config.batches_per_shard or max(1, 100_000 // sampler.batch_size)
        report = SamplingReport()
        writer = _ShardWriter(staging, corpora, stores, config)
        bar = tqdm(unit="batch", desc="build-batches", disable=not config.progress, dynamic_ncols=True)
        with timer.stage("sample_and_write"):
            try:
                tally = _compose(corpora, sampler, report, writer, per_shard, bar)
            finally:
                writer.abandon()
                bar.close()
        warnings = check_mode_honoured(_outcome(corpora, sampler, report, tally), sampler, corpora)  # may refuse: nothing is kept
        for message in warnings:
            log.warning(message)
        manifest = _manifest(config, corpora, report, writer.shards, tally)
        manifest["warnings"] = warnings
        manifest["timings_s"] = timer.report()
        manifest["memory_mib"] = timer.memory_report()
        manifest = shards.write_manifest(staging, manifest)
        (staging / "README.md").write_text(_card(manifest, staging), encoding="utf-8")
    return manifest


def _outcome(corpora: list[Corpus], sampler: SamplerConfig, report: SamplingReport, tally: "_Tally") -> Outcome:
    epochs = max(1, report.epochs)
    return Outcome(
        by_type=tally.by_type,
        fallbacks=report.fallbacks,
        leftover=sum(report.leftover_units) // epochs,  # per epoch, as the usable count is
        usable=sum(corpus_size(corpus, sampler) for corpus in corpora),
    )


def _index(config: BuildConfig, stores: TextStores) -> list[Corpus]:
    articles = parse_articles(config.articles)
    corpora: list[Corpus] = []
    names: Counter[str] = Counter()
    for spec in config.inputs:
        corpus = load_corpus(
            spec, stores, articles=articles, with_sentences=config.sampler.positive != "passage" or config.hard_negatives > 0
        )
        names[corpus.name] += 1
        if names[corpus.name] > 1:
            corpus.name = f"{corpus.name}-{names[corpus.name]}"
        corpora.append(corpus)
    return corpora


@dataclass
class _Tally:
    """What the manifest reports about the batches written."""

    by_type: Counter = field(default_factory=Counter)
    by_dataset: Counter = field(default_factory=Counter)
    xx_by_language: Counter = field(default_factory=Counter)
    pair_counts: dict[int, np.ndarray] = field(default_factory=dict)  # per corpus index: rows by (query language, positive language)

    def count(self, corpus: Corpus, batch: Batch) -> None:
        self.by_type[batch.batch_type] += 1
        if batch.batch_type == "xx":
            self.xx_by_language[corpus.langs[int(batch.positive_langs[0])]] += 1
        self.by_dataset[corpus.name] += 1
        width = len(corpus.langs)
        if batch.corpus not in self.pair_counts:
            self.pair_counts[batch.corpus] = np.zeros(width * width, np.int64)
        self.pair_counts[batch.corpus] += np.bincount(batch.query_langs * width + batch.positive_langs, minlength=width * width)

    def pairs(self, corpora: list[Corpus]) -> Counter:
        """Rows by ``"X-Y"`` language pair, over every corpus."""
        pairs: Counter[str] = Counter()
        for index, counts in self.pair_counts.items():
            langs = corpora[index].langs
            for flat in np.flatnonzero(counts):
                pairs[f"{langs[flat // len(langs)]}-{langs[flat % len(langs)]}"] += int(counts[flat])
        return pairs


def _compose(corpora: list[Corpus], sampler: SamplerConfig, report: SamplingReport, writer: "_ShardWriter", per_shard: int, bar) -> _Tally:
    tally = _Tally()
    for batch_index, batch in enumerate(iterate_batches(corpora, sampler, report)):
        tally.count(corpora[batch.corpus], batch)
        writer.add(batch_index, batch)
        if writer.batches >= per_shard:
            writer.flush()
        bar.update(1)
    writer.flush()
    writer.close()
    return tally


def _manifest(
    config: BuildConfig, corpora: list[Corpus], report: SamplingReport, shards: list[dict[str, Any]], tally: _Tally
) -> dict[str, Any]:
    sampler = config.sampler
    inputs = []
    for spec, corpus in zip(config.inputs, corpora):
        langs = allowed_languages(corpus, sampler)
        available = (corpus.row_of[:, langs] >= 0).sum(axis=1) if langs else np.zeros(corpus.num_examples)
        skipped = dict(corpus.skipped)
        if sampler.mode in ("xy", "hybrid", "multitask"):
            single = int((available == 1).sum())
            if single:
                skipped["examples in one language only (usable in X-X batches only)"] = single
        absent = int((available == 0).sum())
        if absent:
            skipped["examples in none of the chosen languages"] = absent
        inputs.append(
            {
                "spec": spec,
                "name": corpus.name,
                "languages": corpus.langs,
                "examples": corpus.num_examples,
                "rows": int((corpus.row_of >= 0).sum()),
                "skipped": skipped,
            }
        )
    return {
        "mtqa_version": __version__,
        "config": {**asdict(sampler), "articles": config.articles, "hard_negatives": config.hard_negatives, "inputs": config.inputs},
        "seed": sampler.seed,
        "epoch_definition": " ".join(EPOCH_DEFINITION.split()),
        "inputs": inputs,
        # Each input's licence where it is known (a LAReQA set mtqa knows; a translate output's manifest): the card carries it.
        "licenses": {spec: found for spec in config.inputs if (found := _input_license(spec)) is not None},
        "num_batches": sum(tally.by_type.values()),
        "rows": sum(shard["rows"] for shard in shards),
        "batches_by_type": dict(sorted(tally.by_type.items())),
        # What --alpha gave in fact: the X-X share of the batches and each X-X language's count.
        "xx_share": round(tally.by_type.get("xx", 0) / max(1, sum(tally.by_type.values())), 4),
        "xx_batches_by_language": dict(sorted(tally.xx_by_language.items())),
        "batches_by_dataset": dict(sorted(tally.by_dataset.items())),
        "pairs": dict(sorted(tally.pairs(corpora).items())),
        "epochs": report.epochs,
        "leftover_units": report.leftover_units,
        # Batches of the other kind, made because a batch of this kind could not be filled (hybrid).
        "fallbacks": dict(sorted(report.fallbacks.items())),
        "shards": shards,
    }


def _input_license(spec: str) -> str | None:
    from ..formats.qa_input import lareqa_license

    if spec.startswith("lareqa:"):
        return lareqa_license(spec)
    try:
        return json.loads((Path(spec) / "manifest.json").read_text(encoding="utf-8"))["input"].get("license")
    except (OSError, ValueError, KeyError, TypeError, AttributeError):
        return None


def _card(manifest: dict[str, Any], folder: Path) -> str:
    config = manifest["config"]
    # The languages the batches hold (an input may have more than --langs kept), and what their translations are:
    # a LAReQA set is human-translated, a translate output machine-translated.
    langs = sorted({code for pair in manifest["pairs"] for code in pair.split("-", 1)})
    translations = sorted({"human" if spec.startswith("lareqa:") else "machine" for spec in config["inputs"]})
    types = markdown_table(["batch type", "batches"], [[k, v] for k, v in manifest["batches_by_type"].items()])
    inputs = markdown_table(
        ["input", "examples", "rows", "skipped"],
        [[i["spec"], i["examples"], i["rows"], "; ".join(f"{k}: {v}" for k, v in i["skipped"].items()) or "-"] for i in manifest["inputs"]],
    )
    how = f"""\
Written by `mtqa build-batches` {manifest["mtqa_version"]} in mode `{config["mode"]}`
(X-X probability {config["mono_prob"]}, X-Y scope `{config["xy_scope"]}`), batch size
{config["batch_size"]}, positives `{config["positive"]}`, seed {manifest["seed"]}.
Each row of a shard is one (query, positive) pair; rows with the same `batch_index`
form one training batch, stored in training order. Texts are raw: the trainer adds
prefixes such as "query: "."""
    return render_card(
        title="Hybrid-batch training shards",
        languages=langs,
        license_name=next(iter(set(manifest.get("licenses", {}).values())))
        if len(set(manifest.get("licenses", {}).values())) == 1
        else None,
        rows=manifest["rows"],
        source_datasets=[i["spec"] for i in manifest["inputs"]],
        task_categories=["text-retrieval", "sentence-similarity"],
        sections=[("How it was made", how), ("Epochs", EPOCH_DEFINITION), ("Batch types", types), ("Inputs", inputs)],
        translations=translations,
        data_files="batches-*.parquet",
        data_dir=folder,
    )
