"""Extended Isolation Forest (Hariri, Carrasco Kind & Brunner, 2018; arXiv:1811.02141) in torch.

An isolation forest whose splits are random hyperplanes instead of axis-parallel
cuts. Every tree is stored as dense, complete binary arrays, built level by level
for all trees at once and scored by walking all trees for a chunk of rows at
once: there is no Python loop over nodes, trees or samples, only over the
``max_depth`` levels and over row chunks.

Layout
------
With ``T`` trees of height ``l`` the internal nodes of level ``k`` (``2 ** k`` per
tree) are stored level-major: node ``j`` of tree ``t`` at level ``k`` is row
``T * (2 ** k - 1) + t * 2 ** k + j`` of the node tables, so walking down is
``slot = 2 * slot + went_right`` with no per-tree offsets. Each internal node
keeps its normal ``n`` (only the ``extension_level + 1`` nonzero components and
their feature indices when that is at most half of the features, the full
vector otherwise) and the offset ``p . n`` of its intercept ``p``: a sample goes
left when ``x . n < p . n``, i.e. ``(x - p) . n < 0`` as in the paper.

Nodes that are not split (a leaf above the height limit, or anything below
one) get ``n = 0`` and offset -1, which sends every sample right, and the leaf's
path length is written at the bottom slot that always-right walk reaches.
Scoring is then ``l`` steps per row chunk followed by one lookup in a
``[T, 2 ** l]`` table of path lengths ``depth + c(leaf size)``. The top levels,
with few nodes per tree, are scored by one matmul of the chunk against all
their normals; the deeper ones by gathering each row's node normal.

Duplicated rows
---------------
In a node whose samples all have the same projection (identical rows, say)
the intercept lies on that projection, so whether the copies go right would
depend on how the scoring kernel rounds the dot product. The offset of such a
node is therefore moved below the common projection by a few rounding errors
of a dot product: the copies go right exactly as they did while the tree was
built, and any other point still goes by its side of the hyperplane.

Exact decisions
---------------
The fast kernels (float32 matmuls and gathers) round ``x . n`` differently
for different chunk sizes and devices. Every pair whose ``|x . n - offset|``
is within a bound on that rounding is decided again by a fixed reference sum
(float64, left to right), so the scores are the same for every ``batch_size``
and kernel; such pairs are a few in a million.
"""

from __future__ import annotations

import contextlib
import math
from typing import Any

import numpy as np

from drama2.errors import InvalidInputError
from drama2.scorers.base import BaseDetector

__all__ = ["EIF", "average_path_length"]

_THRESHOLDS = ("box", "range")
_DTYPES = ("float32", "float64")
# The complete trees store every one of the n_estimators * 2 ** max_depth slots; refuse tables past this size.
_MAX_FOREST_BYTES = 2 * 2**30
# Working memory of one scoring chunk, by device type. On the CPU the chunk should stay in the caches: on the
# 2-core development machine 12 MiB (about 1,900 rows of 20 features at extension_level=1) scored fastest.
_CHUNK_BYTES = {"cpu": 12 * 2**20, "cuda": 1 * 2**30}


def average_path_length(m) -> np.ndarray:
    """Average path length ``c(m)`` of an unsuccessful search in a binary search tree of ``m`` points.

    ``c(m) = 2 H(m - 1) - 2 (m - 1) / m`` for ``m > 1`` and 0 otherwise (Liu, Ting &
    Zhou, 2008). The harmonic number is exact, ``H(i) = digamma(i + 1) + gamma``
    (so ``c(2) = 1`` and ``c(3) = 5/3``, as in scikit-learn and isotree); the
    paper's ``ln(i) + 0.5772156649`` is its large-``i`` approximation, which
    differs by about ``1 / (2 i)``.

    Parameters
    ----------
    m : int or array-like of int
        Numbers of points.

    Returns
    -------
    ndarray of float64
        ``c(m)``, with the shape of ``m``.
    """
    from scipy.special import digamma

    m = np.asarray(m, dtype=np.float64)
    big = m > 1
    safe = np.where(big, m, 2.0)
    harmonic = digamma(safe) + np.euler_gamma  # H(m - 1)
    return np.where(big, 2.0 * harmonic - 2.0 * (safe - 1.0) / safe, 0.0)


@contextlib.contextmanager
def _full_precision_matmul(dtype):
    """Keep float32 matmuls in float32 (no TF32 or bfloat16) while scoring; the previous setting is restored.

    The rounding bounds of the exact decisions and the offsets of degenerate nodes allow for float32
    rounding only (see the module docstring). The setting is process-wide while a chunk loop runs.
    """
    import torch

    if dtype != torch.float32:
        yield
        return
    previous = torch.get_float32_matmul_precision()
    torch.set_float32_matmul_precision("highest")
    try:
        yield
    finally:
        torch.set_float32_matmul_precision(previous)


def _check_range(X: np.ndarray, dtype: str, estimator: str) -> None:
    """Refuse values that float32 cannot hold (they would become infinite) when computing in float32."""
    if dtype == "float32" and X.size:
        limit = float(np.finfo(np.float32).max)
        if X.max() > limit or X.min() < -limit:
            raise InvalidInputError(
                f"{estimator}: X has values beyond the float32 range (|x| > {limit:.3g}); use dtype='float64' "
                "or rescale the data."
            )


def _auto_depth(psi: int) -> int:
    """The paper's height limit ceil(log2(psi)), at least 1."""
    return max(1, math.ceil(math.log2(psi)))


def _layout(ext: int, n_features: int) -> tuple[bool, int]:
    """(sparse, width): store only the ext + 1 nonzero components (and their features) when that at
    least halves the work, else the full normal vectors."""
    keep = ext + 1
    sparse = 2 * keep <= n_features
    return sparse, keep if sparse else n_features


def _is_int(value: Any) -> bool:
    return isinstance(value, (int, np.integer)) and not isinstance(value, bool)


class EIF(BaseDetector):
    """Extended Isolation Forest (Hariri, Carrasco Kind & Brunner, 2018), vectorised in torch.

    Each of ``n_estimators`` trees is grown on ``max_samples`` rows drawn without
    replacement, up to the height limit ``ceil(log2(max_samples))``. A split draws
    a normal vector ``n`` with i.i.d. N(0, 1) components of which all but
    ``extension_level + 1`` randomly chosen ones are set to 0, and an intercept
    ``p``; a sample goes left when ``(x - p) . n < 0``. A node is a leaf at the
    height limit or when it holds at most one sample (children may be empty).
    The score is the paper's ``s(x) = 2 ** (-E[h(x)] / c(psi))`` in (0, 1]: near 1
    for easily isolated samples, below 0.5 for inliers, where ``h(x)`` is the
    number of edges to the leaf plus ``c(leaf size)`` (see :func:`average_path_length`).

    Parameters
    ----------
    n_estimators : int, default 100
        Number of trees.
    max_samples : "auto", int or float, default "auto"
        Rows per tree (psi): ``"auto"`` is min(256, n_samples), an int a count
        (capped at n_samples), a float in (0, 1] a share of the rows. At least
        2 rows per tree are needed.
    extension_level : int or None, default None
        Number of normal components beyond the first that may be nonzero, in
        ``0 .. n_features - 1``. ``0`` gives axis-parallel splits, i.e. the classic
        isolation forest; ``None`` means ``n_features - 1``, the fully extended
        forest. That is the default because it is the method of the paper (its
        name and its recommended setting, which removes the axis-aligned
        artefacts of the score map); the axis-parallel forest is already
        available as ``iforest``. Small levels (1 or 2) make the splits sparse
        and scoring cheaper when there are many features.
    threshold : {"box", "range"}, default "box"
        Where the intercept is drawn. ``"box"`` (the paper's): ``p`` uniform in
        the axis-aligned bounding box of the node's samples, so a child may be
        empty. ``"range"`` (isotree's extended model): the split point uniform
        along the range of the projections ``x . n`` of the node's samples, so
        both children are non-empty whenever those projections differ. With
        ``"range"`` the trees also follow isotree's node rules: a node whose
        samples are all equal is a leaf, and columns constant within a node
        get no weight in its normal (``"box"`` keeps the paper's rules).
    max_depth : "auto" or int, default "auto"
        Height limit l: ``"auto"`` is ``ceil(log2(psi))``. Trees are stored
        complete, so memory grows as ``2 ** max_depth``.
    contamination : float in (0, 0.5] or "auto", default 0.1
        Share of training samples :meth:`predict` flags; ``"auto"`` uses Tukey's fence.
    random_state : int, numpy Generator or None, default None
        Seed of a local ``torch.Generator`` on the CPU: the same int gives the
        same forest, and the same random numbers on every device. Global random
        states are never touched.
    device : str, default "auto"
        Torch device for building and scoring; ``"auto"`` is ``$DRAMA2_DEVICE``
        when set, else CUDA when available, else the CPU.
    dtype : {"float32", "float64"}, default "float32"
        Floating-point type of the trees and of the scoring arithmetic.
        Path lengths are always summed in float64.
    batch_size : int or None, default None
        Rows scored per chunk. ``None`` picks a chunk that keeps the working
        memory near 12 MiB on the CPU (1 GiB on CUDA), whatever the number of
        rows; scores do not depend on it.

    Attributes
    ----------
    max_samples_ : int
        Rows per tree (psi).
    max_depth_ : int
        Height limit l of the trees.
    extension_level_ : int
        The extension level used (``n_features - 1`` when None was given).
    device_ : str
        The resolved torch device.
    normals_ : ndarray of shape (n_estimators, 2 ** max_depth_ - 1, n_features)
        Normal vectors of the internal node slots in heap order (root 0, children
        of ``i`` at ``2 i + 1`` and ``2 i + 2``); all zeros where the slot is not split.
    offsets_ : ndarray of shape (n_estimators, 2 ** max_depth_ - 1)
        ``p . n`` of the same slots: a sample goes to the left child when
        ``x . n < offset`` (-1 where the slot is not split).
    split_mask_ : ndarray of shape (n_estimators, 2 ** max_depth_ - 1), bool
        Whether each internal slot is a split node.
    leaf_path_lengths_ : ndarray of shape (n_estimators, 2 ** max_depth_)
        Path length ``depth + c(size)`` credited to a sample whose walk ends at
        each bottom slot.
    decision_scores_, threshold_, labels_, n_features_in_
        See :class:`~drama2.scorers.base.BaseDetector`.

    Notes
    -----
    Building costs O(n_estimators * psi * max_depth * (extension_level + 1)),
    and O(n_estimators * psi * max_depth * n_features) with ``threshold="range"``,
    whose node rules look at every column of a node's samples.
    Scoring costs O(n_samples * n_estimators * max_depth * (extension_level + 1))
    for the gathered levels, plus a matmul against all the nodes of the few
    top levels. Every routing decision is that of a fixed reference sum (see
    :func:`_path_length_sums`), so scores do not depend on ``batch_size`` or on
    the kernels used. The random numbers for all nodes of a level are drawn in
    one go from a local generator on the CPU, so a seed draws the same numbers
    on every device; a forest built on CUDA can still differ from the CPU one
    where a sample lies within rounding of a split while the tree is grown.
    """

    def __init__(self, n_estimators=100, max_samples="auto", extension_level=None, threshold="box",
                 max_depth="auto", contamination=0.1, random_state=None, device="auto", dtype="float32",
                 batch_size=None):
        self.n_estimators = n_estimators
        self.max_samples = max_samples
        self.extension_level = extension_level
        self.threshold = threshold
        self.max_depth = max_depth
        self.contamination = contamination
        self.random_state = random_state
        self.device = device
        self.dtype = dtype
        self.batch_size = batch_size

    # -- parameters ----------------------------------------------------------------------
    def _resolve_max_samples(self, n_samples: int) -> int:
        m = self.max_samples
        if isinstance(m, str) and m == "auto":
            psi = min(256, n_samples)
        elif _is_int(m) and m >= 1:
            psi = min(int(m), n_samples)
        elif isinstance(m, (float, np.floating)) and 0 < m <= 1:
            psi = max(1, int(m * n_samples))
        else:
            raise InvalidInputError(
                f"{self._name}: max_samples must be 'auto', an integer >= 1 or a float in (0, 1], got {m!r}."
            )
        if psi < 2:
            raise InvalidInputError(
                f"{self._name}: max_samples={m!r} gives {psi} row per tree on {n_samples} training rows, but a "
                "tree needs at least 2 rows to isolate anything. Fit on at least 2 rows and use max_samples >= 2."
            )
        return psi

    def _resolve_max_depth(self, psi: int) -> int:
        depth = self.max_depth
        if isinstance(depth, str) and depth == "auto":
            return _auto_depth(psi)
        if not _is_int(depth) or depth < 1:
            raise InvalidInputError(f"{self._name}: max_depth must be 'auto' or an integer >= 1, got {depth!r}.")
        return int(depth)

    def _resolve_extension_level(self, n_features: int) -> int:
        ext = self.extension_level
        if ext is None:
            return n_features - 1
        if not _is_int(ext) or not 0 <= ext <= n_features - 1:
            raise InvalidInputError(
                f"{self._name}: extension_level must be None or an integer in [0, n_features - 1] = "
                f"[0, {n_features - 1}] for this data, got {ext!r}. Use 0 for axis-parallel splits (the classic "
                f"isolation forest) and None or {n_features - 1} for the fully extended forest."
            )
        return int(ext)

    def _check_params(self, X):
        n_estimators = self.n_estimators
        if not _is_int(n_estimators) or n_estimators < 1:
            raise InvalidInputError(f"{self._name}: n_estimators must be an integer >= 1, got {n_estimators!r}.")
        psi = self._resolve_max_samples(X.shape[0])
        depth = self._resolve_max_depth(psi)
        ext = self._resolve_extension_level(X.shape[1])
        if not isinstance(self.dtype, str) or self.dtype not in _DTYPES:
            raise InvalidInputError(f"{self._name}: dtype must be 'float32' or 'float64', got {self.dtype!r}.")
        sparse, width = _layout(ext, X.shape[1])
        itemsize = 4 if self.dtype == "float32" else 8
        # normals (+ feature indices), offsets and slacks of the internal slots, path lengths of the bottom ones
        size = int(n_estimators) * 2**depth * (width * (itemsize + 8 * sparse) + 2 * itemsize + 8)
        if size > _MAX_FOREST_BYTES:
            raise InvalidInputError(
                f"{self._name}: {n_estimators} complete trees of height max_depth={depth} would take "
                f"{size / 2**30:,.1f} GiB of node tables (at most {_MAX_FOREST_BYTES / 2**30:.0f} GiB): each tree "
                f"stores all 2 ** max_depth slots. Use a smaller max_depth ('auto' is ceil(log2(max_samples)) = "
                f"{_auto_depth(psi)}), fewer trees or a lower extension_level."
            )
        if not isinstance(self.threshold, str) or self.threshold not in _THRESHOLDS:
            raise InvalidInputError(
                f"{self._name}: threshold must be 'box' (intercept uniform in the node's bounding box, the paper's) "
                f"or 'range' (split uniform along the projected range, isotree's), got {self.threshold!r}."
            )
        _check_range(X, self.dtype, self._name)
        bs = self.batch_size
        if bs is not None and (not _is_int(bs) or bs < 1):
            raise InvalidInputError(f"{self._name}: batch_size must be None or an integer >= 1, got {bs!r}.")
        from drama2.device import resolve_device

        resolve_device(self.device)  # an unknown device or CUDA without CUDA fails before any work

    # -- fitting -------------------------------------------------------------------------
    def _fit(self, X, rng_seed):
        import torch

        from drama2.device import resolve_device

        n, d = X.shape
        T = int(self.n_estimators)
        psi = self._resolve_max_samples(n)
        depth = self._resolve_max_depth(psi)
        ext = self._resolve_extension_level(d)
        device = resolve_device(self.device)
        dtype = getattr(torch, self.dtype)
        if rng_seed is None:  # only reachable from subclasses without random_state
            rng_seed = int(np.random.default_rng().integers(2**62))
        gen = torch.Generator(device="cpu")
        gen.manual_seed(int(rng_seed))

        with torch.inference_mode():
            rows = _sample_rows(n, psi, T, gen)
            sample = torch.from_numpy(X[rows.numpy()]).to(device=device, dtype=dtype)  # [T, psi, d]
            forest = _build(sample, ext, depth, self.threshold, gen)

        self.max_samples_ = psi
        self.max_depth_ = depth
        self.extension_level_ = ext
        self.device_ = device
        self.forest_ = forest

    # -- scoring -------------------------------------------------------------------------
    def _chunk_rows(self, n_features: int) -> int:
        if self.batch_size is not None:
            return int(self.batch_size)
        f = self.forest_
        itemsize = 4 if self.dtype == "float32" else 8
        widest = 1 << max(f.n_projected_levels() - 1, 0)  # nodes per tree of the last matmul level
        # Per row and tree: the projections (and their flags) of a matmul level, or the gathered normal,
        # feature indices, values and products of a gather level, and the slot indices.
        per_row = int(f.n_trees) * (max(widest * (itemsize + 1), f.width * (3 * itemsize + 8 * f.sparse)) + 24)
        per_row += n_features * (8 + itemsize)  # the float64 input rows and their converted copy
        budget = _CHUNK_BYTES.get(self.device_.split(":")[0], _CHUNK_BYTES["cpu"])
        return int(max(64, min(budget // per_row, 1 << 20)))

    def _score(self, X):
        import torch

        f = self.forest_
        n = X.shape[0]
        chunk = self._chunk_rows(X.shape[1])
        dtype = getattr(torch, self.dtype)
        total = np.empty(n, dtype=np.float64)
        with torch.inference_mode(), _full_precision_matmul(dtype):
            for start in range(0, n, chunk):
                _check_range(X[start:start + chunk], self.dtype, self._name)
                x = torch.from_numpy(X[start:start + chunk]).to(device=self.device_, dtype=dtype)
                total[start:start + len(x)] = _path_length_sums(f, x).cpu().numpy()
        # s = 2 ** (-mean path length / c(psi)), in place: no other array of n_samples values is made.
        total *= -1.0 / (f.n_trees * float(average_path_length(self.max_samples_)))
        return np.exp2(total, out=total)

    # -- inspection ----------------------------------------------------------------------
    @property
    def normals_(self) -> np.ndarray:
        f = self.forest_
        return f.to_heap(f.dense_normals()).cpu().numpy()

    @property
    def offsets_(self) -> np.ndarray:
        f = self.forest_
        return f.to_heap(f.offsets).cpu().numpy()

    @property
    def split_mask_(self) -> np.ndarray:
        f = self.forest_
        return f.to_heap(f.split).cpu().numpy()

    @property
    def leaf_path_lengths_(self) -> np.ndarray:
        return self.forest_.leaf.reshape(self.forest_.n_trees, -1).cpu().numpy()


# ---------------------------------------------------------------------------- the forest
class _Forest:
    """Level-major node tables of T complete trees of height ``depth`` (see the module docstring).

    ``normals`` [n_internal, width] holds the normals' components for the
    features in ``features`` [n_internal, width] (sparse layout) or for all
    features in order (dense layout, ``features is None``); a sample goes right
    when ``x . n >= offsets``. ``split`` marks the real split nodes; ``leaf``
    holds the bottom slots' path lengths, level-major as well (float64).
    ``slack`` is ``2 (d + 2) eps ||n||``: times ``||x||`` it bounds the rounding
    error of any float summation order of ``x . n`` plus that of the reference
    sum (see :func:`_path_length_sums`).
    """

    def __init__(self, n_trees, depth, n_features, normals, features, offsets, split, leaf):
        import torch

        self.n_trees = n_trees
        self.depth = depth
        self.n_features = n_features
        self.normals = normals
        self.features = features
        self.offsets = offsets
        self.split = split
        self.leaf = leaf
        self.width = normals.shape[-1]
        self.sparse = features is not None
        eps = torch.finfo(normals.dtype).eps
        self.slack = torch.linalg.vector_norm(normals, dim=1) * (2 * (n_features + 2) * eps)
        self._levels = None

    def _rows(self, k):
        return slice(self.n_trees * ((1 << k) - 1), self.n_trees * ((1 << (k + 1)) - 1))

    def n_projected_levels(self) -> int:
        """How many top levels are scored by one dense matmul against all their nodes.

        Level k costs ``2 ** k * n_features`` multiply-adds per row and tree that way, against one gather
        of the node's ``width`` components (plus its feature indices when sparse), which costs about
        as much as 8 (dense) to 40 (sparse) multiply-adds per component in a matmul (measured on a
        2-core CPU with 100 trees of height 8 and 20 features: 4 matmul levels in both layouts).
        """
        per_component = 40 if self.sparse else 8
        budget = per_component * (self.width + 2)
        k = 0
        while k < self.depth and (1 << k) * self.n_features <= budget:
            k += 1
        return k

    def levels(self):
        """Per level ``(rows, weights, bounds, normals, features)``: the level's slice of the node tables;
        for the top levels its normals as a dense [d, T * 2 ** k] matrix (else None); and its (offset,
        slack) pairs, normals and feature indices packed for 1-D gathers (see :func:`_packed`)."""
        if self._levels is None:
            import torch

            out, K = [], self.n_projected_levels()
            bounds = _packed(torch.stack([self.offsets, self.slack], dim=1))
            normals = _packed(self.normals)
            features = None if self.features is None else _packed(self.features)
            for k in range(self.depth):
                rows = self._rows(k)
                weights = self.dense_normals(rows).T.contiguous() if k < K else None
                out.append((rows, weights, bounds[rows], normals[rows], None if features is None else features[rows]))
            self._levels = out
        return self._levels

    def __getstate__(self):  # the cached per-level tables are rebuilt on demand
        state = self.__dict__.copy()
        state["_levels"] = None
        return state

    def dense_normals(self, rows=slice(None)):
        """Normals of ``rows`` as full [n_rows, d] vectors."""
        import torch

        values = self.normals[rows]
        if not self.sparse:
            return values
        full = torch.zeros(values.shape[0], self.n_features, dtype=values.dtype, device=values.device)
        return full.scatter_(1, self.features[rows], values)

    def to_heap(self, table):
        """Reorder a level-major node table into [T, 2 ** depth - 1, ...] heap order."""
        import torch

        T = self.n_trees
        blocks = [table[self._rows(k)].reshape(T, 1 << k, *table.shape[1:]) for k in range(self.depth)]
        return torch.cat(blocks, dim=1)


def _sample_rows(n: int, psi: int, T: int, gen):
    """Row indices [T, psi] for T trees, each drawn without replacement, from the CPU generator ``gen``."""
    import torch

    if psi >= n:
        return torch.arange(n).expand(T, n).contiguous()
    if n <= 8 * psi:
        return torch.rand(T, n, generator=gen).argsort(dim=1)[:, :psi].contiguous()
    # Large n: 2 psi draws with replacement per tree, sorted; the distinct values of i.i.d. uniform draws are
    # a uniformly random subset, and psi of them picked at random is a uniform psi-subset. With n > 8 psi
    # fewer than psi distinct values is vanishingly rare; such trees simply draw again.
    out = torch.empty(T, psi, dtype=torch.long)
    todo = torch.arange(T)
    while len(todo):
        cand, _ = torch.randint(n, (len(todo), 2 * psi), generator=gen).sort(dim=1)
        repeat = torch.zeros_like(cand, dtype=torch.bool)
        repeat[:, 1:] = cand[:, 1:] == cand[:, :-1]
        keys = torch.rand(cand.shape, generator=gen).masked_fill_(repeat, 2.0)
        ok = (~repeat).sum(dim=1) >= psi
        pick = keys.topk(psi, dim=1, largest=False).indices
        out[todo[ok]] = cand.gather(1, pick)[ok]
        todo = todo[~ok]
    return out


def _build(sample, ext: int, depth: int, threshold: str, gen) -> _Forest:
    """Grow T trees of height ``depth`` on ``sample`` [T, psi, d], one level at a time for all trees."""
    import torch

    T, psi, d = sample.shape
    device, dtype = sample.device, sample.dtype
    keep = ext + 1  # nonzero components per normal
    sparse, width = _layout(ext, d)
    tree = torch.arange(T, device=device)[:, None]
    node = torch.zeros(T, psi, dtype=torch.long, device=device)  # node of each sample within its level
    alive = torch.ones(T, psi, dtype=torch.bool, device=device)  # the sample's node is being split
    active = torch.ones(T, 1, dtype=torch.bool, device=device)  # the slot is a real node
    leaf = torch.zeros(T, 1 << depth, dtype=torch.float64, device=device)
    normals, features, offsets, splits = [], [], [], []
    eps, tiny = torch.finfo(dtype).eps, torch.finfo(dtype).tiny

    def per_node_extreme(values, slot, n_slots, reduce):
        # values [T, psi, w] reduced per node; samples of non-split nodes go to a spare slot.
        w = values.shape[-1]
        out = torch.zeros(n_slots + 1, w, dtype=values.dtype, device=device)
        index = slot.reshape(-1, 1).expand(-1, w)
        return out.scatter_reduce_(0, index, values.reshape(-1, w), reduce, include_self=False)[:n_slots]

    for k in range(depth + 1):
        W = 1 << k
        n_slots = T * W
        slot = torch.where(alive, tree * W + node, n_slots)
        counts = torch.bincount(slot.reshape(-1), minlength=n_slots + 1)[:n_slots].reshape(T, W)
        is_leaf = active if k == depth else active & (counts <= 1)
        if threshold == "range" and k < depth:
            # isotree's node rules: a node whose samples are all equal is a leaf, and a column that is constant
            # in a node takes no part in that node's normal (it cannot separate the node's samples).
            varies = (per_node_extreme(sample, slot, n_slots, "amax")
                      > per_node_extreme(sample, slot, n_slots, "amin")).reshape(T, W, d)
            is_leaf = is_leaf | (active & ~varies.any(-1))
        t_leaf, j_leaf = is_leaf.nonzero(as_tuple=True)
        if len(t_leaf):
            # A leaf's samples (and later any new sample) walk always-right through the n = 0 slots below it.
            size = counts[t_leaf, j_leaf].cpu().numpy()
            value = torch.from_numpy(k + average_path_length(size)).to(device)
            leaf[t_leaf, (j_leaf + 1) * (1 << (depth - k)) - 1] = value
        if k == depth:
            break
        split = active & ~is_leaf
        splits.append(split.reshape(-1))

        # Random numbers for every slot of the level, drawn on the CPU whatever the data or device.
        normal = torch.randn(T, W, width, generator=gen, dtype=dtype)
        if keep < d:
            keys = torch.rand(T, W, d, generator=gen)
            if threshold == "range":  # varying columns first; constant ones only to fill up, and zeroed below
                keys.masked_fill_(~varies.cpu(), -1.0)
            chosen = keys.topk(keep, dim=-1).indices  # [T, W, keep]
            if not sparse:  # dense layout: zero the components that were not chosen
                normal *= torch.zeros(T, W, d, dtype=dtype).scatter_(2, chosen, 1.0)
        uniform = torch.rand(T, W, width if threshold == "box" else 1, generator=gen, dtype=dtype)
        normal, uniform = normal.to(device), uniform.to(device)
        normal = normal * split[..., None]
        if threshold == "range":
            normal = normal * (varies.gather(2, chosen.to(device)) if sparse else varies)

        alive = alive & split.gather(1, node)
        slot = torch.where(alive, tree * W + node, n_slots)
        at = node[..., None].expand(T, psi, width)
        if sparse:
            chosen = chosen.to(device)
            feat = chosen.gather(1, at)  # [T, psi, width]
            xs = sample.gather(2, feat)
        else:
            xs = sample
        ns = normal.gather(1, at)  # each sample's node normal

        proj = (xs * ns).sum(-1)  # [T, psi]: x . n of each sample for its node's normal
        if threshold == "box":
            lo = per_node_extreme(xs, slot, n_slots, "amin").reshape(T, W, width)
            hi = per_node_extreme(xs, slot, n_slots, "amax").reshape(T, W, width)
            p = lo + uniform * (hi - lo)
            offset = (p * normal).sum(-1)  # x goes left when (x - p) . n < 0, i.e. x . n < p . n
            degenerate = ((hi - lo) * normal == 0).all(-1)
        else:
            vmin = per_node_extreme(proj[..., None], slot, n_slots, "amin").reshape(T, W)
            vmax = per_node_extreme(proj[..., None], slot, n_slots, "amax").reshape(T, W)
            offset = vmin + uniform[..., 0] * (vmax - vmin)
            degenerate = vmax == vmin
        # In a degenerate node every sample has the same x . n; the offset is moved below it by a few rounding
        # errors of a dot product so that these samples (and their copies at scoring time, whichever kernel
        # sums the product) go right as they did here, while any other point still goes by its side.
        scale = per_node_extreme((xs * ns).abs().sum(-1, keepdim=True), slot, n_slots, "amax").reshape(T, W)
        offset = torch.where(degenerate, offset - (4 * (width + 2) * eps * scale + tiny), offset)
        offset = torch.where(split, offset, -1.0)  # unsplit slots have n = 0: everything goes right

        go_right = proj >= offset.gather(1, node)
        node = 2 * node + go_right
        active = split.repeat_interleave(2, dim=1)
        normals.append(normal.reshape(n_slots, width))
        offsets.append(offset.reshape(n_slots))
        if sparse:
            features.append(chosen.reshape(n_slots, width))

    return _Forest(T, depth, d, torch.cat(normals), torch.cat(features) if sparse else None,
                   torch.cat(offsets), torch.cat(splits), leaf.reshape(-1))


def _packed(table):
    """``table`` [rows, w] as a 1-D tensor with one element per row when a row fits in 8 or 16 bytes.

    Gathering whole rows with ``index_select`` costs several times as much as gathering
    single 8- or 16-byte elements, so rows of two float32 (or int32) values are viewed as
    one float64 and rows of 16 bytes as one complex128; :func:`_unpacked` reverses it.
    """
    import torch

    if table.shape[1] == 1:
        return table.reshape(-1)
    wide = {8: torch.float64, 16: torch.complex128}.get(table.shape[1] * table.element_size())
    return table.contiguous().view(wide).reshape(-1) if wide is not None else table


def _unpacked(gathered, dtype, width):
    """Undo :func:`_packed` on gathered elements: [n, width] of ``dtype``."""
    if gathered.dim() == 1:
        gathered = gathered.view(dtype)
    return gathered.reshape(-1, width)


def _path_length_sums(forest: _Forest, x):
    """Sum over the trees of the path lengths of the rows of ``x`` [m, d] (float64, shape [m]).

    Every decision ``x . n >= offset`` is that of a fixed reference sum (the
    node's products in float64, added in the stored order), so scores do not
    depend on the chunk size, the kernels or the device. The fast kernels (a
    matmul or gathers, in ``x``'s dtype) decide all pairs whose ``|x . n - offset|``
    exceeds the rounding bound ``||x|| * slack``, which is the same decision;
    the few pairs within the bound are recomputed with the reference sum.
    """
    import torch

    m, T, w, dtype = x.shape[0], forest.n_trees, forest.width, x.dtype
    norm = torch.linalg.vector_norm(x, dim=1, keepdim=True)
    node = torch.arange(T, device=x.device).expand(m, T).contiguous()  # slot t * 2 ** k + j of each tree's node
    for rows, weights, bounds, normals, features in forest.levels():
        flat = node.reshape(-1)
        offset, slack = _unpacked(bounds.index_select(0, flat), dtype, 2).reshape(m, T, 2).unbind(2)
        if weights is not None:  # few nodes per tree: project every row on all of them at once
            proj = (x @ weights).gather(1, node)
        else:
            n = _unpacked(normals.index_select(0, flat), dtype, w).reshape(m, T, w)
            if features is None:
                proj = torch.bmm(n, x[:, :, None]).reshape(m, T)
            else:
                index = _unpacked(features.index_select(0, flat), torch.long, w).reshape(m, T * w)
                prod = x.gather(1, index).reshape(m, T, w).mul_(n)
                if w <= 4:  # a reduction over a tiny last axis is slow; add the slices instead
                    proj = prod[..., 0].clone()
                    for j in range(1, w):
                        proj += prod[..., j]
                else:
                    proj = prod.sum(-1)
        diff = proj.sub_(offset)
        go_right = diff >= 0
        close = diff.abs_() <= norm * slack
        if close.any():
            i, t = close.nonzero(as_tuple=True)
            slots = node[i, t] + rows.start
            go_right[i, t] = _reference_projection(forest, x[i], slots) >= forest.offsets[slots].double()
        node = (node * 2).add_(go_right)
    return forest.leaf.index_select(0, node.reshape(-1)).reshape(m, T).sum(1)


def _reference_projection(forest: _Forest, x, slots):
    """``x[r] . n[slots[r]]`` as the float64 sum of the exact products, added in the stored order."""
    import torch

    n = forest.normals[slots].double()
    xs = x.double() if forest.features is None else x.gather(1, forest.features[slots]).double()
    return torch.cumsum(xs * n, dim=1)[:, -1]  # cumsum adds strictly left to right
