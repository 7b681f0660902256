"""Fit + score at 1,000,000 × 100 on a GPU against the CPU: drama2's ``eif`` and ``ae``.

The targets (issues 5 and 6) compare a GPU run with *this development machine's* CPU (2 cores), so the
script runs twice, once on each machine, and each run adds its numbers to ``results/gpu_speed.json``:

    python benchmarks/gpu_speed.py --device cpu     # on the development machine (also times isotree)
    python benchmarks/gpu_speed.py --device cuda    # on the GPU machine
    python benchmarks/gpu_speed.py --report         # rewrite results/gpu_speed.md from the JSON

A run on the GPU machine's own CPU (``--device cpu --label gpu-host-cpu``) adds context: how much of the
speed-up is the GPU rather than a bigger CPU.

What is timed (wall clock, CUDA synchronised, median of the repeats, each repeat a new seed):

- **eif**: ``EIF(n_estimators=100, max_samples=256, extension_level=1).fit(X)`` on 1,000,000 × 100
  standard-normal rows; ``fit`` grows the forest and scores every training row (``decision_scores_``), so it
  is fit + score. On the CPU run, isotree ``IsolationForest(ndim=2)`` ``fit(X)`` + ``predict(X)`` with the
  options of ``eif_speed.py`` and as many threads as torch has.
- **ae**: ``AERecon(model="ae")``, the default network for 100 features (100 → 64 → 16 → 64 → 100, ELU),
  ``fit(X)`` + ``decision_function(X)`` on 1,000,000 × 100 rows (95 % on a curved 5-D manifold, 5 % pushed
  off it, as in ``ae_vs_pyod.py``), exactly ``EPOCHS`` epochs (10 % held out for validation, early stopping
  disabled so every device does the same work), at the default batch size ("auto", 256 rows here) and at
  4,096 rows. The AUC of each run's scores is reported beside its time.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import sys
import time
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
RESULTS = HERE / "results"
N, D = 1_000_000, 100
EPOCHS = 5
BATCHES = ("auto", 4096)
ANOMALY_SHARE = 0.05


def standard_normal(n: int, d: int, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    return rng.standard_normal((n, d))


def manifold(n: int, d: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Inliers on tanh of a random 5-D linear map plus noise; anomalies near it with three times the noise."""
    rng = np.random.default_rng(seed)
    n_out = int(n * ANOMALY_SHARE)
    basis = rng.normal(size=(5, d)) / np.sqrt(5)
    X = np.tanh(rng.normal(size=(n, 5)) @ basis)
    noise = rng.normal(size=(n, d))
    noise[: n - n_out] *= 0.05
    noise[n - n_out:] *= 0.15
    X += noise
    y = np.r_[np.zeros(n - n_out, int), np.ones(n_out, int)]
    order = rng.permutation(n)
    return X[order], y[order]


def _synchronise(device: str):
    import torch

    return torch.cuda.synchronize if device.startswith("cuda") else (lambda: None)


def time_eif(X: np.ndarray, device: str, repeats: int) -> dict:
    from drama2.scorers.eif import EIF

    sync = _synchronise(device)
    EIF(n_estimators=100, max_samples=256, extension_level=1, random_state=0, device=device).fit(X[:5000])
    seconds = []
    for r in range(repeats):
        start = time.perf_counter()
        EIF(n_estimators=100, max_samples=256, extension_level=1, random_state=r, device=device).fit(X)
        sync()
        seconds.append(time.perf_counter() - start)
        print(f"eif {device} repeat {r}: {seconds[-1]:.2f} s", flush=True)
    return {"median_s": statistics.median(seconds), "all_s": seconds}


def time_isotree(X: np.ndarray, threads: int, repeats: int) -> dict:
    import isotree

    sys.path.insert(0, str(HERE))
    from eif_speed import ISOTREE_OPTIONS

    options = dict(ISOTREE_OPTIONS, nthreads=threads)
    seconds = []
    for r in range(repeats):
        start = time.perf_counter()
        isotree.IsolationForest(ndim=2, random_seed=r, **options).fit(X).predict(X)
        seconds.append(time.perf_counter() - start)
        print(f"isotree repeat {r}: {seconds[-1]:.2f} s", flush=True)
    return {"median_s": statistics.median(seconds), "all_s": seconds, "nthreads": threads,
            "version": _version("isotree")}


def time_ae(X: np.ndarray, y: np.ndarray, device: str, batch, repeats: int) -> dict:
    from drama2.evaluation import auc
    from drama2.scorers.recon import AERecon

    sync = _synchronise(device)
    params = dict(max_epochs=EPOCHS, patience=EPOCHS + 1, batch_size=batch)
    AERecon(model="ae", device=device, random_state=0, model_params=dict(params, max_epochs=1)).fit(X[:5000])
    seconds, fit_seconds, aucs = [], [], []
    for r in range(repeats):
        start = time.perf_counter()
        model = AERecon(model="ae", device=device, random_state=r, model_params=params).fit(X)
        sync()
        fitted = time.perf_counter()
        scores = model.decision_function(X)
        sync()
        seconds.append(time.perf_counter() - start)
        fit_seconds.append(fitted - start)
        aucs.append(auc(y, scores))
        print(f"ae {device} batch {batch} repeat {r}: {seconds[-1]:.2f} s (fit {fit_seconds[-1]:.2f} s), "
              f"AUC {aucs[-1]:.4f}, {model.model_.n_epochs_} epochs", flush=True)
    return {"batch_size": batch, "median_s": statistics.median(seconds), "all_s": seconds,
            "fit_median_s": statistics.median(fit_seconds), "auc": aucs, "epochs": EPOCHS}


def _version(name: str) -> str:
    from importlib import metadata

    try:
        return metadata.version(name)
    except metadata.PackageNotFoundError:
        return "not installed"


def machine(device: str) -> dict:
    import torch
    from _machine import cpu_model

    info = {"platform": platform.platform(), "cpu": cpu_model(), "cpus_usable": len(os.sched_getaffinity(0)),
            "python": platform.python_version(), "torch": torch.__version__, "torch_threads": torch.get_num_threads(),
            "numpy": np.__version__, "device": device}
    if device.startswith("cuda"):
        props = torch.cuda.get_device_properties(torch.device(device))
        info.update(gpu=props.name, gpu_memory_gib=round(props.total_memory / 2**30, 1),
                    cuda=torch.version.cuda, driver=_driver())
    return info


def _commit() -> str:
    """The checkout's commit (with "+changes" when files differ from it), or "unknown"."""
    import subprocess

    try:
        commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True, cwd=HERE,
                                timeout=30).stdout.strip()
        dirty = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no"], capture_output=True,
                               text=True, cwd=HERE, timeout=30).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return "unknown"
    return (commit + ("+changes" if dirty else "")) if commit else "unknown"


def _driver() -> str:
    import subprocess

    try:
        out = subprocess.run(["nvidia-smi", "--query-gpu=driver_version", "--format=csv,noheader"],
                             capture_output=True, text=True, timeout=30)
        return out.stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return "unknown"


def measure(device: str, repeats: int, with_isotree: bool, rows: int = N) -> dict:
    run = {"machine": machine(device), "rows": rows, "finished": None}
    X = standard_normal(rows, D)
    run["eif"] = time_eif(X, device, repeats)
    if with_isotree:
        run["isotree"] = time_isotree(X, run["machine"]["torch_threads"], repeats)
    del X
    X, y = manifold(rows, D)
    run["ae"] = [time_ae(X, y, device, batch, repeats) for batch in BATCHES]
    run["finished"] = time.strftime("%Y-%m-%dT%H:%M:%S%z")
    return run


def load(path: Path) -> dict:
    return json.loads(path.read_text()) if path.exists() else {}


def write_md(results: dict, path: Path) -> str:
    lines = ["# Fit + score at 1,000,000 × 100: GPU and CPU", "",
             "Each run below is one invocation of `benchmarks/gpu_speed.py` (its docstring says exactly what is "
             "timed); times are medians over the run's repeats.", "",
             "## Runs", ""]
    for label, run in results.items():
        m = run["machine"]
        what = f"{m['gpu']} ({m['gpu_memory_gib']} GiB, CUDA {m['cuda']}, driver {m['driver']})" if "gpu" in m \
            else f"{m['cpu']}, {m['cpus_usable']} cores usable, torch on {m['torch_threads']} threads"
        lines.append(f"- **{label}**: {what}; torch {m['torch']}, Python {m['python']}; finished {run['finished']} "
                     f"at commit {run.get('commit', 'unknown')}; `{run.get('command', '')}`.")
    lines += ["", "## eif: 100 trees, ψ = 256, extension level 1", "",
              "| run | eif fit + score (s) | repeats (s) |", "|---|---:|---|"]
    for label, run in results.items():
        lines.append(f"| {label} | {run['eif']['median_s']:.2f} | "
                     + ", ".join(f"{s:.2f}" for s in run["eif"]["all_s"]) + " |")
    iso = next((run["isotree"] | {"label": label} for label, run in results.items() if "isotree" in run), None)
    if iso:
        lines.append(f"| isotree `ndim=2`, {iso['nthreads']} threads, on {iso['label']} | {iso['median_s']:.2f} | "
                     + ", ".join(f"{s:.2f}" for s in iso["all_s"]) + " |")
        lines += [""] + [f"- eif on **{label}** vs isotree on {iso['label']}: "
                         f"**{iso['median_s'] / run['eif']['median_s']:.1f}×** faster"
                         for label, run in results.items()]
    lines += ["", "`$DRAMA2_CUDA_GRAPHS` changes only how neural models train, so eif's rows for a GPU run with "
              "and without it time the same code twice."]
    lines += ["", f"## ae (ae-recon): 100 → 64 → 16 → 64 → 100, {EPOCHS} epochs", "",
              "| run | batch | fit + score (s) | of which fit (s) | AUC (each repeat) |", "|---|---:|---:|---:|---|"]
    for label, run in results.items():
        for row in run["ae"]:
            lines.append(f"| {label} | {row['batch_size']} | {row['median_s']:.2f} | {row['fit_median_s']:.2f} | "
                         + ", ".join(f"{a:.4f}" for a in row["auc"]) + " |")
    lines += ["", "On CUDA each full training batch is replayed from one captured CUDA graph (forward, backward "
              "and Adam in one launch); with `DRAMA2_CUDA_GRAPHS=0` every step is issued op by op from Python, "
              "which is what bounds a network this small on a GPU."]
    base = results.get("dev-cpu")
    if base:
        lines += ["", "Speed-up of each run over the development machine's CPU at the same batch size:", ""]
        for label, run in results.items():
            if label == "dev-cpu":
                continue
            for row, ref in zip(run["ae"], base["ae"]):
                lines.append(f"- {label}, batch {row['batch_size']}: "
                             f"**{ref['median_s'] / row['median_s']:.1f}×**")
    text = "\n".join(lines) + "\n"
    path.write_text(text)
    return text


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--device", default="cpu", help="torch device to measure on (cpu, cuda)")
    parser.add_argument("--label", help="name of this run in the results (default: dev-cpu or gpu)")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--threads", type=int, help="torch threads on the CPU (default: torch's own choice)")
    parser.add_argument("--no-isotree", action="store_true", help="skip isotree on a CPU run")
    parser.add_argument("--rows", type=int, default=N, help="rows of data (a smaller number for a quick check)")
    parser.add_argument("--results", type=Path, default=RESULTS / "gpu_speed.json")
    parser.add_argument("--report", action="store_true", help="only rewrite the Markdown report from the JSON")
    args = parser.parse_args(argv)
    if not args.report:
        import torch

        if args.threads:
            torch.set_num_threads(args.threads)
        label = args.label or ("gpu" if args.device.startswith("cuda") else "dev-cpu")
        run = measure(args.device, args.repeats, with_isotree=not args.device.startswith("cuda")
                      and not args.no_isotree, rows=args.rows)
        env = " ".join(f"{k}={os.environ[k]}" for k in ("OMP_NUM_THREADS", "DRAMA2_CUDA_GRAPHS") if k in os.environ)
        run["command"] = " ".join(filter(None, [env, "python benchmarks/gpu_speed.py", *sys.argv[1:]]))
        run["commit"] = _commit()
        results = load(args.results)  # read again now: another run may have written meanwhile
        results[label] = run
        args.results.write_text(json.dumps(results, indent=2))
    print(write_md(load(args.results), args.results.with_suffix(".md")))


if __name__ == "__main__":
    main()
