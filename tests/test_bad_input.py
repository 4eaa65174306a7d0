"""The bad-input catalogue: every malformed input ends in one line that names the file, row or option
and says how to fix it, exits non-zero, prints no traceback and leaves no output behind.

Each case runs the real command line (``mtqa.cli.main``) in-process, which keeps 60-odd cases fast.
"""

from __future__ import annotations

import json
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from mtqa.cli import main

GOOD_ROW = {
    "id": "q1",
    "title": "T",
    "question": "Who wrote it?",
    "context": "Ada wrote it. Then she left.",
    "answers": {"text": ["Ada"], "answer_start": [0]},
}


def squad(qas: list[dict], context: str = "Ada wrote it. Then she left.") -> str:
    return json.dumps({"version": "1.1", "data": [{"title": "T", "paragraphs": [{"context": context, "qas": qas}]}]})


def qa(**changes) -> dict:
    item = {"id": "q1", "question": "Who wrote it?", "answers": [{"text": "Ada", "answer_start": 0}]}
    item.update(changes)
    return {key: value for key, value in item.items() if value is not None}


@dataclass
class Context:
    """What a case can build on: a scratch folder, the tiny models and a valid shard set."""

    tmp: Path
    tiny_ct2: Path
    tiny_xlmr: Path
    xquad_r: Path
    shards: Path

    @property
    def out(self) -> Path:
        return self.tmp / "out"

    def file(self, name: str, content: str | bytes) -> Path:
        path = self.tmp / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(content if isinstance(content, bytes) else content.encode("utf-8"))
        return path

    def copy_without(self, folder: Path, name: str, *dropped: str) -> Path:
        import shutil

        shutil.copytree(folder, self.tmp / name, ignore=shutil.ignore_patterns(*dropped))
        return self.tmp / name

    def parquet(self, name: str, rows: list[dict]) -> Path:
        path = self.tmp / name
        path.parent.mkdir(parents=True, exist_ok=True)
        pq.write_table(pa.Table.from_pylist(rows), path)
        return path

    def translate(self, input_path, *extra) -> list:
        return [
            "translate",
            "--input",
            input_path,
            "--model",
            self.tiny_ct2,
            "--langs",
            "de",
            "--beam-size",
            "1",
            "--max-decoding-length",
            "8",
            "--output",
            self.out,
            "--quiet",
            *extra,
        ]

    def translate_with_apertium(self, *extra) -> list:
        """A valid one-question translate into Spanish by Apertium, plus ``extra`` (no CTranslate2 options of its own)."""
        return [
            "translate",
            "--input",
            self.file("c.json", squad([qa()])),
            "--model",
            "apertium",
            "--langs",
            "es",
            "--output",
            self.out,
            *extra,
        ]

    def batches(self, *inputs, extra=()) -> list:
        args = ["build-batches"]
        for spec in inputs:
            args += ["--input", spec]
        return [*args, "--batch-size", "4", "--num-batches", "2", "--output", self.out, "--quiet", *extra]

    def shards_with(self, name: str, change: Callable[[dict], None] | None = None, text: str | None = None) -> Path:
        folder = self.tmp / name
        folder.mkdir()
        for shard in self.shards.glob("*.parquet"):
            (folder / shard.name).write_bytes(shard.read_bytes())
        manifest = json.loads((self.shards / "manifest.json").read_text())
        if change:
            change(manifest)
        (folder / "manifest.json").write_text(text if text is not None else json.dumps(manifest))
        return folder

    def train(self, *extra, batches=None) -> list:
        return [
            "train-eval",
            "--batches",
            batches or self.shards,
            "--model",
            self.tiny_xlmr,
            "--max-length",
            "16",
            "--output",
            self.out,
            "--quiet",
            *extra,
        ]

    def beir(self, corpus=None, queries=None, qrels=None) -> str:
        folder = self.tmp / "beir"
        (folder / "qrels").mkdir(parents=True)
        (folder / "corpus.jsonl").write_text(
            corpus if corpus is not None else '{"_id": "d1", "text": "Ada wrote it."}\n{"_id": "d2", "text": "Bob ran."}\n'
        )
        (folder / "queries.jsonl").write_text(queries if queries is not None else '{"_id": "q1", "text": "Who wrote it?"}\n')
        if qrels is not False:
            (folder / "qrels" / "test.tsv").write_text(qrels if qrels is not None else "query-id\tcorpus-id\tscore\nq1\td1\t1\n")
        return f"beir:{folder}"

    def lareqa(self, name: str, files: dict[str, str | bytes]) -> str:
        folder = self.tmp / name
        folder.mkdir()
        for file_name, content in files.items():
            (folder / file_name).write_bytes(content if isinstance(content, bytes) else content.encode())
        return f"lareqa:{folder}"

    def translated_dir(self, name: str, rows: list[dict] | None = None, raw: bytes | None = None) -> Path:
        folder = self.tmp / name / "data"
        folder.mkdir(parents=True)
        if raw is not None:
            (folder / "train-00000-of-00001.parquet").write_bytes(raw)
        elif rows is not None:
            pq.write_table(pa.Table.from_pylist(rows), folder / "train-00000-of-00001.parquet")
        return folder.parent


# Each case: id -> (build the arguments, fragments the one-line message must hold: the place, then the fix).
Case = Callable[[Context], tuple[list, list[str]]]
CASES: dict[str, Case] = {
    # --- translate: files -------------------------------------------------------------------------
    "missing-file": lambda c: (c.translate(c.tmp / "nope.json"), ["nope.json", "not found", "check the --input path"]),
    "input-is-a-folder": lambda c: (c.translate(c.tmp), [str(c.tmp), "is a directory", "pass a .json"]),
    "unknown-format": lambda c: (c.translate(c.file("notes.txt", "hello")), ["notes.txt", "cannot tell the format", "use a .json"]),
    "broken-json": lambda c: (c.translate(c.file("bad.json", '{"data": [')), ["bad.json:1:", "not valid JSON", "fix the file"]),
    "empty-json": lambda c: (c.translate(c.file("empty.json", "")), ["empty.json", "not valid JSON", "fix the file"]),
    "json-not-squad": lambda c: (c.translate(c.file("list.json", "[1, 2]")), ["list.json", "not a SQuAD file", "convert it"]),
    "json-not-utf8": lambda c: (
        c.translate(c.file("latin1.json", squad([qa()]).encode() + "é".encode("latin-1"))),
        ["latin1.json", "not UTF-8", "re-encode the file as UTF-8"],
    ),
    "squad-zero-questions": lambda c: (
        c.translate(c.file("none.json", squad([]))),
        ["none.json", "no answerable questions", "questions with answers"],
    ),
    "articles-on-jsonl": lambda c: (
        c.translate(c.file("rows.jsonl", "{}"), "--articles", "0-2"),
        ["rows.jsonl has no articles", "drop --articles, or use --limit"],
    ),
    "articles-past-the-end": lambda c: (
        c.translate(c.file("one.json", squad([qa()])), "--articles", "3-4"),
        ["--articles", "one.json has 1 articles", "4 is past the end"],
    ),
    "lareqa-input-not-found": lambda c: (c.translate("lareqa:./nowhere"), ["--input lareqa:./nowhere", "check the --input path"]),
    "ray-workers-without-ray": lambda c: (
        c.translate(c.file("a.json", squad([qa()])), "--ray-workers", "3"),
        ["--ray-workers applies only with --executor ray", "add --executor ray, or drop --ray-workers"],
    ),
    "executor-and-its-old-name-disagree": lambda c: (
        c.translate(c.file("a.json", squad([qa()])), "--executor", "local", "--engine", "ray"),
        ["--engine is the old name of --executor, and they disagree (ray against local)", "give --executor once"],
    ),
    "ray-workers-with-the-old-name-local": lambda c: (
        c.translate(c.file("a.json", squad([qa()])), "--engine", "local", "--ray-workers", "3"),
        ["--ray-workers applies only with --executor ray"],
    ),
    "apertium-with-executor-ray": lambda c: (
        c.translate_with_apertium("--executor", "ray"),
        ["--executor: CTranslate2 options", "drop --executor"],
    ),
    "split-on-a-file": lambda c: (c.translate(c.file("b.json", squad([qa()])), "--split", "test"), ["--split applies only to hf: inputs"]),
    "apertium-with-beam-size": lambda c: (
        c.translate_with_apertium("--beam-size", "2"),
        ["--beam-size: CTranslate2 options", "drop --beam-size"],
    ),
    "squad-all-unanswerable": lambda c: (
        c.translate(c.file("v2.json", squad([qa(answers=[], is_impossible=True)]))),
        ["v2.json", "1 unanswerable", "questions with answers"],
    ),
    "missing-question": lambda c: (
        c.translate(c.file("noq.json", squad([qa(question=None)]))),
        ["noq.json", "qas[0]", "missing or empty field 'question'", "--on-bad-row skip"],
    ),
    "empty-context": lambda c: (
        c.translate(c.file("noc.json", squad([qa()], context="  "))),
        ["noc.json", "missing or empty field 'context'", "--on-bad-row skip"],
    ),
    "offset-out-of-range": lambda c: (
        c.translate(c.file("far.json", squad([qa(answers=[{"text": "Ada", "answer_start": 99}])]))),
        ["far.json", "answer_start 99 is outside the context", "--on-bad-row skip"],
    ),
    "answer-not-at-offset": lambda c: (
        c.translate(c.file("shift.json", squad([qa(answers=[{"text": "Ada", "answer_start": 3}])]))),
        ["shift.json", "is not at answer_start 3", "--on-bad-row skip"],
    ),
    "offset-not-a-number": lambda c: (
        c.translate(c.file("str.json", squad([qa(answers=[{"text": "Ada", "answer_start": "0"}])]))),
        ["str.json", "answer_start must be an integer", "--on-bad-row skip"],
    ),
    "duplicate-ids": lambda c: (
        c.translate(c.file("dup.json", squad([qa(), qa()]))),
        ["dup.json", "duplicate id 'q1'", "--on-bad-row skip"],
    ),
    "jsonl-bad-line": lambda c: (
        c.translate(c.file("r.jsonl", json.dumps(GOOD_ROW) + "\n{oops\n")),
        ["r.jsonl:2", "not valid JSON", "fix or remove that line"],
    ),
    "jsonl-row-not-object": lambda c: (
        c.translate(c.file("l.jsonl", "[1, 2]\n")),
        ["l.jsonl:1", "expected an object", "--on-bad-row skip"],
    ),
    "jsonl-not-utf8": lambda c: (c.translate(c.file("b.jsonl", b'{"id": "\xff"}\n')), ["b.jsonl", "not UTF-8", "re-encode"]),
    "jsonl-empty": lambda c: (c.translate(c.file("e.jsonl", "")), ["e.jsonl", "no answerable questions"]),
    "parquet-corrupt": lambda c: (
        c.translate(c.file("x.parquet", b"PAR1 this is not parquet")),
        ["x.parquet", "not a readable Parquet file", "export it again"],
    ),
    "parquet-wrong-schema": lambda c: (
        c.translate(c.parquet("w.parquet", [{"query": "q?", "passage": "p"}])),
        ["w.parquet", "row 0", "missing or empty field", "--on-bad-row skip"],
    ),
    "columns-malformed": lambda c: (
        c.translate(c.file("ok.jsonl", json.dumps(GOOD_ROW)), "--columns", "question"),
        ["--columns", "'question'", "expected OURS=THEIRS"],
    ),
    "hf-without-name": lambda c: (c.translate("hf:"), ["hf: needs a dataset name", "hf:rajpurkar/squad"]),
    # --- translate: options, model, output ----------------------------------------------------------
    "unknown-language": lambda c: (
        c.translate(c.file("ok.jsonl", json.dumps(GOOD_ROW)), "--langs", "de,xx"),
        ["unknown language 'xx'", "use ISO 639-1"],
    ),
    "only-english": lambda c: (c.translate(c.file("ok.jsonl", json.dumps(GOOD_ROW)), "--langs", "en"), ["--langs", "no target language"]),
    "empty-langs": lambda c: (
        c.translate(c.file("ok.jsonl", json.dumps(GOOD_ROW)), "--langs", ","),
        ["--langs is empty", "give codes such as"],
    ),
    "langid-unknown": lambda c: (
        c.translate(c.file("ok.jsonl", json.dumps(GOOD_ROW)), "--langid", "cld3"),
        ["--langid", "'cld3'", "fasttext"],
    ),
    "similarity-model-missing": lambda c: (
        c.translate(c.file("ok.jsonl", json.dumps(GOOD_ROW)), "--similarity", "--similarity-model", c.tmp / "no-encoder"),
        ["no-encoder", "model folder not found", "check the --similarity-model path"],
    ),
    "similarity-model-is-ctranslate2": lambda c: (
        c.translate(c.file("ok.jsonl", json.dumps(GOOD_ROW)), "--similarity", "--similarity-model", c.tiny_ct2),
        ["config.json has no model_type", "--similarity-model"],
    ),
    "min-similarity-out-of-range": lambda c: (
        c.translate(c.file("ok.jsonl", json.dumps(GOOD_ROW)), "--min-similarity", "1.5"),
        ["--min-similarity", "1.5", "--help"],
    ),
    "min-round-trip-chrf-out-of-range": lambda c: (
        c.translate(c.file("ok.jsonl", json.dumps(GOOD_ROW)), "--round-trip", "--min-round-trip-chrf", "101"),
        ["--min-round-trip-chrf", "101", "--help"],
    ),
    "min-source-margin-out-of-range": lambda c: (
        c.translate(c.file("ok.jsonl", json.dumps(GOOD_ROW)), "--min-source-margin", "3"),
        ["--min-source-margin", "3", "--help"],
    ),
    "similarity-engine-unknown": lambda c: (
        c.translate(c.file("ok.jsonl", json.dumps(GOOD_ROW)), "--similarity-engine", "onnx"),
        ["--similarity-engine", "'onnx'", "ctranslate2"],
    ),
    "assume-rate-without-dry-run": lambda c: (
        c.translate(c.file("ok.jsonl", json.dumps(GOOD_ROW)), "--assume-tokens-per-second", "900"),
        ["--assume-tokens-per-second", "add --dry-run"],
    ),
    "max-foreign-script-out-of-range": lambda c: (
        c.translate(c.file("ok.jsonl", json.dumps(GOOD_ROW)), "--max-foreign-script", "-0.1"),
        ["--max-foreign-script", "-0.1", "--help"],
    ),
    "output-missing": lambda c: (c.translate(c.file("ok.jsonl", json.dumps(GOOD_ROW)))[:-3] + ["--quiet"], ["--output", "--dry-run"]),
    "assume-rate-without-sense": lambda c: (
        c.translate(c.file("ok.jsonl", json.dumps(GOOD_ROW)), "--dry-run", "--assume-tokens-per-second", "0"),
        ["--assume-tokens-per-second", "0", "--help"],
    ),
    "limit-zero": lambda c: (
        c.translate(c.file("ok.jsonl", json.dumps(GOOD_ROW)), "--limit", "0"),
        ["--limit", "see 'mtqa translate --help'"],
    ),
    "bad-choice": lambda c: (
        c.translate(c.file("ok.jsonl", json.dumps(GOOD_ROW)), "--on-bad-row", "ignore"),
        ["--on-bad-row", "'ignore'", "--help"],
    ),
    "model-missing": lambda c: (
        c.translate(c.file("ok.jsonl", json.dumps(GOOD_ROW)))[:3] + ["--model", c.tmp / "no-model", "--output", c.out],
        ["no-model", "model folder not found", "check the --model path"],
    ),
    "model-is-something-else": lambda c: (
        c.translate(c.file("ok.jsonl", json.dumps(GOOD_ROW)))[:3] + ["--model", c.file("junk/readme.txt", "x").parent, "--output", c.out],
        ["junk", "is neither a CTranslate2 model folder", "check the --model path"],
    ),
    "model-not-for-translation": lambda c: (
        c.translate(c.file("ok.jsonl", json.dumps(GOOD_ROW)))[:3] + ["--model", c.tiny_xlmr, "--output", c.out],
        ["model type 'xlm-roberta'", "mtqa translates with NLLB-200", "OPUS-MT (marian)"],
    ),
    "model-without-tokenizer": lambda c: (
        c.translate(c.file("ok.jsonl", json.dumps(GOOD_ROW)))[:3]
        + ["--model", c.copy_without(c.tiny_ct2, "bare-ct2", "sentencepiece.bpe.model", "mtqa-model.json"), "--output", c.out],
        ["bare-ct2", "CTranslate2 model without its tokenizer", "spiece.model (MADLAD-400)"],
    ),
    "output-is-a-file": lambda c: (
        c.translate(c.file("ok.jsonl", json.dumps(GOOD_ROW)))[:-3] + ["--output", c.file("taken", "x"), "--overwrite"],
        ["taken", "is not a directory", "choose another --output"],
    ),
    # --- build-batches ---------------------------------------------------------------------------
    "batches-no-input": lambda c: (c.batches(), ["needs --input"]),
    "batches-input-missing": lambda c: (c.batches(c.tmp / "gone"), ["gone", "not found", "give a directory written by mtqa translate"]),
    "batches-no-parquet": lambda c: (c.batches(c.translated_dir("empty")), ["empty", "no Parquet files", "written by mtqa translate"]),
    "batches-missing-columns": lambda c: (
        c.batches(c.translated_dir("cols", rows=[{"id": "1", "lang": "en"}])),
        ["cols", "missing columns", "give a directory written by mtqa translate"],
    ),
    "batches-corrupt-parquet": lambda c: (
        c.batches(c.translated_dir("torn", raw=b"PAR1 torn")),
        ["torn", "not a readable Parquet file", "rebuild it"],
    ),
    "lareqa-no-files": lambda c: (
        c.batches(c.lareqa("nolang", {"notes.txt": "x"})),
        ["nolang", "no <lang>.json files", "point lareqa: at"],
    ),
    "lareqa-broken-json": lambda c: (
        c.batches(c.lareqa("brk", {"en.json": '{"data": ['})),
        ["en.json:1:", "not valid JSON", "fix the file"],
    ),
    "lareqa-not-utf8": lambda c: (c.batches(c.lareqa("enc", {"en.json": b'{"data": "\xff"}'})), ["en.json", "not UTF-8", "re-encode"]),
    "lareqa-wrong-schema": lambda c: (
        c.batches(c.lareqa("sch", {"en.json": '{"data": [{"title": "t"}]}'})),
        ["en.json", "not in LAReQA format", "expected data/paragraphs"],
    ),
    "articles-unreadable": lambda c: (
        c.batches(f"lareqa:{c.xquad_r}", extra=["--articles", "abc"]),
        ["--articles", "'abc'", "use ranges such as 0-23"],
    ),
    "articles-descending": lambda c: (
        c.batches(f"lareqa:{c.xquad_r}", extra=["--articles", "5-2"]),
        ["--articles", "'5-2'", "use ranges such as 0-23"],
    ),
    "articles-none-left": lambda c: (
        c.batches(f"lareqa:{c.xquad_r}", extra=["--articles", "900-901"]),
        ["no examples in the chosen --articles", "check --input and --articles"],
    ),
    "alpha-schedule-exact-without-num-batches": lambda c: (
        ["build-batches", "--input", f"lareqa:{c.xquad_r}", "--alpha-schedule", "exact", "--batch-size", "4", "--output", c.out, "--quiet"],
        ["--alpha-schedule exact needs --num-batches N"],
    ),
    "alpha-schedule-exact-with-xy": lambda c: (
        c.batches(f"lareqa:{c.xquad_r}", extra=["--mode", "xy", "--alpha-schedule", "exact"]),
        ["--mode xy has neither", "drop --alpha-schedule"],
    ),
    "stats-with-build-options": lambda c: (
        ["build-batches", "--stats", c.shards, "--input", f"lareqa:{c.xquad_r}", "--output", c.out],
        ["--input, --output apply only when building", "drop --input, --output, or drop --stats"],
    ),
    "stats-on-a-translate-output": lambda c: (
        ["build-batches", "--stats", c.translated_dir("mt", [{"id": "a"}])],
        ["--stats", "no manifest.json", "give a directory written by mtqa build-batches"],
    ),
    "articles-on-a-translate-output": lambda c: (
        c.batches(c.translated_dir("mt2", [{"id": "a"}]), extra=["--articles", "0-3"]),
        ["--articles applies only to lareqa: inputs", "drop --articles"],
    ),
    "lang-weights-with-temperature": lambda c: (
        c.batches(f"lareqa:{c.xquad_r}", extra=["--lang-weights", "en=1", "--lang-temperature", "2"]),
        ["--lang-weights and --lang-temperature", "give one of them"],
    ),
    "batch-size-over-the-passages": lambda c: (
        [
            "build-batches",
            "--input",
            f"lareqa:{c.xquad_r}",
            "--articles",
            "0-5",
            "--batch-size",
            "31",
            "--positive",
            "passage",
            "--output",
            c.out,
            "--quiet",
        ],
        [
            "--batch-size 31 needs 31 distinct positives",
            "at most 30 distinct passages",
            "lower --batch-size to 30 or less",
            "use --positive sentence",
        ],
    ),
    "batches-lareqa-not-found": lambda c: (c.batches("lareqa:./nope"), ["./nope", "check the --input path"]),
    "hard-negatives-with-passages": lambda c: (
        c.batches(f"lareqa:{c.xquad_r}", extra=["--hard-negatives", "2"]),
        ["--hard-negatives needs sentence positives", "add --positive sentence"],
    ),
    "lang-weights-malformed": lambda c: (
        c.batches(f"lareqa:{c.xquad_r}", extra=["--lang-weights", "de:2"]),
        ["--lang-weights", "'de:2'", "use CODE=WEIGHT"],
    ),
    "langs-not-in-input": lambda c: (
        c.batches(f"lareqa:{c.xquad_r}", extra=["--articles", "0", "--langs", "en,ja"]),
        ["--langs", "'ja'", "is in none of the inputs"],
    ),
    "lang-weights-not-in-input": lambda c: (
        c.batches(f"lareqa:{c.xquad_r}", extra=["--articles", "0", "--langs", "en,es", "--lang-weights", "en=1,de=2"]),
        ["--lang-weights: de is not among --langs (en, es)", "drop it"],
    ),
    "langs-named-twice": lambda c: (
        c.batches(f"lareqa:{c.xquad_r}", extra=["--articles", "0", "--langs", "en,es,spa_Latn"]),
        ["--langs: es and spa_Latn are both Spanish (es); give it once"],
    ),
    "langs-unknown-code": lambda c: (
        c.batches(f"lareqa:{c.xquad_r}", extra=["--articles", "0", "--langs", "en,deu_Latx"]),
        ["--langs", "unknown language 'deu_Latx'", "did you mean de", "FLORES-200"],
    ),
    "batch-too-large": lambda c: (
        c.batches(f"lareqa:{c.xquad_r}", extra=["--articles", "0", "--batch-size", "5000"]),
        ["--batch-size 5000", "lower --batch-size"],
    ),
    "xy-with-one-language": lambda c: (
        c.batches(f"lareqa:{c.xquad_r}", extra=["--articles", "0", "--mode", "xy", "--langs", "de"]),
        ["--mode xy needs at least two languages", "add languages"],
    ),
    "alpha-out-of-range": lambda c: (
        c.batches(f"lareqa:{c.xquad_r}", extra=["--alpha", "1.5"]),
        ["--alpha", "see 'mtqa build-batches --help'"],
    ),
    "stats-without-manifest": lambda c: (["build-batches", "--stats", c.tmp], ["no manifest.json", "written by mtqa build-batches"]),
    # --- train-eval ------------------------------------------------------------------------------
    "batches-folder-missing": lambda c: (
        c.train(batches=c.tmp / "nowhere"),
        ["--batches", "nowhere: not found", "written by mtqa build-batches"],
    ),
    "batches-folder-without-manifest": lambda c: (
        c.train(batches=c.tmp),
        ["--batches", "no manifest.json", "written by mtqa build-batches"],
    ),
    "shards-other-version": lambda c: (
        c.train(batches=c.shards_with("v0", lambda m: m.update(format_version=0))),
        ["manifest.json", "shard format 0 is not 1", "rebuild with this mtqa version"],
    ),
    "manifest-broken": lambda c: (
        c.train(batches=c.shards_with("brk", text="{")),
        ["manifest.json", "not valid JSON", "rebuild the shards"],
    ),
    "manifest-of-something-else": lambda c: (
        c.train(batches=c.shards_with("alien", lambda m: m.update(created_by="mtqa translate"))),
        ["manifest.json", "not written by mtqa build-batches", "give --batches"],
    ),
    "shard-missing": lambda c: (
        c.train(batches=c.shards_with("holes", lambda m: m["shards"][0].update(file="shard-99999.parquet"))),
        ["shard-99999.parquet", "missing", "rebuild the shards"],
    ),
    "train-model-missing": lambda c: (
        c.train()[:3] + ["--model", c.tmp / "absent", *c.train()[5:]],
        ["absent", "model folder not found", "check the --model path"],
    ),
    "train-model-hub-unreachable": lambda c: (
        c.train()[:3] + ["--model", "some-org/not-cached-model", *c.train()[5:]],
        ["cannot reach the Hugging Face hub", "'some-org/not-cached-model'", "pass its folder"],
    ),
    "train-model-is-something-else": lambda c: (
        c.train()[:3] + ["--model", c.file("stuff/notes.txt", "x").parent, *c.train()[5:]],
        ["stuff", "is not a model folder", "pass a Hugging Face"],
    ),
    "eval-unknown-kind": lambda c: (c.train("--eval", "trec:x"), ["--eval 'trec:x'", "expected KIND:PATH_OR_NAME"]),
    "eval-folder-missing": lambda c: (c.train("--eval", f"lareqa:{c.tmp / 'lost'}"), ["lost", "not found"]),
    "beir-qrels-missing": lambda c: (c.train("--eval", c.beir(qrels=False)), ["test.tsv", "not found", "query-id, corpus-id, score"]),
    "qrels-unknown-query": lambda c: (c.train("--eval", c.beir(qrels="q9\td1\t1\n")), ["test.tsv:1", "query id 'q9'", "fix the qrels"]),
    "qrels-unknown-document": lambda c: (c.train("--eval", c.beir(qrels="q1\td9\t1\n")), ["test.tsv:1", "corpus id 'd9'", "fix the qrels"]),
    "qrels-score-not-a-number": lambda c: (
        c.train("--eval", c.beir(qrels="q1\td1\thigh\n")),
        ["test.tsv:1", "'high' is not a number", "integer relevance"],
    ),
    "beir-corpus-broken-line": lambda c: (
        c.train("--eval", c.beir(corpus='{"_id": "d1", "text": "a"}\n{nope\n')),
        ["corpus.jsonl:2", "not valid JSON", "fix or remove"],
    ),
    "beir-query-without-text": lambda c: (
        c.train("--eval", c.beir(queries='{"_id": "q1"}\n')),
        ["queries.jsonl:1", "missing field 'text'", "every line needs"],
    ),
    "eval-langs-unknown": lambda c: (
        c.train("--eval", f"lareqa:{c.xquad_r}", "--eval-langs", "en,xx"),
        ["--eval-langs", "unknown language 'xx'", "use ISO 639-1"],
    ),
    "eval-langs-not-in-set": lambda c: (
        c.train("--eval", f"lareqa:{c.xquad_r}", "--eval-langs", "en,ja"),
        ["--eval-langs", "ja", "it has"],
    ),
    "eval-only-without-eval": lambda c: (
        ["train-eval", "--eval-only", "--model", c.tiny_xlmr, "--output", c.out],
        ["--eval-only needs at least one --eval"],
    ),
    "no-batches": lambda c: (["train-eval", "--model", c.tiny_xlmr, "--output", c.out], ["needs --batches DIR", "--eval-only"]),
    "eval-engine-unknown": lambda c: (
        c.train("--eval", f"lareqa:{c.xquad_r}", "--eval-engine", "onnx"),
        ["--eval-engine", "'onnx'", "torch", "ctranslate2"],
    ),
    "half-precision-on-cpu": lambda c: (c.train("--precision", "bf16"), ["--precision bf16 needs a CUDA device", "use --precision fp32"]),
    "patience-without-validation": lambda c: (c.train("--patience", "2", "--eval-every", "1"), ["--patience needs --validation-batches"]),
    "distill-weight-negative": lambda c: (c.train("--distill-weight", "-1"), ["--distill-weight", "-1", ">=0"]),
    "distill-weight-with-eval-only": lambda c: (
        ["train-eval", "--eval-only", "--model", c.tiny_xlmr, "--eval", f"lareqa:{c.xquad_r}", "--distill-weight", "1", "--output", c.out],
        ["--distill-weight", "--eval-only trains none"],
    ),
}


@pytest.fixture(scope="module")
def valid_shards(tmp_path_factory, xquad_r) -> Path:
    folder = tmp_path_factory.mktemp("catalogue") / "shards"
    assert (
        exit_code(
            [
                "build-batches",
                "--input",
                f"lareqa:{xquad_r}",
                "--articles",
                "0",
                "--batch-size",
                "4",
                "--num-batches",
                "2",
                "--output",
                str(folder),
                "--quiet",
            ]
        )
        == 0
    )
    return folder


def exit_code(args: list) -> int:
    formatter = warnings.formatwarning
    try:
        main([str(arg) for arg in args])
    except SystemExit as done:
        return done.code or 0
    finally:
        warnings.formatwarning = formatter
    return 0


# Exit status 2: the command line is wrong in itself (an option's value, options that conflict or need another),
# whatever the files hold. Exit status 1: what the options point at is wrong (a file, a model, the data). click's convention.
USAGE_ERRORS = {
    "executor-and-its-old-name-disagree", "ray-workers-with-the-old-name-local", "apertium-with-executor-ray", "apertium-with-beam-size",
    "articles-on-jsonl", "split-on-a-file", "hf-without-name", "unknown-language", "only-english", "empty-langs", "langid-unknown",
    "min-similarity-out-of-range", "min-round-trip-chrf-out-of-range", "min-source-margin-out-of-range", "similarity-engine-unknown",
    "assume-rate-without-dry-run", "max-foreign-script-out-of-range", "output-missing", "assume-rate-without-sense", "limit-zero",
    "bad-choice", "batches-no-input", "alpha-schedule-exact-without-num-batches", "alpha-schedule-exact-with-xy", "stats-with-build-options",
    "lang-weights-with-temperature", "hard-negatives-with-passages", "lang-weights-malformed", "langs-named-twice", "langs-unknown-code",
    "alpha-out-of-range", "articles-unreadable", "articles-descending", "eval-unknown-kind", "eval-langs-unknown", "eval-only-without-eval",
    "no-batches", "eval-engine-unknown", "half-precision-on-cpu", "patience-without-validation", "distill-weight-negative",
    "distill-weight-with-eval-only", "articles-on-a-translate-output", "ray-workers-without-ray", "columns-malformed",
}  # fmt: skip


def test_the_catalogue_is_large_enough():
    assert len(CASES) >= 40
    assert {name.split("-")[0] for name in CASES} >= {"missing", "batches", "shards", "qrels"}
    assert USAGE_ERRORS < set(CASES)


@pytest.mark.parametrize("name", sorted(CASES))
def test_bad_input_is_one_line_naming_the_place_and_the_fix(name, tmp_path, capsys, tiny_ct2, tiny_xlmr, xquad_r, valid_shards):
    context = Context(tmp_path, tiny_ct2, tiny_xlmr, xquad_r, valid_shards)
    args, fragments = CASES[name](context)
    capsys.readouterr()
    code = exit_code(args)
    stderr = capsys.readouterr().err
    lines = [line for line in stderr.splitlines() if line.strip()]
    assert code == (2 if name in USAGE_ERRORS else 1), (code, stderr)
    assert len(lines) == 1 and lines[0].startswith("mtqa"), stderr
    assert "Traceback" not in stderr and "internal error" not in stderr, stderr
    for fragment in fragments:
        assert fragment in lines[0], f"{fragment!r} missing from: {lines[0]}"
    assert not context.out.exists()
    assert not [p.name for p in tmp_path.iterdir() if p.name.startswith(".mtqa-")]


# --- the record loaders under arbitrary input (hypothesis) -------------------------------------------

from hypothesis import HealthCheck, given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

from mtqa.errors import MtqaError  # noqa: E402
from mtqa.formats.qa_input import load_records  # noqa: E402

json_values = st.recursive(
    st.none() | st.booleans() | st.integers(-5, 200) | st.floats(allow_nan=False) | st.text(max_size=12),
    lambda children: st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=8), children, max_size=5),
    max_leaves=12,
)
# Rows shaped like QA records, with any field missing, mistyped or out of range.
field_values = st.none() | st.integers(-3, 40) | st.text(max_size=30) | st.lists(st.integers(0, 5), max_size=2)
qa_rows = st.fixed_dictionaries(
    {},
    optional={
        "id": field_values,
        "question": field_values,
        "context": field_values,
        "title": field_values,
        "answers": st.none()
        | st.fixed_dictionaries({"text": st.lists(field_values, max_size=2), "answer_start": st.lists(field_values, max_size=2)})
        | st.lists(st.fixed_dictionaries({"text": field_values, "answer_start": field_values}), max_size=2),
    },
)


def check_loaded(path: Path) -> None:
    """A loader returns well-formed records or one MtqaError line naming the file; nothing else escapes."""
    try:
        loaded = load_records(str(path))
    except MtqaError as error:
        message = str(error)
        assert "\n" not in message and path.name in message, message
        return
    for record in loaded.records:
        start, text = record["answer_start"], record["answer_text"]
        assert record["question"] and record["context"][start : start + len(text)] == text


LOADER_SETTINGS = settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])


@LOADER_SETTINGS
@given(rows=st.lists(qa_rows | json_values, min_size=0, max_size=4))
def test_jsonl_loader_never_fails_uncleanly(tmp_path, rows):
    path = tmp_path / "rows.jsonl"
    path.write_text("\n".join(json.dumps(row) for row in rows), encoding="utf-8")
    check_loaded(path)


@LOADER_SETTINGS
@given(
    document=json_values
    | st.fixed_dictionaries(
        {
            "data": st.lists(
                st.fixed_dictionaries(
                    {
                        "title": field_values,
                        "paragraphs": st.lists(
                            st.fixed_dictionaries({"context": field_values, "qas": st.lists(qa_rows, max_size=3)}), max_size=2
                        ),
                    }
                ),
                max_size=2,
            )
        }
    )
)
def test_squad_loader_never_fails_uncleanly(tmp_path, document):
    path = tmp_path / "squad.json"
    path.write_text(json.dumps(document), encoding="utf-8")
    check_loaded(path)


@LOADER_SETTINGS
@given(content=st.binary(max_size=200), suffix=st.sampled_from([".json", ".jsonl", ".parquet"]))
def test_loaders_survive_arbitrary_bytes(tmp_path, content, suffix):
    path = tmp_path / f"blob{suffix}"
    path.write_bytes(content)
    check_loaded(path)


@LOADER_SETTINGS
@given(rows=st.lists(qa_rows, min_size=1, max_size=4))
def test_parquet_loader_never_fails_uncleanly(tmp_path, rows):
    path = tmp_path / "rows.parquet"
    # Arrow needs one type per column: store every field as JSON text when the types disagree.
    names = sorted({key for row in rows for key in row})
    columns = {name: [row.get(name) for row in rows] for name in names}
    for name, values in columns.items():
        kinds = {type(value) for value in values if value is not None}
        if len(kinds) > 1 or kinds & {dict, list}:
            columns[name] = [None if value is None else json.dumps(value) for value in values]
    pq.write_table(pa.table(columns) if columns else pa.table({"empty": [None] * len(rows)}), path)
    check_loaded(path)
