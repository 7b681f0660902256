"""Look for anomalies yourself: the session shows a row, you answer a(nomaly), n(ominal), s(kip) or q(uit).

Each row is shown with the features that set it apart most (robust z-scores against the whole table).
Answers are logged to ``--store`` at once; run the script again to continue where you stopped::

    DRAMA2_DATA=../shared/data python examples/active_terminal.py            # the ODDS wine table
    python examples/active_terminal.py --dataset cardio --store cardio-labels.jsonl
"""

from __future__ import annotations

import argparse
import warnings

import numpy as np

import drama2
from drama2.active import ActiveSession, TerminalOracle
from drama2.ensemble import Ensemble


def describer(X: np.ndarray, names: list[str]):
    """A function showing a query's three most unusual features (robust z-score against all rows)."""
    median = np.median(X, axis=0)
    spread = 1.4826 * np.median(np.abs(X - median), axis=0)
    spread = np.where(spread > 0, spread, X.std(axis=0) + 1e-12)

    def describe(query) -> str:
        z = (X[query.index] - median) / spread
        top = np.argsort(-np.abs(z))[:3]
        return "  most unusual: " + ", ".join(f"{names[j]} = {X[query.index, j]:.4g} ({z[j]:+.1f} σ)" for j in top)

    return describe


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dataset", default="wine", help="registered dataset (drama2 list datasets)")
    parser.add_argument("--budget", type=int, default=20, help="answers to reach in total")
    parser.add_argument("--store", default="terminal-labels.jsonl", help="label log (resumed when it exists)")
    args = parser.parse_args()

    data = drama2.load_dataset(args.dataset)
    names = data.metadata.get("feature_names") or [f"x{j}" for j in range(data.X.shape[1])]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        ensemble = Ensemble(random_state=0).fit(data.X)
    session = ActiveSession(ensemble, data.X, store=args.store, random_state=0)
    print(f"{data.name}: {data.X.shape[0]} rows; {session.n_answered} answered so far (log: {args.store})")
    oracle = TerminalOracle(describe=describer(data.X, list(names)))
    record = session.run(oracle, budget=args.budget)
    session.close()
    found = f"{record.n_found} {'anomaly' if record.n_found == 1 else 'anomalies'}"
    print(f"\n{found} among {record.n_queries} answers; labels so far: {session.labels}")


if __name__ == "__main__":
    main()
