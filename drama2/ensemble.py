"""One detector made of many: members fitted once, scores normalised, combined by weights.

An :class:`Ensemble` fits every member on the same data, keeps each member's
training scores, and maps any member's scores onto a common scale fitted on
those training scores (``rank``: the share of training scores below; ``zscore``:
a robust z-score). The ensemble score is a weighted mean (or the maximum) of
the normalised scores, so changing the weights (:meth:`Ensemble.reweight`,
:meth:`Ensemble.select`) never refits a member.

Members are written like ``drama2 bench --scorers``: ``"iforest"``,
``"knn[n_neighbors=10]"``, ``"drama[reducer=pca, metric=l2]"`` or a grid
``"drama[reducer=pca, metric=[l2, mahalanobis]]"``; or given as fitted-to-be
estimator objects, optionally as ``(label, estimator)`` pairs. DRAMA members
that differ only in their metric share one fit, as in the bench.
"""

from __future__ import annotations

import copy
import hashlib
import json
import time
import warnings
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from drama2.errors import InvalidInputError
from drama2.scorers.base import BaseDetector, contamination_threshold
from drama2.scorers.conventions import anomaly_scores, is_pyod
from drama2.selection import ecdf, normalise_against, proximity, robust_scale, select_weights
from drama2.validation import accepts_parameter, check_array, check_is_fitted, check_n_features, check_parameters

__all__ = ["Ensemble", "DEFAULT_MEMBERS", "WIDE_MEMBERS", "MEMBER_SETS", "NORMALISATIONS", "COMBINATIONS"]

#: The unsupervised default member set; see ``docs/ensembles.md`` for how it was chosen.
DEFAULT_MEMBERS = (
    "iforest",                      # global isolation, axis-parallel cuts
    "eif[extension_level=1]",       # global isolation, oblique cuts
    "knn[n_neighbors=10]",          # local density
    "knn[n_neighbors=35]",          # neighbourhood density at a larger scale
    "drama[reducer=pca, metric=l2]",  # distance to DRAMA prototypes in a PCA split
    "pyod:HBOS",                    # per-feature histograms (marginal rarity)
)

_METRICS = "l1, l2, l4, wl2, wl4, braycurtis, chebyshev, canberra, correlation, mahalanobis"

#: A wide pool for label-aware use (selection, active learning): more members give the labels more to choose from.
WIDE_MEMBERS = (
    "iforest",
    "eif[extension_level=1]",
    "eif",
    "knn[n_neighbors=[5, 10, 20, 35]]",
    "knn[n_neighbors=10, method=mean]",
    "lof[n_neighbors=[10, 20, 35]]",
    "pyod:HBOS",
    "pyod:ECOD",
    "pyod:COPOD",
    "pyod:LODA",
    "pyod:PCA",
    f"drama[reducer=[none, pca, ica, nmf], metric=[{_METRICS}]]",
)

MEMBER_SETS = {"default": DEFAULT_MEMBERS, "wide": WIDE_MEMBERS}

NORMALISATIONS = ("rank", "zscore")
COMBINATIONS = ("median", "mean", "max")


@dataclass
class _Unit:
    """One fit: a scorer, or a DRAMA model shared by several metrics (one label per metric)."""

    estimator: Any
    labels: list[str]
    metrics: list[str | None] = field(default_factory=lambda: [None])
    scaled_input: bool = True  # non-DRAMA members see min-max scaled data; Drama scales itself


def _label_of(name: str, params: dict) -> str:
    from drama2.bench.config import scorer_label

    return scorer_label(name, tuple(sorted(params.items())))


def _member_seed(base: int, label: str) -> int:
    # From the member's identity, so adding or removing members never changes another member's seed.
    digest = hashlib.sha256(json.dumps([base, label]).encode()).digest()
    return int.from_bytes(digest[:4], "little") & 0x7FFFFFFF


def _parse_members(members) -> list[tuple[str, str | None, dict | None, Any]]:
    """``(label, scorer name or None, params or None, estimator or None)`` for every member."""
    from drama2.bench.config import parse_scorer

    if isinstance(members, str):
        _refuse_misspelt_member_set(members)
        members = MEMBER_SETS.get(members, [members])
    if not isinstance(members, (list, tuple)) or not members:
        raise InvalidInputError("members must be 'default' or a non-empty list of member specs "
                                "(e.g. ['iforest', 'knn[n_neighbors=10]'] or estimator objects).")
    parsed = []
    for item in members:
        label = None
        if isinstance(item, tuple) and len(item) == 2 and isinstance(item[0], str):
            label, item = item
        if isinstance(item, str):
            specs = parse_scorer(item)
            if label is not None and len(specs) > 1:
                raise InvalidInputError(f"member {label!r}: a grid {item!r} expands to {len(specs)} members; "
                                        "name them one by one or drop the label.")
            for spec in specs:
                params = dict(spec.params)
                parsed.append((label or _label_of(spec.name, params), spec.name, params, None))
        elif hasattr(item, "fit") and hasattr(item, "decision_function" if is_pyod(item) else "score_samples"):
            parsed.append((label or type(item).__name__, None, None, item))
        else:
            hint = (" (scikit-learn's LocalOutlierFactor scores new rows only with novelty=True)"
                    if getattr(item, "novelty", None) is False else "")
            raise InvalidInputError(f"cannot use {item!r} as an ensemble member: give a scorer spec such as "
                                    f"'knn[n_neighbors=10]' or an estimator with fit and score_samples{hint}.")
    labels = [p[0] for p in parsed]
    duplicates = sorted({x for x in labels if labels.count(x) > 1})
    if duplicates:
        raise InvalidInputError(f"ensemble members must have distinct labels; repeated: {', '.join(duplicates)}. "
                                "Pass (label, member) pairs to name them apart.")
    return parsed


def _refuse_misspelt_member_set(name: str) -> None:
    """A bare word close to a member-set name ("wdie") and not a scorer is a typo of the set, not a scorer."""
    import difflib

    from drama2.registry import get_registry

    if name in MEMBER_SETS or any(c in name for c in "[:,"):
        return
    close = difflib.get_close_matches(name, list(MEMBER_SETS), 1)
    if close and name not in get_registry().names("scorers"):
        raise InvalidInputError(f"unknown member set {name!r} (did you mean {close[0]!r}?); the member sets are "
                                f"{', '.join(map(repr, MEMBER_SETS))}, or give a list of scorer specs.")


def _build_units(parsed, seed: int, device: str) -> list[_Unit]:
    from drama2.registry import get_registry

    registry = get_registry()
    units: list[_Unit] = []
    drama_units: dict[str, _Unit] = {}
    for label, name, params, estimator in parsed:
        if estimator is not None:
            units.append(_Unit(copy.deepcopy(estimator), [label]))
            continue
        cls = registry.load("scorers", name)
        params = dict(params)
        check_parameters(cls, params, component=f"ensemble member {label!r}")
        if name == "drama":
            metric = params.pop("metric", "l2")
            key = json.dumps(params, sort_keys=True, default=str)
            if key in drama_units:  # another metric of an existing DRAMA fit
                drama_units[key].labels.append(label)
                drama_units[key].metrics.append(metric)
                continue
        for option, value in (("random_state", _member_seed(seed, label)), ("device", device)):
            if option not in params and accepts_parameter(cls, option):
                params[option] = value
        if name == "drama":
            unit = _Unit(cls(metric=metric, **params), [label], [metric], scaled_input=False)
            drama_units[key] = unit
        else:
            unit = _Unit(cls(**params), [label])
        units.append(unit)
    return units


def _member_scores(estimator, X: np.ndarray, metric: str | None) -> np.ndarray:
    """Raw scores, higher = more anomalous, whatever convention the estimator follows."""
    if metric is not None:  # a DRAMA fit scored with one of its metrics
        return np.asarray(estimator.score_samples(X, metric=metric), dtype=np.float64).reshape(-1)
    return anomaly_scores(estimator, X)


def _member_train_scores(estimator, X: np.ndarray, metric: str | None) -> np.ndarray:
    if metric is not None and metric != getattr(estimator, "metric", None):
        return _member_scores(estimator, X, metric)
    scores = getattr(estimator, "decision_scores_", None)
    if scores is None:
        return _member_scores(estimator, X, metric)
    return np.asarray(scores, dtype=np.float64).reshape(-1)


def _weighted_median(S: np.ndarray, w: np.ndarray) -> np.ndarray:
    """Row-wise weighted median (the lower/upper midpoint when the weight splits exactly in half)."""
    order = np.argsort(S, axis=1, kind="stable")
    values = np.take_along_axis(S, order, axis=1)
    cum = np.cumsum(w[order], axis=1)
    total = cum[:, -1:]
    lower = np.argmax(cum >= 0.5 * total - 1e-12, axis=1)
    upper = np.argmax(cum > 0.5 * total + 1e-12, axis=1)
    rows = np.arange(S.shape[0])
    return 0.5 * (values[rows, lower] + values[rows, upper])


def _positions(rows, X, what: str):
    """``rows`` as row positions: a pandas Index holds labels of ``X``'s index, which are mapped to positions."""
    if not (hasattr(rows, "get_indexer") and type(rows).__module__.startswith("pandas")) or rows.dtype == bool:
        return rows
    index = getattr(X, "index", None)
    if index is None or not hasattr(index, "get_indexer"):
        raise InvalidInputError(f"{what} is a pandas Index, whose values are labels, but X has no index to find "
                                "them in; pass row positions (e.g. np.flatnonzero(mask)) or a boolean mask.")
    if not index.is_unique:
        raise InvalidInputError(f"{what} is a pandas Index of labels, but X's index repeats labels; pass row "
                                "positions or a boolean mask instead.")
    positions = index.get_indexer(rows)
    if (positions < 0).any():
        missing = list(rows[positions < 0][:5])
        raise InvalidInputError(f"{what}: labels {missing} are not in X's index.")
    return positions


def _data_key(X: np.ndarray) -> tuple:
    return X.shape, hashlib.blake2b(np.ascontiguousarray(X).view(np.uint8), digest_size=16).digest()


class Ensemble(BaseDetector):
    """Many detectors as one: fitted once, normalised, combined by weights.

    Parameters
    ----------
    members : "default", "wide" or list, default "default"
        Scorer specs as in ``drama2 bench --scorers`` (``"knn[n_neighbors=10]"``,
        ``"drama[reducer=pca, metric=[l2, mahalanobis]]"``, ``"pyod:ECOD"``),
        estimator objects with ``fit`` and ``score_samples`` (higher = more
        anomalous, as drama2's contract; scikit-learn's detectors are negated
        and PyOD's score through ``decision_function``), or ``(label, member)``
        pairs. ``"default"`` is :data:`DEFAULT_MEMBERS`, a label-free choice
        explained in the documentation; ``"wide"`` is :data:`WIDE_MEMBERS`
        (56 members, for label-aware selection and active learning).
    normalisation : {"rank", "zscore"}, default "rank"
        How each member's scores are put on one scale, fitted on its training
        scores: ``rank`` maps a score to the share of training scores below it
        (ties count half), ``zscore`` to ``(s - median) / (1.4826 MAD)``.
    combination : {"median", "mean", "max"}, default "median"
        Weighted median of the normalised scores (robust to a member that
        collapses on a dataset, e.g. kNN on heavily duplicated rows), their
        weighted mean, or their maximum over the members with positive weight.
    weights : array-like of shape (n_members,) or None, default None
        Non-negative member weights; None means equal weights.
    scaling : {"minmax", "robust", "standard", "none"}, default "minmax"
        Scaling fitted on the training data and applied before the non-DRAMA
        members (DRAMA members scale the data themselves).
    on_error : {"drop", "raise"}, default "drop"
        What a member that fails to fit (or gives non-finite scores) does:
        ``drop`` leaves it out with a warning and records why in
        :attr:`failed_members_`; ``raise`` stops the fit. It is an error when
        every member fails.
    contamination : float in (0, 0.5] or "auto", default 0.1
        Share of training rows :meth:`predict` flags.
    device : str, default "auto"
        Passed to the members that accept one.
    random_state : int, Generator or None
        Each member's seed derives from this and the member's label, so a
        member's scores do not depend on which other members are present.

    Attributes
    ----------
    member_labels_ : list of str
        One label per member, in the column order of every member-score matrix.
    estimators_ : list
        The fitted member estimators (a DRAMA fit shared by several metrics appears once).
    train_member_scores_ : ndarray of shape (n_samples, n_members)
        Normalised member scores of the training data (the cache re-weighting uses).
    weights_ : ndarray of shape (n_members,)
        The weights in use, summing to 1.
    normalisation_ : str
        The normalisation the fit used (scoring keeps it if ``normalisation`` is changed later).
    combination_ : str
        The combination in use: ``combination``, or ``"mean"`` after :meth:`select`
        (its weights already judge the members, which a median would discard).
    proximity_weight_ : float
        Weight of the labelled-anomaly proximity member set by :meth:`select` (0 until then).
    failed_members_ : dict of str to str
        Members left out because they failed, with the error.
    member_fit_seconds_ : dict of str to float
        Fit and training-score time of each member (DRAMA metrics sharing a fit report that fit's time).
    decision_scores_, threshold_, labels_, n_features_in_
        As for every drama2 detector.
    """

    # The scale select() put the proximity member on; models saved before it was recorded used ranks.
    _proximity_normalisation = "rank"

    def __init__(self, members="default", normalisation="rank", combination="median", weights=None,
                 scaling="minmax", on_error="drop", contamination=0.1, device="auto", random_state=None):
        self.members = members
        self.normalisation = normalisation
        self.combination = combination
        self.weights = weights
        self.scaling = scaling
        self.on_error = on_error
        self.contamination = contamination
        self.device = device
        self.random_state = random_state

    # ------------------------------------------------------------------ fitting
    def _check_params(self, X: np.ndarray) -> None:
        if self.normalisation not in NORMALISATIONS:
            raise InvalidInputError(f"normalisation must be one of {', '.join(NORMALISATIONS)}, "
                                    f"got {self.normalisation!r}.")
        if self.combination not in COMBINATIONS:
            raise InvalidInputError(f"combination must be one of {', '.join(COMBINATIONS)}, "
                                    f"got {self.combination!r}.")
        if self.on_error not in ("drop", "raise"):
            raise InvalidInputError(f"on_error must be 'drop' or 'raise', got {self.on_error!r}.")
        if self.scaling == "global":
            raise InvalidInputError("scaling='global' is DRAMA's faithful mode; use minmax, robust, standard "
                                    "or none for an ensemble.")
        _parse_members(self.members)

    def _fit(self, X: np.ndarray, rng_seed: int | None) -> None:
        from drama2.device import resolve_device
        from drama2.preprocessing import CONSTANT_FEATURES_WARNING, Scaler

        parsed = _parse_members(self.members)
        device = resolve_device(self.device)
        self.scaler_ = Scaler(self.scaling).fit(X)
        Xs = self.scaler_.to_distance_space(X)
        units = _build_units(parsed, rng_seed, device)
        raw, seconds, labels, kept, failed = [], [], [], [], {}
        for unit in units:
            start = time.perf_counter()
            data = Xs if unit.scaled_input else X
            try:
                with warnings.catch_warnings():  # the ensemble's own scaler has warned about constant features
                    warnings.filterwarnings("ignore", message=CONSTANT_FEATURES_WARNING, category=UserWarning)
                    unit.estimator.fit(data)
                unit_scores = [_member_train_scores(unit.estimator, data, metric) for metric in unit.metrics]
                for scores in unit_scores:
                    if not np.isfinite(scores).all():
                        raise InvalidInputError(f"{int((~np.isfinite(scores)).sum())} non-finite training scores")
            except Exception as exc:
                if self.on_error == "raise":
                    exc.add_note(f"(while fitting ensemble member {', '.join(unit.labels)})")
                    raise
                for label in unit.labels:
                    failed[label] = f"{type(exc).__name__}: {exc}"
                warnings.warn(f"ensemble member(s) {', '.join(unit.labels)} failed and are left out: {exc}",
                              UserWarning, stacklevel=4)
                continue
            raw.extend(unit_scores)
            labels.extend(unit.labels)
            kept.append(unit)
            seconds.extend([time.perf_counter() - start] * len(unit.metrics))
        if not kept:
            raise InvalidInputError("every ensemble member failed on this data: "
                                    + "; ".join(f"{k}: {v}" for k, v in failed.items()))
        units = kept
        raw = np.column_stack(raw)
        self.failed_members_ = failed
        self._units = units
        self.estimators_ = [unit.estimator for unit in units]
        self.member_labels_ = labels
        self.member_fit_seconds_ = dict(zip(labels, seconds))
        self.normalisation_ = self.normalisation  # what scoring uses, whatever set_params does later
        self._set_reference(raw)
        self.train_member_scores_ = self._normalise(raw)
        self.weights_ = self._check_weights(self.weights, len(labels))
        self.combination_ = self.combination
        self._cache = None
        self._train_key = _data_key(X)
        self.proximity_weight_ = 0.0
        self._anchors = self._proximity_reference = self._train_proximity = None

    def _train_scores(self, X: np.ndarray) -> np.ndarray:
        return self._combined(self.train_member_scores_, self._train_proximity)

    def _score(self, X: np.ndarray) -> np.ndarray:
        # Every row is scored as new data, the training rows too (as PyOD's and scikit-learn's detectors
        # do): the answer for a row never depends on which other rows came with it. The training rows'
        # leave-self-out scores are decision_scores_.
        key = _data_key(X)
        closeness = None
        if self.proximity_weight_ > 0:
            closeness = normalise_against(self._proximity_reference,
                                          proximity(self.scaler_.to_distance_space(X), self._anchors),
                                          self._proximity_normalisation)
        return self._combined(self._normalised_member_scores(X, key), closeness)

    def _combined(self, S: np.ndarray, proximity: np.ndarray | None) -> np.ndarray:
        if self.proximity_weight_ <= 0 or proximity is None:
            return self.combine(S)
        p = self.proximity_weight_
        return self.combine(np.column_stack([S, proximity]), np.append(self.weights_ * (1.0 - p), p))

    # ------------------------------------------------------------------ normalisation
    def _normalisation(self) -> str:
        # Models saved before normalisation_ was kept scored with the parameter, which they were fitted with.
        return getattr(self, "normalisation_", self.normalisation)

    def _set_reference(self, raw: np.ndarray) -> None:
        if self._normalisation() == "rank":
            self._sorted_train = np.sort(raw, axis=0)
        else:
            self._centre, self._spread = robust_scale(raw)

    def _normalise(self, raw: np.ndarray) -> np.ndarray:
        if self._normalisation() == "zscore":
            return (raw - self._centre) / self._spread
        out = np.empty_like(raw)
        for j in range(raw.shape[1]):
            out[:, j] = ecdf(self._sorted_train[:, j], raw[:, j])
        return out

    def _normalised_member_scores(self, X: np.ndarray, key: tuple | None = None) -> np.ndarray:
        # One-entry cache: re-weighting and active-learning loops score the same rows many times.
        key = _data_key(X) if key is None else key
        if self._cache is not None and self._cache[0] == key:
            return self._cache[1]
        Xs = self.scaler_.to_distance_space(X)
        raw = np.column_stack([_member_scores(unit.estimator, Xs if unit.scaled_input else X, metric)
                               for unit in self._units for metric in unit.metrics])
        normalised = self._normalise(raw)
        normalised.setflags(write=False)
        self._cache = (key, normalised)
        return normalised

    # ------------------------------------------------------------------ public API
    def member_scores(self, X=None) -> np.ndarray:
        """Normalised score of every member on ``X`` (the training data when None).

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features) or None
            Rows scored as new data (the training rows too: a neighbour-based
            member then counts each row as its own neighbour); None returns
            the training matrix, in which no row is its own neighbour.

        Returns
        -------
        ndarray of shape (n_samples, n_members), read-only
            Columns follow :attr:`member_labels_`; higher = more anomalous.
        """
        check_is_fitted(self, "decision_scores_")
        if X is None:
            scores = self.train_member_scores_
        else:
            X = check_array(X, estimator=self._name)
            check_n_features(X, self.n_features_in_, estimator=self._name)
            scores = self._normalised_member_scores(X)
        view = scores.view()  # the cache itself: an edit would change every later reweight and select
        view.setflags(write=False)
        return view

    def combine(self, member_scores: np.ndarray, weights=None) -> np.ndarray:
        """Ensemble score from a normalised member-score matrix.

        Parameters
        ----------
        member_scores : ndarray of shape (n_samples, n_members)
            As returned by :meth:`member_scores`.
        weights : array-like of shape (n_members,) or None
            Weights to use instead of :attr:`weights_`.

        Returns
        -------
        ndarray of shape (n_samples,)
        """
        S = np.asarray(member_scores, dtype=np.float64)
        w = self.weights_ if weights is None else self._check_weights(weights, S.shape[1])
        if self.combination_ == "max":
            return S[:, w > 0].max(axis=1)
        if self.combination_ == "median":
            return _weighted_median(S, w)
        return S @ w

    def reweight(self, weights, combination=None) -> "Ensemble":
        """Use new member weights without refitting any member.

        ``decision_scores_``, ``threshold_`` and ``labels_`` follow the new weights.

        Parameters
        ----------
        weights : array-like of shape (n_members,)
            Non-negative, not all zero; normalised to sum to 1.
        combination : {"median", "mean", "max"}, optional
            Also change the combination rule (``combination_``); by default it
            stays. Weights learnt by active discovery's ``"aad"`` updater are
            weights of a weighted mean: ``reweight(session.weights,
            combination="mean")`` ranks as the session does.

        Returns
        -------
        self

        Notes
        -----
        The weights given are the whole weighting: after :meth:`select`, the
        labelled-anomaly proximity member is dropped (``proximity_weight_``
        becomes 0).
        """
        check_is_fitted(self, "decision_scores_")
        if combination is not None and combination not in COMBINATIONS:
            raise InvalidInputError(f"combination must be one of {', '.join(COMBINATIONS)}, got {combination!r}.")
        weights = self._check_weights(weights, len(self.member_labels_))
        self.proximity_weight_ = 0.0
        if combination is not None:
            self.combination_ = combination
        return self._use_weights(weights)

    def _use_weights(self, weights: np.ndarray) -> "Ensemble":
        """Set checked weights and recompute the training scores, threshold and labels."""
        self.weights_ = weights
        self.decision_scores_ = self._combined(self.train_member_scores_, self._train_proximity)
        self.threshold_ = contamination_threshold(self.decision_scores_, self.contamination)
        self.labels_ = (self.decision_scores_ > self.threshold_).astype(np.int64)
        return self

    def is_training_data(self, X) -> bool:
        """Whether ``X`` holds exactly the rows the ensemble was fitted on (same values, same order).

        :meth:`select` accepts only those rows (its labels are indices into them), and an active session
        given them ranks by the training scores (``decision_scores_``) instead of scoring them again.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Rows to compare (by shape and a hash of their values) with the
            training data.

        Returns
        -------
        bool
            True when ``X`` equals the training data, row for row.
        """
        check_is_fitted(self, "decision_scores_")
        return _data_key(check_array(X, estimator=self._name)) == self._train_key

    def selected(self, X, anomalies, nominals=(), **options) -> "Ensemble":
        """A re-weighted copy (:meth:`select` on it); this ensemble stays as it is.

        The copy shares the fitted members and the cached member scores, which neither modifies.
        Parameters as for :meth:`select`.
        """
        import copy

        return copy.copy(self).select(X, anomalies, nominals, **options)

    def select(self, X, anomalies, nominals=(), *, proximity: bool = True, prior_strength: float = 1.0,
               temperature: float | None = None) -> "Ensemble":
        """Re-weight the members with a few labelled rows (label-efficient selection).

        Every member's AUC is estimated from the labels (known anomalies
        against known nominals, or against the unlabelled rows when no
        nominal is given), the estimates become soft weights (how likely each
        member is to be the best, given how few labels there are), and those are
        shrunk towards the current weights (:func:`drama2.selection.selection_weights`).
        With ``proximity`` an extra member joins the vote: closeness to the
        nearest labelled anomaly (in the ensemble's scaled space, put on the
        members' scale: its rank or robust z-score among the unlabelled rows),
        whose AUC is estimated leave-one-out, so it earns weight only when the
        known anomalies resemble each other. No member is refitted.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            The training data the ensemble was fitted on (the indices refer
            to its rows; its member scores come from the cache).
        anomalies : array-like of int or bool, or pandas Index
            Row indices of known anomalies in ``X`` (at least one), or a boolean mask over its rows. A
            pandas Index holds labels of ``X``'s own index (``X.index[mask]``) and is mapped to positions.
        nominals : array-like of int or bool, optional
            Row indices of known nominal rows in ``X``, or a boolean mask.
        proximity : bool, default True
            Add the labelled-anomaly proximity member (needs two or more labelled anomalies).
        prior_strength : float, default 1.0
            Labelled anomalies that weigh as much as the current weights.
        temperature : float or None, default None
            None weights the members by their bootstrap probability of ranking the
            labelled anomalies best; a number uses a softmax of the estimated AUCs
            at that temperature instead (:func:`drama2.selection.selection_weights`).

        Returns
        -------
        self
        """
        check_is_fitted(self, "decision_scores_")
        anomalies, nominals = (_positions(rows, X, what) for rows, what in ((anomalies, "anomalies"),
                                                                             (nominals, "nominals")))
        X = check_array(X, estimator=self._name)
        if _data_key(X) != self._train_key:
            raise InvalidInputError(
                "select needs the training data the ensemble was fitted on (the labels are indices of its rows); "
                "got other rows. Fit the ensemble on the rows you label, or pass the training data.")
        Xd = self.scaler_.to_distance_space(X) if proximity else None
        result = select_weights(self.train_member_scores_, anomalies, nominals, prior=self.weights_, Xd=Xd,
                                prior_strength=prior_strength, temperature=temperature,
                                normalisation=self._normalisation())
        self.proximity_weight_ = result.proximity_weight
        self._proximity_normalisation = result.normalisation
        self._anchors = result.anchors
        self._proximity_reference = result.proximity_reference
        self._train_proximity = result.train_proximity
        self.combination_ = "mean"
        return self._use_weights(self._check_weights(result.weights, len(self.member_labels_)))

    @staticmethod
    def _check_weights(weights, n_members: int) -> np.ndarray:
        if weights is None:
            return np.full(n_members, 1.0 / n_members)
        w = np.asarray(weights, dtype=np.float64).reshape(-1)
        if w.shape[0] != n_members:
            raise InvalidInputError(f"weights has {w.shape[0]} values for {n_members} members.")
        if not np.isfinite(w).all() or (w < 0).any() or w.sum() <= 0:
            raise InvalidInputError("weights must be finite, non-negative and not all zero.")
        return w / w.sum()
