"""Opening what `mtqa translate` translates with: a CTranslate2 model of one of the neural families, or Apertium.

Both give a translator (tokenise, translate a chunk, detokenise), an executor that runs chunks, the
cache namespace and the manifest's ``model`` entry; everything after that is one shared path.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable

from ..errors import MtqaError, OptionError
from ..languages import Language, get_language
from . import apertium
from .filters.round_trip import BackTranslate
from .model.translator import ChunkExecutor, Translator, translate_segments


@dataclass
class OpenedModel:
    translator: Translator  # ModelTranslator or ApertiumTranslator
    executor: ChunkExecutor | None  # LocalExecutor, RayExecutor or ApertiumExecutor; None in a dry run
    namespace: str | None  # None in a dry run of a model not converted yet: its cache keys are unknown
    report: dict[str, Any]  # the manifest's "model" entry
    described: str  # how the text was translated, for the dataset card
    chunk_tokens: int | None = None  # tokens per chunk handed to the executor (None: the translator's default)


def open_model(config, source: Language, targets: list[Language], *, load: bool = True) -> OpenedModel:
    """The translator for ``config.model``, its languages checked before any download, conversion or load."""
    if apertium.is_apertium(config.model):
        return _open_apertium(config, targets)
    return _open_ctranslate2(config, source, targets, load=load)


def _open_apertium(config, targets: list[Language]) -> OpenedModel:
    if config.executor != "local":
        raise MtqaError(
            f"--executor {config.executor}: Apertium runs in this process's own subprocesses; drop --executor, or use a CTranslate2 --model"
        )
    if config.device == "cuda":
        raise OptionError("--device cuda: Apertium runs on the CPU; drop --device")
    pairs = apertium.resolve_pairs(config.model, targets)
    translator = apertium.ApertiumTranslator(pairs, max_batch_tokens=config.max_batch_tokens)
    executor = apertium.ApertiumExecutor(translator, workers=config.threads)
    shown = ", ".join(pair.describe() for pair in pairs.values())
    report = {
        "source": config.model,
        "family": apertium.PREFIX,
        "pairs": {flores: {"mode": p.mode, "package": p.package, "version": p.version} for flores, p in pairs.items()},
        "device": "cpu",
        "executor": "local",
        "workers": executor.workers,
    }
    described = f"Apertium, the rule-based translator, pair {shown}, each segment translated alone, with unknown words left as they are (`apertium -u`)"
    # Small chunks keep every worker's pipeline busy; a pipeline's start-up is a fraction of a chunk's work.
    return OpenedModel(
        translator,
        executor,
        apertium.namespace(pairs, config.decoding.max_input_tokens),
        report,
        described,
        chunk_tokens=config.max_batch_tokens,
    )


def _open_ctranslate2(config, source: Language, targets: list[Language], *, load: bool) -> OpenedModel:
    from .model.ct2_model import resolve_model, resolve_tokenizer
    from .model.tokenizer import ModelTokenizer
    from .model.translator import LocalExecutor, ModelTranslator

    if config.device == "cuda" and load:
        import ctranslate2

        if ctranslate2.get_cuda_device_count() == 0:  # before a download or conversion, not after
            raise MtqaError("--device cuda: CTranslate2 sees no CUDA device here; use --device cpu, or auto to take one where there is")
    # Languages are checked on the tokenizer first: a pair the model lacks fails before a download or conversion.
    folder, fingerprint = resolve_tokenizer(config.model, quantization=config.quantization, revision=config.revision)
    tokenizer = ModelTokenizer(folder, model=config.model)
    tokenizer.languages.require(source, targets)
    if not load:
        translator = ModelTranslator(folder, load_model=False, model=config.model, tokenizer=tokenizer)
        namespace = config.decoding.namespace(fingerprint, translator.family) if fingerprint else None
        return OpenedModel(translator, None, namespace, {"source": config.model, "family": translator.family}, "")
    resolved = resolve_model(config.model, quantization=config.quantization, revision=config.revision)
    executor = None
    if config.executor == "ray":
        from .model.ray_executor import RayExecutor

        executor = RayExecutor(
            resolved.path,
            config.decoding,
            device=config.device,
            compute_type=config.compute_type,
            threads=config.threads,
            max_batch_tokens=config.max_batch_tokens,
            address=config.ray_address,
            workers=config.ray_workers,
        )
    translator = ModelTranslator(
        resolved.path,
        device=config.device,
        compute_type=config.compute_type,
        threads=config.threads,
        max_batch_tokens=config.max_batch_tokens,
        load_model=executor is None,
        model=config.model,  # with Ray the driver only tokenises
        tokenizer=tokenizer if folder == resolved.path else None,  # a converted model's own folder: loaded once
    )
    executor = executor or LocalExecutor(translator, config.decoding)
    report = {
        "source": resolved.source,
        "path": str(resolved.path),
        "fingerprint": resolved.fingerprint,
        "family": translator.family,
        "quantization": config.quantization,
        "device": getattr(executor, "device_used", translator.device),
        "executor": config.executor,
        "compute_type": config.compute_type,
    }
    described = f"`{resolved.source}` through CTranslate2 ({config.quantization}, beam size {config.decoding.beam_size})"
    return OpenedModel(translator, executor, config.decoding.namespace(resolved.fingerprint, translator.family), report, described)


def back_translator(config, opened: OpenedModel, targets: list[Language]) -> Callable[[Any], BackTranslate]:
    """For the round-trip filter: the run's translator the other way, each target back into English, checked now.

    Returns a function of the translation cache giving the back-translator, so back-translations are cached like every other.
    """
    english = get_language("en")
    if apertium.is_apertium(config.model):
        reverse = {language: apertium.resolve_reverse_pair(language) for language in targets}

        def opened_for(language: Language) -> tuple[Translator, ChunkExecutor, str, int | None]:
            translator = apertium.ApertiumTranslator({english.flores: reverse[language]}, max_batch_tokens=config.max_batch_tokens)
            space = apertium.namespace({english.flores: reverse[language]}, config.decoding.max_input_tokens)
            return translator, apertium.ApertiumExecutor(translator, workers=config.threads), space, config.max_batch_tokens
    else:
        languages = getattr(opened.translator, "languages", None)
        for language in targets:
            try:
                if languages is not None:
                    languages.require(language, [english])
            except MtqaError as error:
                raise MtqaError(
                    f"--round-trip: {opened.report.get('source', config.model)} cannot translate back into English ({error})"
                ) from None

        def opened_for(language: Language) -> tuple[Translator, ChunkExecutor, str, int | None]:
            return opened.translator, opened.executor, opened.namespace, opened.chunk_tokens

    def bind(cache) -> BackTranslate:
        def back_translate(texts: list[str], language: Language) -> list[str]:
            translator, executor, space, chunk_tokens = opened_for(language)
            wanted = [(text, english.flores) for text in texts]
            translations, _ = translate_segments(
                translator, cache, space, wanted, language.flores, config.decoding,
                progress=config.progress, executor=executor, chunk_tokens=chunk_tokens,
            )  # fmt: skip
            return [translations[key] for key in wanted]

        return back_translate

    return bind
