"""Why is this row anomalous? Per-feature contributions to a detector's score.

:func:`explain` is the entry point (exported as ``drama2.explain``). The module
is called ``explanations`` so that the function ``drama2.explain`` does not
shadow a module of the same name.

For a :class:`~drama2.engine.Drama` model the score of a sample ``u`` is its
distance to the nearest prototype ``v`` (in the scaled *distance space*), and
most of DRAMA's metrics split exactly into one term per feature:

=========== ======================================================= ==========
metric      contribution of feature f                               adds up to
=========== ======================================================= ==========
l1          |u_f − v_f|                                             the score
l2          D · (u_f − v_f)² / Σ(u − v)²  (share of the squared     the score
            distance, times the distance)
l4          D · (u_f − v_f)⁴ / Σ(u − v)⁴                            the score
wl2, wl4    as l2, l4 with w_f (u_f − v_f), w_f = 1/σ_f of the leaf the score
canberra    |u_f − v_f| / (|u_f| + |v_f|)  (0/0 counts 0)           the score
braycurtis  |u_f − v_f| / Σ|u + v|  (terms over the shared          the score
            denominator)
correlation ½ (a_f − b_f)², a, b the centred unit-length profiles   the score
            (1 − a·b = ½‖a − b‖² for unit vectors)
mahalanobis (u − μ)_f · (Σ⁺(u − μ))_f from the leaf mean μ; terms   the score
            **can be negative** (a feature that, given the others'
            correlations, brings the sample closer)
chebyshev   |u_f − v_f|; the largest equals the score (the arg-max  max = score
            feature carries it all), the rest rank the others
=========== ======================================================= ==========

``Explanation.additivity`` says which of these holds (``"sum"``, ``"max"``).
Metrics added by plugins are explained by replacement: the contribution of
feature f is the score minus the score with u_f replaced by v_f (the nearest
prototype's value), which needs no reference data but is not additive.

For every other detector (anything with ``score_samples``) the model-agnostic
fallback is the same replacement with a *reference* value per feature — the
training medians, or the medians of the ``reference`` data passed in: the
contribution of f is ``score(x) − score(x with x_f := median_f)``. Positive
values raise the score. It costs d + 1 scoring passes over the rows (done in
row batches, one scoring call per batch) and is not additive: features that
matter only together share their effect unevenly.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from drama2.errors import InvalidInputError
from drama2.scorers.conventions import anomaly_scores
from drama2.validation import check_array, check_feature_names, check_is_fitted, check_n_features

__all__ = ["Explanation", "explain", "explain_drama", "explain_by_replacement", "anomaly_scores",
           "plot_explanation", "EXACT_METRICS"]

#: DRAMA metrics whose contributions add up to the score exactly (``additivity == "sum"``).
EXACT_METRICS = ("l1", "l2", "l4", "wl2", "wl4", "canberra", "braycurtis", "correlation", "mahalanobis")
#: DRAMA metrics whose largest contribution equals the score (``additivity == "max"``).
MAX_METRICS = ("chebyshev",)

# (rows × d) elements scored per call by the replacement fallback: each row becomes d modified copies.
_REPLACEMENT_BATCH_ELEMENTS = 1 << 21


@dataclass
class Explanation:
    """Per-feature contributions to the anomaly score of each row.

    Attributes
    ----------
    contributions : ndarray of shape (n_samples, n_features)
        Contribution of each feature to each row's score; higher = pushes the
        score up more. See :attr:`additivity` for how they relate to the score.
    scores : ndarray of shape (n_samples,)
        The model's score of each row.
    feature_names : list of str
        One name per column of :attr:`contributions`.
    method : str
        ``"drama:<metric>"`` for DRAMA's exact decompositions,
        ``"drama:<metric>:replacement"`` for plugin metrics, ``"replacement"``
        for the model-agnostic fallback.
    additivity : {"sum", "max", "none"}
        ``"sum"``: each row's contributions add up to its score (up to
        rounding); ``"max"``: the largest equals the score (chebyshev);
        ``"none"``: score changes under replacement, not a decomposition.
    values : ndarray of shape (n_samples, n_features)
        The rows in the space the contributions are measured in (DRAMA's
        scaled distance space; input units for the fallback).
    baseline : ndarray of shape (n_samples, n_features)
        What each row is compared with, in the same space: its nearest
        prototype (the leaf's member mean for mahalanobis), or the reference medians.
    nearest : ndarray of shape (n_samples,) of int, or None
        Index into ``model.leaves_`` / ``prototypes_`` of each row's nearest
        prototype (DRAMA models only).
    space : str
        A few words on the space of :attr:`values` and :attr:`baseline`.
    top : int
        Default number of features of :meth:`top_features` and :meth:`to_frame`.
    """

    contributions: np.ndarray = field(repr=False)
    scores: np.ndarray = field(repr=False)
    feature_names: list
    method: str
    additivity: str
    values: np.ndarray = field(repr=False)
    baseline: np.ndarray = field(repr=False)
    nearest: np.ndarray | None = field(default=None, repr=False)
    space: str = ""
    top: int = 5

    def __len__(self) -> int:
        return int(self.contributions.shape[0])

    def top_features(self, k: int | None = None) -> tuple[np.ndarray, np.ndarray]:
        """The ``k`` largest contributions of each row, largest first (ties: the earlier column first).

        Parameters
        ----------
        k : int, optional
            How many features per row (at most the number of features); default :attr:`top`.

        Returns
        -------
        index : ndarray of shape (n_samples, k) of int
            Column indices of the features (into :attr:`feature_names`).
        value : ndarray of shape (n_samples, k)
            Their contributions.
        """
        return top_features(self.contributions, self.top if k is None else k)

    def top_feature_names(self, k: int | None = None) -> list[list[str]]:
        """Names of the ``k`` (default :attr:`top`) most contributing features of each row, largest first.

        Parameters
        ----------
        k : int, optional
            How many features per row (at most the number of features); default :attr:`top`.

        Returns
        -------
        list of list of str
            One list of ``k`` feature names per row, as ordered by :meth:`top_features`.
        """
        index, _ = self.top_features(k)
        names = list(self.feature_names)
        return [[names[j] for j in row] for row in index]

    def to_frame(self, top: int | None = None):
        """One row per sample: score, nearest prototype, top features and their contributions.

        Parameters
        ----------
        top : int, optional
            Number of ``top_feature_i`` / ``top_contribution_i`` column pairs; default :attr:`top`.

        Returns
        -------
        pandas.DataFrame
        """
        import pandas as pd

        frame = pd.DataFrame({"score": self.scores})
        if self.nearest is not None:
            frame["prototype"] = self.nearest
        index, value = self.top_features(top)
        names = np.asarray(self.feature_names, dtype=object)
        for i in range(index.shape[1]):
            frame[f"top_feature_{i + 1}"] = names[index[:, i]]
            frame[f"top_contribution_{i + 1}"] = value[:, i]
        return frame

    def contributions_frame(self):
        """All contributions as a DataFrame with one column per feature."""
        import pandas as pd

        return pd.DataFrame(self.contributions, columns=list(self.feature_names))

    def plot(self, path, *, rows=None, n: int = 6, top: int = 3, labels=None):
        """Write the sample-vs-prototype figure of :func:`plot_explanation` to ``path``.

        Parameters
        ----------
        path : str or Path
            Image file to write (``.png``, ``.pdf`` or ``.svg``); its directory must exist.
        rows : sequence of int, optional
            Which rows to show; default the ``n`` highest-scoring.
        n : int, default 6
            Number of panels when ``rows`` is not given.
        top : int, default 3
            Features marked per panel.
        labels : sequence of str, optional
            One panel title prefix per shown row; default ``row <i>``.

        Returns
        -------
        Path
            The file written.
        """
        return plot_explanation(self, path, rows=rows, n=n, top=top, labels=labels)


def top_features(contributions: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
    """Indices and values of the ``k`` largest entries of each row, largest first (ties: lower index first)."""
    C = np.asarray(contributions, dtype=np.float64)
    n, d = C.shape
    k = int(max(0, min(k, d)))
    if k <= 8:  # k running-maximum sweeps over the columns: far faster than sorting rows for a few features
        work = np.ascontiguousarray(C.T)  # (d, n): each sweep step is one vector operation over the rows
        rows = np.arange(n)
        index = np.empty((n, k), dtype=np.int64)
        value = np.empty((n, k), dtype=np.float64)
        for i in range(k):
            best, where = work[0].copy(), np.zeros(n, dtype=np.int64)
            better = np.empty(n, dtype=bool)
            for j in range(1, d):
                np.greater(work[j], best, out=better)  # strictly: a tie keeps the lower column
                np.copyto(best, work[j], where=better)
                np.copyto(where, j, where=better)
            index[:, i], value[:, i] = where, C[rows, where]
            work[where, rows] = -np.inf
        return index, value
    index = np.argsort(-C, axis=1, kind="stable")[:, :k]  # stable: ties keep the lower column first
    return index.astype(np.int64), np.take_along_axis(C, index, axis=1)


# ====================================================================== entry point
def explain(model, X, *, top: int = 5, reference=None, feature_names=None) -> Explanation:
    """Per-feature contributions to each row's anomaly score.

    Parameters
    ----------
    model : fitted detector
        A :class:`~drama2.engine.Drama` model (exact decompositions, see the
        module notes and :data:`EXACT_METRICS`) or any fitted detector with
        ``score_samples`` (model-agnostic replacement fallback).
    X : array-like or pandas.DataFrame of shape (n_samples, n_features)
        Rows to explain, with the model's features in its order. A DataFrame's
        column names become the feature names.
    top : int, default 5
        Number of top features :meth:`Explanation.top_features`,
        :meth:`Explanation.top_feature_names` and :meth:`Explanation.to_frame`
        give by default; every contribution is computed whatever it is.
    reference : array-like, optional
        For the fallback: the training data (its per-feature medians are
        used) or a 1-D array of one reference value per feature. Ignored for
        DRAMA models, which compare with their prototypes. Without it, a
        non-DRAMA model must carry ``reference_medians_`` (every drama2
        detector keeps it from ``fit``) or an error says what to pass.
    feature_names : list of str, optional
        Names of the columns; default the DataFrame's columns, then the
        model's ``feature_names_in_``, then ``x0, x1, ...``.

    Returns
    -------
    Explanation
        ``contributions`` (n, d), ``scores``, ``feature_names``, ``nearest``
        (DRAMA), and :meth:`Explanation.to_frame` for the top features per row.

    Examples
    --------
    >>> model = drama2.Drama(metric="l1").fit(X)               # doctest: +SKIP
    >>> ex = drama2.explain(model, X[:10])                       # doctest: +SKIP
    >>> ex.contributions.sum(axis=1) - ex.scores                 # doctest: +SKIP
    array([0., 0., ...])
    >>> ex.to_frame(top=3)                                       # doctest: +SKIP
    """
    from drama2.engine import Drama

    if isinstance(top, bool) or not isinstance(top, (int, np.integer)) or top < 0:
        raise InvalidInputError(f"top must be a non-negative integer, got {top!r}.")
    names = _feature_names(X, model, feature_names)
    if isinstance(model, Drama):
        if reference is not None:
            warnings.warn("reference is ignored for a DRAMA model: its contributions compare each row with its "
                          "nearest prototype.", UserWarning, stacklevel=2)
        result = explain_drama(model, X)
    else:
        result = explain_by_replacement(model, X, reference=reference)
    if len(names) != result.contributions.shape[1]:
        raise InvalidInputError(f"feature_names has {len(names)} names for {result.contributions.shape[1]} features.")
    result.feature_names, result.top = names, int(top)
    return result


def _feature_names(X, model, feature_names) -> list[str]:
    if feature_names is not None:
        return [str(n) for n in feature_names]
    columns = getattr(X, "columns", None)
    if columns is not None:
        return [str(c) for c in columns]
    known = getattr(model, "feature_names_in_", None)
    d = np.shape(X)[1] if np.ndim(X) == 2 else 0
    if known is not None and len(known) == d:
        return [str(n) for n in known]
    return [f"x{i}" for i in range(d)]


# ====================================================================== DRAMA
def explain_drama(model, X) -> Explanation:
    """Exact per-feature decomposition of a DRAMA model's distances (see the module notes).

    Parameters
    ----------
    model : drama2.Drama
        A fitted model; its own ``metric`` is explained.
    X : array-like of shape (n_samples, n_features)

    Returns
    -------
    Explanation
        Contributions in the model's scaled distance space; ``nearest`` is the
        nearest prototype of each row and ``scores`` equal ``model.score_samples(X)``.
    """
    from drama2.engine import _nearest
    from drama2.metrics import get_metric

    check_is_fitted(model, "prototypes_")
    check_feature_names(model, X, name="explain")  # columns are used by position: refuse a reordered frame
    X = check_array(X, estimator="explain")
    check_n_features(X, model.n_features_in_, estimator="explain")
    Xd = model.scaler_.to_distance_space(X)
    P = _scaled_prototypes(model)
    stats = model.leaf_stats_
    metric = getattr(model, "metric_", model.metric)
    device = getattr(model, "device_", "cpu")
    scores, nearest = _nearest(Xd, P, metric, stats, device)  # the model's scores, same non-finite check
    V = P[nearest]
    space = "scaled distance space of the model (its scaler_)"
    name = metric if isinstance(metric, str) else getattr(metric, "__name__", "custom")
    # By kernel, not by name: a plugin metric is never taken for a built-in one.
    decompose = _decompositions().get(get_metric(metric))
    if decompose is None:  # a plugin metric: replacement by the prototype's value
        def score_fn(Z):
            return _nearest(Z, P, metric, stats, device)[0]

        contributions = _replacement(score_fn, Xd, V, scores)
        return Explanation(contributions, scores, [], f"drama:{name}:replacement", "none", Xd, V, nearest, space)
    contributions, baseline, additivity = decompose(Xd, V, nearest, scores, stats)
    return Explanation(contributions, scores, [], f"drama:{name}", additivity, Xd,
                       V if baseline is None else baseline, nearest, space)


def _scaled_prototypes(model) -> np.ndarray:
    P = getattr(model, "_prototypes_scaled", None)
    if P is None:
        P = model.scaler_.to_distance_space(model.prototypes_)
    return np.asarray(P, dtype=np.float64)


def _shares_times(S: np.ndarray, scores: np.ndarray) -> np.ndarray:
    """Each term's share of its row's sum, times the row's score (rows summing to 0 get 0)."""
    total = S.sum(axis=1, keepdims=True)
    factor = np.divide(scores[:, None], total, out=np.zeros_like(total), where=total > 0)
    return S * factor


def _l1(Xd, V, nearest, scores, stats):
    return np.abs(Xd - V), None, "sum"


def _l2(Xd, V, nearest, scores, stats):
    return _shares_times(np.square(Xd - V), scores), None, "sum"


def _l4(Xd, V, nearest, scores, stats):
    return _shares_times(np.square(np.square(Xd - V)), scores), None, "sum"


def _wl2(Xd, V, nearest, scores, stats):
    w = stats.inverse_sigmas()[nearest]
    return _shares_times(np.square(w * (Xd - V)), scores), None, "sum"


def _wl4(Xd, V, nearest, scores, stats):
    w = stats.inverse_sigmas()[nearest]
    return _shares_times(np.square(np.square(w * (Xd - V))), scores), None, "sum"


def _chebyshev(Xd, V, nearest, scores, stats):
    return np.abs(Xd - V), None, "max"


def _canberra(Xd, V, nearest, scores, stats):
    num = np.abs(Xd - V)
    den = np.abs(Xd) + np.abs(V)
    return np.divide(num, den, out=np.zeros_like(num), where=den > 0), None, "sum"


def _braycurtis(Xd, V, nearest, scores, stats):
    num = np.abs(Xd - V)
    den = np.abs(Xd + V).sum(axis=1, keepdims=True)
    return np.divide(num, den, out=np.zeros_like(num), where=den > 0), None, "sum"


def _unit_centred(A: np.ndarray) -> np.ndarray:
    """numpy twin of drama2.metrics._unit_centred (same constant-vector rule)."""
    A = np.array(A, dtype=np.float64, copy=True)
    constant = A.min(axis=1) == A.max(axis=1)
    A[constant, 0] += 1e-7
    centred = A - A.mean(axis=1, keepdims=True)
    norm = np.linalg.norm(centred, axis=1, keepdims=True)
    return centred / np.maximum(norm, np.finfo(np.float64).tiny)


def _correlation(Xd, V, nearest, scores, stats):
    if Xd.shape[1] == 1:  # one feature: every profile is constant, the lone feature carries the score
        return scores[:, None].copy(), None, "sum"
    a, b = _unit_centred(Xd), _unit_centred(V)
    return 0.5 * np.square(a - b), None, "sum"


def _mahalanobis(Xd, V, nearest, scores, stats):
    means = stats.means[nearest]
    diff = Xd - means
    precisions = stats.precisions()
    out = np.empty_like(diff)
    for j in np.unique(nearest):
        rows = nearest == j
        out[rows] = diff[rows] * (diff[rows] @ precisions[j])
    return out, means, "sum"


_DECOMPOSITIONS = {"l1": _l1, "l2": _l2, "l4": _l4, "wl2": _wl2, "wl4": _wl4, "chebyshev": _chebyshev,
                   "canberra": _canberra, "braycurtis": _braycurtis, "correlation": _correlation,
                   "mahalanobis": _mahalanobis}


def _decompositions() -> dict:
    """Built-in metric kernel → its decomposition."""
    from drama2 import metrics

    return {getattr(metrics, name): function for name, function in _DECOMPOSITIONS.items()}


# ====================================================================== fallback
def _reference_values(model, reference, d: int) -> np.ndarray:
    if reference is None:
        reference = getattr(model, "reference_medians_", None)
        if reference is None:
            from drama2.scorers.base import BaseDetector

            if isinstance(model, BaseDetector):  # an unfitted drama2 detector: say that, not "needs reference"
                check_is_fitted(model, "decision_scores_")
            raise InvalidInputError(
                f"explaining {type(model).__name__} needs reference values: pass reference=X_train (its "
                "per-feature medians are used) or reference=<one value per feature>.")
    if hasattr(reference, "to_numpy"):
        reference = reference.to_numpy()
    ref = np.asarray(reference, dtype=np.float64)
    if ref.ndim == 2:
        ref = check_array(ref, name="reference", estimator="explain")
        ref = np.median(ref, axis=0)
    if ref.ndim != 1 or ref.shape[0] != d:
        raise InvalidInputError(f"reference must be the training data (n, {d}) or {d} finite values per feature; "
                                f"got shape {np.shape(reference)}.")
    if not np.isfinite(ref).all():
        bad = np.flatnonzero(~np.isfinite(ref))
        raise InvalidInputError(f"reference has non-finite values for feature(s) {bad[:10].tolist()}; give a finite "
                                "value for every feature.")
    return ref


def explain_by_replacement(model, X, *, reference=None, score_fn=None) -> Explanation:
    """Model-agnostic contributions: score(x) − score(x with feature f set to its reference value).

    Parameters
    ----------
    model : fitted detector
        Scored through :func:`anomaly_scores` unless ``score_fn`` is given.
    X : array-like of shape (n_samples, n_features)
    reference : array-like, optional
        Training data (per-feature medians are taken) or one value per
        feature; default ``model.reference_medians_``.
    score_fn : callable, optional
        ``score_fn(X) -> (n,)`` scores, higher = more anomalous.

    Returns
    -------
    Explanation
        ``additivity == "none"``; ``baseline`` holds the reference values.
        Costs d + 1 scoring passes over ``X``, in row batches of one call each.
    """
    check_feature_names(model, X, name="explain")
    X = check_array(X, estimator="explain")
    n_expected = getattr(model, "n_features_in_", None)
    if n_expected is not None:
        check_n_features(X, int(n_expected), estimator="explain")
    ref = _reference_values(model, reference, X.shape[1])
    score_fn = score_fn or (lambda Z: anomaly_scores(model, Z))
    scores = score_fn(X)
    baseline = np.broadcast_to(ref, X.shape)
    contributions = _replacement(score_fn, X, baseline, scores)
    return Explanation(contributions, scores, [], "replacement", "none", X, baseline, None,
                       "input units; baseline = reference medians")


def _replacement(score_fn, X: np.ndarray, baseline: np.ndarray, scores: np.ndarray) -> np.ndarray:
    """score − score with one feature replaced by the baseline's value, for every feature (d scorings per row)."""
    n, d = X.shape
    out = np.empty((n, d), dtype=np.float64)
    rows = max(1, _REPLACEMENT_BATCH_ELEMENTS // max(1, d * d))
    eye = np.eye(d, dtype=bool)
    for start in range(0, n, rows):
        stop = min(n, start + rows)
        chunk, base = X[start:stop], np.broadcast_to(baseline[start:stop], (stop - start, d))
        # (m, d, d): copy k of row i has feature k replaced.
        batch = np.where(eye[None, :, :], base[:, None, :], chunk[:, None, :]).reshape(-1, d)
        replaced = np.asarray(score_fn(batch), dtype=np.float64).reshape(stop - start, d)
        out[start:stop] = scores[start:stop, None] - replaced
    return out


# ====================================================================== figure
#: Image formats :func:`plot_explanation` writes, by file suffix.
FIGURE_SUFFIXES = (".png", ".pdf", ".svg")


def check_figure_path(path) -> Path:
    """``path`` as a Path, or an error when its directory is missing or its suffix is not an image format."""
    path = Path(path)
    if path.suffix.lower() not in FIGURE_SUFFIXES:
        raise InvalidInputError(f"{path}: figures are written as {', '.join(FIGURE_SUFFIXES)}; give a file name "
                                "ending in one of them.")
    if not path.parent.is_dir():
        raise InvalidInputError(f"{path}: the directory {path.parent} does not exist; create it first.")
    return path


def plot_explanation(explanation: Explanation, path, *, rows=None, n: int = 6, top: int = 3, labels=None) -> Path:
    """Figure of the top anomalies: each sample beside its prototype (or reference).

    One panel per row: the sample's values (dots) and its baseline (line)
    across features, in the explanation's space, with the ``top`` most
    contributing features marked and named.

    Parameters
    ----------
    explanation : Explanation
    path : str or Path
        Image file to write: ``.png``, ``.pdf`` or ``.svg`` (written under a
        temporary name, then renamed).
    rows : sequence of int, optional
        Which rows to show; default the ``n`` highest-scoring.
    n : int, default 6
        Number of panels when ``rows`` is not given.
    top : int, default 3
        Features marked per panel.
    labels : sequence of str, optional
        One panel title prefix per shown row (e.g. its rank and id); default ``row <i>``.

    Returns
    -------
    Path
    """
    import matplotlib

    matplotlib.use("Agg", force=False)
    from matplotlib.figure import Figure

    path = check_figure_path(path)
    if rows is None:
        rows = np.argsort(-explanation.scores, kind="stable")[:n]
    rows = [int(r) for r in rows]
    labels = [f"row {r}" for r in rows] if labels is None else [str(t) for t in labels]
    if len(labels) != len(rows):
        raise InvalidInputError(f"plot_explanation: {len(labels)} labels for {len(rows)} rows.")
    if not rows:
        raise InvalidInputError("plot_explanation: no rows to show.")
    names = list(explanation.feature_names)
    d = len(names)
    ncols = min(2, len(rows))
    nrows = (len(rows) + ncols - 1) // ncols
    fig = Figure(figsize=(max(6.0, min(18.0, 0.35 * d + 3)) * ncols / 1.5, 2.6 * nrows), layout="constrained")
    axes = fig.subplots(nrows, ncols, squeeze=False)
    index, value = explanation.top_features(top)
    x = np.arange(d)
    baseline_label = "prototype" if explanation.nearest is not None else "reference"
    if explanation.method == "drama:mahalanobis":
        baseline_label = "leaf mean"
    for panel, r in enumerate(rows):
        ax = axes[panel // ncols][panel % ncols]
        ax.plot(x, explanation.baseline[r], "-", color="0.5", lw=1.5, label=baseline_label)
        ax.plot(x, explanation.values[r], "o", color="tab:red", ms=3.5, label="sample")
        for j, c in zip(index[r], value[r]):
            ax.axvline(j, color="tab:orange", alpha=0.35, lw=3)
            ax.annotate(f"{names[j]} ({c:.3g})", (j, explanation.values[r, j]), xytext=(3, 3),
                        textcoords="offset points", fontsize=7)
        where = f", prototype {explanation.nearest[r]}" if explanation.nearest is not None else ""
        ax.set_title(f"{labels[panel]}\nscore {explanation.scores[r]:.4g}{where}", fontsize=8)
        if d <= 30:
            ax.set_xticks(x, names, rotation=90, fontsize=6)
        ax.tick_params(labelsize=7)
        if panel == 0:
            ax.legend(fontsize=7, loc="best")
    for panel in range(len(rows), nrows * ncols):
        axes[panel // ncols][panel % ncols].set_visible(False)
    fig.suptitle(f"top anomalies vs their {baseline_label}s ({explanation.method}; {explanation.space})", fontsize=9)
    tmp = path.with_name(f".{path.name}.tmp{path.suffix}")
    try:
        fig.savefig(tmp, dpi=110, format=path.suffix[1:].lower())
        tmp.replace(path)
    finally:
        if tmp.exists():
            tmp.unlink()
    return path
