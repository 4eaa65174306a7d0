"""Resolve ``--model`` to a CTranslate2 model directory, converting once into a cache.

Accepted forms:
  * a CTranslate2 directory (``model.bin`` + ``config.json``), used as is;
  * a local Hugging Face directory (``config.json`` + weights), converted;
  * a hub id such as ``facebook/nllb-200-distilled-600M``, downloaded and converted.

Converted models live under ``$MTQA_CACHE/models`` (default ``~/.cache/mtqa``),
keyed by source, revision and quantization. Conversion writes to a temporary
directory renamed into place, so a half-converted model is never picked up.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import warnings
from dataclasses import dataclass
from pathlib import Path

from filelock import FileLock

from ...errors import MtqaError, first_line
from ...paths import cache_root, hub_reachable
from ...stages import announced
from .families import COMPLETE_MARKER, model_type_of, require_tokenizer_files, tokenizer_files

DEFAULT_MODEL = "facebook/nllb-200-distilled-600M"
QUANTIZATIONS = ("int8", "int8_float16", "int8_float32", "float16", "bfloat16", "float32")
MARIAN_PAIR_FILE = "tokenizer_config.json"  # source_lang, target_lang


@dataclass(frozen=True)
class ResolvedModel:
    path: Path
    source: str
    fingerprint: str


def is_ctranslate2_dir(path: Path) -> bool:
    return (path / "model.bin").is_file() and (path / "config.json").is_file()


def is_huggingface_dir(path: Path) -> bool:
    return (path / "config.json").is_file() and any(
        (path / name).exists()
        for name in ("model.safetensors", "pytorch_model.bin", "model.safetensors.index.json", "pytorch_model.bin.index.json")
    )


def fingerprint_directory(path: Path) -> str:
    """Content hash of a CTranslate2 model: weights, config and vocabulary."""
    digest = hashlib.sha256()
    for name in sorted(os.listdir(path)):
        if name == COMPLETE_MARKER or not (path / name).is_file():
            continue
        digest.update(name.encode() + b"\0")
        with open(path / name, "rb") as handle:
            for block in iter(lambda: handle.read(1 << 22), b""):
                digest.update(block)
    return digest.hexdigest()


def _source_key(source: str, revision: str | None, quantization: str) -> str:
    if os.path.isdir(source):
        # A local folder is identified by its resolved path and the state of its files.
        path = Path(source).resolve()
        stats = sorted((p.name, p.stat().st_size, int(p.stat().st_mtime)) for p in path.iterdir() if p.is_file())
        identity = json.dumps([str(path), stats])
        label = path.name
    else:
        identity = source
        label = source.replace("/", "--")
    label = re.sub(r"[^A-Za-z0-9_.-]+", "-", label)
    digest = hashlib.sha256(f"{identity}|{revision or 'main'}|{quantization}".encode()).hexdigest()[:12]
    return f"{label}--{revision or 'main'}--{quantization}--{digest}"


def _stored_fingerprint(path: Path) -> str | None:
    marker = path / COMPLETE_MARKER
    if not marker.is_file():
        return None
    try:
        return json.loads(marker.read_text())["fingerprint"]
    except (ValueError, KeyError):
        return None


def _hub_file(source: str, name: str, revision: str | None) -> Path | None:
    """One small file of a hub model (the local Hugging Face cache first), or None when the repository has none."""
    from huggingface_hub import hf_hub_download

    for local_only in (True, False):
        try:
            return Path(hf_hub_download(source, name, revision=revision, local_files_only=local_only))
        except Exception:  # not cached; then: offline, unknown id, gated, or no such file
            continue
    return None


def _convert(source: str, revision: str | None, quantization: str, target: Path) -> None:
    from ctranslate2.converters import TransformersConverter
    from transformers.utils import logging as transformers_logging

    transformers_logging.disable_progress_bar()  # per-tensor bars for a one-off step

    local = os.path.isdir(source)
    if local:
        model_type = require_tokenizer_files(Path(source), source)
    else:
        config = _hub_file(source, "config.json", revision)
        if config is None:
            raise MtqaError(
                f"cannot fetch the config of {source!r} from the Hugging Face hub; check the id, or download the model "
                "where the hub is reachable and pass --model PATH (a Hugging Face or CTranslate2 model folder)"
            )
        model_type = json.loads(config.read_text(encoding="utf-8")).get("model_type")
    copy_files = list(tokenizer_files(model_type, source))
    if model_type == "marian":  # OPUS-MT names its pair in tokenizer_config.json; other families' fingerprints stay as they were
        if local and (Path(source) / MARIAN_PAIR_FILE).is_file() or not local and _hub_file(source, MARIAN_PAIR_FILE, revision):
            copy_files.append(MARIAN_PAIR_FILE)
    target.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{target.name}.tmp-", dir=target.parent))
    try:
        converter = TransformersConverter(source, copy_files=copy_files, revision=revision, low_cpu_mem_usage=True)
        with _m2m100_language_codes(), warnings.catch_warnings():
            # MarianTokenizer asks for sacremoses, which only its normalize() needs, and mtqa never calls it.
            warnings.filterwarnings("ignore", message=".*sacremoses.*")
            converter.convert(str(staging), quantization=quantization, force=True)
        fingerprint = fingerprint_directory(staging)
        (staging / COMPLETE_MARKER).write_text(
            json.dumps(
                {
                    "source": source,
                    "revision": revision,
                    "quantization": quantization,
                    "fingerprint": fingerprint,
                    "model_type": model_type,
                },
                indent=2,
            )
        )
        os.replace(staging, target)
    except MtqaError:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    except Exception as error:
        shutil.rmtree(staging, ignore_errors=True)
        message = first_line(error)
        if os.path.isdir(source):
            raise MtqaError(f"cannot convert {source} to CTranslate2: {message}") from None
        raise MtqaError(
            f"cannot fetch model {source!r} from the Hugging Face hub ({message}) and no converted copy is cached in "
            f"{target.parent}; download it where the hub is reachable and pass --model PATH "
            "(a Hugging Face or CTranslate2 model folder)"
        ) from None


CONVERT_REFUSED = 3  # the child's exit status when _convert ended in an MtqaError (its one line is the last of stderr)


def _convert_in_child(source: str, revision: str | None, quantization: str, target: Path) -> None:
    """:func:`_convert` in a fresh interpreter: torch and transformers, which only the conversion needs,
    and the float weights it loads never enter the process that goes on to translate."""
    package_root = str(Path(__file__).resolve().parents[2])
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [package_root, os.environ.get("PYTHONPATH")]))}
    code = "import sys, json; from mtqa.translate.model.ct2_model import _convert_main; _convert_main(json.loads(sys.argv[1]))"
    arguments = json.dumps([source, revision, quantization, str(target)])
    done = subprocess.run([sys.executable, "-c", code, arguments], env=env, capture_output=True, text=True)
    if done.returncode != 0:
        last = (done.stderr.strip().splitlines() or [f"exit status {done.returncode}, and nothing on stderr"])[-1]
        raise MtqaError(last if done.returncode == CONVERT_REFUSED else f"cannot convert {source} to CTranslate2: {last}")


def _convert_main(arguments: list) -> None:
    source, revision, quantization, target = arguments
    try:
        _convert(source, revision, quantization, Path(target))
    except MtqaError as error:
        print(str(error), file=sys.stderr)
        raise SystemExit(CONVERT_REFUSED) from None


@contextlib.contextmanager
def _m2m100_language_codes():
    """Convert M2M-100 with its language codes in the vocabulary.

    CTranslate2's loader appends ``tokenizer.special_tokens_map["additional_special_tokens"]``,
    which transformers 5's M2M100Tokenizer no longer fills: the ``__de__`` codes were left out
    and the vocabulary came up short of the model's. NLLB's tokenizer lists its codes in the
    vocabulary itself and is unaffected.
    """
    from ctranslate2.converters import transformers as ct2_transformers

    original = ct2_transformers._MODEL_LOADERS.get("M2M100Config")
    if original is None:
        yield
        return

    class Loader(type(original)):
        def get_vocabulary(self, model, tokenizer):
            if not type(tokenizer).__name__.startswith("M2M100"):
                return super().get_vocabulary(model, tokenizer)
            # vocab.json by id, then the language codes by id, then the made-up words that pad to the model's size.
            tokens = [token for token, _ in sorted(tokenizer.get_vocab().items(), key=lambda item: item[1])]
            known = set(tokens)
            tokens += [token for token, _ in sorted(tokenizer.lang_token_to_id.items(), key=lambda item: item[1]) if token not in known]
            return tokens + [f"madeupword{i}" for i in range(model.config.vocab_size - len(tokens))]

    ct2_transformers._MODEL_LOADERS["M2M100Config"] = Loader()
    try:
        yield
    finally:
        ct2_transformers._MODEL_LOADERS["M2M100Config"] = original


def _locate_hub_model(source: str, revision: str | None, target: Path) -> str:
    """A local snapshot of a hub model if one is cached, else the id itself when the hub answers."""
    try:
        from huggingface_hub import snapshot_download

        return snapshot_download(source, revision=revision, local_files_only=True)
    except Exception:  # not in the Hugging Face cache: go to the hub
        pass
    if not hub_reachable():
        raise MtqaError(
            f"cannot reach the Hugging Face hub to fetch {source!r}, and no converted copy is cached in {target.parent}; "
            "download the model where the hub is reachable and pass --model PATH (a Hugging Face or CTranslate2 model folder)"
        )
    return source


def _local_model(source: str) -> tuple[Path, ResolvedModel | None]:
    """``source`` as a path; a CTranslate2 folder comes back ready. A bad local path ends in one line."""
    path = Path(source).expanduser()
    if path.is_dir() and is_ctranslate2_dir(path):
        if model_type_of(path) is None:
            raise MtqaError(
                f"{path}: CTranslate2 model without its tokenizer; copy sentencepiece.bpe.model (NLLB-200, M2M-100), "
                "spiece.model (MADLAD-400) or source.spm and target.spm (OPUS-MT) next to model.bin"
            )
        return path, ResolvedModel(path, source, _stored_fingerprint(path) or fingerprint_directory(path))
    if path.exists() and not (path.is_dir() and is_huggingface_dir(path)):
        raise MtqaError(
            f"{source} is neither a CTranslate2 model folder (model.bin, config.json) nor a Hugging Face model folder "
            "(config.json with weights); check the --model path"
        )
    if not path.exists() and (source.startswith((".", "/", "~")) or source.count("/") > 1):
        raise MtqaError(f"model folder not found: {source}; check the --model path")
    return path, None


def resolve_model(source: str, *, quantization: str = QUANTIZATIONS[0], revision: str | None = None) -> ResolvedModel:
    """Return a ready CTranslate2 directory for ``source``, converting it first if needed."""
    if quantization not in QUANTIZATIONS:
        raise MtqaError(f"--quantization {quantization!r} is not one of {', '.join(QUANTIZATIONS)}")
    path, ready = _local_model(source)
    if ready is not None:
        return ready

    target = cache_root() / "models" / _source_key(str(path) if path.exists() else source, revision, quantization)
    fingerprint = _stored_fingerprint(target)
    if fingerprint is None:
        target.parent.mkdir(parents=True, exist_ok=True)
        with FileLock(str(target) + ".lock"):
            fingerprint = _stored_fingerprint(target)
            if fingerprint is None:
                shutil.rmtree(target, ignore_errors=True)  # an unmarked folder is an interrupted copy
                origin = str(path) if path.exists() else _locate_hub_model(source, revision, target)
                with announced(f"converted {origin} to CTranslate2 {quantization} (once)"):  # fmt: skip
                    _convert_in_child(origin, revision, quantization, target)
                fingerprint = _stored_fingerprint(target)
    return ResolvedModel(target, source, fingerprint)


def resolve_tokenizer(source: str, *, quantization: str = QUANTIZATIONS[0], revision: str | None = None) -> tuple[Path, str | None]:
    """The folder holding ``source``'s tokenizer files, and the model fingerprint where one is known, without converting.

    A CTranslate2 folder, or a converted copy already in the cache, has a fingerprint (so the
    translation cache can be consulted); a Hugging Face folder or hub id not yet converted has
    none. From the hub only the tokenizer file is fetched.
    """
    path, ready = _local_model(source)  # the same checks, and errors, as the real run's
    if ready is not None:
        return ready.path, ready.fingerprint
    target = cache_root() / "models" / _source_key(str(path) if path.exists() else source, revision, quantization)
    fingerprint = _stored_fingerprint(target)
    if fingerprint is not None:
        return target, fingerprint
    if path.is_dir():
        require_tokenizer_files(path, source)
        return path, None
    from huggingface_hub import snapshot_download

    # config.json tells the family; the tokenizer files are the small ones beside it, never the weights.
    wanted = {"allow_patterns": ["*.json", "*.model", "*.spm"], "ignore_patterns": ["*.index.json"]}
    try:
        folder = Path(snapshot_download(source, revision=revision, local_files_only=True, **wanted))
    except Exception:  # not in the Hugging Face cache: go to the hub
        if not hub_reachable():
            raise MtqaError(
                f"cannot reach the Hugging Face hub to fetch the tokenizer of {source!r}, and no copy is cached; download "
                "the model where the hub is reachable and pass --model PATH (a Hugging Face or CTranslate2 model folder)"
            ) from None
        try:
            folder = Path(snapshot_download(source, revision=revision, **wanted))
        except Exception as error:  # unknown id, gated, or no such revision
            raise MtqaError(
                f"cannot fetch the tokenizer of {source!r} ({type(error).__name__}); check the id, or pass --model PATH "
                "(a Hugging Face or CTranslate2 model folder)"
            ) from None
    require_tokenizer_files(folder, source)
    return folder, None
