"""mtqa's benchmarks, one module each, run from the repository root as ``python -m bench.<module>``
(``make bench`` runs them all through ``bench.scorecard``). Kept results live in ``bench/results/``;
scratch work and the raw output of single runs in ``bench/work/`` (not committed).

Importing this package stays light: benchmarks measure their children's memory, so the harness imports
neither torch nor CTranslate2.
"""

from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "bench" / "results"
WORK = ROOT / "bench" / "work"
