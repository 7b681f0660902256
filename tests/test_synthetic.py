"""DRAMA's simulations: determinism, scenario layouts, and a statistical match with DRAMA's own data."""

import numpy as np
import pytest
from scipy import stats
from scipy.ndimage import uniform_filter1d

from drama2 import load_dataset
from drama2.datasets.synthetic import SCENARIOS, new_class_anomaly, shape, signals
from drama2.errors import InvalidInputError

X_100 = np.linspace(0, 1, 100)


def _bump_peak(residuals):
    """Height of the strongest smooth excess in each residual row (a 15-sample moving average)."""
    return uniform_filter1d(residuals, 15, axis=1).max(axis=1)


@pytest.fixture(scope="module")
def drama_signals(data_dir):
    with np.load(data_dir / "drama" / "synthetic_signals_2100x100.npz", allow_pickle=False) as z:
        return z["x"], z["y"].reshape(-1)


@pytest.mark.data
def test_local_anomaly_matches_dramas_own_realisation(drama_signals):
    ref_X, ref_y = drama_signals
    ours = load_dataset("synthetic-local-100")
    # Shape and label layout: 2000 inliers, then 100 anomalies.
    assert ours.X.shape == ref_X.shape == (2100, 100)
    np.testing.assert_array_equal(ours.y, ref_y)
    base = shape(1, X_100, 1.0, 0.0)
    ref_res, our_res = ref_X - base, ours.X - base
    # Noise level: the per-row residual spread of the inliers has the same distribution (σ ≈ 0.2).
    ref_sd, our_sd = ref_res[:2000].std(axis=1), our_res[:2000].std(axis=1)
    assert abs(np.median(our_sd) - 0.2) < 0.005 and abs(np.median(ref_sd) - 0.2) < 0.005
    assert stats.ks_2samp(ref_sd, our_sd).pvalue > 0.001
    # The inlier mean curve follows the same shape.
    assert np.abs(ref_X[:2000].mean(0) - ours.X[:2000].mean(0)).max() < 0.05
    # Bump amplitude: the anomalies' smoothed peaks have the same distribution, well above the inliers'.
    ref_peak, our_peak = _bump_peak(ref_res[2000:]), _bump_peak(our_res[2000:])
    assert stats.ks_2samp(ref_peak, our_peak).pvalue > 0.001
    assert np.median(our_peak) > 2.5 * np.median(_bump_peak(our_res[:2000]))


def test_scenarios_are_deterministic_for_a_seed():
    for name in ("synthetic-local-100", "synthetic-newclass-100"):
        a, b = load_dataset(name, random_state=7), load_dataset(name, random_state=7)
        np.testing.assert_array_equal(a.X, b.X)
        assert not np.array_equal(a.X, load_dataset(name, random_state=8).X)


@pytest.mark.parametrize("name, n, d, outliers", [
    ("synthetic-local-100", 2100, 100, 100),
    ("synthetic-local-3000", 550, 3000, 50),
    ("synthetic-newclass-100", 1045, 100, 45),
    ("synthetic-newclass-3000", 1045, 3000, 45),
    ("synthetic-newclass-5v5-100", 2525, 100, 25),
    ("synthetic-newclass-9v1-3000", 4550, 3000, 50),
])
def test_registered_scenarios_have_the_documented_sizes(name, n, d, outliers):
    ds = load_dataset(name)
    assert ds.name == name
    assert ds.X.shape == (n, d) and ds.X.dtype == np.float64
    assert ds.n_outliers == outliers
    assert np.all(ds.y[: n - outliers] == 0)  # inliers first


def test_every_scenario_is_registered_at_both_sizes():
    families = {name.rsplit("-", 1)[0] for name in SCENARIOS}
    assert families == {"synthetic-local", "synthetic-newclass", "synthetic-newclass-5v5", "synthetic-newclass-9v1"}
    assert all(f"{family}-{nf}" in SCENARIOS for family in families for nf in (100, 3000))


def test_new_class_anomalies_come_from_unseen_shapes():
    ds = load_dataset("synthetic-newclass-5v5-100")
    assert set(ds.classes[ds.y == 0]) == {1, 2, 3, 4, 5}
    assert set(ds.classes[ds.y == 1]) == {6, 7, 8, 9, 10}
    # Each block really is its shape: closer to its own noiseless mean curve than to any other shape's.
    templates = np.stack([shape(i, X_100, 1.0, 0.0) for i in range(1, 11)])
    nearest = np.argmin(((ds.X[:, None, :] - templates[None]) ** 2).sum(-1), axis=1) + 1
    assert (nearest == ds.classes).mean() > 0.95


def test_local_3000_bumps_sit_near_three_quarters():
    ds = load_dataset("synthetic-local-3000")
    x = np.linspace(0, 1, 3000)
    residual = ds.X - shape(1, x, 1.0, 0.0)
    peak_at = x[uniform_filter1d(residual[ds.y == 1], 31, axis=1).argmax(axis=1)]
    assert np.median(np.abs(peak_at - 0.755)) < 0.02


def test_signals_noise_and_shape_arguments():
    clean = signals(3, 50, 200, sigma=0.0, jitter=0.0, random_state=0)
    np.testing.assert_allclose(clean, np.broadcast_to(shape(3, np.linspace(0, 1, 200), 1.0, 0.0), clean.shape))
    with pytest.raises(InvalidInputError, match="1 … 10"):
        shape(11, X_100, 1.0, 0.0)
    with pytest.raises(InvalidInputError, match="both inlier and outlier"):
        new_class_anomaly(inlier_shapes=(1, 2), outlier_shapes=(2, 3))


def test_a_misspelt_loader_option_is_refused_not_ignored():
    with pytest.raises(InvalidInputError, match="'random_sate' \\(did you mean 'random_state'\\?\\)"):
        load_dataset("synthetic-local-100", random_sate=3)  # would silently give the random_state=0 data
    with pytest.raises(InvalidInputError, match="takes no option 'n_class'"):
        load_dataset("digits", n_class=3)
    # The generic options any caller may pass to every dataset are still accepted (and ignored where unused).
    assert load_dataset("synthetic-local-100", data_dir="/nowhere", download=False).X.shape[0] > 0
