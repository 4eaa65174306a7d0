"""Load English QA data and normalise it to plain records.

Every reader yields ``(locator, raw)`` pairs, where ``locator`` names the file and
row for error messages; :func:`normalise` turns a raw row into a record with the
keys ``id, title, question, context, answer_text, answer_start`` or explains why
it cannot.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterator

from ..errors import MtqaError, OptionError, first_line

ON_BAD_ROW = ("fail", "skip")  # a row that cannot be read: stop with its location, or skip it and count it
COLUMN_KEYS = ("id", "title", "question", "context", "answers", "answer_text", "answer_start")


@dataclass
class LoadResult:
    records: list[dict[str, Any]]
    source: str
    unanswerable: int = 0
    bad_rows: list[tuple[str, str]] = field(default_factory=list)
    license: str | None = None

    def report(self) -> dict[str, Any]:
        """What loading kept and skipped, for the manifest."""
        return {
            "answerable_records": len(self.records),
            "unanswerable_dropped": self.unanswerable,
            "bad_rows_skipped": len(self.bad_rows),
            "bad_row_examples": [f"{where}: {why}" for where, why in self.bad_rows[:20]],
        }


class _Unanswerable(Exception):
    pass


def parse_column_map(spec: str | None) -> dict[str, str]:
    """Parse ``question=query,context=passage`` into ``{"question": "query", ...}``."""
    mapping = {key: key for key in COLUMN_KEYS}
    if not spec:
        return mapping
    for item in spec.split(","):
        ours, sep, theirs = item.partition("=")
        ours, theirs = ours.strip(), theirs.strip()
        if not sep or not theirs or ours not in COLUMN_KEYS:
            raise OptionError(f"--columns: cannot read {item!r}; expected OURS=THEIRS with OURS one of {', '.join(COLUMN_KEYS)}")
        mapping[ours] = theirs
    return mapping


def _first_answer(raw: dict[str, Any], columns: dict[str, str]) -> tuple[str, int]:
    answers = raw.get(columns["answers"])
    if answers is None and columns["answer_text"] in raw:
        text, start = raw.get(columns["answer_text"]), raw.get(columns["answer_start"])
    elif isinstance(answers, dict):  # Hugging Face SQuAD layout: {"text": [...], "answer_start": [...]}
        texts, starts = answers.get("text"), answers.get("answer_start")
        if not texts:
            raise _Unanswerable
        if not isinstance(texts, list) or not isinstance(starts, list) or len(starts) < 1:
            raise ValueError("'answers' must hold lists 'text' and 'answer_start'")
        text, start = texts[0], starts[0]
    elif isinstance(answers, list):  # SQuAD JSON layout: [{"text": ..., "answer_start": ...}]
        if not answers:
            raise _Unanswerable
        if not isinstance(answers[0], dict):
            raise ValueError("'answers' entries must be objects with 'text' and 'answer_start'")
        text, start = answers[0].get("text"), answers[0].get("answer_start")
    elif answers is None:
        raise ValueError(f"missing field '{columns['answers']}'")
    else:
        raise ValueError(f"'{columns['answers']}' has an unsupported type ({type(answers).__name__})")
    if not isinstance(text, str) or not text.strip():
        raise ValueError("answer text is missing or empty")
    if isinstance(start, bool) or not isinstance(start, int):
        raise ValueError(f"answer_start must be an integer, got {start!r}")
    return text, start


def normalise(raw: Any, columns: dict[str, str]) -> dict[str, Any]:
    """Turn one raw row into a record; raise ValueError (bad row) or _Unanswerable."""
    if not isinstance(raw, dict):
        raise ValueError(f"expected an object, got {type(raw).__name__}")
    if raw.get("is_impossible") is True:
        raise _Unanswerable
    values = {}
    for key in ("id", "question", "context"):
        value = raw.get(columns[key])
        if value is None or (isinstance(value, str) and not value.strip()):
            raise ValueError(f"missing or empty field '{columns[key]}'")
        if key != "id" and not isinstance(value, str):
            raise ValueError(f"field '{columns[key]}' must be text")
        values[key] = str(value)
    title = raw.get(columns["title"]) or ""
    text, start = _first_answer(raw, columns)
    context = values["context"]
    if not 0 <= start < len(context):
        raise ValueError(f"answer_start {start} is outside the context (length {len(context)})")
    if context[start : start + len(text)] != text:
        found = context[start : start + len(text)]
        raise ValueError(f"answer text {text!r} is not at answer_start {start} (found {found!r})")
    return {
        "id": values["id"],
        "title": str(title),
        "question": values["question"].strip(),
        "context": context,
        "answer_text": text,
        "answer_start": start,
    }


def _read_text(path: str) -> str:
    try:
        with open(path, "rb") as handle:
            data = handle.read()
    except FileNotFoundError:
        raise MtqaError(f"input file not found: {path}; check the --input path") from None
    except IsADirectoryError:
        raise MtqaError(f"{path} is a directory; pass a .json, .jsonl or .parquet file, or hf:PATH for a dataset folder") from None
    except OSError as error:
        raise MtqaError(f"cannot read {path} ({error.strerror.lower()}); check its permissions") from None
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as error:
        raise MtqaError(f"{path}: not UTF-8 text (bad byte at offset {error.start}); re-encode the file as UTF-8") from None


def read_squad_json(path: str, articles: set[int] | None = None) -> Iterator[tuple[str, Any]]:
    text = _read_text(path)
    try:
        document = json.loads(text)
    except json.JSONDecodeError as error:
        raise MtqaError(f"{path}:{error.lineno}:{error.colno}: not valid JSON ({error.msg}); fix the file or export it again") from None
    if not isinstance(document, dict) or not isinstance(document.get("data"), list):
        raise MtqaError(
            f"{path}: not a SQuAD file (expected an object with a 'data' list of articles); convert it, or use .jsonl with one question per line"
        )
    if articles is not None and max(articles) >= len(document["data"]):
        raise MtqaError(
            f"--articles: {path} has {len(document['data'])} articles (0-{len(document['data']) - 1}); {max(articles)} is past the end"
        )
    for a, article in enumerate(document["data"]):
        if articles is not None and a not in articles:
            continue
        paragraphs = article.get("paragraphs") if isinstance(article, dict) else None
        if not isinstance(paragraphs, list):
            yield f"{path}: data[{a}]", "article has no 'paragraphs' list"
            continue
        for p, paragraph in enumerate(paragraphs):
            qas = paragraph.get("qas") if isinstance(paragraph, dict) else None
            if not isinstance(qas, list):
                yield f"{path}: data[{a}].paragraphs[{p}]", "paragraph has no 'qas' list"
                continue
            for q, qa in enumerate(qas):
                row = dict(qa) if isinstance(qa, dict) else qa
                if isinstance(row, dict):
                    row.setdefault("context", paragraph.get("context"))
                    row.setdefault("title", article.get("title", ""))
                yield f"{path}: data[{a}].paragraphs[{p}].qas[{q}]", row


def read_jsonl(path: str) -> Iterator[tuple[str, Any]]:
    text = _read_text(path)
    for line_no, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        try:
            yield f"{path}:{line_no}", json.loads(line)
        except json.JSONDecodeError as error:
            raise MtqaError(f"{path}:{line_no}: not valid JSON ({error.msg}); fix or remove that line") from None


def read_parquet(path: str) -> Iterator[tuple[str, Any]]:
    import pyarrow.parquet as pq

    if not os.path.exists(path):
        raise MtqaError(f"input file not found: {path}; check the --input path")
    try:
        table = pq.read_table(path)
    except Exception as error:  # pyarrow raises several types for corrupt files
        raise MtqaError(f"{path}: not a readable Parquet file ({first_line(error)}); export it again") from None
    for index, row in enumerate(table.to_pylist()):
        yield f"{path}: row {index}", row


def read_hf(spec: str, split: str) -> tuple[Iterator[tuple[str, Any]], str | None]:
    """``hf:NAME[:CONFIG]`` through ``datasets.load_dataset`` (hub id or local folder)."""
    name, _, config = spec[len("hf:") :].partition(":")
    if not name:
        raise OptionError("hf: needs a dataset name, e.g. hf:rajpurkar/squad or hf:./my_dataset")
    from ..paths import hub_reachable

    offline = {}
    if not os.path.exists(name) and not hub_reachable():
        # A hub id with no network: offline mode reads the local cache or fails at once, where the client would retry for half a minute.
        offline = {key: os.environ.get(key) for key in ("HF_HUB_OFFLINE", "HF_DATASETS_OFFLINE")}
        os.environ.update(dict.fromkeys(offline, "1"))
    import datasets

    try:
        dataset = datasets.load_dataset(name, config or None, split=split)
    except Exception as error:
        message = first_line(error)
        raise MtqaError(
            f"cannot load Hugging Face dataset {name!r} (split {split!r}): {message}; "
            "check the name, the split, and network access (or use a local file)"
        ) from None
    finally:
        for key, value in offline.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value
    license_name = getattr(dataset.info, "license", None) or None

    def rows() -> Iterator[tuple[str, Any]]:
        for index, row in enumerate(dataset):
            yield f"{spec} [{split}] row {index}", row

    return rows(), license_name


# The licences of the LAReQA sets mtqa knows by folder name (the LAReQA release's own LICENSE files), for dataset cards.
KNOWN_LICENSES = {"xquad-r": "cc-by-sa-4.0", "mlqa-r": "cc-by-sa-3.0"}


def lareqa_license(spec: str) -> str | None:
    """The licence of ``lareqa:NAME_OR_PATH`` where mtqa knows it, by the set's folder name."""
    return KNOWN_LICENSES.get(Path(spec[len("lareqa:") :].rstrip("/")).name.lower()) if spec.startswith("lareqa:") else None


def lareqa_english(spec: str) -> Path:
    """``lareqa:NAME_OR_PATH`` -> the set's English file (SQuAD layout), found as evaluation sets are ($MTQA_DATA first)."""
    from ..paths import resolve_data_set

    try:
        folder = resolve_data_set(spec[len("lareqa:") :], option="--input")
    except MtqaError as error:
        raise MtqaError(f"--input {spec}: {error}") from None
    english = folder / "en.json"
    if not english.is_file():
        raise MtqaError(f"--input {spec}: no en.json in {folder}; a LAReQA set holds one <lang>.json per language")
    return english


def load_records(
    spec: str,
    *,
    split: str = "train",
    columns: str | None = None,
    on_bad_row: str = "fail",
    limit: int | None = None,
    articles: set[int] | None = None,
) -> LoadResult:
    """Load ``spec`` (a SQuAD .json, .jsonl, .parquet file, or hf:NAME[:CONFIG]) into records.

    ``articles`` picks articles of a SQuAD file by index (``data[i]``), as XQuAD-R's splits are named.
    """
    column_map = parse_column_map(columns)
    if articles is not None and not spec.startswith("lareqa:") and (spec.startswith("hf:") or not spec.endswith(".json")):
        raise OptionError(
            f"--articles picks articles of a SQuAD .json file by index; {spec} has no articles: drop --articles, or use --limit"
        )
    license_name = None
    if spec.startswith("lareqa:"):
        rows = read_squad_json(str(lareqa_english(spec)), articles)
        license_name = lareqa_license(spec)
    elif spec.startswith("hf:"):
        rows, license_name = read_hf(spec, split)
    elif os.path.isdir(spec):
        raise MtqaError(f"{spec} is a directory; pass a .json, .jsonl or .parquet file, or hf:PATH for a dataset folder")
    elif spec.endswith(".jsonl"):
        rows = read_jsonl(spec)
    elif spec.endswith(".parquet"):
        rows = read_parquet(spec)
    elif spec.endswith(".json"):
        rows = read_squad_json(spec, articles)
    else:
        raise MtqaError(f"cannot tell the format of {spec!r}: use a .json (SQuAD), .jsonl or .parquet file, or hf:NAME")

    result = LoadResult(records=[], source=spec, license=license_name)
    seen_ids: set[str] = set()
    for locator, raw in rows:
        try:
            if isinstance(raw, str):
                raise ValueError(raw)
            record = normalise(raw, column_map)
            if record["id"] in seen_ids:
                raise ValueError(f"duplicate id {record['id']!r}")
        except _Unanswerable:
            result.unanswerable += 1
            continue
        except ValueError as error:
            if on_bad_row == "fail":
                raise MtqaError(f"{locator}: {error} (fix the row, or pass --on-bad-row skip)") from None
            result.bad_rows.append((locator, str(error)))
            continue
        seen_ids.add(record["id"])
        result.records.append(record)
        if limit is not None and len(result.records) >= limit:
            break
    if not result.records:
        detail = f" ({result.unanswerable} unanswerable, {len(result.bad_rows)} bad rows)" if result.unanswerable or result.bad_rows else ""
        raise MtqaError(f"{spec}: no answerable questions found{detail}; --input needs questions with answers")
    return result
