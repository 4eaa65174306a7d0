"""Apertium, the rule-based translator: ``--model apertium:eng-spa`` (one pair) or ``--model apertium`` (each target's installed pair).

Apertium installs from Debian's packages (``apt-get install apertium-eng-spa``) and runs as a
pipeline of processes. mtqa drives it like the CTranslate2 families (the same planning, cache,
filters and alignment); only the chunk translation differs. Each segment gets the translation
it gets alone, whatever else shares its chunk: :mod:`.apertium_pipeline` says how, and why
``apertium -f line`` does not. A segment's own newlines are kept: each of its lines is
translated as a segment of its own and the translated lines are joined again.
"""

from __future__ import annotations

import hashlib
import json
import shutil
import subprocess
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Callable, Iterable, Iterator, Sequence

from ..errors import MtqaError
from ..languages import Language, get_language
from ..paths import available_cores
from .apertium_pipeline import IsolatedPipeline, PipelineFailure, stages_of
from .model.translator import MAX_BATCH_TOKENS

PREFIX = "apertium"
BINARY = "apertium"
MODES_DIR = Path("/usr/share/apertium/modes")
SOURCE_CODES = ("en", "eng")  # how pairs from English name their source side
# The Debian package of each target's English pair, for the line that says what to install.
PACKAGES = {"spa_Latn": "apertium-eng-spa", "cat_Latn": "apertium-eng-cat", "glg_Latn": "apertium-en-gl"}
# Output normalisation version: part of every cache key, so changing how lines are joined never serves old text.
TEXT_VERSION = 2  # 2: each segment translated alone (1 was apertium -f line, whose lines saw each other)


def is_apertium(model: str) -> bool:
    return model == PREFIX or model.startswith(PREFIX + ":")


@dataclass(frozen=True)
class ApertiumPair:
    mode: str  # the name apertium takes: eng-spa, en-gl, eng-cat_valencia
    target: Language
    package: str | None  # the Debian package that installed the mode, where dpkg knows it
    version: str  # that package's version, else a hash of the mode file
    modes_dir: Path = field(default=MODES_DIR, compare=False)

    @property
    def mode_file(self) -> Path:
        return Path(self.modes_dir) / f"{self.mode}.mode"

    def describe(self) -> str:
        return f"{self.mode} ({self.package} {self.version})" if self.package else f"{self.mode} (mode file {self.version})"


def _install_hint(target: Language | None = None) -> str:
    package = PACKAGES.get(target.flores, f"apertium-eng-{target.iso639_3}") if target else "apertium-eng-spa"
    return f"apt-get install {package}"


def _target_of(mode: str) -> Language | None:
    """The target language of an English pair's mode (eng-spa, en-gl, eng-cat_valencia), None for other pairs."""
    source, sep, target = mode.partition("-")
    if not sep or source not in SOURCE_CODES:
        return None
    try:
        return get_language(target.split("_")[0])
    except MtqaError:
        return None


def _package_of(mode_file: Path) -> tuple[str | None, str]:
    """The Debian package owning a mode file and its version; else (None, a hash of the file and what it loads)."""
    try:
        owner = subprocess.run(["dpkg", "-S", str(mode_file)], capture_output=True, text=True, timeout=30)
        package = owner.stdout.split(":", 1)[0].strip() if owner.returncode == 0 else ""
        if package:
            version = subprocess.run(["dpkg-query", "-W", "-f=${Version}", package], capture_output=True, text=True, timeout=30)
            if version.returncode == 0 and version.stdout.strip():
                return package, version.stdout.strip()
    except (OSError, subprocess.SubprocessError):
        pass
    digest = hashlib.sha256(mode_file.read_bytes())
    for word in mode_file.read_text(encoding="utf-8", errors="replace").split():
        data = Path(word.strip("'\""))
        if data.is_absolute() and data.is_file():  # the transducers the pipeline loads
            stat = data.stat()
            digest.update(f"{data}:{stat.st_size}:{stat.st_mtime_ns}".encode())
    return None, digest.hexdigest()[:16]


def require_binary() -> str:
    path = shutil.which(BINARY)
    if path is None:
        raise MtqaError(f"--model apertium: no apertium program on PATH; install a pair with {_install_hint()} (Debian/Ubuntu), then rerun")
    return path


@lru_cache(maxsize=4)
def installed_modes(modes_dir: Path = MODES_DIR) -> tuple[str, ...]:
    """The pair names apertium can run (its ``*.mode`` files)."""
    return tuple(sorted(path.stem for path in Path(modes_dir).glob("*.mode")))


def _pair(mode: str, modes_dir: Path) -> ApertiumPair:
    target = _target_of(mode)
    if target is None:
        raise MtqaError(f"--model apertium:{mode}: not an English pair; mtqa translates from English (e.g. apertium:eng-spa)")
    package, version = _package_of(Path(modes_dir) / f"{mode}.mode")
    return ApertiumPair(mode, target, package, version, Path(modes_dir))


def resolve_pairs(model: str, targets: Sequence[Language], modes_dir: Path = MODES_DIR) -> dict[str, ApertiumPair]:
    """FLORES code -> the pair that translates into it; one line naming what is installed when a target has none."""
    require_binary()
    modes = installed_modes(Path(modes_dir))
    english = [mode for mode in modes if _target_of(mode) is not None]
    installed = ", ".join(english) or "none"
    _, _, wanted = model.partition(":")
    if wanted:
        if wanted not in modes:
            raise MtqaError(
                f"--model {model}: pair {wanted} is not installed (installed English pairs: {installed}); "
                f"install it with apt-get install apertium-{wanted}"
            )
        pair = _pair(wanted, Path(modes_dir))
        wrong = [language.code for language in targets if language != pair.target]
        if wrong:
            raise MtqaError(
                f"--langs: {', '.join(wrong)} not translated by {model}, which translates into {pair.target.code}; "
                f"use --langs {pair.target.code}, or --model apertium to pick each target's pair"
            )
        return {pair.target.flores: pair}
    pairs = {}
    for language in targets:
        # The plain pair (eng-cat) before its variants (eng-cat_valencia).
        mode = next((mode for mode in sorted(english, key=len) if _target_of(mode) == language), None)
        if mode is None:
            raise MtqaError(
                f"--langs: no installed Apertium pair translates English into {language.code} ({language.name}); "
                f"installed English pairs: {installed}; add one with {_install_hint(language)}"
            )
        pairs[language.flores] = _pair(mode, Path(modes_dir))
    return pairs


def _source_of(mode: str) -> Language | None:
    """The source language of a pair into English (spa-eng, spa-eng_US), None for other pairs."""
    source, sep, target = mode.partition("-")
    if not sep or target.split("_")[0] not in SOURCE_CODES:
        return None
    try:
        return get_language(source)
    except MtqaError:
        return None


def resolve_reverse_pair(language: Language, modes_dir: Path = MODES_DIR) -> ApertiumPair:
    """The installed pair that translates ``language`` back into English (the round-trip filter's); one line when none is."""
    require_binary()
    into_english = [mode for mode in sorted(installed_modes(Path(modes_dir)), key=len) if _source_of(mode) == language]
    if not into_english:
        raise MtqaError(
            f"--round-trip: no installed Apertium pair translates {language.code} ({language.name}) back into English; "
            f"install one with {_install_hint(language)}, or drop --round-trip"
        )
    mode = into_english[0]
    package, version = _package_of(Path(modes_dir) / f"{mode}.mode")
    return ApertiumPair(mode, get_language("en"), package, version, Path(modes_dir))


def namespace(pairs: dict[str, ApertiumPair], max_input_tokens: int) -> str:
    """The cache namespace: the family, each pair and its package version, so an upgraded pair never serves old text."""
    described = {flores: [pair.mode, pair.package, pair.version] for flores, pair in sorted(pairs.items())}
    return json.dumps(
        {"family": PREFIX, "pairs": described, "max_input_tokens": max_input_tokens, "text_version": TEXT_VERSION}, sort_keys=True
    )


def isolated_pipeline(pair: ApertiumPair) -> IsolatedPipeline:
    return IsolatedPipeline(stages_of(pair.mode_file))


class ApertiumTranslator:
    """What :func:`~mtqa.translate.model.translator.translate_segments` needs of a translator, over apertium subprocesses.

    Tokens are the text split on single spaces, so joining them again gives the text back exactly.
    """

    family = PREFIX
    replicas = 1

    def __init__(
        self,
        pairs: dict[str, ApertiumPair],
        *,
        max_batch_tokens: int = MAX_BATCH_TOKENS,
        binary: str | None = None,
        pipeline_of: Callable[[ApertiumPair], IsolatedPipeline] = isolated_pipeline,
    ) -> None:
        self.pairs = pairs
        self.max_batch_tokens = max_batch_tokens
        self.binary = binary or require_binary()
        self.device = "cpu"
        self._pipeline_of = pipeline_of
        self._pipelines: dict[str, IsolatedPipeline] = {}

    def tokenize(self, text: str, source_lang: str, target_lang: str) -> list[str]:
        return text.split(" ")

    def detokenize(self, tokens: Sequence[str]) -> str:
        return " ".join(tokens)

    def translate_chunk(self, texts: list[str], target_langs: list[str], source_lang: str, options=None) -> list[list[str]]:
        outputs: list[list[str]] = [[] for _ in texts]
        for flores in dict.fromkeys(target_langs):
            chosen = [index for index, target in enumerate(target_langs) if target == flores]
            for index, text in zip(chosen, self.translate_texts([texts[i] for i in chosen], self.pairs[flores])):
                outputs[index] = self.tokenize(text, source_lang, flores)
        return outputs

    def translate_texts(self, texts: list[str], pair: ApertiumPair) -> list[str]:
        """Each text's translation, as it is translated alone; a text's newlines are kept, each of its lines translated alone."""
        lines_of = [text.replace("\r\n", "\n").replace("\r", "\n").split("\n") for text in texts]
        flat = [line for lines in lines_of for line in lines]
        translated = iter(self._run_checked(flat, pair))
        return ["\n".join(next(translated) for _ in lines) for lines in lines_of]

    def _pipeline(self, pair: ApertiumPair) -> IsolatedPipeline:
        if pair.mode not in self._pipelines:  # a dict write under the GIL: two threads at worst build it twice
            self._pipelines[pair.mode] = self._pipeline_of(pair)
        return self._pipelines[pair.mode]

    def _run(self, lines: list[str], pair: ApertiumPair) -> tuple[list[str] | None, str]:
        """The translated lines, or None and why, when the pair crashed or answered with the wrong number of lines."""
        try:
            return self._pipeline(pair).translate(lines), ""
        except PipelineFailure as failure:
            return None, str(failure)
        except OSError as error:
            return None, f"could not start apertium ({error.strerror or error})"

    def _run_checked(self, lines: list[str], pair: ApertiumPair) -> list[str]:
        if not lines:
            return []
        output, why = self._run(lines, pair)
        if output is not None:
            return output
        culprit = self._culprit(lines, pair) or lines[0]
        raise MtqaError(
            f"apertium {pair.mode} {why} while translating the segment {culprit[:120]!r}; "
            "check the pair with: echo 'Hello.' | apertium -u " + pair.mode
        )

    def _culprit(self, lines: list[str], pair: ApertiumPair) -> str | None:
        """The first line that fails alone, found by halving (a failed chunk is rare; this keeps the error specific)."""
        while len(lines) > 1:
            half = lines[: len(lines) // 2]
            lines = half if self._run(half, pair)[0] is None else lines[len(lines) // 2 :]
        return lines[0] if lines and self._run(lines, pair)[0] is None else None


# chunk number, texts, target languages, source language (as translator.ChunkWork)
Work = tuple[int, list[str], list[str], str]


class ApertiumExecutor:
    """Runs chunks in parallel apertium pipelines, one per worker, so every core is busy."""

    name = "apertium"

    def __init__(self, translator: ApertiumTranslator, *, workers: int | None = None) -> None:
        self.translator = translator
        self.workers = max(1, workers or available_cores())
        self.device_used = "cpu"

    def run(self, work: Iterable[Work]) -> Iterator[tuple[int, list[list[str]]]]:
        def translate(item: Work) -> tuple[int, list[list[str]]]:
            index, texts, targets, source = item
            return index, self.translator.translate_chunk(texts, targets, source)

        with ThreadPoolExecutor(self.workers) as pool:
            pending = []
            for item in work:
                pending.append(pool.submit(translate, item))
                if len(pending) >= 2 * self.workers:  # a bounded queue: the driver never holds every chunk's text
                    yield pending.pop(0).result()
            for future in pending:
                yield future.result()
