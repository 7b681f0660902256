"""Scaling of the input before reduction and distance computation.

Two spaces matter in DRAMA: the *distance space*, where prototypes live and
distances are measured, and the *reducer space*, what reducers are trained on.
For per-feature scalings the two coincide. DRAMA's original ``"global"``
scaling divides by the matrix maximum (distance space) and then min-max
scales with two scalars (reducer space); prototypes are mapped back.
"""

from __future__ import annotations

import warnings

import numpy as np

from drama2.errors import InvalidInputError

__all__ = ["Scaler", "SCALINGS", "CONSTANT_FEATURES_WARNING"]

SCALINGS = ("minmax", "robust", "standard", "global", "none")

#: Pattern of the warning :meth:`Scaler.fit` gives for constant features; callers that have already said
#: so (by column name, or an ensemble's own scaler before its members') filter the repeats with it.
CONSTANT_FEATURES_WARNING = r"\d+ constant feature"


class Scaler:
    """Fit-once scaling from input units to distance space and reducer space.

    Parameters
    ----------
    method : {"minmax", "robust", "standard", "global", "none"}
        ``minmax`` maps each training feature to [0, 1]; ``robust`` centres on
        the median and divides by the inter-quartile range; ``standard`` uses
        mean and standard deviation; ``global`` is DRAMA's scalar scaling
        (``X / max(X)``, or ``X / max(|X|)`` when no value is positive, then
        one min-max for the reducers; faithful mode only: the widest feature
        dominates every distance);
        ``none`` leaves the data as it is.
    """

    def __init__(self, method: str = "minmax"):
        if method not in SCALINGS:
            raise InvalidInputError(f"unknown scaling {method!r}; choose one of {', '.join(SCALINGS)}.")
        self.method = method

    def fit(self, X: np.ndarray, feature_names=None) -> "Scaler":
        """Fit on the training rows ``X``; ``feature_names`` name the columns in the constant-feature warning."""
        spread = X.max(axis=0) - X.min(axis=0)
        constant = spread == 0
        if constant.all() and X.shape[0] > 1:
            raise InvalidInputError(
                "every feature of X is constant, so no sample can be more anomalous than another; "
                "check that the right columns were selected."
            )
        if constant.any() and self.method != "global":
            where = np.flatnonzero(constant)[:10]
            named = [str(feature_names[i]) for i in where] if feature_names is not None else where.tolist()
            warnings.warn(
                f"{int(constant.sum())} constant feature(s) (columns {named}) "
                "carry no information; they are kept but scaled to 0.",
                UserWarning,
                stacklevel=3,
            )
        d = X.shape[1]
        self.reducer_offset_, self.reducer_scale_ = 0.0, 1.0
        if self.method == "minmax":
            self.offset_, self.scale_ = X.min(axis=0), spread
        elif self.method == "robust":
            q1, med, q3 = np.percentile(X, [25, 50, 75], axis=0)
            iqr = q3 - q1
            # A feature whose middle half is constant falls back on its full range.
            self.offset_, self.scale_ = med, np.where(iqr > 0, iqr, spread)
        elif self.method == "standard":
            self.offset_, self.scale_ = X.mean(axis=0), X.std(axis=0)
        elif self.method == "global":
            # DRAMA divides by max(X); when that is not positive (all-negative data) dividing by it
            # would flip or blow up the data, so the largest magnitude is used instead.
            top = float(X.max())
            if top <= 0:
                top = float(np.abs(X).max()) or 1.0
            self.offset_ = np.zeros(d)
            self.scale_ = np.full(d, top)
            Xd = X / self.scale_
            low = float(Xd.min())
            width = float((Xd - low).max())
            self.reducer_offset_, self.reducer_scale_ = low, (width if width > 0 else 1.0)
        else:
            self.offset_, self.scale_ = np.zeros(d), np.ones(d)
        self.scale_ = np.where(self.scale_ > 0, self.scale_, 1.0).astype(np.float64)
        self.offset_ = np.asarray(self.offset_, dtype=np.float64)
        return self

    def to_distance_space(self, X: np.ndarray) -> np.ndarray:
        """Input units → distance space."""
        return (X - self.offset_) / self.scale_

    def from_distance_space(self, Xd: np.ndarray) -> np.ndarray:
        """Distance space → input units."""
        return Xd * self.scale_ + self.offset_

    def to_reducer_space(self, Xd: np.ndarray) -> np.ndarray:
        """Distance space → the space reducers are trained in."""
        if self.reducer_offset_ == 0.0 and self.reducer_scale_ == 1.0:
            return Xd
        return (Xd - self.reducer_offset_) / self.reducer_scale_

    def from_reducer_space(self, Xr: np.ndarray) -> np.ndarray:
        """Reducer space → distance space (how decoded prototypes come back)."""
        return Xr * self.reducer_scale_ + self.reducer_offset_
