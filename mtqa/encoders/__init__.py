"""Sentence encoders shared by the stages: loading any model (and the offline aliases), encoding with prefixes.

The similarity filter of `mtqa translate` and the evaluation of `mtqa train-eval` both
encode text, so the loader sits below both stages. Only the choices live here; the
loader and the offline-me5 conversion import torch and NumPy when used.
"""

POOLINGS = ("auto", "cls", "mean")  # auto: what the model folder's modules.json says, else mean
ENCODER_HALF_TYPES = ("mbart", "m2m_100", "marian", "bart")  # seq2seq families whose encoder mtqa.encoders.seq2seq loads
# What runs an encoder: PyTorch, or a CTranslate2 copy of it (mtqa.encoders.ct2_encoder). Each user sets its own
# default: the similarity filter CTranslate2 (int8 speed for a threshold), evaluation PyTorch (the model as trained).
ENCODER_ENGINES = ("torch", "ctranslate2")
