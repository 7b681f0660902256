"""``drama2 bench``: datasets × pipelines × seeds, resumable run directories, reports.

Use :func:`run_bench` with a :class:`BenchConfig` from Python, or the
``drama2 bench`` and ``drama2 report`` commands.
"""

from drama2.bench.config import BenchConfig
from drama2.bench.runner import BenchResult, run_bench

__all__ = ["BenchConfig", "BenchResult", "run_bench"]
