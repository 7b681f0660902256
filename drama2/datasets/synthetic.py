"""DRAMA's simulated signals (SPEC §6): ten signal shapes, local (event) and new-class anomalies.

Each signal is ``c · (s_i(x) − e) + ε`` on ``x = linspace(0, 1, n_features)``
with a small random stretch ``a``, shift ``b``, gain ``c`` and offset ``e``
per signal and Gaussian noise ``ε``. Two scenarios make anomaly benchmarks
from them:

- *local (event)*: every signal has the same shape; the anomalies carry a
  Gaussian bump (:func:`local_anomaly`);
- *new class*: the inliers come from some shapes, the anomalies from others
  (:func:`new_class_anomaly`).

Everything is deterministic for a given ``random_state``. The registered
names (``drama2 list datasets``) are listed in :data:`SCENARIOS`.
"""

from __future__ import annotations

import numpy as np

from drama2.datasets.base import Dataset
from drama2.device import check_random_state
from drama2.errors import InvalidInputError

CITATION = ("Vafaei Sadr, Bassett & Kunz (2019), 'A Flexible Framework for Anomaly Detection via "
            "Dimensionality Reduction', arXiv:1909.04060")
SOURCE = "drama2.datasets.synthetic (DRAMA's simulation, SPEC §6)"
SHAPE_IDS = tuple(range(1, 11))


def _heaviside(v):
    return np.heaviside(v, 0.5)


def shape(i: int, x: np.ndarray, a, b) -> np.ndarray:
    """The noiseless signal shape ``i`` (1 … 10).

    Parameters
    ----------
    i : int
        Shape number, 1 … 10 (SPEC §6).
    x : ndarray of shape (n_features,)
        Positions in [0, 1].
    a, b : float or ndarray of shape (n, 1)
        Stretch and shift; arrays give one signal per row.

    Returns
    -------
    ndarray broadcast from ``x``, ``a`` and ``b``.
    """
    from scipy import signal as sps  # imported here so that listing the scenarios stays cheap

    t = x - b
    if i == 1:
        return x * np.sin(2 * np.pi * a * t) + 0.8
    if i == 2:
        return (sps.sawtooth(10 * np.pi * a * t) + 1) / 2
    if i == 3:
        return _heaviside(np.sin(6 * np.pi * a * t))
    if i == 4:
        return np.tan(a * t) / 1.5
    if i == 5:
        return (sps.gausspulse(0.5 * a * (x - 0.5 - b), fc=5) + 1) / 2
    if i == 6:
        return (-a * t + np.sin(5 * np.pi * a * t) + 1.7) / 2.7
    if i == 7:
        return _heaviside(np.sin(4 * np.pi * a * t**2))
    if i == 8:
        return (np.exp(np.sin(6 * np.pi * a * t**3)) - 0.3) / 2.5
    if i == 9:
        return (sps.square(60 * np.pi * a * t, duty=(np.sin(2 * np.pi * x) + 1) / 2) + 1) / 2
    if i == 10:
        return np.clip(np.sin(25 * a * t), -1, 0) + 1
    raise InvalidInputError(f"signal shape must be one of 1 … 10, got {i!r}.")


def signals(i: int, n: int, n_features: int = 100, *, sigma: float = 0.2, jitter: float = 0.01,
            random_state=None) -> np.ndarray:
    """``n`` noisy realisations of shape ``i``.

    Parameters
    ----------
    i : int
        Shape number, 1 … 10.
    n : int
        Number of signals.
    n_features : int
        Samples per signal (n_f).
    sigma : float
        Standard deviation of the Gaussian noise.
    jitter : float
        Half-width of the uniform draws of stretch, shift, gain and offset
        (n1 … n4 of SPEC §6).
    random_state : None, int or numpy Generator

    Returns
    -------
    ndarray of shape (n, n_features)
    """
    rng = check_random_state(random_state)
    x = np.linspace(0, 1, n_features)
    a = rng.uniform(1 - jitter, 1 + jitter, (n, 1))
    b = rng.uniform(-jitter, jitter, (n, 1))
    c = rng.uniform(1 - jitter, 1 + jitter, (n, 1))
    e = rng.uniform(-jitter, jitter, (n, 1))
    clean = c * (shape(i, x, a, b) - e)
    return clean + rng.normal(0.0, sigma, size=clean.shape)


def _labels(n_inliers: int, n_outliers: int) -> np.ndarray:
    return np.r_[np.zeros(n_inliers, dtype=np.int64), np.ones(n_outliers, dtype=np.int64)]


def local_anomaly(n_inliers=2000, n_outliers=100, n_features=100, *, shape_id=1, sigma=0.2, jitter=0.01,
                  amplitude=(0.3, 0.4), width=(0.08, 0.1), position=(0.0, 1.0), random_state=0,
                  name=None) -> Dataset:
    """Local (event) anomalies: signals of one shape, the anomalies carry a Gaussian bump.

    The bump is ``A · exp(−(x − μ)² / 2w²)`` with ``A``, ``w`` and ``μ`` drawn
    uniformly from ``amplitude``, ``width`` and ``position``. Rows are the
    inliers first, then the anomalies (as in DRAMA's data).

    Returns
    -------
    Dataset
        ``y`` = 1 for the bumped signals; ``metadata`` records every setting.
    """
    rng = check_random_state(random_state)
    X = signals(shape_id, n_inliers + n_outliers, n_features, sigma=sigma, jitter=jitter, random_state=rng)
    x = np.linspace(0, 1, n_features)
    mu = rng.uniform(*position, (n_outliers, 1))
    amp = rng.uniform(*amplitude, (n_outliers, 1))
    w = rng.uniform(*width, (n_outliers, 1))
    X[n_inliers:] += amp * np.exp(-((x - mu) ** 2) / (2 * w**2))
    settings = dict(scenario="local", shape=shape_id, n_inliers=n_inliers, n_outliers=n_outliers, sigma=sigma,
                    jitter=jitter, amplitude=amplitude, width=width, position=position, random_state=random_state)
    return Dataset(name=name or f"synthetic-local-{n_features}", X=X, y=_labels(n_inliers, n_outliers),
                   source=SOURCE, citation=CITATION, metadata=settings)


def new_class_anomaly(inlier_shapes=(1,), outlier_shapes=None, n_per_inlier_shape=1000, n_per_outlier_shape=5,
                      n_features=100, *, sigma=0.2, jitter=0.01, random_state=0, name=None) -> Dataset:
    """New-class anomalies: inliers from some shapes, anomalies from shapes never seen among them.

    Parameters
    ----------
    inlier_shapes : sequence of int
        Shapes of the inliers.
    outlier_shapes : sequence of int, optional
        Shapes of the anomalies; default every shape not among the inliers.
    n_per_inlier_shape, n_per_outlier_shape : int
        Signals drawn per shape.
    n_features, sigma, jitter, random_state
        As in :func:`signals`.

    Returns
    -------
    Dataset
        Inliers first (grouped by shape), then anomalies; ``classes`` holds
        each row's shape number, which multi-class detectors can use.
    """
    inlier_shapes = tuple(int(s) for s in inlier_shapes)
    if outlier_shapes is None:
        outlier_shapes = tuple(s for s in SHAPE_IDS if s not in inlier_shapes)
    outlier_shapes = tuple(int(s) for s in outlier_shapes)
    overlap = set(inlier_shapes) & set(outlier_shapes)
    if overlap:
        raise InvalidInputError(f"shapes {sorted(overlap)} are both inlier and outlier shapes; a new-class "
                                "anomaly must come from a shape the inliers do not have.")
    rng = check_random_state(random_state)
    blocks, classes = [], []
    for shapes, count in ((inlier_shapes, n_per_inlier_shape), (outlier_shapes, n_per_outlier_shape)):
        for s in shapes:
            blocks.append(signals(s, count, n_features, sigma=sigma, jitter=jitter, random_state=rng))
            classes.append(np.full(count, s, dtype=np.int64))
    n_inliers = len(inlier_shapes) * n_per_inlier_shape
    n_outliers = len(outlier_shapes) * n_per_outlier_shape
    settings = dict(scenario="new-class", inlier_shapes=inlier_shapes, outlier_shapes=outlier_shapes,
                    n_per_inlier_shape=n_per_inlier_shape, n_per_outlier_shape=n_per_outlier_shape,
                    sigma=sigma, jitter=jitter, random_state=random_state)
    return Dataset(name=name or f"synthetic-newclass-{n_features}", X=np.vstack(blocks),
                   y=_labels(n_inliers, n_outliers), source=SOURCE, citation=CITATION, metadata=settings,
                   classes=np.concatenate(classes))


#: Registered scenarios: name → (generator, its settings, description). n_f = 100 settings follow DRAMA's
#: paper; the n_f = 3000 local setting is its high-dimensional one (narrow bumps near x = 0.75).
SCENARIOS: dict[str, tuple] = {
    "synthetic-local-100": (local_anomaly, dict(n_features=100),
                            "local (event) anomalies: 2000 signals of shape 1 + 100 with a bump, n_f = 100"),
    "synthetic-local-3000": (local_anomaly, dict(n_inliers=500, n_outliers=50, n_features=3000,
                                                 amplitude=(0.2, 0.3), width=(0.005, 0.01),
                                                 position=(0.75, 0.76)),
                             "local (event) anomalies: 500 + 50 signals with a narrow bump, n_f = 3000"),
}
for _nf in (100, 3000):
    SCENARIOS[f"synthetic-newclass-{_nf}"] = (
        new_class_anomaly, dict(n_features=_nf),
        f"new-class anomalies: 1000 signals of shape 1 + 5 of each other shape, n_f = {_nf}")
    SCENARIOS[f"synthetic-newclass-5v5-{_nf}"] = (
        new_class_anomaly, dict(inlier_shapes=(1, 2, 3, 4, 5), n_per_inlier_shape=500, n_features=_nf),
        f"new-class anomalies: shapes 1–5 × 500 inliers vs shapes 6–10 × 5, n_f = {_nf}")
    SCENARIOS[f"synthetic-newclass-9v1-{_nf}"] = (
        new_class_anomaly, dict(inlier_shapes=tuple(range(1, 10)), n_per_inlier_shape=500,
                                n_per_outlier_shape=50, n_features=_nf),
        f"new-class anomalies: shapes 1–9 × 500 inliers vs shape 10 × 50, n_f = {_nf}")


def scenario_loader(name: str):
    """A loader for the registered scenario ``name`` (what the registry stores)."""
    generator, settings, description = SCENARIOS[name]

    def load(random_state=0, **_ignored) -> Dataset:
        return generator(**settings, random_state=random_state, name=name)

    load.__doc__ = f"DRAMA's simulation {name!r}: {description} (seeded by ``random_state``, default 0)."
    return load
