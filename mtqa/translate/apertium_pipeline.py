"""One Apertium pair run so that each segment gets the translation it gets alone.

``apertium -f line`` carries context from one line to the next, and even Apertium's own
null-flush mode (``-z``) does not isolate segments: its HMM part-of-speech tagger
(``apertium-tagger -g``) grows its table of ambiguity classes whenever a word has a class the
model never saw, and that grown table changes how later segments are tagged. Every other
stage of the pairs' pipelines flushes and forgets at each NUL.

So a chunk is run in three parts, each a process or pipeline of processes:

1. deformat (``apertium-destxt``) and analyse, every segment a NUL-terminated block;
2. tag one block at a time in a tagger started with ``-d``, which names each unseen ambiguity
   class on stderr; after a block that names one, that tagger is replaced by a fresh one, so
   every block meets the tagger as a process started for it alone would;
3. transfer and generate every block, then reformat (``apertium-retxt``).

A segment handed over must hold no newline (the caller sends a segment's lines one by one).
"""

from __future__ import annotations

import os
import shlex
import shutil
import subprocess
import threading
from dataclasses import dataclass
from pathlib import Path

from ..errors import MtqaError

TAGGER = "apertium-tagger"
# How apertium-destxt ends its output: a sentence end for the tagger, then the final newline.
DEFORMAT_TAIL = ".[][\n]"
LINE_BREAK = "[\n]"  # apertium-destxt's superblank for a newline
NEW_CLASS = b"new ambiguity class"
PIPE_ROOM = 1 << 15  # a block above this is written from a thread: tagger and reader could otherwise wait on each other


class PipelineFailure(Exception):
    """The pair crashed or answered with the wrong number of segments; the message says which."""


@dataclass(frozen=True)
class Stages:
    """A pair's null-flushing pipeline cut around its tagger: shell commands, the tagger's argv."""

    before_tagger: str
    tagger: tuple[str, ...] | None
    after_tagger: str


def stages_of(mode_file: Path, *, mark_unknown: bool = False) -> Stages:
    """The pair's pipeline in null-flush mode (``apertium-wblank-mode -z``), split at the HMM tagger."""
    program = shutil.which("apertium-wblank-mode")
    if program is None:
        raise MtqaError("--model apertium: apertium-wblank-mode not found; install Apertium 3.8 or newer (apt-get install apertium)")
    done = subprocess.run([program, "-z", str(mode_file)], capture_output=True, text=True)
    if done.returncode != 0 or not done.stdout.strip():
        raise MtqaError(f"--model apertium: cannot read the mode file {mode_file} ({done.stderr.strip()[:200] or 'empty pipeline'})")
    # $1 is the generator's unknown-word option (-n: no '*' marks, like apertium -u); $2 the tagger's extra option.
    text = done.stdout.strip().replace("$1", "-g" if mark_unknown else "-n").replace("$2", "")
    commands = [command.strip() for command in text.split("|")]
    at = next((i for i, command in enumerate(commands) if shlex.split(command)[0] == TAGGER), None)
    if at is None:  # no HMM tagger: every stage forgets at each NUL
        return Stages(" | ".join(commands), None, "cat")
    argv = shlex.split(commands[at])
    tagger = (argv[0], "-d", *argv[1:])
    return Stages(" | ".join(commands[:at]) or "cat", tagger, " | ".join(commands[at + 1 :]) or "cat")


def _shell(command: str, payload: str, what: str) -> str:
    done = subprocess.run(["bash", "-o", "pipefail", "-c", command], input=payload, capture_output=True, text=True, encoding="utf-8")
    if done.returncode != 0:
        message = (done.stderr.strip().splitlines() or [""])[-1][:200]
        raise PipelineFailure(f"{what} exited with status {done.returncode}" + (f" ({message})" if message else ""))
    return done.stdout


def _blocks(stream: str, expected: int, what: str) -> list[str]:
    """The NUL-terminated blocks of a stream (stages echo extra NULs at the end: empty blocks are dropped)."""
    blocks = [block for block in stream.split("\0") if block]
    if len(blocks) != expected:
        raise PipelineFailure(f"{what} returned {len(blocks)} segments for {expected}")
    return blocks


class IsolatedPipeline:
    """Translates segments (no newlines) so that none is changed by the others in its chunk."""

    def __init__(self, stages: Stages) -> None:
        self.stages = stages

    def translate(self, segments: list[str]) -> list[str]:
        wanted = [index for index, segment in enumerate(segments) if segment.strip()]
        outputs = [""] * len(segments)
        if not wanted:
            return outputs
        units = [segments[index].replace("\0", " ").strip() for index in wanted]
        analysed = _blocks(_shell(self.stages.before_tagger, self._deformat(units), "analysis"), len(units), "analysis")
        tagged = self._tag(analysed) if self.stages.tagger else analysed
        generated = _blocks(_shell(self.stages.after_tagger, "".join(block + "\0" for block in tagged), "transfer"), len(units), "transfer")
        lines = _shell("apertium-retxt", "".join(generated), "apertium-retxt").split("\n")
        if len(lines) < len(units):
            raise PipelineFailure(f"returned {len(lines)} lines for {len(units)}")
        for index, line in zip(wanted, lines):
            outputs[index] = line.strip()
        return outputs

    @staticmethod
    def _deformat(units: list[str]) -> str:
        """Each unit as apertium-destxt deformats it alone, NUL-terminated."""
        stream = _shell("apertium-destxt", "\n".join(units) + "\n", "apertium-destxt")
        if not stream.endswith(DEFORMAT_TAIL):
            raise PipelineFailure("apertium-destxt ended its output unexpectedly")
        pieces = stream[: -len(DEFORMAT_TAIL)].split(LINE_BREAK)
        if len(pieces) != len(units):
            raise PipelineFailure(f"apertium-destxt returned {len(pieces)} segments for {len(units)}")
        return "".join(piece + DEFORMAT_TAIL + "\0" for piece in pieces)

    def _tag(self, blocks: list[str]) -> list[str]:
        tagger = _Tagger(self.stages.tagger)
        try:
            tagged = []
            for block in blocks:
                output, grew = tagger.tag(block)
                tagged.append(output)
                if grew:  # its class table is no longer the model's: the next block gets a fresh tagger
                    tagger.close()
                    tagger = _Tagger(self.stages.tagger)
            return tagged
        finally:
            tagger.close()


class _Tagger:
    """One apertium-tagger process, fed a block at a time."""

    def __init__(self, argv: tuple[str, ...]) -> None:
        try:
            self.process = subprocess.Popen(argv, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        except OSError as error:
            raise PipelineFailure(f"could not start {argv[0]} ({error.strerror or error})") from error
        os.set_blocking(self.process.stderr.fileno(), False)

    def tag(self, block: str) -> tuple[str, bool]:
        """The tagged block, and whether the tagger met an ambiguity class its model lacks."""
        payload = block.encode("utf-8") + b"\0"
        writer = None
        if len(payload) > PIPE_ROOM:
            writer = threading.Thread(target=self._write, args=(payload,), daemon=True)
            writer.start()
        else:
            self._write(payload)
        output = bytearray()
        while not output.endswith(b"\0"):
            chunk = os.read(self.process.stdout.fileno(), 1 << 16)
            if not chunk:
                raise PipelineFailure(f"{TAGGER} exited with status {self.process.wait()}")
            output += chunk
        if writer is not None:
            writer.join()
        # stderr is unbuffered and written before the block's NUL, so a warning about this block is already there.
        warnings = self.process.stderr.read() or b""
        return output[:-1].decode("utf-8"), NEW_CLASS in warnings.lower()

    def _write(self, payload: bytes) -> None:
        try:
            self.process.stdin.write(payload)
            self.process.stdin.flush()
        except (BrokenPipeError, ValueError):
            pass  # the reader sees the tagger's end and reports its status

    def close(self) -> None:
        for stream in (self.process.stdin, self.process.stdout, self.process.stderr):
            try:
                stream.close()
            except OSError:
                pass
        try:
            self.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
