"""drama2's metric kernels vs scipy.spatial.distance.cdist: time and peak memory, side by side.

1,000,000 samples × 100 features against 4 prototypes (float64). Each (implementation, metric) runs in its
own subprocess so its peak resident memory can be measured alone: the peak is read from VmHWM after
resetting it (``/proc/self/clear_refs``) once the data exist, so it counts only what the distance
computation adds on top of the 800 MB input. Times are the best of 3 runs.

cdist equivalents: l1 cityblock, l2 euclidean, l4 minkowski p=4, chebyshev, braycurtis, canberra,
correlation directly; wl2 = seuclidean with the leaf's floored variances, wl4 = minkowski p=4 with weights
1/σ⁴, mahalanobis = mahalanobis with the leaf's pseudo-inverse covariance, squared. The per-leaf weighted
metrics need one cdist call per prototype, as a user of scipy would have to make.

Usage: ``python benchmarks/metrics_vs_cdist.py [n_rows]``; writes ``results/metrics_vs_cdist.{json,md}``.
"""

from __future__ import annotations

import json
import os
import platform
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
METRICS = ("l1", "l2", "l4", "wl2", "wl4", "braycurtis", "chebyshev", "canberra", "correlation", "mahalanobis")
D, K = 100, 4


def _rss_mb(field: str) -> float:
    with open("/proc/self/status") as fh:
        for line in fh:
            if line.startswith(field + ":"):
                return int(line.split()[1]) / 1024
    raise RuntimeError(field)


def _make(n):
    import numpy as np

    from drama2.metrics import LeafStats

    rng = np.random.default_rng(0)
    X = rng.random((n, D))
    groups = [rng.random((500, D)) * (j + 1) for j in range(K)]
    stats = LeafStats.from_groups(groups)
    return X, stats.means.copy(), stats


def _cdist_callable(metric, X, P, stats):
    import numpy as np
    from scipy.spatial.distance import cdist

    simple = {"l1": ("cityblock", {}), "l2": ("euclidean", {}), "l4": ("minkowski", {"p": 4}),
              "chebyshev": ("chebyshev", {}), "braycurtis": ("braycurtis", {}), "canberra": ("canberra", {}),
              "correlation": ("correlation", {})}
    if metric in simple:
        name, kw = simple[metric]
        return lambda: cdist(X, P, name, **kw)
    variances = np.maximum(stats.variances, 1e-4)
    if metric == "wl2":
        return lambda: np.column_stack([cdist(X, P[j:j + 1], "seuclidean", V=variances[j])[:, 0] for j in range(K)])
    if metric == "wl4":
        return lambda: np.column_stack([cdist(X, P[j:j + 1], "minkowski", p=4, w=variances[j] ** -2)[:, 0]
                                        for j in range(K)])
    precisions = stats.precisions()
    return lambda: np.column_stack([cdist(X, stats.means[j:j + 1], "mahalanobis", VI=precisions[j])[:, 0] ** 2
                                    for j in range(K)])


def worker(impl: str, metric: str, n: int, repeats: int) -> dict:
    import numpy as np
    import torch

    from drama2.metrics import pairwise_distances

    X, P, stats = _make(n)
    if impl == "drama2":
        stats.precisions()  # statistics of a fitted model exist before scoring
        fn = lambda: pairwise_distances(X, P, metric, stats)  # noqa: E731
        threads = torch.get_num_threads()
    else:
        fn = _cdist_callable(metric, X, P, stats)
        threads = 1
    baseline = _rss_mb("VmRSS")
    with open("/proc/self/clear_refs", "w") as fh:
        fh.write("5")  # reset the peak-RSS counter
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        out = fn()
        times.append(time.perf_counter() - start)
        del out
    peak = _rss_mb("VmHWM")
    check = fn()[:1000]
    return {"impl": impl, "metric": metric, "seconds": min(times), "peak_extra_mb": peak - baseline,
            "threads": threads, "checksum": float(np.asarray(check).sum())}


def main():
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 1_000_000
    repeats = 3
    results = []
    for metric in METRICS:
        pair = {}
        for impl in ("scipy", "drama2"):
            code = (f"import json, sys; sys.path.insert(0, {str(HERE)!r}); import metrics_vs_cdist as m; "
                    f"print(json.dumps(m.worker({impl!r}, {metric!r}, {n}, {repeats})))")
            proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
            pair[impl] = json.loads(proc.stdout.strip().splitlines()[-1])
        same = abs(pair["scipy"]["checksum"] - pair["drama2"]["checksum"]) <= 1e-6 * abs(pair["scipy"]["checksum"])
        row = {"metric": metric, "scipy_s": pair["scipy"]["seconds"], "drama2_s": pair["drama2"]["seconds"],
               "ratio": pair["drama2"]["seconds"] / pair["scipy"]["seconds"],
               "scipy_peak_extra_mb": pair["scipy"]["peak_extra_mb"],
               "drama2_peak_extra_mb": pair["drama2"]["peak_extra_mb"], "same_values": bool(same),
               "drama2_threads": pair["drama2"]["threads"]}
        results.append(row)
        print(json.dumps(row), flush=True)

    import torch

    machine = f"{platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}, torch {torch.__version__}"
    (HERE / "results" / "metrics_vs_cdist.json").write_text(json.dumps({"n": n, "d": D, "k": K, "machine": machine,
                                                                       "results": results}, indent=2))
    lines = [
        "# Metric kernels vs scipy cdist",
        "",
        f"{n:,} × {D} float64 samples against {K} prototypes; best of {repeats}; {machine}.",
        "drama2 computes on the CPU with torch's default thread count (here "
        f"{results[0]['drama2_threads']}); scipy's cdist is single-threaded.",
        "Peak extra memory = peak resident memory during the computation minus the resident memory before it",
        f"(the input alone is {n * D * 8 / 1e6:.0f} MB; the (n, K) output is {n * K * 8 / 1e6:.0f} MB).",
        "Command: `python benchmarks/metrics_vs_cdist.py`.",
        "",
        "| metric | scipy cdist (s) | drama2 (s) | drama2 / cdist time | cdist peak extra (MB) | drama2 peak extra (MB) | same values |",
        "|---|---|---|---|---|---|---|",
    ]
    for r in results:
        lines.append(f"| {r['metric']} | {r['scipy_s']:.3f} | {r['drama2_s']:.3f} | {r['ratio']:.2f} | "
                     f"{r['scipy_peak_extra_mb']:.0f} | {r['drama2_peak_extra_mb']:.0f} | {'yes' if r['same_values'] else 'NO'} |")
    lines.append("")
    (HERE / "results" / "metrics_vs_cdist.md").write_text("\n".join(lines))
    print("\n".join(lines))


if __name__ == "__main__":
    main()
