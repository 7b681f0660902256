"""Wall time and the runner's own overhead of `drama2 bench` on the full linear grid over the 25 ODDS sets.

Runs ``benchmarks/drama-table6.yaml`` restricted to the linear reducers (none, pca, ica, nmf x every metric,
LOF k=5/10/35, iForest) from scratch with ``--jobs 1`` and ``--jobs 2``, each into a fresh temporary run directory, and reads the wall time and
the runner's overhead (grid expansion, persistence, report) back from each run's manifest.json.

    DRAMA2_DATA=../shared/data python benchmarks/runner_overhead.py

Writes benchmarks/results/runner_overhead.{json,md}.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

HERE = Path(__file__).resolve().parent
CONFIG = HERE / "drama-table6.yaml"
RESULTS = HERE / "results"


def run(jobs: int, out: Path) -> dict:
    subprocess.run([sys.executable, "-m", "drama2", "bench", str(CONFIG), "--reducers", "none,pca,ica,nmf",
                    "--jobs", str(jobs), "--out", str(out), "--no-resume", "--no-progress"],
                   check=True, stdout=subprocess.DEVNULL)
    manifest = json.loads((out / "manifest.json").read_text())
    overhead = manifest["runner_overhead_seconds"]
    wall = manifest["wall_seconds"]
    return {"jobs": jobs, "fits": manifest["n_jobs"], "wall_seconds": round(wall, 2),
            "overhead_seconds": {k: round(v, 3) for k, v in overhead.items()},
            "overhead_share": round(sum(overhead.values()) / wall, 4)}


def main() -> None:
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for jobs in (1, 2):
            rows.append(run(jobs, Path(tmp) / f"jobs{jobs}"))
            print(rows[-1], flush=True)
    machine = {"cpu_count": os.cpu_count()}
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "runner_overhead.json").write_text(json.dumps({"machine": machine, "runs": rows}, indent=2) + "\n")
    lines = ["| --jobs | fits | wall s | grid s | persist s | report s | overhead share |",
             "|---:|---:|---:|---:|---:|---:|---:|"]
    for r in rows:
        o = r["overhead_seconds"]
        lines.append(f"| {r['jobs']} | {r['fits']} | {r['wall_seconds']:.1f} | {o['grid']:.3f} | {o['persist']:.2f} "
                     f"| {o['report']:.2f} | {100 * r['overhead_share']:.1f} % |")
    (RESULTS / "runner_overhead.md").write_text("\n".join(lines) + "\n")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
