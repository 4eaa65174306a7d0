import json

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from mtqa.errors import MtqaError
from mtqa.formats.qa_input import load_records

CONTEXT = "Paris is the capital of France. It has 2 million people."


def qa(qid, question="What is the capital?", text="Paris", start=0, **extra):
    return {"id": qid, "question": question, "answers": [{"text": text, "answer_start": start}], **extra}


def write_squad(path, qas, context=CONTEXT, version="1.1"):
    path.write_text(json.dumps({"version": version, "data": [{"title": "France", "paragraphs": [{"context": context, "qas": qas}]}]}))
    return path


def test_squad_v1_records_are_normalised(tmp_path):
    result = load_records(str(write_squad(tmp_path / "s.json", [qa("a"), qa("b", "How many people?", "2 million", 39)])))
    assert [r["id"] for r in result.records] == ["a", "b"]
    assert result.records[1] == {
        "id": "b",
        "title": "France",
        "question": "How many people?",
        "context": CONTEXT,
        "answer_text": "2 million",
        "answer_start": 39,
    }


def test_squad_v2_unanswerables_are_dropped_and_counted(tmp_path):
    qas = [
        qa("a"),
        {"id": "b", "question": "Who?", "answers": [], "is_impossible": True},
        {"id": "c", "question": "When?", "answers": [], "plausible_answers": [{"text": "x", "answer_start": 0}]},
    ]
    result = load_records(str(write_squad(tmp_path / "s.json", qas, version="v2.0")))
    assert [r["id"] for r in result.records] == ["a"]
    assert result.unanswerable == 2


def test_jsonl_with_hugging_face_answers_and_renamed_columns(tmp_path):
    path = tmp_path / "d.jsonl"
    rows = [{"qid": "1", "query": "Capital?", "passage": CONTEXT, "answers": {"text": ["Paris"], "answer_start": [0]}}]
    path.write_text("\n".join(json.dumps(r) for r in rows) + "\n")
    result = load_records(str(path), columns="id=qid,question=query,context=passage")
    assert result.records[0]["id"] == "1" and result.records[0]["answer_text"] == "Paris"


def test_parquet_input(tmp_path):
    path = tmp_path / "d.parquet"
    pq.write_table(
        pa.Table.from_pylist(
            [
                {"id": "x", "question": "Capital?", "context": CONTEXT, "answers": {"text": ["France"], "answer_start": [24]}},
            ]
        ),
        path,
    )
    assert load_records(str(path)).records[0]["answer_start"] == 24


def test_hf_dataset_from_a_local_folder(tmp_path):
    folder = tmp_path / "ds"
    (folder / "data").mkdir(parents=True)
    pq.write_table(
        pa.Table.from_pylist(
            [
                {"id": str(i), "title": "T", "question": f"Q{i}?", "context": CONTEXT, "answers": {"text": ["Paris"], "answer_start": [0]}}
                for i in range(3)
            ]
        ),
        folder / "data" / "train-00000-of-00001.parquet",
    )
    result = load_records(f"hf:{folder}", split="train")
    assert [r["id"] for r in result.records] == ["0", "1", "2"]


def test_hf_unknown_dataset_is_one_clear_error():
    with pytest.raises(MtqaError, match="cannot load Hugging Face dataset"):
        load_records("hf:no-such-org/no-such-dataset-xyz", split="train")


@pytest.mark.parametrize(
    "row, message",
    [
        (qa("a", start=999), "outside the context"),
        (qa("a", start=3), "is not at answer_start 3"),
        ({"id": "a", "answers": [{"text": "Paris", "answer_start": 0}]}, "missing or empty field 'question'"),
        (qa("a", question="   "), "missing or empty field 'question'"),
        (qa("a", text=""), "answer text is missing"),
        (qa("a", start="0"), "answer_start must be an integer"),
    ],
)
def test_bad_rows_name_file_and_row(tmp_path, row, message):
    path = write_squad(tmp_path / "s.json", [qa("ok"), row])
    with pytest.raises(MtqaError) as error:
        load_records(str(path))
    text = str(error.value)
    assert message in text and str(path) in text and "qas[1]" in text and "--on-bad-row skip" in text


def test_skip_mode_counts_bad_rows(tmp_path):
    path = write_squad(tmp_path / "s.json", [qa("a"), qa("b", start=999), qa("a")])
    result = load_records(str(path), on_bad_row="skip")
    assert [r["id"] for r in result.records] == ["a"]
    reasons = [why for _, why in result.bad_rows]
    assert any("outside the context" in why for why in reasons) and any("duplicate id" in why for why in reasons)


def test_jsonl_bad_line_names_the_line(tmp_path):
    path = tmp_path / "d.jsonl"
    good = json.dumps({"id": "1", "question": "Q?", "context": CONTEXT, "answers": {"text": ["Paris"], "answer_start": [0]}})
    path.write_text(good + "\n{not json\n")
    with pytest.raises(MtqaError, match=r"d\.jsonl:2: not valid JSON"):
        load_records(str(path))


@pytest.mark.parametrize(
    "content, message",
    [
        (b"", "not valid JSON"),
        (b'{"data": [', "not valid JSON"),
        (b"[1, 2]", "not a SQuAD file"),
        (b'{"version": "1.1", "data": []}', "no answerable questions"),
        ('{"data": "caf\xe9"}'.encode("latin-1"), "not UTF-8"),
    ],
)
def test_broken_files(tmp_path, content, message):
    path = tmp_path / "in.json"
    path.write_bytes(content)
    with pytest.raises(MtqaError, match=message):
        load_records(str(path))


def test_missing_file_and_unknown_format(tmp_path):
    with pytest.raises(MtqaError, match="input file not found"):
        load_records(str(tmp_path / "nope.json"))
    with pytest.raises(MtqaError, match="cannot tell the format"):
        load_records(str(tmp_path / "data.csv"))


def test_corrupt_parquet(tmp_path):
    path = tmp_path / "d.parquet"
    path.write_bytes(b"PAR1 this is not parquet")
    with pytest.raises(MtqaError, match="not a readable Parquet file"):
        load_records(str(path))


texts = st.text(alphabet=st.characters(blacklist_categories=("Cs",)), min_size=1, max_size=40).filter(lambda s: s.strip())


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(rows=st.lists(st.tuples(texts, texts, texts, st.integers(0, 30)), min_size=1, max_size=5))
def test_jsonl_round_trip_of_valid_rows(tmp_path, rows):
    """Any valid row written as JSONL comes back unchanged (question stripped)."""
    records = []
    for index, (question, before, answer, _) in enumerate(rows):
        context = before + answer
        records.append(
            {"id": f"q{index}", "question": question, "context": context, "answers": {"text": [answer], "answer_start": [len(before)]}}
        )
    path = tmp_path / "r.jsonl"
    path.write_text("\n".join(json.dumps(r) for r in records) + "\n", encoding="utf-8")
    loaded = load_records(str(path)).records
    assert [r["context"] for r in loaded] == [r["context"] for r in records]
    assert [r["question"] for r in loaded] == [r["question"].strip() for r in records]
    assert all(r["context"][r["answer_start"] : r["answer_start"] + len(r["answer_text"])] == r["answer_text"] for r in loaded)
