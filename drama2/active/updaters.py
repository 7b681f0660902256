"""Updaters: how a session's ranking changes after labels.

An updater is bound once to a fitted detector and the session's rows, gives
the initial scores, and then maps the labelled sets to new scores. Every
built-in updater is a *pure* function of the labelled sets (anomalies,
nominal rows), never of the order they arrived in, so replaying a label log
reproduces a session exactly.
"""

from __future__ import annotations

import numpy as np

from drama2.active.aad import PRIOR_VARIANCE, TAU, aad_weights
from drama2.errors import InvalidInputError

__all__ = ["Updater", "FrozenUpdater", "AADUpdater", "SelectUpdater", "UPDATERS", "auto_updater", "make_updater",
           "detector_scores", "is_ensemble", "member_matrix"]


def detector_scores(detector, X: np.ndarray, fitted_on_X: bool) -> np.ndarray:
    """The detector's own scores of the session's rows (higher = more anomalous).

    Parameters
    ----------
    detector : fitted detector
        A drama2 detector or plugin scorer, a PyOD detector
        (``decision_function``) or a scikit-learn outlier detector
        (``score_samples``, negated).
    X : ndarray
        The rows to score.
    fitted_on_X : bool
        True when ``X`` is the detector's training data: ``decision_scores_`` is used and nothing is re-scored.

    Returns
    -------
    ndarray of shape (n,)
    """
    from drama2.scorers.conventions import anomaly_scores

    if fitted_on_X and getattr(detector, "decision_scores_", None) is not None:
        scores = detector.decision_scores_
    else:
        scores = anomaly_scores(detector, X)
    scores = np.asarray(scores, dtype=np.float64).reshape(-1)
    if not np.isfinite(scores).all():
        raise InvalidInputError("the detector gave non-finite scores; a ranking cannot be built from them.")
    return scores


def is_ensemble(detector) -> bool:
    """Whether ``detector`` exposes member scores and weights like :class:`drama2.ensemble.Ensemble`."""
    return hasattr(detector, "member_scores") and hasattr(detector, "weights_")


def member_matrix(detector, X: np.ndarray, fitted_on_X: bool, updater: str) -> tuple[np.ndarray, np.ndarray]:
    """The normalised member-score matrix of the session's rows and the ensemble's current weights."""
    if not is_ensemble(detector):
        raise InvalidInputError(f"updater {updater!r} re-weights ensemble members, so the detector must be a fitted "
                                f"drama2.ensemble.Ensemble; {type(detector).__name__} is not one. Use updater='none' "
                                "to rank by a single detector's scores.")
    S = detector.member_scores() if fitted_on_X else detector.member_scores(X)
    return np.asarray(S, dtype=np.float64), np.asarray(detector.weights_, dtype=np.float64).copy()


class Updater:
    """Base class: bind to a detector, then turn labelled sets into scores.

    Subclasses set :attr:`name` and implement :meth:`bind` and :meth:`scores_for`;
    ``scores_for`` must depend on the labelled sets only, never on their order.
    """

    name = "base"

    def params(self) -> dict:
        """Settings that change the results (written into the label-log header)."""
        return {}

    def bind(self, detector, X: np.ndarray, fitted_on_X: bool) -> np.ndarray:
        """Prepare for a session on ``X`` and return the initial scores, shape (n,).

        Parameters
        ----------
        detector : fitted detector
            The session's detector.
        X : ndarray of shape (n, n_features)
            The session's rows.
        fitted_on_X : bool
            True when ``X`` is the detector's training data, so its stored
            training scores can be used instead of scoring again.

        Returns
        -------
        ndarray of shape (n,)
            Scores before any label, higher = more anomalous.
        """
        raise NotImplementedError

    def scores_for(self, anomalies: np.ndarray, nominals: np.ndarray) -> np.ndarray:
        """Scores after feedback: ``anomalies`` and ``nominals`` are sorted row indices.

        Parameters
        ----------
        anomalies : ndarray of int
            Sorted positions in ``X`` of the rows labelled anomalous.
        nominals : ndarray of int
            Sorted positions in ``X`` of the rows labelled nominal.

        Returns
        -------
        ndarray of shape (n,)
            Scores of all the session's rows given these labels.
        """
        raise NotImplementedError

    @property
    def weights(self) -> np.ndarray | None:
        """Current member weights (None when the detector is not an ensemble)."""
        return None

    def __repr__(self) -> str:
        args = ", ".join(f"{k}={v!r}" for k, v in self.params().items())
        return f"{type(self).__name__}({args})"


class FrozenUpdater(Updater):
    """``"none"``: the detector's own ranking never changes; answered rows only leave the queue.

    Works with any detector that scores rows.
    """

    name = "none"

    def bind(self, detector, X, fitted_on_X):
        """See :meth:`Updater.bind`; the scores are the detector's own.

        Parameters
        ----------
        detector : fitted detector
            Any detector that scores rows.
        X : ndarray of shape (n, n_features)
            The session's rows.
        fitted_on_X : bool
            True when ``X`` is the detector's training data.

        Returns
        -------
        ndarray of shape (n,)
        """
        self._weights = np.asarray(detector.weights_, dtype=np.float64).copy() if is_ensemble(detector) else None
        self._scores = detector_scores(detector, X, fitted_on_X)
        return self._scores

    def scores_for(self, anomalies, nominals):
        """See :meth:`Updater.scores_for`; the labels are ignored.

        Parameters
        ----------
        anomalies, nominals : ndarray of int
            Labelled row indices (unused).

        Returns
        -------
        ndarray of shape (n,)
            The scores :meth:`bind` returned, unchanged.
        """
        return self._scores

    @property
    def weights(self):
        return None if self._weights is None else self._weights.copy()


class _Reweighting(Updater):
    """Shared part of the updaters that re-weight ensemble members.

    Before any anomaly or nominal label the ranking is the ensemble's own
    (whatever its combination); after, it is what the subclass computes.
    """

    def bind(self, detector, X, fitted_on_X):
        self._S, self._prior = member_matrix(detector, X, fitted_on_X, self.name)
        self._initial = detector_scores(detector, X, fitted_on_X)
        self._weights = self._prior.copy()
        return self._initial

    def scores_for(self, anomalies, nominals):
        self.proximity_weight = 0.0  # the select updater sets it again when its proximity member takes part
        if len(anomalies) + len(nominals) == 0:
            self._weights = self._prior.copy()
            return self._initial
        scores, self._weights = self._update(anomalies, nominals)
        return scores

    def _update(self, anomalies, nominals) -> tuple[np.ndarray, np.ndarray]:
        raise NotImplementedError

    @property
    def weights(self):
        return self._weights.copy()


class AADUpdater(_Reweighting):
    """``"aad"``: Active Anomaly Discovery re-weighting (Das et al.).

    What is re-weighted depends on the detector:

    * an isolation forest (drama2's ``iforest``, PyOD's ``IForest`` or
      scikit-learn's ``IsolationForest``): every leaf of every tree is a member
      (tree-based AAD, :mod:`drama2.active.forest_aad`). The initial ranking is
      the forest's own; feedback moves the weight of single leaves, and with
      them the rows that share those leaves;
    * an :class:`~drama2.ensemble.Ensemble`: its members
      (:mod:`drama2.active.aad`). Once labels arrive the score is the linear
      ``w · z`` over the normalised member scores (a weighted mean, whatever the
      ensemble's own combination), starting from the ensemble's weights.

    Parameters
    ----------
    tau : float, default 0.03
        Top quantile the labelled anomalies are pushed into.
    prior_variance : float, default 0.5
        σ² of the pull towards the initial weights (the pull weakens as 1/labels).
    n_rounds : int, default 2
        Quantile re-computations per update.
    n_steps : int, default 300
        Subgradient steps per round.
    """

    name = "aad"

    def __init__(self, tau: float = TAU, prior_variance: float = PRIOR_VARIANCE, n_rounds: int = 2,
                 n_steps: int = 300):
        self.tau = tau
        self.prior_variance = prior_variance
        self.n_rounds = n_rounds
        self.n_steps = n_steps

    def params(self):
        return {"tau": self.tau, "prior_variance": self.prior_variance, "n_rounds": self.n_rounds,
                "n_steps": self.n_steps}

    def bind(self, detector, X, fitted_on_X):
        """See :meth:`Updater.bind`.

        Parameters
        ----------
        detector : fitted detector
            An :class:`~drama2.ensemble.Ensemble` or an isolation forest;
            anything else raises :class:`~drama2.errors.InvalidInputError`.
        X : ndarray of shape (n, n_features)
            The session's rows.
        fitted_on_X : bool
            True when ``X`` is the detector's training data.

        Returns
        -------
        ndarray of shape (n,)
            The initial scores: the ensemble's own, or the forest's leaf
            scores under its initial weights.
        """
        from drama2.active.forest_aad import LeafFeatures, isolation_forest_of

        forest = None if is_ensemble(detector) else isolation_forest_of(detector)
        if forest is None:
            if not is_ensemble(detector):
                raise InvalidInputError(
                    f"updater 'aad' re-weights the members of a drama2.ensemble.Ensemble or the leaves of an "
                    f"isolation forest (drama2's 'iforest', PyOD's IForest, scikit-learn's IsolationForest); "
                    f"{type(detector).__name__} is neither. Use updater='none' to rank by its scores as they are.")
            self._leaves = None
            return super().bind(detector, X, fitted_on_X)
        self._leaves = LeafFeatures(forest, X)
        self._prior = self._leaves.prior
        self._weights = self._prior.copy()
        self._initial = self._leaves.scores(self._prior)
        return self._initial

    def _update(self, anomalies, nominals):
        if self._leaves is not None:
            from drama2.active.forest_aad import leaf_aad_scores

            return leaf_aad_scores(self._leaves, anomalies, nominals, tau=self.tau,
                                   prior_variance=self.prior_variance, n_rounds=self.n_rounds,
                                   n_steps=self.n_steps, initial=self._initial)
        w = aad_weights(self._S, anomalies, nominals, self._prior, tau=self.tau,
                        prior_variance=self.prior_variance, n_rounds=self.n_rounds, n_steps=self.n_steps)
        return self._S @ w, w


class SelectUpdater(_Reweighting):
    """``"select"``: label-efficient member selection, :meth:`drama2.ensemble.Ensemble.select`.

    On the ensemble's training rows the session calls ``Ensemble.selected``,
    which re-weights a copy (the ensemble itself is never modified; every
    update starts again from its initial weights), so the labelled-anomaly
    proximity member takes part. On other rows the same rule is applied to the
    session's member-score matrix with :func:`drama2.selection.selection_weights`.
    Nothing changes until the first anomaly is labelled.

    Parameters
    ----------
    prior_strength : float, default 1.0
        Labelled anomalies it takes to weigh as much as the initial weights.
    temperature : float or None, default None
        None: weight members by their bootstrap probability of ranking the
        labelled anomalies best; a number: a softmax of their estimated AUCs
        at that temperature.
    proximity : bool, default True
        Let closeness to the labelled anomalies join as a member (training rows only).

    Attributes
    ----------
    proximity_weight : float
        Share of the score the proximity member carries after the last update (the member
        weights share the rest); 0 before it takes part.
    """

    name = "select"

    def __init__(self, prior_strength: float = 1.0, temperature: float | None = None, proximity: bool = True):
        self.prior_strength = prior_strength
        self.temperature = temperature
        self.proximity = proximity
        self.proximity_weight = 0.0

    def params(self):
        return {"prior_strength": self.prior_strength, "temperature": self.temperature,
                "proximity": self.proximity}

    def bind(self, detector, X, fitted_on_X):
        """See :meth:`Updater.bind`.

        Parameters
        ----------
        detector : fitted Ensemble
            The ensemble whose members are re-weighted.
        X : ndarray of shape (n, n_features)
            The session's rows; when the ensemble recognises them as its
            training data, updates go through ``Ensemble.selected``.
        fitted_on_X : bool
            True when ``X`` is the detector's training data.

        Returns
        -------
        ndarray of shape (n,)
            The ensemble's own scores.
        """
        scores = super().bind(detector, X, fitted_on_X)
        self._detector, self._X = detector, X
        is_training_data = getattr(detector, "is_training_data", None)
        self._on_training = is_training_data is not None and is_training_data(X)
        return scores

    def _update(self, anomalies, nominals):
        from drama2.selection import selection_weights

        if len(anomalies) == 0:
            return self._initial, self._prior.copy()
        if self._on_training:
            work = self._detector.selected(self._X, anomalies, nominals, proximity=self.proximity,
                                           prior_strength=self.prior_strength, temperature=self.temperature)
            self.proximity_weight = float(work.proximity_weight_)
            return np.asarray(work.decision_scores_, dtype=np.float64), np.asarray(work.weights_, dtype=np.float64)
        w = selection_weights(self._S, anomalies, nominals, prior=self._prior, prior_strength=self.prior_strength,
                              temperature=self.temperature)
        return self._S @ w, w


#: Updater names accepted by :class:`~drama2.active.ActiveSession` (besides ``"auto"``).
UPDATERS = {"none": FrozenUpdater, "aad": AADUpdater, "select": SelectUpdater}


def auto_updater(detector) -> str:
    """The updater ``"auto"`` stands for with ``detector``: the one that found the most anomalies in our benchmark.

    ``"select"`` for an :class:`~drama2.ensemble.Ensemble` (member AAD over a few members finds no more than
    the frozen ranking there), ``"aad"`` for an isolation forest (its leaves are re-weighted) and ``"none"``
    for any other detector, which has nothing to re-weight. See ``benchmarks/results/active_discovery.md``.
    """
    from drama2.active.forest_aad import isolation_forest_of

    if is_ensemble(detector):
        return "select"
    return "aad" if isolation_forest_of(detector) is not None else "none"


def make_updater(updater, detector=None) -> Updater:
    """An :class:`Updater` from a name or an instance (copied).

    Parameters
    ----------
    updater : {"auto", "aad", "select", "none"} or Updater
    detector : fitted detector, optional
        Needed to resolve ``"auto"`` (:func:`auto_updater`).
    """
    import copy

    if isinstance(updater, Updater):
        return copy.deepcopy(updater)
    if isinstance(updater, str) and updater == "auto":
        if detector is None:
            raise InvalidInputError("updater 'auto' is chosen from the detector; pass the detector as well.")
        updater = auto_updater(detector)
    if isinstance(updater, str) and updater in UPDATERS:
        return UPDATERS[updater]()
    raise InvalidInputError(f"unknown updater {updater!r}; use 'auto', one of {', '.join(UPDATERS)} "
                            "or an Updater instance.")
