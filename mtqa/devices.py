"""The ``--device`` choices every command shares; the first is the default.

``auto`` is CUDA where the runtime that does the work (PyTorch for training, CTranslate2 for
translation) sees a GPU, else the CPU; each stage resolves it with its own runtime.
"""

DEVICES = ("auto", "cpu", "cuda")
