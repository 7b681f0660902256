"""The digits benchmark and leave-one-class-out splits (the MCDSVDD / Deep SVDD protocol)."""

import numpy as np
import pytest
from sklearn.datasets import load_digits as sklearn_digits

from drama2 import load_dataset
from drama2.datasets.base import Dataset
from drama2.datasets.splits import leave_one_class_out
from drama2.errors import InvalidInputError


@pytest.fixture(scope="module")
def digits():
    return load_dataset("digits")


def test_digits_is_sklearns_data_with_classes_and_images(digits):
    reference = sklearn_digits()
    np.testing.assert_array_equal(digits.X, reference.data)
    np.testing.assert_array_equal(digits.classes, reference.target)
    assert digits.y is None
    assert digits.images.shape == (1797, 1, 8, 8)
    np.testing.assert_array_equal(digits.images[:, 0], reference.images)


def test_each_class_is_held_out_once_and_never_trained_on(digits):
    splits = list(leave_one_class_out(digits, test_size=0.2, random_state=0))
    assert [s.held_out for s in splits] == list(range(10))
    for s in splits:
        assert s.held_out not in set(s.classes_train)
        assert set(s.classes_train) == set(range(10)) - {s.held_out}
        np.testing.assert_array_equal(s.y_test, (s.classes_test == s.held_out).astype(int))
        # Stratified: the held-out class keeps its share of the test rows.
        share = (digits.classes == s.held_out).mean()
        assert abs(s.y_test.mean() - share) < 0.01
        assert len(s.X_test) == 360


def test_k_fold_splits_cover_every_row_once_as_test(digits):
    splits = list(leave_one_class_out(digits, held_out=[7], n_folds=5, random_state=1))
    assert [s.fold for s in splits] == [0, 1, 2, 3, 4]
    assert sum(len(s.X_test) for s in splits) == len(digits.X)
    assert sum(s.y_test.sum() for s in splits) == (digits.classes == 7).sum()


def test_splits_are_deterministic_for_a_seed(digits):
    a = next(leave_one_class_out(digits, random_state=3))
    b = next(leave_one_class_out(digits, random_state=3))
    c = next(leave_one_class_out(digits, random_state=4))
    np.testing.assert_array_equal(a.X_test, b.X_test)
    assert not np.array_equal(a.X_test, c.X_test)


@pytest.mark.parametrize("classes, kwargs, message", [
    (None, {}, "has no class labels"),
    (np.zeros(20), {}, "single class"),
    (np.r_[np.zeros(19), 1], {}, r"classes \[1\.0\] have fewer than 2 rows"),
    (np.r_[np.zeros(10), np.ones(10)], {"held_out": [5]}, r"held_out classes \[5\] are not in the data"),
])
def test_bad_class_labels_are_rejected(classes, kwargs, message):
    ds = Dataset(name="toy", X=np.zeros((20, 2)), y=None, classes=classes)
    with pytest.raises(InvalidInputError, match=message):
        next(leave_one_class_out(ds, **kwargs))
