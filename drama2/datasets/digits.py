"""scikit-learn's bundled handwritten digits as a multi-class anomaly benchmark (no download needed).

1797 images of 8 × 8 pixels in 10 classes. With :func:`drama2.datasets.splits.leave_one_class_out`
each digit in turn is the anomaly and the other nine are inliers with their class labels: the
leave-one-class-out protocol of Deep SVDD and MCDSVDD.
"""

from __future__ import annotations

import numpy as np

from drama2.datasets.base import Dataset

CITATION = ("Alpaydin & Kaynak (1998), Optical Recognition of Handwritten Digits, UCI Machine Learning "
            "Repository (the test set, as bundled with scikit-learn: sklearn.datasets.load_digits).")


def load_digits(**_ignored) -> Dataset:
    """The digits as a :class:`Dataset` with class labels and an 8 × 8 image view.

    Returns
    -------
    Dataset
        ``X`` (1797, 64) float64 pixel intensities 0 … 16, ``y`` None (which
        class is anomalous is chosen by the split), ``classes`` the digit
        0 … 9, and ``images`` of shape (1797, 1, 8, 8).
    """
    from sklearn.datasets import load_digits as sklearn_digits

    bunch = sklearn_digits()
    return Dataset(name="digits", X=np.asarray(bunch.data, dtype=np.float64), y=None,
                   source="sklearn.datasets.load_digits", citation=CITATION,
                   metadata={"image_shape": (1, 8, 8), "protocol": "leave-one-class-out"},
                   classes=np.asarray(bunch.target, dtype=np.int64))
