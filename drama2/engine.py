"""``Drama``: the DRAMA meta-algorithm as one scikit-learn style detector.

    X ─scale─► reduce ─► split in latent space (repeated per leaf) ─► prototypes ─► min distance

Fitting scales the data, then for each split level fits a *fresh* reducer on
every current leaf, clusters its latent codes into two groups and turns each
group into a prototype in data space (the decoded latent centroid, or the
member mean for reducers without an inverse). Scoring is the distance of a
sample to its nearest final prototype under the chosen metric: higher = more
anomalous. torch is imported only when a model is fitted or used.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass

import numpy as np
from sklearn.base import BaseEstimator

from drama2.device import check_random_state, like_input, resolve_device, seed_from
from drama2.errors import InvalidInputError
from drama2.outputs import ScoreOutputsMixin
from drama2.persistence import Saveable
from drama2.preprocessing import SCALINGS, Scaler
from drama2.registry import get_registry
from drama2.scorers.base import check_contamination, contamination_threshold
from drama2.validation import (accepts_parameter, check_array, check_component_params, check_feature_names,
                               check_is_fitted, check_n_features, check_parameters, rows_digest, set_feature_names)

__all__ = ["Drama", "Leaf"]

#: How a group of rows becomes a prototype (see ``Drama``'s ``prototype`` parameter).
PROTOTYPE_RULES = ("decode", "reconstruction", "mean")

# Parameters Drama passes to its reducer and clusterer itself, with what to do instead of setting them.
_REDUCER_SET_BY_DRAMA = {"n_components": "set Drama(n_components=...) instead",
                         "random_state": "set Drama(random_state=...) instead"}
_CLUSTERER_SET_BY_DRAMA = {"n_clusters": "leave it out (every split makes two groups)",
                           "random_state": "set Drama(random_state=...) instead"}


@dataclass
class Leaf:
    """One leaf of the split tree.

    Attributes
    ----------
    path : str
        Binary path from the root ("0", "01", ...).
    members : ndarray of int
        Row indices (into the training data) of the leaf's members.
    prototype : ndarray of shape (d,)
        Prototype in distance space (scaled units).
    """

    path: str
    members: np.ndarray
    prototype: np.ndarray | None = None

    @property
    def size(self) -> int:
        return int(self.members.size)

    @property
    def depth(self) -> int:
        return len(self.path)


class Drama(ScoreOutputsMixin, Saveable, BaseEstimator):
    """DRAMA anomaly detector: distance to the nearest cluster prototype.

    Parameters
    ----------
    reducer : str, default "pca"
        Registered reducer name (``drama2 list reducers``): none, pca, ica, nmf, ...
    n_components : int, default 2
        Latent size of the reducer (ignored by ``none``).
    clusterer : str, default "ward"
        Registered clusterer used to split each leaf in two (ward, kmeans, ...).
    split_levels : int, default 1
        Number of binary split levels, from 1 (one split of the training data
        into two groups); at most ``2 ** split_levels`` prototypes. A group of
        identical rows is never split.
    metric : str, default "l2"
        Registered metric name (``drama2 list metrics``).
    scaling : {"minmax", "robust", "standard", "global", "none"}, default "minmax"
        Per-feature scaling fitted on the training data. ``"global"`` is the
        original's single scalar scaling (see :meth:`original`).
    prototype : {"decode", "reconstruction", "mean"}, default "decode"
        ``decode`` maps each group's latent centroid back to data space with
        the reducer's inverse. ``reconstruction`` averages the members'
        reconstructions instead (decode each member's code, then take the
        mean): the same prototype for linear reducers (PCA, ICA, NMF), but for
        a neural decoder it stays among decoded rows where the decoded centroid
        of a curved latent group may not. ``mean`` uses the members' mean.
        Reducers without an inverse always use the mean.
    min_leaf_size : int or float, default 0.05
        Smallest group that makes a prototype: a count (at least 2), or a
        share of the training rows when below 1 (never fewer than 2 rows).
        Smaller groups make none (their members
        are scored against the other prototypes), so a handful of anomalies
        that cluster together cannot become a prototype of their own; leaves
        smaller than twice this are not split. :meth:`original` uses 2.
    reducer_params, clusterer_params : dict, optional
        Extra keyword arguments for the reducer and clusterer.
    contamination : float in (0, 0.5] or "auto", default 0.1
        Share of training samples :meth:`predict` flags. ``"auto"`` uses
        Tukey's fence (Q3 + 1.5 IQR) on the training scores instead.
    device : str, default "auto"
        Torch device for the distance kernels ("auto", "cpu", "cuda", ...).
    random_state : int, numpy Generator or None
        Seeds the reducers and clusterers; an int makes fits repeatable.

    Attributes
    ----------
    prototypes_ : ndarray of shape (K, n_features)
        Prototypes in input units.
    leaves_ : list of Leaf
        The final leaves that own a prototype.
    leaf_labels_ : ndarray of shape (n_samples,)
        Index into ``leaves_`` of each training row, -1 for rows whose group
        was too small to make a prototype.
    leaf_stats_ : drama2.metrics.LeafStats
        Member mean, population covariance and size of each leaf (distance space).
    decision_scores_ : ndarray of shape (n_samples,)
        Anomaly scores of the training data.
    metric_ : str or callable
        The metric the model was fitted and thresholded with; scoring keeps
        using it if ``metric`` is changed with ``set_params`` (refit to switch).
    threshold_ : float
        Score above which :meth:`predict` flags a sample.
    labels_ : ndarray of shape (n_samples,)
        0/1 flags of the training data.
    """

    def __init__(self, reducer="pca", n_components=2, clusterer="ward", split_levels=1, metric="l2",
                 scaling="minmax", prototype="decode", min_leaf_size=0.05, reducer_params=None,
                 clusterer_params=None, contamination=0.1, device="auto", random_state=None):
        self.reducer = reducer
        self.n_components = n_components
        self.clusterer = clusterer
        self.split_levels = split_levels
        self.metric = metric
        self.scaling = scaling
        self.prototype = prototype
        self.min_leaf_size = min_leaf_size
        self.reducer_params = reducer_params
        self.clusterer_params = clusterer_params
        self.contamination = contamination
        self.device = device
        self.random_state = random_state

    @classmethod
    def original(cls, reducer="pca", metric="l2", split_levels=1, **params) -> "Drama":
        """The 2019 DRAMA algorithm, for reproducing published numbers.

        Global scalar scaling (``X / max(X)``, then one min-max), Ward
        splitting, prototypes decoded from latent centroids, latent size 2,
        squared Mahalanobis with a pseudo-inverse, reducers seeded with 0. It
        keeps none of the original's bugs (chunked clustering, phantom
        prototypes, NaN as normal). Prefer the default ``Drama()`` for new work:
        the global scaling lets the widest feature dominate every distance.

        Parameters
        ----------
        reducer : str, default "pca"
            Registered reducer name, as for ``Drama``.
        metric : str, default "l2"
            Registered metric name, as for ``Drama``.
        split_levels : int, default 1
            Number of binary split levels, as for ``Drama``.
        **params
            Any other ``Drama`` parameters; they override the original's
            settings listed above.

        Returns
        -------
        Drama
            An unfitted detector with the original's settings.
        """
        settings = dict(reducer=reducer, metric=metric, split_levels=split_levels, n_components=2,
                        clusterer="ward", scaling="global", prototype="decode", min_leaf_size=2,
                        random_state=0)
        settings.update(params)
        return cls(**settings)

    # ------------------------------------------------------------------ validation
    def _check_params(self):
        levels = self.split_levels
        if isinstance(levels, bool) or not isinstance(levels, (int, np.integer)) or levels < 1:
            raise InvalidInputError(f"split_levels must be an integer >= 1, got {levels!r}.")
        m = self.min_leaf_size
        if isinstance(m, bool) or not isinstance(m, (int, float, np.integer, np.floating)) or not (
                0 < m < 1 or (m >= 2 and float(m).is_integer())):
            raise InvalidInputError(
                f"min_leaf_size must be a share in (0, 1) or an integer >= 2 (a prototype needs at least "
                f"two members), got {self.min_leaf_size!r}.")
        k = self.n_components
        if isinstance(k, bool) or not isinstance(k, (int, np.integer)) or k < 1:
            raise InvalidInputError(f"n_components must be an integer >= 1 (the latent size), got {k!r}.")
        if self.scaling not in SCALINGS:
            raise InvalidInputError(f"scaling must be one of {', '.join(map(repr, SCALINGS))}, got {self.scaling!r}.")
        if self.prototype not in PROTOTYPE_RULES:
            raise InvalidInputError(
                f"prototype must be one of {', '.join(map(repr, PROTOTYPE_RULES))}, got {self.prototype!r}.")
        check_contamination(self.contamination)

    # ------------------------------------------------------------------ fitting
    def fit(self, X, y=None):
        """Fit the split tree and prototypes on ``X`` (labels are ignored).

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
        y : ignored

        Returns
        -------
        self
        """
        self._check_params()
        registry = get_registry()
        reducer_cls = registry.load("reducers", self.reducer)
        clusterer_cls = registry.load("clusterers", self.clusterer)
        from drama2.metrics import LeafStats, get_metric

        get_metric(self.metric)  # fail on an unknown metric before any work
        check_component_params(reducer_cls, self.reducer_params, "reducer_params", f"reducer {self.reducer!r}",
                               owner="Drama", set_by_owner=_REDUCER_SET_BY_DRAMA)
        check_component_params(clusterer_cls, self.clusterer_params, "clusterer_params",
                               f"clusterer {self.clusterer!r}", owner="Drama",
                               set_by_owner=_CLUSTERER_SET_BY_DRAMA)
        data = X
        X = check_array(X, estimator="Drama")
        m = self.min_leaf_size
        min_leaf = max(2, int(np.ceil(m * X.shape[0]))) if m < 1 else int(m)
        if X.shape[0] < 2 * min_leaf:
            raise InvalidInputError(
                f"Drama: X has {X.shape[0]} rows, but splitting into two groups of at least "
                f"{min_leaf} rows (min_leaf_size={self.min_leaf_size}) needs {2 * min_leaf}. "
                "Provide more rows or lower min_leaf_size."
            )
        device = resolve_device(self.device)
        rng = check_random_state(self.random_state)
        scaler = Scaler(self.scaling).fit(X, feature_names=getattr(data, "columns", None))
        Xd = scaler.to_distance_space(X)
        Xr = scaler.to_reducer_space(Xd)

        reducer_params = _with_device(reducer_cls, self.reducer_params, device)
        leaves = [Leaf(path="", members=np.arange(X.shape[0]))]
        for _ in range(int(self.split_levels)):
            next_level = []
            for leaf in leaves:
                next_level.extend(self._split(leaf, Xd, Xr, scaler, min_leaf, reducer_cls, reducer_params,
                                              clusterer_cls, rng))
            leaves = next_level
        leaves = [leaf for leaf in leaves if leaf.prototype is not None]
        prototypes = np.stack([leaf.prototype for leaf in leaves])
        stats = LeafStats.from_groups([Xd[leaf.members] for leaf in leaves])
        scores = _nearest(Xd, prototypes, self.metric, stats, device)[0]

        # Fitted state is replaced only now, so a fit that fails midway leaves the previous fit usable.
        self.min_leaf_size_ = min_leaf
        self.metric_ = self.metric  # scoring stays with the fitted metric after a later set_params
        self.device_ = device
        self.scaler_ = scaler
        self.leaves_ = leaves
        self.leaf_labels_ = np.full(X.shape[0], -1, dtype=np.int64)
        for k, leaf in enumerate(leaves):
            self.leaf_labels_[leaf.members] = k
        self._prototypes_scaled = prototypes
        self.prototypes_ = scaler.from_distance_space(prototypes)
        self.leaf_stats_ = stats
        self.n_features_in_ = X.shape[1]
        set_feature_names(self, data)
        self.decision_scores_ = scores
        self._fit_rows_digest = rows_digest(X)  # lets an active session check that it was given these rows
        self.threshold_ = self._threshold(scores)
        self.labels_ = (scores > self.threshold_).astype(np.int64)
        return self

    def _leaf_seed(self, rng):
        if isinstance(self.random_state, (int, np.integer)):
            return int(self.random_state)
        return seed_from(rng)

    def _split(self, leaf, Xd, Xr, scaler, min_leaf, reducer_cls, reducer_params, clusterer_cls, rng):
        """Split ``leaf`` in two; a leaf too small to split is carried to the next level unchanged."""
        if leaf.size < 2 * min_leaf or (leaf.prototype is not None and leaf.size <= self.n_components):
            return [leaf]
        rows = Xr[leaf.members]
        if not np.ptp(rows, axis=0).any():
            return [leaf]  # identical rows: nothing to reduce or cluster
        reducer = reducer_cls(n_components=self.n_components, random_state=self._leaf_seed(rng), **reducer_params)
        # Plugin reducers need only fit, transform and (where they have one) inverse_transform.
        fitted = reducer.fit_transform(rows) if hasattr(reducer, "fit_transform") else reducer.fit(rows).transform(rows)
        Z = np.asarray(fitted, dtype=np.float64)
        clusterer = clusterer_cls(n_clusters=2, random_state=self._leaf_seed(rng), **(self.clusterer_params or {}))
        labels = np.asarray(clusterer.fit_predict(Z))
        invertible = getattr(reducer, "has_inverse", hasattr(reducer, "inverse_transform"))
        rule = self.prototype if invertible else "mean"
        children = []
        for k in range(2):
            mask = labels == k
            if mask.sum() < min_leaf:
                continue  # no phantom prototypes from empty or tiny groups
            members = leaf.members[mask]
            if rule == "decode":
                centroid = Z[mask].mean(axis=0, keepdims=True)
                proto = scaler.from_reducer_space(reducer.inverse_transform(centroid))[0]
            elif rule == "reconstruction":
                proto = scaler.from_reducer_space(reducer.inverse_transform(Z[mask])).mean(axis=0)
            else:
                proto = Xd[members].mean(axis=0)
            children.append(Leaf(path=leaf.path + str(k), members=members, prototype=proto))
        return children or [leaf]

    def _threshold(self, scores):
        return contamination_threshold(scores, check_contamination(self.contamination))

    @property
    def _fitted_metric(self):
        # Models saved before ``metric_`` existed carry only ``metric``.
        return getattr(self, "metric_", self.metric)

    # ------------------------------------------------------------------ scoring
    def _score_scaled(self, Xd, metric):
        return _nearest(Xd, self._prototypes_scaled, metric, self.leaf_stats_, self.device_)[0]

    def _prepare(self, X):
        check_is_fitted(self, "prototypes_")
        check_feature_names(self, X, name="Drama")
        X = check_array(X, estimator="Drama")
        check_n_features(X, self.n_features_in_, estimator="Drama")
        return self.scaler_.to_distance_space(X)

    def score_samples(self, X, metric=None):
        """Anomaly score of each sample: distance to the nearest prototype (higher = more anomalous).

        Parameters
        ----------
        X : array-like or torch.Tensor of shape (n_samples, n_features)
        metric : str, optional
            Score with another registered metric than the fitted one
            (``metric_``), reusing this fit (how a DRAMA grid evaluates every
            metric with one fit).

        Returns
        -------
        ndarray of shape (n_samples,)
            A tensor on ``X``'s device, of ``X``'s floating dtype, when ``X``
            is a tensor.
        """
        return like_input(self._score_scaled(self._prepare(X), metric or self._fitted_metric), X)

    def decision_function(self, X):
        """Same as :meth:`score_samples` (PyOD convention: higher = more anomalous).

        Parameters
        ----------
        X : array-like or torch.Tensor of shape (n_samples, n_features)
            Samples to score, with the fitted metric.

        Returns
        -------
        ndarray of shape (n_samples,)
            Anomaly scores; a tensor on ``X``'s device, of ``X``'s floating
            dtype, when ``X`` is a tensor.
        """
        return self.score_samples(X)

    def predict(self, X):
        """0/1 flags: 1 where the score (under the fitted metric) exceeds ``threshold_``.

        Parameters
        ----------
        X : array-like or torch.Tensor of shape (n_samples, n_features)
            Samples to flag.

        Returns
        -------
        ndarray of int64, shape (n_samples,)
            1 for samples flagged as anomalous, 0 otherwise.
        """
        Xd = self._prepare(X)
        return (self._score_scaled(Xd, self._fitted_metric) > self.threshold_).astype(np.int64)

    def nearest_leaf(self, X, metric=None):
        """Index into ``leaves_`` of each sample's nearest prototype.

        Parameters
        ----------
        X : array-like or torch.Tensor of shape (n_samples, n_features)
            Samples to assign.
        metric : str or callable, optional
            Registered metric name (or kernel) to measure nearness with;
            defaults to the fitted one (``metric_``).

        Returns
        -------
        ndarray of int, shape (n_samples,)
            Index into ``leaves_`` (and ``prototypes_``) for each sample.
        """
        Xd = self._prepare(X)
        return _nearest(Xd, self._prototypes_scaled, metric or self._fitted_metric, self.leaf_stats_, self.device_)[1]


def _with_device(reducer_cls, params, device) -> dict:
    """The reducer's parameters, with Drama's device added for reducers that train on one (neural ones)."""
    params = dict(params or {})
    if "device" not in params and accepts_parameter(reducer_cls, "device"):
        params["device"] = device
    return params


def _nearest(Xd, prototypes, metric, stats, device):
    """Distance to and index of the nearest prototype; a non-finite distance is an error, never a score."""
    from drama2.metrics import nearest_prototype

    if metric == "mahalanobis":
        _warn_identical_leaves(stats)
    if metric == "correlation" and Xd.shape[1] < 2:
        raise InvalidInputError("Drama: the correlation metric compares the shapes of feature vectors, which a "
                                "single feature does not have (every score would be 1); choose another metric.")
    scores, index = nearest_prototype(Xd, prototypes, metric, stats, device=device)
    bad = ~np.isfinite(scores)
    if bad.any():
        raise InvalidInputError(
            f"Drama: metric {metric!r} gave {int(bad.sum())} non-finite distances (first rows "
            f"{np.flatnonzero(bad)[:5].tolist()}); this metric is undefined for these samples, so "
            "choose another metric."
        )
    return scores, index


def _warn_identical_leaves(stats):
    """A leaf of identical members has a zero covariance, whose pseudo-inverse is zero: every sample is
    at Mahalanobis distance 0 from it, so every score is 0. Say so rather than rank on nothing."""
    flat = np.flatnonzero(~stats.covariances.reshape(len(stats.covariances), -1).any(axis=1))
    if flat.size:
        warnings.warn(
            f"Drama: leaves {flat.tolist()} have identical members (zero covariance), so every sample is at "
            "Mahalanobis distance 0 from them and every score is 0; choose another metric or raise "
            "min_leaf_size.",
            UserWarning,
            stacklevel=4,
        )
