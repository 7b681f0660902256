"""DRAMA's simulated signals (SPEC §6): ten signal shapes and the local (event) anomaly.

Each signal is ``c · (s_i(x) − e) + ε`` on ``x = linspace(0, 1, n_features)``
with small random stretch ``a``, shift ``b``, gain ``c`` and offset ``e``
and Gaussian noise ``ε``. Local anomalies are inlier-shaped signals carrying
a Gaussian bump.
"""

from __future__ import annotations

import numpy as np
from scipy import signal as sps

from drama2.datasets.base import Dataset
from drama2.device import check_random_state

CITATION = ("Vafaei Sadr, Bassett & Kunz (2019), 'A Flexible Framework for Anomaly Detection via "
            "Dimensionality Reduction', arXiv:1909.04060")


def _heaviside(v):
    return np.heaviside(v, 0.5)


def shape(i: int, x: np.ndarray, a: float, b: float) -> np.ndarray:
    """The noiseless signal shape ``i`` (1 … 10) at positions ``x`` with stretch ``a`` and shift ``b``."""
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
    raise ValueError(f"signal shape must be 1 … 10, got {i}")


def signals(i: int, n: int, n_features: int = 100, *, sigma: float = 0.2, jitter: float = 0.01,
            random_state=None) -> np.ndarray:
    """``n`` noisy realisations of shape ``i`` (n, n_features)."""
    rng = check_random_state(random_state)
    x = np.linspace(0, 1, n_features)
    a = rng.uniform(1 - jitter, 1 + jitter, n)
    b = rng.uniform(-jitter, jitter, n)
    c = rng.uniform(1 - jitter, 1 + jitter, n)
    e = rng.uniform(-jitter, jitter, n)
    out = np.stack([c[k] * (shape(i, x, a[k], b[k]) - e[k]) for k in range(n)])
    return out + rng.normal(0.0, sigma, size=out.shape)


def local_anomaly(n_inliers=2000, n_outliers=100, n_features=100, *, shape_id=1, sigma=0.2,
                  amplitude=(0.3, 0.4), width=(0.08, 0.1), position=(0.0, 1.0), random_state=0) -> Dataset:
    """Local (event) anomaly scenario: signals of one shape, outliers carry a Gaussian bump."""
    rng = check_random_state(random_state)
    X = signals(shape_id, n_inliers + n_outliers, n_features, sigma=sigma, random_state=rng)
    x = np.linspace(0, 1, n_features)
    mu = rng.uniform(*position, n_outliers)
    amp = rng.uniform(*amplitude, n_outliers)
    w = rng.uniform(*width, n_outliers)
    X[n_inliers:] += amp[:, None] * np.exp(-((x[None, :] - mu[:, None]) ** 2) / (2 * w[:, None] ** 2))
    y = np.r_[np.zeros(n_inliers, dtype=np.int64), np.ones(n_outliers, dtype=np.int64)]
    return Dataset(name=f"synthetic-local-{n_features}", X=X, y=y, source="drama2.datasets.synthetic",
                   citation=CITATION, metadata={"shape": shape_id, "sigma": sigma, "random_state": random_state})


def load_local_100(random_state=0, **_ignored) -> Dataset:
    """DRAMA's local anomaly setting at 100 features: 2000 inliers + 100 bumped outliers (seeded)."""
    return local_anomaly(random_state=random_state)
