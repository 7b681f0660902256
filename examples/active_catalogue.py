"""Find the anomalies of a catalogue with an expert in the loop: fit an ensemble, ask, learn, repeat.

Adapt the lines marked ADAPT. As written it runs on the ODDS ``cardio`` table with a *simulated* expert
(the table's labels answer the queries), so you can see what active re-weighting buys over the frozen
ranking::

    DRAMA2_DATA=../shared/data python examples/active_catalogue.py
    python examples/active_catalogue.py sources.csv --id-column objid --label is_anomaly   # your table
    python examples/active_catalogue.py sources.csv --id-column objid --ask                # you answer

Every answer goes to the label log (``--store``, one JSON line per answer) the moment it is given; run the
script again with the same arguments and it resumes exactly where it stopped.
"""

from __future__ import annotations

import argparse
import warnings

import numpy as np

import drama2
from drama2.active import ActiveSession, Oracle, TerminalOracle
from drama2.detect import make_detector
from drama2.ensemble import Ensemble


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("table", nargs="?", help="CSV / Parquet / FITS / npz file (default: the ODDS cardio set)")
    parser.add_argument("--id-column", help="column with object ids (default: row numbers)")
    parser.add_argument("--label", help="column of known 0/1 labels, for a simulated expert")
    parser.add_argument("--ask", action="store_true", help="answer the queries yourself at the terminal")
    parser.add_argument("--budget", type=int, default=50, help="answers to reach in total (default 50)")
    parser.add_argument("--updater", default="auto", choices=["auto", "aad", "select", "none"],
                        help="auto: select for the ensemble, aad for the isolation forest (default)")
    parser.add_argument("--detector", default="ensemble", choices=["ensemble", "iforest"],
                        help="ensemble: drama2's default ensemble; iforest: an isolation forest, whose leaves "
                             "aad re-weights (finds the most anomalies in our benchmark; select needs the ensemble)")
    parser.add_argument("--store", default="active-labels.jsonl", help="label log (resumed when it exists)")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()

    # ADAPT: how the table is read; from_table drops no rows unless missing="drop".
    if args.table:
        data = drama2.datasets.from_table(args.table, label=args.label, id_column=args.id_column, missing="drop")
    else:
        data = drama2.load_dataset("cardio")
    ids = data.metadata.get("ids")
    ids = None if ids is None else [i.item() if hasattr(i, "item") else i for i in ids]

    # ADAPT: the detector, fitted once on the whole table (transductive); ensemble members: drama2 list scorers.
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        if args.detector == "iforest":
            ensemble = make_detector("iforest", random_state=args.seed).fit(data.X)
        else:
            ensemble = Ensemble(members="default", random_state=args.seed).fit(data.X)
    described = (f"ensemble of {len(ensemble.member_labels_)} members" if args.detector == "ensemble" else
                 "isolation forest")
    print(f"{data.name}: {data.X.shape[0]} rows × {data.X.shape[1]} features, {described}")

    if args.ask:
        oracle = TerminalOracle()
    elif data.y is not None:
        oracle = Oracle.from_labels(data.y)  # a simulated expert who knows the labels
    else:
        parser.error("the table has no --label column: answer yourself with --ask")

    session = ActiveSession(ensemble, data.X, ids=ids, updater=args.updater, strategy="greedy",
                            store=args.store, random_state=args.seed)
    if session.n_answered:
        print(f"resumed from {args.store}: {session.n_answered} answers so far")
    record = session.run(oracle, budget=args.budget)
    session.close()

    print(f"{record.n_found} anomalies in {record.n_queries} answers "
          f"(label log: {args.store}; the first 10 found: {[i for i, lab in zip(record.ids, record.labels) if lab == 'anomaly'][:10]})")
    if data.y is not None and record.n_queries:
        static = drama2.evaluation.ranking_discovery_curve(data.y, ensemble.decision_scores_, record.n_queries)
        print(f"the frozen initial ranking finds {static[-1]:.0f} in as many queries")
    if session.weights is not None and args.detector == "ensemble":
        order = np.argsort(-session.weights)
        print(f"the {min(5, len(order))} largest of {len(order)} member weights now: "
              + ", ".join(f"{ensemble.member_labels_[j]} {session.weights[j]:.2f}" for j in order[:5]))
        share = getattr(session.updater, "proximity_weight", 0.0)
        if share > 0:  # select's extra member: closeness to the anomalies labelled so far
            print(f"closeness to the labelled anomalies carries {share:.2f} of the score; "
                  f"the member weights (all {len(order)}, not only those above) share the other {1 - share:.2f}")
        # To score new data with what AAD learnt (a weighted mean of the members):
        # ensemble.reweight(session.weights, combination="mean").score_samples(X_new);
        # after updater='select': ensemble.select(data.X, anomalies, nominals) with the labelled row indices.
    # A peek, not ask(): asked rows are logged as pending, and a resumed run would ask about them first.
    upcoming = session.ranking()[:5]
    print("next rows to look at:", [(session.ids[i], round(float(session.scores[i]), 3)) for i in upcoming])


if __name__ == "__main__":
    main()
