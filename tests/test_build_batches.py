"""Properties of every batch of every mode, on real parallel data (XQuAD-R)."""

import json
import math
import subprocess
import sys
from collections import Counter, defaultdict
from pathlib import Path

import pyarrow.parquet as pq
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from mtqa.batches.config import SamplerConfig
from mtqa.batches.job import BuildConfig, run_build_batches
from mtqa.errors import MtqaError
from mtqa.formats.parallel_corpus import CORPUS_FILE, write_corpus


def build(tmp_path, inputs, name="out", articles="0-23", hard_negatives=0, **sampler) -> tuple[dict, list[dict]]:
    out = tmp_path / name
    manifest = run_build_batches(
        BuildConfig(
            inputs=inputs,
            output=out,
            articles=articles,
            hard_negatives=hard_negatives,
            sampler=SamplerConfig(**sampler),
            batches_per_shard=40,
            progress=False,
        )
    )
    rows = [row for shard in manifest["shards"] for row in pq.read_table(out / shard["file"]).to_pylist()]
    return manifest, rows


def batches_of(rows):
    batches = defaultdict(list)
    for row in rows:
        batches[row["batch_index"]].append(row)
    assert list(batches) == list(range(len(batches))), "batches are stored whole and in order"
    return list(batches.values())


@pytest.fixture(scope="module")
def english_passage(xquad_r):
    """example id -> (English passage, answer sentence index), the source a positive comes from."""
    from mtqa.formats.lareqa import answer_sentence_index

    document = json.loads((xquad_r / "en.json").read_text())
    source = {}
    for article in document["data"]:
        for paragraph in article["paragraphs"]:
            for qa in paragraph["qas"]:
                source[qa["id"]] = (
                    paragraph["context"],
                    answer_sentence_index(paragraph["sentence_breaks"], qa["answers"][0]["answer_start"]),
                )
    return source


def lareqa(xquad_r):
    return f"lareqa:{xquad_r}"


MODES = [
    ("hybrid", "example"),
    ("xx", "example"),
    ("xy", "example"),
    ("xy", "batch"),
    ("xx-mixed", "example"),
    ("en", "example"),
    ("multitask", "example"),
    ("multitask", "batch"),
]


@pytest.mark.parametrize("mode, scope", MODES)
@pytest.mark.parametrize("positive", ["passage", "sentence"])
def test_every_batch_of_every_mode(tmp_path, xquad_r, english_passage, mode, scope, positive):
    size = 16
    manifest, rows = build(tmp_path, [lareqa(xquad_r)], mode=mode, xy_scope=scope, positive=positive, batch_size=size)
    batches = batches_of(rows)
    assert len(batches) == manifest["num_batches"] > 0
    used = Counter()
    for batch in batches:
        assert len(batch) == size
        kind = batch[0]["batch_type"]
        assert {row["batch_type"] for row in batch} == {kind}
        if mode == "multitask":  # an X-X and an X-Y sub-batch per step, half the rows each at the default --alpha
            assert kind == "multitask" and [row["sub_batch"] for row in batch] == ["xx"] * 8 + ["xy"] * 8
            parts = [("xx", batch[:8]), ("xy", batch[8:])]
        else:
            assert "sub_batch" not in batch[0]
            parts = [(kind, batch)]
        for kind, part in parts:
            queries = {row["query_lang"] for row in part}
            if kind == "xx":
                assert len(queries) == 1 and all(row["positive_lang"] == row["query_lang"] for row in part)
            elif kind == "xy":
                assert all(row["positive_lang"] != row["query_lang"] for row in part)
                if scope == "batch":
                    assert len({(row["query_lang"], row["positive_lang"]) for row in part}) == 1
            elif kind == "xx-mixed":
                assert all(row["positive_lang"] == row["query_lang"] for row in part)
            if mode == "en":
                assert queries == {"en"} and kind == "xx"
            # In-batch negatives are the rest of the (sub-)batch: none may be a translation of the positive.
            assert len({row["example_id"] for row in part}) == len(part)
            assert len({row["positive"] for row in part}) == len(part)
            sources = {
                english_passage[row["example_id"]] if positive == "sentence" else english_passage[row["example_id"]][0] for row in part
            }
            assert len(sources) == len(part), "two positives of one batch come from the same source passage/sentence"
        used.update((row["example_id"], row["query_lang"]) for row in batch)
    assert max(used.values()) == 1, "an (example, language) pair was a query twice in one epoch"
    kinds = {"hybrid": {"xx", "xy"}, "xx": {"xx"}, "xy": {"xy"}, "xx-mixed": {"xx-mixed"}, "en": {"xx"}, "multitask": {"multitask"}}[mode]
    assert set(manifest["batches_by_type"]) == kinds


@pytest.mark.parametrize("alpha, mono", [(0.25, 4), (0.0, 0), (1.0, 16)])
def test_multitask_mono_prob_is_the_share_of_xx_rows(tmp_path, xquad_r, alpha, mono):
    manifest, rows = build(tmp_path, [lareqa(xquad_r)], mode="multitask", mono_prob=alpha, batch_size=16, num_batches=12)
    for batch in batches_of(rows):
        assert [row["sub_batch"] for row in batch] == ["xx"] * mono + ["xy"] * (16 - mono)
    pairs = Counter(row["query_lang"] == row["positive_lang"] for row in rows)
    assert pairs[True] == 12 * mono and pairs[False] == 12 * (16 - mono)


def test_multitask_refuses_a_sub_batch_of_one_row(tmp_path, xquad_r):
    with pytest.raises(MtqaError, match="sub-batches of 1 X-X and 9 X-Y rows"):
        build(tmp_path, [lareqa(xquad_r)], mode="multitask", mono_prob=0.1, batch_size=10)


@pytest.fixture(scope="module")
def answers_in_every_language(xquad_r):
    """example id -> its answer sentence in every language: its positive and the translations of it."""
    from mtqa.formats import lareqa as lareqa_format

    found = defaultdict(set)
    for path in lareqa_format.language_files(xquad_r):
        for paragraph in lareqa_format.read_language(path, set(range(6))):
            for question in paragraph.questions:
                found[question.id].add(paragraph.sentences[question.answer_sentence])
    return found


@settings(max_examples=6, deadline=None)
@given(mode=st.sampled_from(["hybrid", "xx", "xy", "xx-mixed", "en", "multitask"]), seed=st.integers(0, 2**16))
def test_no_hard_negative_is_a_positive_of_its_batch_or_a_translation_of_one(
    tmp_path_factory, xquad_r, answers_in_every_language, mode, seed
):
    tmp_path = tmp_path_factory.mktemp("negatives")
    _, rows = build(
        tmp_path,
        [lareqa(xquad_r)],
        articles="0-5",
        mode=mode,
        positive="sentence",
        batch_size=16,
        num_batches=8,
        hard_negatives=3,
        seed=seed,
    )
    for batch in batches_of(rows):
        forbidden = set().union(*(answers_in_every_language[row["example_id"]] for row in batch))
        clashes = [negative for row in batch for negative in row["negatives"] if negative in forbidden]
        assert not clashes, clashes[:3]
    assert sum(bool(row["negatives"]) for row in rows) > 0.5 * len(rows)  # only short passages run out: most rows still get negatives


def test_positive_texts_are_the_real_ones(tmp_path, xquad_r):
    _, rows = build(tmp_path, [lareqa(xquad_r)], mode="xy", positive="sentence", batch_size=8, num_batches=5, hard_negatives=2)
    documents = {
        code: json.loads((xquad_r / f"{code}.json").read_text())
        for code in {r["positive_lang"] for r in rows} | {r["query_lang"] for r in rows}
    }
    for row in rows:
        qa_by_id = {qa["id"]: (qa, p) for a in documents[row["positive_lang"]]["data"] for p in a["paragraphs"] for qa in p["qas"]}
        qa, paragraph = qa_by_id[row["example_id"]]
        sentences = [s.strip() for s in paragraph["sentences"]]
        assert row["positive"] in sentences
        assert row["positive"] in paragraph["context"] or row["positive"].strip() in paragraph["context"]
        assert len(row["negatives"]) <= min(2, len(sentences) - 1)  # fewer where a sentence is another row's positive
        assert all(n in sentences and n != row["positive"] for n in row["negatives"])
        query_qas = {qa["id"]: qa for a in documents[row["query_lang"]]["data"] for p in a["paragraphs"] for qa in p["qas"]}
        assert row["query"] == query_qas[row["example_id"]]["question"]


@pytest.mark.parametrize("alpha", [0.5, 0.2])
def test_hybrid_share_of_xx_batches_matches_alpha(tmp_path, xquad_r, alpha):
    n = 300  # well inside one epoch (about 690 batches of 10), away from its tail
    manifest, _ = build(tmp_path, [lareqa(xquad_r)], mode="hybrid", mono_prob=alpha, batch_size=10, num_batches=n, articles=None)
    share = manifest["batches_by_type"].get("xx", 0) / n
    assert abs(share - alpha) <= 4 * math.sqrt(alpha * (1 - alpha) / n), share


def _translate_style_corpus(directory: Path, xquad_r: Path, langs: list[str], articles: range) -> Path:
    """A parallel corpus in `mtqa translate` output format, from XQuAD-R articles."""
    from mtqa.formats.lareqa import answer_sentence_index

    rows = []
    for code in langs:
        document = json.loads((xquad_r / f"{code}.json").read_text())
        for index in articles:
            article = document["data"][index]
            for paragraph in article["paragraphs"]:
                for qa in paragraph["qas"]:
                    rows.append(
                        {
                            "id": qa["id"],
                            "lang": code,
                            "title": article["title"],
                            "question": qa["question"],
                            "context": paragraph["context"],
                            "sentences": [s.strip() for s in paragraph["sentences"]],
                            "answer_sentence": answer_sentence_index(paragraph["sentence_breaks"], qa["answers"][0]["answer_start"]),
                            "answer_text": qa["answers"][0]["text"],
                            "flags": [],
                        }
                    )
    write_corpus(directory / CORPUS_FILE, rows)
    return directory


def test_datasets_are_drawn_by_size(tmp_path, xquad_r):
    small = _translate_style_corpus(tmp_path / "small", xquad_r, ["en", "de", "es"], range(24, 36))
    n = 200
    manifest, rows = build(tmp_path, [lareqa(xquad_r), str(small)], mode="hybrid", batch_size=10, num_batches=n)
    sizes = {item["name"]: item["rows"] for item in manifest["inputs"]}
    expected = sizes["small"] / sum(sizes.values())
    share = manifest["batches_by_dataset"].get("small", 0) / n
    assert abs(share - expected) <= 4 * math.sqrt(expected * (1 - expected) / n)
    for batch in batches_of(rows):
        assert len({row["dataset"] for row in batch}) == 1
    uniform, _ = build(tmp_path, [lareqa(xquad_r), str(small)], name="uniform", batch_size=10, num_batches=n, dataset_sampling="uniform")
    assert abs(uniform["batches_by_dataset"]["small"] / n - 0.5) <= 4 * math.sqrt(0.25 / n)


def test_same_seed_same_bytes_other_seed_other_bytes(tmp_path, xquad_r):
    first, _ = build(tmp_path, [lareqa(xquad_r)], name="a", batch_size=12, seed=7)
    second, _ = build(tmp_path, [lareqa(xquad_r)], name="b", batch_size=12, seed=7)
    other, _ = build(tmp_path, [lareqa(xquad_r)], name="c", batch_size=12, seed=8)
    assert [s["sha256"] for s in first["shards"]] == [s["sha256"] for s in second["shards"]]
    assert (tmp_path / "a" / "batches-00000.parquet").read_bytes() == (tmp_path / "b" / "batches-00000.parquet").read_bytes()
    assert [s["sha256"] for s in first["shards"]] != [s["sha256"] for s in other["shards"]]


def test_article_split_keeps_held_out_articles_out(tmp_path, xquad_r):
    document = json.loads((xquad_r / "en.json").read_text())

    def ids_of(articles):
        return {qa["id"] for a in articles for p in a["paragraphs"] for qa in p["qas"]}

    train_ids, held_out = ids_of(document["data"][:24]), ids_of(document["data"][24:])
    manifest, rows = build(tmp_path, [lareqa(xquad_r)], articles="0-23", batch_size=20)
    seen = {row["example_id"] for row in rows}
    assert seen <= train_ids and not seen & held_out
    assert manifest["inputs"][0]["examples"] == len(train_ids)
    assert len(seen) > 0.9 * len(train_ids)


def test_langs_restriction_and_weights(tmp_path, xquad_r):
    _, rows = build(tmp_path, [lareqa(xquad_r)], langs=["en", "de", "zh"], batch_size=10, num_batches=60)
    assert {row["query_lang"] for row in rows} | {row["positive_lang"] for row in rows} <= {"en", "de", "zh"}
    _, weighted = build(
        tmp_path, [lareqa(xquad_r)], name="w", mode="xx", langs=["en", "de"], lang_weights={"en": 3, "de": 1}, batch_size=10, num_batches=40
    )
    counts = Counter(row["query_lang"] for row in weighted)
    assert counts["en"] > 2 * counts["de"]


def test_translate_output_is_an_input(tmp_path, xquad_r):
    corpus = _translate_style_corpus(tmp_path / "mt", xquad_r, ["en", "ar", "zh"], range(0, 8))
    manifest, rows = build(tmp_path, [str(corpus)], batch_size=8, positive="sentence+context")
    assert manifest["num_batches"] > 0
    assert all(row["positive"] in row["positive_context"] for row in rows)


@pytest.mark.parametrize(
    "inputs, sampler, message",
    [
        (["missing-dir"], {}, "not found"),
        (["lareqa:empty"], {}, "no <lang>.json files"),
        (["XQ"], {"langs": ["en"]}, "needs at least two languages"),
        (["XQ"], {"batch_size": 5000}, "larger than the"),
        (["XQ"], {"langs": ["en", "fr"]}, "language 'fr' is in none of the inputs"),
        (["corrupt"], {}, "not a readable Parquet file"),
    ],
)
def test_bad_input_fails_cleanly_and_leaves_nothing(tmp_path, xquad_r, inputs, sampler, message):
    (tmp_path / "empty").mkdir()
    (tmp_path / "corrupt" / "data").mkdir(parents=True)
    (tmp_path / "corrupt" / "data" / "train-00000-of-00001.parquet").write_bytes(b"PAR1 garbage")
    resolved = [
        f"lareqa:{xquad_r}"
        if spec == "XQ"
        else spec.replace("empty", str(tmp_path / "empty"))
        if spec.startswith("lareqa:")
        else str(tmp_path / spec)
        for spec in inputs
    ]
    with pytest.raises(MtqaError, match=message):
        run_build_batches(
            BuildConfig(inputs=resolved, output=tmp_path / "out", articles="0-23", sampler=SamplerConfig(**sampler), progress=False)
        )
    assert not (tmp_path / "out").exists()


def test_cli_build_and_stats(tmp_path, xquad_r):
    out = tmp_path / "b"
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "mtqa",
            "build-batches",
            "--input",
            lareqa(xquad_r),
            "--articles",
            "0-23",
            "--batch-size",
            "32",
            "--output",
            str(out),
            "--quiet",
        ],
        capture_output=True,
        text=True,
    )
    assert result.returncode == 0, result.stderr
    names = {p.name for p in out.iterdir()}
    assert {"README.md", "manifest.json", "batches-00000.parquet"} <= names
    stats = subprocess.run([sys.executable, "-m", "mtqa", "build-batches", "--stats", str(out)], capture_output=True, text=True)
    assert stats.returncode == 0 and "xx" in stats.stdout and "q\\p" in stats.stdout
    assert (out / "pairs.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    bad = subprocess.run(
        [
            sys.executable,
            "-m",
            "mtqa",
            "build-batches",
            "--input",
            lareqa(xquad_r),
            "--mode",
            "xy",
            "--langs",
            "de",
            "--output",
            str(tmp_path / "x"),
        ],
        capture_output=True,
        text=True,
    )
    assert bad.returncode == 1 and len(bad.stderr.strip().splitlines()) == 1 and "two languages" in bad.stderr


def test_leftover_units_count_what_no_full_batch_could_use(tmp_path):
    """10 English examples, each its own passage, batches of 4: 2 batches an epoch, 2 units left over each time."""
    rows = [
        {
            "id": f"q{i}",
            "lang": "en",
            "title": "t",
            "question": f"Question number {i}?",
            "context": f"Passage {i}. It is unique.",
            "sentences": [f"Passage {i}.", "It is unique."],
            "answer_sentence": 0,
            "answer_text": None,
            "flags": [],
        }
        for i in range(10)
    ]
    corpus = tmp_path / "mt"
    write_corpus(corpus / CORPUS_FILE, rows)
    manifest, _ = build(tmp_path, [str(corpus)], mode="en", batch_size=4, epochs=2)
    assert manifest["num_batches"] == 4 and manifest["epochs"] == 2
    assert manifest["leftover_units"] == [2, 2]
    manifest, _ = build(tmp_path / "one", [str(corpus)], mode="en", batch_size=5)
    assert manifest["leftover_units"] == [0] and manifest["num_batches"] == 2


def test_the_corpus_writer_keeps_every_value_and_the_schema_without_pandas(tmp_path):
    """Rows reach Arrow as JSON lines: quotes, newlines, non-Latin text, empty lists, a row over the reader's
    block size and an empty corpus all come back as written, under the corpus schema."""
    import subprocess
    import sys

    import pyarrow.parquet as pq

    from mtqa.formats.parallel_corpus import corpus_schema

    rows = [
        {
            "id": str(i),
            "lang": "zh" if i % 2 else "de",
            "title": None if i == 3 else "T",
            "question": 'Wer "sagt"\nwas? 图书馆',
            "context": "c" * (3_000_000 if i == 5 else 10),
            "sentences": [] if i == 4 else ["a", "b"],
            "answer_sentence": i,
            "answer_text": "x",
            "flags": ["empty"] if i == 4 else [],
        }
        for i in range(8)
    ]
    write_corpus(tmp_path / "a.parquet", rows)
    table = pq.read_table(tmp_path / "a.parquet")
    assert table.schema == corpus_schema() and table.to_pylist() == rows
    write_corpus(tmp_path / "empty.parquet", [])
    assert pq.read_table(tmp_path / "empty.parquet").num_rows == 0
    probe = (
        "import sys; from pathlib import Path; from mtqa.formats.parallel_corpus import write_corpus; "
        f"write_corpus(Path({str(tmp_path / 'b.parquet')!r}), [{rows[0]!r}]); print('pandas' in sys.modules)"
    )
    assert subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True).stdout.strip() == "False"


# Content digests of the shards of small builds: the first three as of the commit that added --alpha-schedule, the rest
# as of the commit that moved texts to disk. The default (random) schedule, every option beside it, and how texts are
# stored must keep drawing and writing the same batches.
PINNED = {
    "hybrid": ("5fab3e4e1e87ca4e", dict(mode="hybrid", positive="sentence", batch_size=16, num_batches=12, hard_negatives=2, seed=3)),
    "xy": ("a07a5013b44a5ee4", dict(mode="xy", positive="sentence", batch_size=16, num_batches=12, hard_negatives=2, seed=3)),
    "xx": ("037e31e164fd406b", dict(mode="xx", positive="sentence", batch_size=16, num_batches=12, hard_negatives=2, seed=3)),
    "multitask-passage": ("02e3b1f4121a70d5", dict(mode="multitask", positive="passage", batch_size=16, num_batches=12, seed=4)),
    "hybrid-sentence+context": (
        "e499d50e3537c555",
        dict(mode="hybrid", positive="sentence+context", batch_size=16, num_batches=12, hard_negatives=1, seed=5),
    ),
    "xx-mixed-passage": ("44824311c02756ac", dict(mode="xx-mixed", positive="passage", batch_size=8, epochs=1, seed=6)),
}


def _digest(rows: list[dict]) -> str:
    import hashlib

    return hashlib.sha256(json.dumps(rows, sort_keys=True, ensure_ascii=False).encode()).hexdigest()[:16]


@pytest.mark.parametrize("case", sorted(PINNED))
def test_shards_keep_their_pinned_contents(tmp_path, xquad_r, case):
    digest, options = PINNED[case]
    _, rows = build(tmp_path, [lareqa(xquad_r)], articles="0-5", **options)
    assert _digest(rows) == digest


def test_two_inputs_keep_their_pinned_contents(tmp_path, xquad_r):
    first = _translate_style_corpus(tmp_path / "a", xquad_r, ["en", "de", "es"], range(0, 3))
    second = _translate_style_corpus(tmp_path / "b", xquad_r, ["en", "ru", "zh"], range(3, 6))
    _, rows = build(
        tmp_path,
        [str(first), str(second)],
        articles=None,
        mode="hybrid",
        positive="sentence",
        batch_size=8,
        num_batches=20,
        hard_negatives=2,
        seed=7,
    )
    assert len({row["dataset"] for row in rows}) == 2 and _digest(rows) == "8cfb77d4fb3af075"


@settings(max_examples=8, deadline=None)
@given(
    mode=st.sampled_from(["hybrid", "xx"]),
    alpha=st.sampled_from([0.0, 0.25, 0.5, 0.7, 1.0]),
    batches=st.integers(7, 40),
    seed=st.integers(0, 2**16),
)
def test_exact_schedule_gives_round_alpha_n_xx_batches_and_even_languages(tmp_path_factory, xquad_r, mode, alpha, batches, seed):
    manifest, rows = build(
        tmp_path_factory.mktemp("exact"),
        [lareqa(xquad_r)],
        articles="0-19",
        mode=mode,
        mono_prob=alpha,
        alpha_schedule="exact",
        positive="sentence",
        batch_size=16,
        num_batches=batches,
        seed=seed,
    )
    kinds = Counter(batch[0]["batch_type"] for batch in batches_of(rows))
    assert kinds["xx"] == (batches if mode == "xx" else round(alpha * batches)) == manifest["batches_by_type"].get("xx", 0)
    per_language = Counter(batch[0]["query_lang"] for batch in batches_of(rows) if batch[0]["batch_type"] == "xx")
    assert per_language == Counter(manifest["xx_batches_by_language"])
    if kinds["xx"]:
        counts = [per_language.get(code, 0) for code in manifest["inputs"][0]["languages"]]
        assert max(counts) - min(counts) <= 1, per_language
    assert manifest["xx_share"] == round(kinds["xx"] / batches, 4)


def test_exact_schedule_is_refused_where_it_means_nothing(tmp_path, xquad_r):
    with pytest.raises(MtqaError, match="--alpha-schedule exact needs --num-batches N"):
        build(tmp_path, [lareqa(xquad_r)], articles="0-5", mode="hybrid", alpha_schedule="exact", batch_size=16)
    with pytest.raises(MtqaError, match="--mode xy has neither: drop --alpha-schedule"):
        build(tmp_path, [lareqa(xquad_r)], articles="0-5", mode="xy", alpha_schedule="exact", batch_size=16, num_batches=4)


def test_the_card_names_only_the_languages_and_the_translation_kind_it_holds(tmp_path, xquad_r):
    from huggingface_hub import DatasetCard

    manifest, _ = build(tmp_path, [lareqa(xquad_r)], articles="0-5", langs=["en", "de", "zh"], batch_size=8, num_batches=4)
    card = DatasetCard.load(tmp_path / "out" / "README.md").data
    assert card.language == ["de", "en", "zh"]  # not the 11 languages of the input
    assert "human-translated" in card.tags and "machine-translated" not in card.tags  # XQuAD-R is human-translated
    assert card.configs[0]["data_files"][0]["path"] == "batches-*.parquet"
    assert card.dataset_info["splits"][0]["num_examples"] == manifest["rows"]


def test_a_repeated_id_and_language_keeps_its_first_row(tmp_path, xquad_r):
    corpus = _translate_style_corpus(tmp_path / "a", xquad_r, ["en", "de"], range(0, 2))
    table = pq.read_table(corpus / CORPUS_FILE)
    rows = table.to_pylist()
    rows.append({**rows[0], "question": "A repeated row that must never be used?"})
    write_corpus(corpus / CORPUS_FILE, rows)
    manifest, written = build(tmp_path, [str(corpus)], articles=None, mode="xx", batch_size=8, epochs=3, seed=0)
    assert manifest["inputs"][0]["skipped"]["duplicate (id, lang) row"] == 1
    assert manifest["inputs"][0]["rows"] == len(rows) - 1
    assert "A repeated row that must never be used?" not in {row["query"] for row in written}


def test_the_text_store_keeps_texts_on_disk_and_leaves_no_file(tmp_path):
    import pyarrow as pa

    from mtqa.batches.corpus_index import TextStore

    store = TextStore(tmp_path)
    held = pa.total_allocated_bytes()
    questions = [f"question {i} " * 40 for i in range(20_000)]  # about 10 MB of text
    ids = store.extend(pa.array(questions))
    passages = store.add_many(pa.array(["same", "other", "same", ""]))
    assert pa.total_allocated_bytes() - held < 2**20, "the texts went to the spill file, not into Arrow memory"
    assert list(tmp_path.iterdir()) == [], "the spill file is unlinked from the start"
    store.seal()
    assert store.take(ids[[19_999, 0, 7]]).to_pylist() == [questions[19_999], questions[0], questions[7]]
    assert store.take(passages).to_pylist() == ["same", "other", "same", ""]
    canonical = store.canonical[passages]
    assert canonical[0] == canonical[2] and len(set(canonical.tolist())) == 3
    assert store.canonical[ids[:3]].tolist() == ids[:3].tolist()  # texts added as they are are never merged


def test_row_columns_fill_in_place_and_carry_on_past_the_announced_rows():
    import numpy as np

    from mtqa.batches.corpus_index import RowColumns

    chunks = [np.arange(0, 3), np.arange(3, 5), np.arange(5, 9)]
    for expected in (9, 12, 4, None):  # exact, more than needed, fewer than the rows that come, unknown
        columns = RowColumns(("a", "b"), expected)
        for chunk in chunks:
            columns.append({"a": chunk, "b": -chunk})
        joined = columns.joined()
        assert joined["a"].tolist() == list(range(9)) and joined["b"].tolist() == [-i for i in range(9)], expected
    columns = RowColumns(("a",), 9)
    for chunk in chunks:
        columns.append({"a": chunk})
    assert columns.chunks["a"] == [], "with the count known, no chunk is kept to be joined later"


def _two_language_corpus(folder: Path, english: int, spanish: int) -> Path:
    """``english`` English examples, each its own passage; the first ``spanish`` of them also in Spanish."""

    def row(i: int, lang: str) -> dict:
        return {
            "id": f"q{i}",
            "lang": lang,
            "title": "t",
            "question": f"Question {lang} {i}?",
            "context": f"Passage {lang} {i}. It is unique.",
            "sentences": [f"Passage {lang} {i}.", "It is unique."],
            "answer_sentence": 0,
            "answer_text": None,
            "flags": [],
        }

    write_corpus(folder / CORPUS_FILE, [row(i, "en") for i in range(english)] + [row(i, "es") for i in range(spanish)])
    return folder


def test_hybrid_that_can_fill_no_x_y_batch_is_refused_not_written_as_x_x(tmp_path):
    corpus = _two_language_corpus(tmp_path / "mt", english=40, spanish=5)  # X-Y needs 8 examples in both languages: there are 5
    with pytest.raises(MtqaError) as error:
        build(tmp_path, [str(corpus)], articles=None, mode="hybrid", batch_size=8, num_batches=6)
    assert str(error.value).startswith("--mode hybrid: all 6 batches came out X-X: no X-Y batch could be filled")
    assert "or ask for --mode xx" in str(error.value) and not (tmp_path / "out").exists()
    manifest, _ = build(tmp_path, [str(corpus)], name="xx", articles=None, mode="xx", batch_size=8, num_batches=6)
    assert manifest["batches_by_type"] == {"xx": 6} and manifest["warnings"] == []


def test_x_y_batches_fill_where_passages_are_scarce(tmp_path, xquad_r):
    """Batches of 100 passages over articles 0-19 (about 100 passages): X-Y batches used to give up and turn X-X, silently."""
    manifest, _ = build(tmp_path, [lareqa(xquad_r)], articles="0-19", mode="hybrid", batch_size=100, positive="passage")
    assert manifest["batches_by_type"].get("xy", 0) >= 3 and manifest["batches_by_type"].get("xx", 0) >= 3
    assert any("were never used as a query" in warning and "--positive sentence" in warning for warning in manifest["warnings"])
    total = manifest["num_batches"]
    assert abs(manifest["batches_by_type"]["xx"] / total - 0.5) <= 3 * math.sqrt(0.25 / total)  # α's share, within chance


def test_the_documented_examples_give_the_mode_they_show(tmp_path, xquad_r):
    """The --help example on XQuAD-R, and the five-minute start's flags on the same data: both kinds, no warning."""
    from mtqa.cli.batches import BUILD_EXAMPLE

    readme = (Path(__file__).resolve().parents[1] / "README.md").read_text()
    assert "--input lareqa:xquad-r --articles 0-23 \\\n      --mode hybrid --alpha 0.5 --positive sentence" in BUILD_EXAMPLE
    assert "--mode hybrid --alpha 0.5 --positive sentence --batch-size 32 \\\n    --num-batches 20 --alpha-schedule exact" in readme
    manifest, _ = build(tmp_path, [lareqa(xquad_r)], name="help", articles="0-23", mode="hybrid", mono_prob=0.5, positive="sentence")
    assert set(manifest["batches_by_type"]) == {"xx", "xy"} and manifest["warnings"] == []
    manifest, _ = build(
        tmp_path, [lareqa(xquad_r)], name="start", articles="0-19", langs=["en", "es"], mode="hybrid", mono_prob=0.5,
        positive="sentence", batch_size=32, num_batches=20, alpha_schedule="exact",
    )  # fmt: skip
    assert manifest["batches_by_type"] == {"xx": 10, "xy": 10} and manifest["warnings"] == []


def test_cards_carry_xquad_rs_licence_from_translate_to_the_shards(tmp_path, xquad_r):
    from mtqa.formats.qa_input import lareqa_license

    assert lareqa_license(f"lareqa:{xquad_r}") == "cc-by-sa-4.0" and lareqa_license("lareqa:./my-set") is None
    manifest, _ = build(tmp_path, [lareqa(xquad_r)], articles="0-1", positive="sentence", batch_size=8, num_batches=2)
    assert manifest["licenses"] == {lareqa(xquad_r): "cc-by-sa-4.0"}
    assert "license: cc-by-sa-4.0" in (tmp_path / "out" / "README.md").read_text()


def test_alpha_is_the_option_and_mono_prob_its_earlier_name():
    from mtqa.cli.batches import build_batches

    for spelling in ("--alpha", "--mono-prob"):
        context = build_batches.make_context("build-batches", ["--input", "x", "--output", "y", spelling, "0.25"])
        assert context.params["mono_prob"] == 0.25, spelling
