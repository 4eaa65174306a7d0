"""The Markdown report of ``bench.translate.run``'s results."""

from __future__ import annotations

from typing import Any

from mtqa.card import markdown_table


def verdict_lines(results: dict[str, Any]) -> list[str]:
    """One bullet per ratio, with its target and whether it was met."""
    ratios, passed, targets, dedup = results["ratios"], results["passed"], results["targets"], results["dedup"]

    def verdict(key: str, op: str) -> str:
        return f"{ratios[key]:.2f} (target {op} {targets[key]}: {'met' if passed[key] else 'NOT met'})"

    return [
        f"* (a)/(b) tokens/s: {verdict('mtqa_vs_ctranslate2_tokens_per_s', '>=')}; translate step alone {ratios['translate_only']['mtqa_vs_ctranslate2_tokens_per_s']:.2f}",
        f"* (a)/(c) tokens/s: {verdict('mtqa_vs_transformers_tokens_per_s', '>=')}; translate step alone {ratios['translate_only']['mtqa_vs_transformers_tokens_per_s']:.2f}",
        f"* (b)/(c) peak RSS: {verdict('ctranslate2_vs_transformers_rss', '<=')}; (a)/(c) peak RSS {ratios['mtqa_vs_transformers_rss']:.2f}",
        f"* (a)'s filter stage / its translation step: {verdict('filter_vs_translate_s', '<=')}",
        *(
            [
                f"* the same with --similarity: (a)'s filter stage plus (d), the similarity filter on the same segments paired with German "
                f"XQuAD-R text ({ratios['similarity_run']['texts_encoded']} texts encoded, {ratios['similarity_run']['engine']}, "
                f"{ratios['similarity_run']['similarity_s']} s), against (a)'s translation step ({ratios['similarity_run']['translate_s']} s): "
                f"{ratios['filter_with_similarity_vs_translate_s']:.3f} (target <= {targets['filter_vs_translate_s']})"
            ]
            if "similarity_run" in ratios
            else []
        ),
        f"* wall time outside the translation step, per run: (a) {ratios['outside_step_s']['mtqa']} s, (b) {ratios['outside_step_s']['ctranslate2']} s",
        f"* dedup factor on a SQuAD-shaped input (all of XQuAD-R English, {dedup['examples']} questions, {dedup['passages']} passages, "
        f"-> {dedup['langs']}): {dedup['segments']['dedup_factor']} ({dedup['segments']['requested']} segments requested, {dedup['segments']['unique']} unique)",
    ]


def report(results: dict[str, Any]) -> str:
    """The results as Markdown: machine, model, input, the methods' table and the verdicts."""
    machine, methods = results["machine"], results["methods"]
    shape = results["model"]["shape"]
    settings = results["settings"]
    rows = [
        [
            m["label"],
            m["segments"],
            m["output_tokens"],
            f"{m['seconds']:.1f}",
            f"{m['tokens_per_s']:.1f}",
            f"{m['translate_s']:.1f}",
            f"{m['translate_tokens_per_s']:.1f}",
            f"{m['peak_rss_mib']:.0f}",
        ]
        for m in methods.values()
    ]

    lines = [
        f"## mtqa translate benchmark ({results['mode']} mode)",
        "",
        f"Machine: {machine['platform']}, {machine['cpu']}, {machine['cores']} cores ({machine['threads_used']} threads used); "
        + ", ".join(f"{k} {v}" for k, v in machine["versions"].items()),
        f"Model: random NLLB/M2M100, d_model {shape['d_model']}, {shape['layers']}+{shape['layers']} layers, {shape['heads']} heads, "
        f"FFN {shape['ffn_dim']}, vocab {shape['vocab_size']:,}; CTranslate2 int8 ({results['model']['model_bin_mib']} MiB) vs transformers float32.",
        f"Input: {results['input']['unique_segments']} unique segments from {results['input']['examples']} XQuAD-R examples -> {settings['target']}; "
        f"{settings['decoding_length']} decoder steps per segment (min = max), beam {settings['beam_size']}.",
        "",
        markdown_table(
            ["method", "segments", "output tokens", "seconds", "tokens/s", "translate s", "translate tok/s", "peak RSS MiB"], rows
        ),
        "",
        f"seconds, tokens/s: whole process, end to end; translate: the translation step alone. "
        f"(a), (b): {settings['repeats_a_b']} runs in turn, the median of the paired ratios judged; (c): one run.",
        "(a)'s stages, from its manifest: "
        + ", ".join(f"{name} {seconds:.1f} s" for name, seconds in results["input"]["mtqa_timings_s"].items())
        + ".",
        f"Same work: segments {results['checks']['same_segments']}, output tokens {results['checks']['same_output_tokens']}, "
        f"source tokens {results['checks']['same_source_tokens']}.",
        "",
        *verdict_lines(results),
    ]
    if results["mode"] == "quick":
        lines += ["", "Quick mode uses a smaller model than NLLB-200-distilled-600M: the targets are meant for the full run."]
    lines += ["", f"Total time {results['total_s']:.0f} s."]
    return "\n".join(lines)
