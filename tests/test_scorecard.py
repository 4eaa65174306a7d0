"""The scorecard: an --only run replaces its own rows and keeps the others."""

from bench.scorecard import merge


def test_an_only_run_replaces_its_rows_and_keeps_the_others_in_bench_order():
    previous = {
        "date": "2026-11-01",
        "quick": False,
        "machine": {"cpu": "old"},
        "figures": [{"bench": "translate", "figure": "t"}, {"bench": "filters", "figure": "f-old"}, {"bench": "eval", "figure": "e"}],
        "failed": {"filters": "exit status 1"},
        "seconds": {"translate": 100.0, "filters": 5.0},
        "raw": {"translate": {"a": 1}, "filters": {}},
    }
    fresh = {
        "date": "2026-11-23",
        "quick": False,
        "machine": {"cpu": "new"},
        "figures": [{"bench": "filters", "figure": "f-new"}],
        "failed": {},
        "seconds": {"filters": 7.0},
        "raw": {"filters": {"b": 2}},
    }
    card = merge(previous, fresh, ["filters"])
    assert [item["figure"] for item in card["figures"]] == ["t", "e", "f-new"]  # translate, eval, filters: the scorecard's order
    assert card["failed"] == {} and card["seconds"] == {"translate": 100.0, "filters": 7.0}
    assert card["raw"] == {"translate": {"a": 1}, "filters": {"b": 2}}
    assert card["dates"] == {"filters": "2026-11-23"} and card["date"] == "2026-11-01"
    assert card["machine"] == {"cpu": "old"} and card["machines"] == {"filters": {"cpu": "new"}}


def test_kept_benchmarks_figures_are_computed_again_from_their_raw_results():
    raw = {
        "rows": 10,
        "positive": "passage",
        "time_ratio": 1.5,
        "build_batches": {"peak_rss_mib": 1024.0},
        "targets": {"time_ratio_max": 2.0, "peak_rss_mib_max": 2048},
    }
    previous = {"figures": [{"bench": "batches", "figure": "a row since renamed"}], "raw": {"batches": raw}}
    fresh = {"date": "2026-12-03", "machine": {}, "figures": [], "failed": {}, "seconds": {}, "raw": {}}
    card = merge(previous, fresh, ["filters"])
    assert [item["figure"] for item in card["figures"]] == [
        "build-batches: time / plain pyarrow read+write",
        "build-batches: peak RSS / 2 GiB budget",
    ]
    assert card["figures"][1]["value"] == 0.5
