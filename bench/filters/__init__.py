"""Filter benchmarks: labelled corruptions of human translations, Apertium output, each signal against true quality."""
