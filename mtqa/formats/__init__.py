"""On-disk formats: each module owns one format's schema, reader and writer, and its version where it has one.

Stages read and write their data only through these modules, so a format is
defined in exactly one place: ``qa_input`` (the English QA inputs), ``parallel_corpus``
(`mtqa translate` output), ``shards`` (`mtqa build-batches` output), ``lareqa``
(XQuAD-R / MLQA-R) and ``beir`` (BEIR-format retrieval sets).
"""
