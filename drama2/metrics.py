"""The ten DRAMA distance metrics as vectorised torch kernels, computed in row chunks.

A kernel has the signature ``kernel(X, P, stats) -> D`` where ``X`` is an
(m, d) chunk of samples, ``P`` the (K, d) prototypes and ``stats`` the
:class:`LeafStats` of the K leaves; it returns the (m, K) distances on the
same device and never modifies its inputs (operations that work in place only
touch temporaries the kernel allocated itself).

:func:`pairwise_distances` drives a kernel over row chunks sized so that the
(rows, K, d) temporaries stay within a fixed budget, whatever the number of rows.

Definitions follow the DRAMA paper (SPEC §2.5): ``u`` is a sample, ``v`` the
prototype of leaf ``j``.

========== ===========================================================
key        distance
========== ===========================================================
l1         Σ|u − v|
l2         (Σ(u − v)²)^½
l4         (Σ(u − v)⁴)^¼
wl2        (Σ(w_j (u − v))²)^½, w_j = 1/σ_j, σ_j = sqrt(max(var_j, 1e-4))
wl4        as wl2 with power 4
braycurtis Σ|u − v| / Σ|u + v| (0/0 counts 0)
chebyshev  max|u − v|
canberra   Σ |u − v| / (|u| + |v|), terms with 0/0 count 0
correlation 1 − centred cosine; a constant vector gets 1e-7 added to its first
           element (on a copy) as the original did; still-undefined cases give 1
mahalanobis squared, (u − μ_j)ᵀ Σ_j⁺ (u − μ_j) with the leaf's member mean μ_j
========== ===========================================================
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Callable

import numpy as np
import torch

from drama2.errors import InvalidInputError

__all__ = [
    "LeafStats",
    "METRIC_NAMES",
    "SIGMA_FLOOR_VARIANCE",
    "pairwise_distances",
    "nearest_prototype",
    "get_metric",
]

#: Variance floor of the weighted metrics: σ = sqrt(max(var, 1e-4)), i.e. σ ≥ 0.01.
SIGMA_FLOOR_VARIANCE = 1e-4

#: (rows × K × d) elements per chunk. Small enough that CPU temporaries stay in
#: cache (large chunks were several times slower), large enough to amortise
#: Python overhead; on CUDA far larger chunks keep the device busy.
CPU_CHUNK_ELEMENTS = 1 << 18
CUDA_CHUNK_ELEMENTS = 1 << 26


def _symmetric_pinv(matrix: np.ndarray, rtol: float = 1e-15) -> np.ndarray:
    """Pseudo-inverse of a symmetric matrix through its eigendecomposition.

    Equal to ``np.linalg.pinv(matrix)`` (same relative cut-off on the singular values, which for a
    symmetric matrix are the absolute eigenvalues) but about four times faster than its SVD, which
    matters for wide data: a 3000-feature covariance takes seconds instead of half a minute.
    """
    eigenvalues, vectors = np.linalg.eigh(matrix)
    magnitude = np.abs(eigenvalues)
    keep = magnitude > rtol * magnitude.max() if magnitude.size else magnitude.astype(bool)
    kept = vectors[:, keep]
    return (kept / eigenvalues[keep]) @ kept.T


@dataclass
class LeafStats:
    """Statistics of the members of each leaf, used by the weighted and Mahalanobis metrics.

    Parameters
    ----------
    means : ndarray of shape (K, d)
        Member mean of each leaf.
    covariances : ndarray of shape (K, d, d)
        Population covariance (divided by the member count) of each leaf.
    sizes : ndarray of shape (K,)
        Member count of each leaf.
    """

    means: np.ndarray
    covariances: np.ndarray
    sizes: np.ndarray
    _cache: dict = field(default_factory=dict, repr=False, compare=False)

    @classmethod
    def from_groups(cls, groups: list[np.ndarray]) -> "LeafStats":
        """Statistics of a list of (n_j, d) member arrays."""
        means = np.stack([g.mean(axis=0) for g in groups])
        covs = np.stack([np.atleast_2d(np.cov(g, rowvar=False, bias=True)) for g in groups])
        sizes = np.array([len(g) for g in groups], dtype=np.int64)
        return cls(means, covs, sizes)

    @property
    def variances(self) -> np.ndarray:
        return np.diagonal(self.covariances, axis1=1, axis2=2).copy()

    def inverse_sigmas(self) -> np.ndarray:
        """1/σ per leaf and feature with the variance floored at :data:`SIGMA_FLOOR_VARIANCE`."""
        return 1.0 / np.sqrt(np.maximum(self.variances, SIGMA_FLOOR_VARIANCE))

    def precisions(self) -> np.ndarray:
        """Moore–Penrose pseudo-inverse of each leaf covariance (computed once, cached)."""
        if "precisions" not in self._cache:
            self._cache["precisions"] = np.stack([_symmetric_pinv(c) for c in self.covariances])
        return self._cache["precisions"]

    def tensor(self, name: str, like: torch.Tensor) -> torch.Tensor:
        """Statistic ``name`` (``means``, ``inverse_sigmas``, ``precisions``) as a tensor matching ``like``.

        Parameters
        ----------
        name : str
            Attribute or method of this object giving the statistic, e.g.
            ``"means"``, ``"inverse_sigmas"`` or ``"precisions"``.
        like : torch.Tensor
            Tensor whose device and dtype the result takes.

        Returns
        -------
        torch.Tensor
            The statistic, converted once per (name, device, dtype) and cached.
        """
        key = (name, like.device, like.dtype)
        if key not in self._cache:
            value = getattr(self, name)
            value = value() if callable(value) else value
            self._cache[key] = torch.as_tensor(np.ascontiguousarray(value), dtype=like.dtype, device=like.device)
        return self._cache[key]


# --------------------------------------------------------------------------- kernels
def _diff(X: torch.Tensor, P: torch.Tensor) -> torch.Tensor:
    """(m, K, d) differences in a fresh tensor (safe to modify in place)."""
    return X.unsqueeze(1) - P.unsqueeze(0)


def l1(X, P, stats=None):
    return torch.cdist(X, P, p=1.0)


def l2(X, P, stats=None):
    # The matrix-product shortcut loses precision for near-identical rows.
    return torch.cdist(X, P, p=2.0, compute_mode="donot_use_mm_for_euclid_dist")


def l4(X, P, stats=None):
    # Two squarings are exact and much faster than a generic pow(4).
    return _diff(X, P).square_().square_().sum(-1).pow_(0.25)


def chebyshev(X, P, stats=None):
    return torch.cdist(X, P, p=float("inf"))


def wl2(X, P, stats):
    w = stats.tensor("inverse_sigmas", X)
    return _diff(X, P).mul_(w).square_().sum(-1).sqrt_()


def wl4(X, P, stats):
    w = stats.tensor("inverse_sigmas", X)
    return _diff(X, P).mul_(w).square_().square_().sum(-1).pow_(0.25)


def braycurtis(X, P, stats=None):
    num = torch.cdist(X, P, p=1.0)
    den = torch.cdist(X, -P, p=1.0)  # Σ|u + v| = Σ|u − (−v)|
    # 0/0 (both vectors zero) counts as identical.
    return torch.where(num == 0, torch.zeros_like(num), num / den)


def canberra(X, P, stats=None):
    num = _diff(X, P).abs_()
    den = X.abs().unsqueeze(1) + P.abs().unsqueeze(0)
    # Where |u_f| + |v_f| = 0 the numerator is 0 too: 0 / tiny = 0, the 0/0 rule.
    return num.div_(den.clamp_min_(torch.finfo(X.dtype).tiny)).sum(-1)


def _unit_centred(A: torch.Tensor) -> torch.Tensor:
    low, high = torch.aminmax(A, dim=1)
    constant = low == high
    if bool(constant.any()):
        A = A.clone()
        A[constant, 0] += 1e-7  # the original's rule for constant vectors, on a copy
    centred = A - A.mean(dim=1, keepdim=True)
    norm = torch.linalg.vector_norm(centred, dim=1, keepdim=True)
    # A vector with no spread left (d = 1) is all zeros here: 0 / tiny = 0, giving distance 1.
    return centred.div_(norm.clamp_min_(torch.finfo(A.dtype).tiny))


def correlation(X, P, stats=None):
    return 1.0 - _unit_centred(X) @ _unit_centred(P).T


def mahalanobis(X, P, stats):
    means = stats.tensor("means", X)
    precisions = stats.tensor("precisions", X)
    out = torch.empty((X.shape[0], means.shape[0]), dtype=X.dtype, device=X.device)
    for j in range(means.shape[0]):
        diff = X - means[j]
        out[:, j] = ((diff @ precisions[j]) * diff).sum(-1)
    return out


# Kernels that never build (rows, K, d) temporaries run faster on larger chunks:
# fewer calls, and torch.cdist / matrix products parallelise better.
for _kernel in (l1, l2, braycurtis):
    _kernel.chunk_elements = 1 << 22
chebyshev.chunk_elements = 1 << 21
mahalanobis.chunk_elements = 1 << 20

METRIC_NAMES = ("l1", "l2", "l4", "wl2", "wl4", "braycurtis", "chebyshev", "canberra", "correlation",
                "mahalanobis")


def get_metric(metric: str | Callable) -> Callable:
    """The kernel for a metric name (resolved through the plugin registry) or a kernel itself.

    Parameters
    ----------
    metric : str or callable
        A registered metric name (``drama2 list metrics``), or a kernel, which
        is returned unchanged.

    Returns
    -------
    callable
        Kernel ``kernel(X, P, stats) -> D`` giving (m, K) distances.
    """
    if callable(metric):
        return metric
    from drama2.registry import get_registry

    return get_registry().load("metrics", metric)


# --------------------------------------------------------------------------- drivers
def _chunk_rows(kernel, n_prototypes: int, n_features: int, device: torch.device, chunk_elements: int | None) -> int:
    if chunk_elements is None:
        if device.type == "cuda":
            chunk_elements = CUDA_CHUNK_ELEMENTS
        else:
            chunk_elements = getattr(kernel, "chunk_elements", CPU_CHUNK_ELEMENTS)
    budget = chunk_elements
    return max(1, budget // max(1, n_prototypes * n_features))


def _iter_distances(X, prototypes, metric, stats, device, dtype, chunk_elements):
    kernel = get_metric(metric)
    device = torch.device(device)
    if isinstance(X, np.ndarray):
        source = torch.from_numpy(np.ascontiguousarray(X))
    else:
        source = X
    P = torch.as_tensor(np.asarray(prototypes) if not torch.is_tensor(prototypes) else prototypes)
    P = P.to(device=device, dtype=dtype)
    if P.ndim != 2 or source.ndim != 2 or P.shape[1] != source.shape[1]:
        raise InvalidInputError(
            f"X must be (n, d) and prototypes (K, d) with the same d; got {tuple(source.shape)} and {tuple(P.shape)}."
        )
    # A plugin's kernel gets copies: a kernel that wrote into its inputs would otherwise change the caller's
    # rows (the chunk can share memory with X) or a fitted model's prototypes.
    foreign = not getattr(kernel, "__module__", "").startswith("drama2.")
    if foreign:
        P = P.clone()
    rows = _chunk_rows(kernel, P.shape[0], P.shape[1], device, chunk_elements)
    for start in range(0, source.shape[0], rows):
        chunk = source[start:start + rows].to(device=device, dtype=dtype, copy=foreign)
        D = kernel(chunk, P, stats)
        if foreign:
            _check_kernel_output(kernel, D, (chunk.shape[0], P.shape[0]))
        yield start, D


def _check_kernel_output(kernel, D, expected: tuple) -> None:
    """A plugin kernel's distances must be a torch tensor of shape (rows, prototypes)."""
    name = getattr(kernel, "__qualname__", repr(kernel))
    if not torch.is_tensor(D):
        raise InvalidInputError(f"metric kernel {name!r} returned {type(D).__name__}; a kernel must return a torch "
                                f"tensor of shape (rows, prototypes) = {expected}, computed from its torch inputs.")
    if tuple(D.shape) != expected:
        raise InvalidInputError(f"metric kernel {name!r} returned shape {tuple(D.shape)}; a kernel must return "
                                f"(rows, prototypes) = {expected}, one distance per sample and prototype.")


def pairwise_distances(X, prototypes, metric="l2", stats: LeafStats | None = None, *, device="cpu",
                       dtype=torch.float64, chunk_elements: int | None = None):
    """Distances between every sample and every prototype, computed in row chunks.

    Parameters
    ----------
    X : ndarray or torch.Tensor of shape (n, d)
        Samples. A tensor input gives a tensor output on the same device.
    prototypes : array-like of shape (K, d)
        Prototypes (one per leaf).
    metric : str or callable
        A registered metric name or a kernel.
    stats : LeafStats, optional
        Leaf statistics; required by ``wl2``, ``wl4`` and ``mahalanobis``.
    device : str or torch.device
        Where to compute.
    dtype : torch.dtype
        Compute precision (float64 by default, which the reference scores need).
    chunk_elements : int, optional
        Budget of (rows × K × d) elements per chunk.

    Returns
    -------
    ndarray or torch.Tensor of shape (n, K)
    """
    out = None
    for start, dist in _iter_distances(X, prototypes, metric, stats, device, dtype, chunk_elements):
        if out is None:
            out = torch.empty((X.shape[0], dist.shape[1]), dtype=dtype, device=dist.device)
        out[start:start + dist.shape[0]] = dist
    if torch.is_tensor(X):
        return out.to(X.device)
    return out.cpu().numpy()


def nearest_prototype(X, prototypes, metric="l2", stats: LeafStats | None = None, *, device="cpu",
                      dtype=torch.float64, chunk_elements: int | None = None):
    """Distance to, and index of, the nearest prototype for every sample (memory O(n), not O(nK)).

    Parameters
    ----------
    X : ndarray or torch.Tensor of shape (n, d)
        Samples.
    prototypes : array-like or torch.Tensor of shape (K, d)
        Prototypes (one per leaf).
    metric : str or callable, default "l2"
        A registered metric name or a kernel.
    stats : LeafStats, optional
        Leaf statistics; required by ``wl2``, ``wl4`` and ``mahalanobis``.
    device : str or torch.device, default "cpu"
        Where to compute.
    dtype : torch.dtype, default torch.float64
        Compute precision.
    chunk_elements : int, optional
        Budget of (rows × K × d) elements per chunk; by default one suited to
        the device and kernel.

    Returns
    -------
    distances : ndarray of shape (n,)
        Distance to the nearest prototype, as float64 on the CPU.
    index : ndarray of shape (n,) of int64
        Index of that prototype.
    """
    n = X.shape[0]
    best = np.empty(n, dtype=np.float64)
    index = np.empty(n, dtype=np.int64)
    for start, dist in _iter_distances(X, prototypes, metric, stats, device, dtype, chunk_elements):
        values, which = dist.min(dim=1)
        stop = start + dist.shape[0]
        best[start:stop] = values.cpu().numpy()
        index[start:stop] = which.cpu().numpy()
    return best, index
