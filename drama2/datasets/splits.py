"""Leave-one-class-out splits: the protocol of MCDSVDD and Deep SVDD (SPEC §5).

A multi-class dataset becomes an anomaly benchmark by holding one class out:
detectors are fitted on the other classes' training rows (with their class
labels, for multi-class detectors) and scored on a test share in which the
held-out class is the anomaly.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from drama2.datasets.base import Dataset
from drama2.errors import InvalidInputError


@dataclass
class ClassSplit:
    """One train/test split with one class held out as the anomaly.

    Attributes
    ----------
    held_out : object
        The class that plays the anomaly.
    fold : int
        Index of the fold (0 with a single split).
    X_train : ndarray (n_train, d)
        Training rows of the inlier classes only.
    classes_train : ndarray (n_train,)
        Their class labels.
    X_test : ndarray (n_test, d)
        Test rows of every class.
    y_test : ndarray (n_test,) of 0/1
        1 where the test row belongs to ``held_out``.
    classes_test : ndarray (n_test,)
        Class labels of the test rows.
    """

    held_out: object
    fold: int
    X_train: np.ndarray
    classes_train: np.ndarray
    X_test: np.ndarray
    y_test: np.ndarray
    classes_test: np.ndarray


def leave_one_class_out(dataset: Dataset, *, held_out=None, test_size: float = 0.2, n_folds: int = 1,
                        random_state=0):
    """Yield :class:`ClassSplit` objects, each holding one class out as the anomaly.

    Parameters
    ----------
    dataset : Dataset
        Must carry class labels (``dataset.classes``).
    held_out : iterable, optional
        Classes to hold out in turn; default every class.
    test_size : float
        Test share of a single stratified split (``n_folds=1``).
    n_folds : int
        With ``n_folds > 1``, stratified k-fold: each fold is the test share once
        (``n_folds=5`` gives the 80/20 splits of the MCDSVDD protocol).
    random_state : int
        Seed of the shuffling; the same seed gives the same splits.

    Notes
    -----
    Rows are split stratified by class over *all* classes, then the held-out
    class is removed from the training part, so the test share keeps the
    dataset's class proportions.
    """
    from sklearn.model_selection import StratifiedKFold, train_test_split

    if dataset.classes is None:
        raise InvalidInputError(f"dataset {dataset.name!r} has no class labels; leave-one-class-out needs them.")
    classes = np.asarray(dataset.classes)
    labels, counts = np.unique(classes, return_counts=True)
    if len(labels) < 2:
        raise InvalidInputError(f"dataset {dataset.name!r} has a single class; holding it out leaves no inliers.")
    needed = max(n_folds, 2)
    if counts.min() < needed:
        rare = labels[counts < needed].tolist()
        raise InvalidInputError(f"classes {rare} have fewer than {needed} rows, too few for a stratified split; "
                                "drop them or merge them into another class.")
    targets = labels if held_out is None else list(held_out)
    unknown = [c for c in targets if c not in set(labels.tolist())]
    if unknown:
        raise InvalidInputError(f"held_out classes {unknown} are not in the data; classes are {labels.tolist()}.")

    index = np.arange(len(classes))
    if n_folds == 1:
        train, test = train_test_split(index, test_size=test_size, stratify=classes, random_state=random_state)
        folds = [(np.sort(train), np.sort(test))]
    else:
        folds = list(StratifiedKFold(n_folds, shuffle=True, random_state=random_state).split(index, classes))
    for target in targets:
        for k, (train, test) in enumerate(folds):
            train = train[classes[train] != target]
            yield ClassSplit(held_out=target, fold=k, X_train=dataset.X[train], classes_train=classes[train],
                             X_test=dataset.X[test], y_test=(classes[test] == target).astype(np.int64),
                             classes_test=classes[test])
