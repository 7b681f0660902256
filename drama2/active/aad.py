"""Active Anomaly Discovery (AAD) weight updates for a linear ensemble score.

Das, Wong, Dietterich, Fern & Emmott, "Incorporating expert feedback into active
anomaly discovery" (ICDM 2016) and Das et al., "Active anomaly detection via
ensembles" (2018): the anomaly score is ``w · z`` over the member scores ``z``.
After feedback, ``w`` minimises hinge losses that push labelled anomalies above,
and labelled nominal rows below, the score ``q_τ`` at the top-τ quantile, plus an
L2 pull towards the prior weights:

    L(w) = 1/|A| Σ_{i∈A} [ (q − w·z_i)_+ + (w·(z_τ − z_i))_+ ]
         + 1/|N| Σ_{j∈N} [ (w·z_j − q)_+ + (w·(z_j − z_τ))_+ ]
         + λ/2 ‖w − w₀‖²,      w ≥ 0, Σ w = 1,

where ``q`` is the τ-quantile score and ``z_τ`` the row holding it, both taken
from the current weights and kept fixed while ``w`` is optimised (the AAD
"tau instance" constraint). The choices follow AAD's published settings rather
than anything tuned here: τ = 0.03, equal costs for both classes and both
terms, prior variance σ² = 0.5 and the "adaptive" prior influence
λ = 1 / (σ² |H|) for |H| labelled rows (the prior matters less as labels
accumulate). AAD keeps ``w`` on the unit sphere with the uniform prior
``1/√m``; drama2's weights sum to one, and rescaling the objective to that
simplex (the hinge terms are linear in ``w``, the pull quadratic) multiplies λ
by ``1/‖w₀‖₂``.

The update is a pure function of the labelled sets: every update starts again
from ``w₀`` and re-centres the quantile ``n_rounds`` times, so a session that is
replayed from its label log ends in exactly the same weights as one that ran
without interruption.
"""

from __future__ import annotations

import math

import numpy as np

from drama2.errors import InvalidInputError

__all__ = ["aad_weights", "aad_loss", "project_to_simplex", "quantile_row"]

#: AAD's defaults (Das et al.): top quantile, prior variance.
TAU = 0.03
PRIOR_VARIANCE = 0.5


def project_to_simplex(v: np.ndarray) -> np.ndarray:
    """Euclidean projection of ``v`` onto ``{w : w >= 0, sum(w) = 1}``.

    Sort the values, find the largest ``k`` whose shifted top-``k`` values stay
    positive, and subtract the shift that makes them sum to one.

    Parameters
    ----------
    v : ndarray of shape (m,)

    Returns
    -------
    ndarray of shape (m,)
    """
    v = np.asarray(v, dtype=np.float64)
    desc = np.sort(v)[::-1]
    excess = np.cumsum(desc) - 1.0
    k = np.arange(1, v.size + 1)
    positive = desc - excess / k > 0
    last = int(np.flatnonzero(positive)[-1])
    shift = excess[last] / (last + 1)
    return np.maximum(v - shift, 0.0)


def quantile_row(scores: np.ndarray, tau: float) -> int:
    """Index of the row whose score is the top-``tau`` quantile (the ``ceil(tau n)``-th highest score)."""
    k = min(scores.size, max(1, math.ceil(tau * scores.size)))
    top = np.argpartition(-scores, k - 1)[:k]
    # Among the k highest, the lowest (ties: the largest index, so the choice never depends on argpartition).
    low = scores[top].min()
    return int(top[scores[top] == low].max())


def _prior_strength(prior: np.ndarray, n_labelled: int, prior_variance: float) -> float:
    return 1.0 / (prior_variance * max(n_labelled, 1) * float(np.linalg.norm(prior)))


def _gradient(w, Z, coef, anomaly, q, z_tau, prior, lam):
    """A subgradient of the objective; rows of ``Z`` are labelled rows, ``coef`` is -1/|A| or +1/|N|."""
    s = Z @ w
    t = z_tau @ w
    # Violations: anomalies below q (or below the tau row), nominal rows at or above them.
    off_q = np.where(anomaly, s < q, s >= q)
    off_t = np.where(anomaly, s < t, s >= t)
    c_t = coef * off_t
    return lam * (w - prior) + (coef * off_q + c_t) @ Z - c_t.sum() * z_tau


def _labelled_problem(anomalies, nominals, tau, prior_variance, n_rounds, n_steps):
    """Check the settings; return the labelled rows (anomalies first), their anomaly flags and hinge coefficients.

    The coefficients are -1/|A| for anomalies and +1/|N| for nominal rows, as :func:`_gradient` expects.
    """
    if not 0 < tau < 1:
        raise InvalidInputError(f"tau must be in (0, 1), got {tau!r}.")
    if prior_variance <= 0 or n_rounds < 1 or n_steps < 2:
        raise InvalidInputError("prior_variance must be > 0, n_rounds >= 1 and n_steps >= 2.")
    A = np.asarray(anomalies, dtype=np.intp).reshape(-1)
    N = np.asarray(nominals, dtype=np.intp).reshape(-1)
    anomaly = np.r_[np.ones(A.size, bool), np.zeros(N.size, bool)]
    coef = np.where(anomaly, -1.0 / max(A.size, 1), 1.0 / max(N.size, 1))
    return np.r_[A, N], anomaly, coef


def aad_loss(w, member_scores, anomalies, nominals, prior, q, tau_row, *, prior_variance=PRIOR_VARIANCE) -> float:
    """The AAD objective of the module docstring at weights ``w`` (for tests and diagnostics).

    Parameters
    ----------
    w, prior : ndarray of shape (m,)
        Weights to evaluate and the prior weights.
    member_scores : ndarray of shape (n, m)
    anomalies, nominals : array-like of int
        Labelled rows.
    q : float
        The quantile score.
    tau_row : int
        Index of the row at the quantile.

    Returns
    -------
    float
    """
    S = np.asarray(member_scores, dtype=np.float64)
    A, N = np.asarray(anomalies, dtype=np.intp), np.asarray(nominals, dtype=np.intp)
    w = np.asarray(w, dtype=np.float64)
    t = S[tau_row] @ w
    loss = 0.0
    if A.size:
        s = S[A] @ w
        loss += (np.maximum(q - s, 0) + np.maximum(t - s, 0)).sum() / A.size
    if N.size:
        s = S[N] @ w
        loss += (np.maximum(s - q, 0) + np.maximum(s - t, 0)).sum() / N.size
    lam = _prior_strength(prior, A.size + N.size, prior_variance)
    return float(loss + 0.5 * lam * np.sum((w - prior) ** 2))


def _minimise(w, Z, coef, anomaly, q, z_tau, prior, lam, n_steps):
    """Projected subgradient descent on the simplex, normalised steps of length √2/√(t+1), averaged iterate."""
    diameter = math.sqrt(2.0)
    total = np.zeros_like(w)
    counted = 0
    for t in range(n_steps):
        g = _gradient(w, Z, coef, anomaly, q, z_tau, prior, lam)
        norm = float(np.linalg.norm(g))
        if norm == 0.0:  # every constraint met and w == prior: optimal
            return w
        w = project_to_simplex(w - (diameter / math.sqrt(t + 1.0)) * g / norm)
        if t >= n_steps // 2:  # average the second half of the iterates
            total += w
            counted += 1
    return total / counted


def aad_weights(member_scores, anomalies, nominals, prior, *, tau: float = TAU,
                prior_variance: float = PRIOR_VARIANCE, n_rounds: int = 2, n_steps: int = 300) -> np.ndarray:
    """AAD weights after feedback on some rows.

    Parameters
    ----------
    member_scores : ndarray of shape (n, m)
        Normalised member scores (higher = more anomalous), e.g.
        :meth:`drama2.ensemble.Ensemble.member_scores`.
    anomalies, nominals : array-like of int
        Rows labelled anomaly / nominal (indices into ``member_scores``).
    prior : array-like of shape (m,)
        Weights before any feedback (non-negative, summing to 1).
    tau : float, default 0.03
        Labelled anomalies are pushed into the top ``tau`` share of the scores.
    prior_variance : float, default 0.5
        σ² of the L2 pull towards ``prior``; its strength is ``1 / (σ² |H| ‖prior‖₂)``
        with ``|H|`` labelled rows.
    n_rounds : int, default 2
        How many times the quantile is re-computed from the new weights; 2 lets it
        follow the ranking the first round produced.
    n_steps : int, default 300
        Projected-subgradient steps per round.

    Returns
    -------
    ndarray of shape (m,)
        Non-negative weights summing to 1; ``prior`` itself when nothing is labelled.
    """
    S = np.asarray(member_scores, dtype=np.float64)
    prior = np.asarray(prior, dtype=np.float64).reshape(-1)
    if S.ndim != 2 or S.shape[1] != prior.size:
        raise InvalidInputError(f"member_scores must be (n, {prior.size}) for {prior.size} prior weights, "
                                f"got shape {S.shape}.")
    labelled, anomaly, coef = _labelled_problem(anomalies, nominals, tau, prior_variance, n_rounds, n_steps)
    if labelled.size == 0:
        return prior.copy()
    lam = _prior_strength(prior, labelled.size, prior_variance)
    Z = S[labelled]
    w = prior.copy()
    for _ in range(n_rounds):
        scores = S @ w
        row = quantile_row(scores, tau)
        w = _minimise(w, Z, coef, anomaly, float(scores[row]), S[row], prior, lam, n_steps)
    return w
