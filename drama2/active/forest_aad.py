"""Tree-based AAD: re-weighting the leaves of an isolation forest after feedback.

Das, Wong, Fern, Dietterich & Siddiqui, "Incorporating feedback into
tree-based anomaly detection" (KDD workshop on interactive data exploration,
2017). Every leaf of every tree is one ensemble member: a row's feature for
leaf ``l`` is ``-h_l`` (the isolation forest's path length to that leaf,
``depth + c(leaf size)``) when the row falls into ``l`` and 0 otherwise.
With every weight equal (``1/√m`` for ``m`` leaves) the score ``w · φ(x)`` is
minus the summed path length, so the initial ranking is exactly the forest's
own. Feedback then moves single leaves: a leaf that holds labelled nominal
rows loses weight, and so do the unlabelled rows that share it; a region
around labelled anomalies keeps or gains it. That is far more freedom than
re-weighting a handful of ensemble members, and it is where AAD's published
gains come from.

The objective is AAD's (:mod:`drama2.active.aad`), with the weights free in
sign and the prior the uniform unit vector (Das et al.'s ``--unifprior``), so
the prior's strength is ``1/(σ²|H|)``. It is minimised by Pegasos-style
subgradient steps ``1/(λ t)`` with the second half of the iterates averaged.
Only leaves that hold a labelled row or the τ-quantile row can move (every
other weight stays at the prior, where its gradient is zero), so an update
costs a few hundred sparse steps (one entry per tree in each labelled row) plus
one pass over the rows per round.
"""

from __future__ import annotations

import math

import numpy as np

from drama2.active.aad import PRIOR_VARIANCE, TAU, _gradient, _labelled_problem, _prior_strength, quantile_row

__all__ = ["LeafFeatures", "isolation_forest_of", "leaf_aad_scores", "average_path_length", "node_path_lengths"]

#: Rows scored per block, so a pass over many rows holds a (block × trees) array at most.
_BLOCK_ROWS = 65_536


def average_path_length(n) -> np.ndarray:
    """``c(n)``: the expected path length of an unsuccessful search in a binary search tree of ``n`` points.

    Liu, Ting & Zhou (2008): ``c(n) = 2 H(n - 1) - 2 (n - 1) / n`` with ``H(i) ≈ ln i + γ``;
    ``c(1) = 0`` and ``c(2) = 1``.
    """
    n = np.asarray(n, dtype=np.float64)
    safe = np.maximum(n, 3.0)
    c = 2.0 * (np.log(safe - 1.0) + np.euler_gamma) - 2.0 * (safe - 1.0) / safe
    return np.where(n <= 1, 0.0, np.where(n == 2, 1.0, c))


def node_path_lengths(tree) -> np.ndarray:
    """Depth plus ``c(samples)`` at every node of a fitted scikit-learn tree (``tree.tree_``).

    At a leaf it is the path length the isolation forest scores with; at an internal node, the path length
    the tree would give if it stopped growing there.
    """
    depth = np.zeros(tree.node_count)
    for node in range(tree.node_count):  # children always come after their parent
        for child in (tree.children_left[node], tree.children_right[node]):
            if child >= 0:
                depth[child] = depth[node] + 1
    return depth + average_path_length(tree.n_node_samples)


def isolation_forest_of(detector):
    """The fitted scikit-learn ``IsolationForest`` behind ``detector``, or None.

    Recognises drama2's ``iforest`` scorer, PyOD's ``IForest`` (also behind
    drama2's ``pyod:IForest``, two wrappers deep) and scikit-learn's
    ``IsolationForest`` itself.
    """
    from sklearn.ensemble import IsolationForest

    def inside(model):  # the model itself and the fitted models it wraps
        return (model, getattr(model, "estimator_", None), getattr(model, "detector_", None))

    for outer in inside(detector):
        for candidate in inside(outer):
            if isinstance(candidate, IsolationForest) and hasattr(candidate, "estimators_"):
                return candidate
    return None


class LeafFeatures:
    """The leaf memberships of some rows in a fitted isolation forest.

    Parameters
    ----------
    forest : sklearn.ensemble.IsolationForest
        A fitted forest.
    X : ndarray of shape (n, d)
        The rows (as the forest sees them).

    Attributes
    ----------
    leaves : ndarray of shape (n, n_trees), int64
        Global node id (over all trees) of the leaf each row reaches in each tree.
    values : ndarray of shape (n_nodes,)
        ``-h`` for every leaf (minus its path length), 0 for internal nodes.
    prior : ndarray of shape (n_nodes,)
        The uniform unit weights: ``1/√m`` on each of the ``m`` leaves, 0 elsewhere.
    """

    def __init__(self, forest, X: np.ndarray):
        X32 = np.asarray(X, dtype=np.float32)
        trees = forest.estimators_
        features = forest.estimators_features_
        offsets = np.cumsum([0] + [tree.tree_.node_count for tree in trees])
        self.leaves = np.empty((X32.shape[0], len(trees)), dtype=np.int64)
        values = []
        for t, (tree, cols) in enumerate(zip(trees, features)):
            self.leaves[:, t] = tree.apply(X32[:, cols]) + offsets[t]
            values.append(-self._path_lengths(tree.tree_))
        self.values = np.concatenate(values)
        is_leaf = np.concatenate([tree.tree_.children_left == -1 for tree in trees])
        self.prior = np.where(is_leaf, 1.0 / math.sqrt(int(is_leaf.sum())), 0.0)

    @staticmethod
    def _path_lengths(tree) -> np.ndarray:
        """Depth plus ``c(samples)`` at each leaf (scikit-learn's per-leaf path length); 0 at internal nodes."""
        return np.where(tree.children_left == -1, node_path_lengths(tree), 0.0)

    def scores(self, weights: np.ndarray) -> np.ndarray:
        """``w · φ(x)`` for every row."""
        contribution = self.values * weights
        out = np.empty(self.leaves.shape[0])
        for start in range(0, out.size, _BLOCK_ROWS):
            block = self.leaves[start:start + _BLOCK_ROWS]
            out[start:start + _BLOCK_ROWS] = contribution[block].sum(axis=1)
        return out

    def rows(self, rows: np.ndarray, columns: np.ndarray):
        """φ of ``rows`` restricted to ``columns`` (sorted node ids holding all their leaves).

        Returns a scipy CSR matrix of shape (len(rows), len(columns)) with one entry per tree in each row.
        """
        from scipy.sparse import csr_matrix

        leaves = self.leaves[rows]
        n_trees = leaves.shape[1]
        indptr = np.arange(0, leaves.size + 1, n_trees)
        return csr_matrix((self.values[leaves].ravel(), np.searchsorted(columns, leaves).ravel(), indptr),
                          shape=(len(rows), columns.size))


def leaf_aad_scores(features: LeafFeatures, anomalies, nominals, *, tau: float = TAU,
                    prior_variance: float = PRIOR_VARIANCE, n_rounds: int = 2,
                    n_steps: int = 300, initial=None) -> tuple[np.ndarray, np.ndarray]:
    """Leaf weights after feedback on some rows, and the scores they give.

    Parameters
    ----------
    features : LeafFeatures
        The session's rows in the forest.
    anomalies, nominals : array-like of int
        Rows labelled anomaly / nominal.
    tau, prior_variance, n_rounds, n_steps
        As in :func:`drama2.active.aad.aad_weights`.
    initial : ndarray of shape (n,), optional
        ``features.scores(features.prior)`` when the caller has it already (saves a pass over the rows).

    Returns
    -------
    scores : ndarray of shape (n,)
    weights : ndarray of shape (n_nodes,)
        The prior itself when nothing is labelled.
    """
    labelled, anomaly, coef = _labelled_problem(anomalies, nominals, tau, prior_variance, n_rounds, n_steps)
    prior = features.prior
    w = prior.copy()
    scores = features.scores(w) if initial is None else np.asarray(initial, dtype=np.float64)
    if labelled.size == 0:
        return scores, w
    lam = _prior_strength(prior, labelled.size, prior_variance)
    for _ in range(n_rounds):
        row = quantile_row(scores, tau)
        columns = np.unique(np.r_[features.leaves[labelled].ravel(), features.leaves[row]])
        Z = features.rows(labelled, columns)
        z_tau = features.rows(np.array([row]), columns).toarray()[0]
        v = _pegasos(w[columns], Z, coef, anomaly, float(scores[row]), z_tau, prior[columns], lam, n_steps)
        w = w.copy()
        w[columns] = v
        scores = features.scores(w)
    return scores, w


def _pegasos(w, Z, coef, anomaly, q, z_tau, prior, lam, n_steps):
    """Subgradient steps of length 1/(λ t) on the λ-strongly convex objective; the second half averaged."""
    total = np.zeros_like(w)
    counted = 0
    for t in range(1, n_steps + 1):
        w = w - _gradient(w, Z, coef, anomaly, q, z_tau, prior, lam) / (lam * t)
        if t > n_steps // 2:
            total += w
            counted += 1
    return total / counted
