"""Whole-detector scorers: the baselines (LOF, Isolation Forest, kNN) and an adapter for any PyOD detector.

Every scorer follows the detector contract of :class:`drama2.scorers.base.BaseDetector`:
``fit(X)``, ``score_samples(X)`` with higher = more anomalous, ``predict(X)`` with a
threshold set by ``contamination``, and ``decision_scores_`` on the training data.
Import the concrete scorers from their modules (``drama2.scorers.baselines``,
``drama2.scorers.pyod_adapter``) so that importing this package stays cheap.
"""

from drama2.scorers.base import BaseDetector, check_contamination, contamination_threshold

__all__ = ["BaseDetector", "check_contamination", "contamination_threshold"]
