"""Active anomaly discovery: ask an expert about the most promising rows, learn from the answers.

A :class:`ActiveSession` ranks the rows of a table with a fitted detector
(usually a :class:`drama2.ensemble.Ensemble`), hands out queries
(:meth:`~ActiveSession.ask`), takes answers (:meth:`~ActiveSession.tell`) and
re-ranks with an *updater*:

- ``"aad"`` — Active Anomaly Discovery (Das et al. 2016): the ensemble's member
  weights, or an isolation forest's leaf weights, are re-fitted so labelled
  anomalies rise into the top 3 % and labelled nominal rows sink below it
  (:mod:`drama2.active.aad`, :mod:`drama2.active.forest_aad`);
- ``"select"`` — label-efficient member selection (:mod:`drama2.selection`);
- ``"none"`` — the frozen initial ranking;
- ``"auto"`` (the default) — ``"select"`` for an Ensemble, ``"aad"`` for an
  isolation forest, ``"none"`` for other detectors: the choice that found the
  most anomalies in ``benchmarks/results/active_discovery.md``.

*Strategies* choose the queries: ``"greedy"`` (the best unanswered row),
``"topk"`` (the n best) and ``"diverse"`` (a batch spread over DRAMA clusters or
k-means clusters). Oracles answer them: :meth:`Oracle.from_labels` simulates an
expert from known labels, :class:`TerminalOracle` asks a person. With
``store=`` every answer goes to an append-only JSON-lines log, and a session
created again with the same settings resumes exactly. :func:`simulate` runs the
whole loop over benchmark datasets (``drama2 active simulate``).
"""

from drama2.active.aad import aad_weights
from drama2.active.labels import ANOMALY, LABELS, NOMINAL, SKIP, parse_label
from drama2.active.oracles import LabelOracle, Oracle, TerminalOracle
from drama2.active.records import DiscoveryRecord, Query
from drama2.active.session import ActiveSession
from drama2.active.simulate import simulate
from drama2.active.store import LabelLog
from drama2.active.strategies import (
    STRATEGIES,
    DiverseStrategy,
    GreedyStrategy,
    Strategy,
    TopKStrategy,
)
from drama2.active.updaters import UPDATERS, AADUpdater, FrozenUpdater, SelectUpdater, Updater

__all__ = [
    "ActiveSession",
    "Query",
    "DiscoveryRecord",
    "Oracle",
    "LabelOracle",
    "TerminalOracle",
    "LabelLog",
    "Updater",
    "FrozenUpdater",
    "AADUpdater",
    "SelectUpdater",
    "UPDATERS",
    "Strategy",
    "GreedyStrategy",
    "TopKStrategy",
    "DiverseStrategy",
    "STRATEGIES",
    "aad_weights",
    "simulate",
    "parse_label",
    "ANOMALY",
    "NOMINAL",
    "SKIP",
    "LABELS",
]
