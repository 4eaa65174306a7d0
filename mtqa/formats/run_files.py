"""The names of the files a run leaves in its output folder, owned here so every reader and writer agrees.

The schemas are their writers': the shard manifest :mod:`.shards`, the corpus :mod:`.parallel_corpus`,
the train-eval report :mod:`mtqa.evaluate.report`, the translation cache :mod:`mtqa.translate.cache`.
"""

from pathlib import Path

MANIFEST = "manifest.json"  # translate and build-batches outputs: written last, so its presence means complete
REPORT = "report.json"  # a train-eval run: written last, so its presence means complete
TRAIN_LOG = "train_log.jsonl"  # a train-eval run: one line per step; its presence means training started
TRAINED = "training.json"  # beside model/: training (and any merge) finished; a resumed run only evaluates
TRANSLATION_CACHE = "translations.sqlite"  # in $MTQA_CACHE: translations and similarity vectors
MERGE_RECORD = "mtqa-merge.json"  # beside a merged model (mtqa merge, --merge-base): λ and the two models; written last
CHECKPOINTS = "checkpoints"  # a train-eval run: a folder per checkpoint, renamed into place when whole
CHECKPOINT_PREFIX = "step-"  # checkpoints/step-000040/


def complete_checkpoints(directory: Path) -> list[Path]:
    """Renamed-into-place checkpoint directories, newest first (temp dirs are never listed)."""
    if not directory.is_dir():
        return []
    found = [path for path in directory.glob(f"{CHECKPOINT_PREFIX}*") if path.name[len(CHECKPOINT_PREFIX) :].isdigit()]
    return sorted(found, key=lambda path: int(path.name[len(CHECKPOINT_PREFIX) :]), reverse=True)
