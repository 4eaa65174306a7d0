"""Translation benchmarks: `mtqa translate` against bare CTranslate2 and transformers, its memory, Apertium alone per segment."""
