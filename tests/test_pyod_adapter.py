"""The PyOD adapter: same scores as PyOD itself, parameters passed through, clear errors for bad names."""

import subprocess
import sys

import numpy as np
import pytest
from sklearn.base import clone

from drama2.errors import ComponentLoadError, InvalidInputError, UnknownComponentError
from drama2.scorers import pyod_adapter
from drama2.scorers.pyod_adapter import (PyODScorer, available_pyod_detectors, load_pyod_class, make_pyod_factory,
                                         pyod_scorer)

pytest.importorskip("pyod")


@pytest.fixture
def data(rng):
    X = np.r_[rng.normal(0, 1, (150, 4)), rng.uniform(6, 9, (5, 4))]
    return X, rng.normal(0, 2, (25, 4))


def pyod_class(name):
    import importlib

    return getattr(importlib.import_module(f"pyod.models.{name.lower()}"), name)


@pytest.mark.parametrize("name", ["ECOD", "HBOS", "COPOD"])
def test_same_scores_as_pyod(data, name):
    X, X_new = data
    ours = make_pyod_factory(f"{name}")(contamination=0.05).fit(X)
    theirs = pyod_class(name)(contamination=0.05).fit(X)
    np.testing.assert_allclose(ours.decision_scores_, theirs.decision_scores_, rtol=1e-12)
    np.testing.assert_allclose(ours.score_samples(X_new), theirs.decision_function(X_new), rtol=1e-12)
    assert ours.threshold_ == pytest.approx(theirs.threshold_)  # PyOD's percentile rule is drama2's
    np.testing.assert_array_equal(ours.labels_, theirs.labels_)
    np.testing.assert_array_equal(ours.predict(X_new), theirs.predict(X_new))
    assert set(np.argsort(ours.decision_scores_)[-5:]) == set(range(150, 155))  # higher = more anomalous


def test_params_pass_through(data):
    from pyod.models.hbos import HBOS

    X, X_new = data
    ours = pyod_scorer("HBOS", n_bins=4).fit(X)
    np.testing.assert_allclose(ours.score_samples(X_new), HBOS(n_bins=4).fit(X).decision_function(X_new))
    assert not np.allclose(ours.score_samples(X_new), HBOS().fit(X).decision_function(X_new))
    assert ours.detector_.n_bins == 4
    assert PyODScorer("HBOS", params={"n_bins": 4}).fit(X).detector_.n_bins == 4


def test_random_state_passed_only_where_accepted(data):
    from pyod.models.iforest import IForest

    X, X_new = data
    ours = pyod_scorer("IForest", random_state=3, n_estimators=20).fit(X)
    theirs = IForest(random_state=3, n_estimators=20).fit(X)
    np.testing.assert_allclose(ours.score_samples(X_new), theirs.decision_function(X_new))
    assert pyod_scorer("ECOD", random_state=3).fit(X).decision_scores_.shape == (len(X),)  # ECOD takes none


def test_seed_reaches_randomised_pyod_members_of_specs_and_ensembles(data):
    """make_detector and Ensemble seed a pyod:* spec: two fits with one seed give the same scores."""
    from drama2.detect import make_detector
    from drama2.ensemble import Ensemble

    X, _ = data
    first, second = (make_detector("pyod:LODA", random_state=5).fit(X) for _ in range(2))
    assert first.random_state == 5
    np.testing.assert_array_equal(first.decision_scores_, second.decision_scores_)
    other = make_detector("pyod:LODA", random_state=6).fit(X)
    assert not np.array_equal(first.decision_scores_, other.decision_scores_)
    a, b = (Ensemble(members=["pyod:LODA", "pyod:HBOS"], random_state=2).fit(X) for _ in range(2))
    np.testing.assert_array_equal(a.member_scores(), b.member_scores())


def test_auto_contamination(data):
    X, _ = data
    model = pyod_scorer("HBOS", contamination="auto").fit(X)
    q1, q3 = np.percentile(model.decision_scores_, [25, 75])
    assert model.threshold_ == pytest.approx(q3 + 1.5 * (q3 - q1))


def test_sklearn_parameters_and_clone():
    model = pyod_scorer("hbos", n_bins=7, contamination=0.2)
    assert model.get_params() == {"name": "hbos", "params": {"n_bins": 7}, "contamination": 0.2,
                                  "random_state": None}
    assert clone(model).get_params() == model.get_params()
    model.set_params(params={"n_bins": 3})
    assert model.params == {"n_bins": 3}


def test_names_are_case_insensitive(data):
    X, _ = data
    np.testing.assert_array_equal(pyod_scorer("ecod").fit(X).decision_scores_,
                                  pyod_scorer("ECOD").fit(X).decision_scores_)
    assert make_pyod_factory("copod").__name__ == "pyod_COPOD"


def test_unknown_name_suggests_close_matches(data):
    with pytest.raises(UnknownComponentError, match="unknown PyOD detector 'ECDO'. Did you mean ECOD"):
        make_pyod_factory("ECDO")  # at lookup, before any fit
    with pytest.raises(KeyError, match="Did you mean HBOS"):
        pyod_scorer("HBSO").fit(data[0])


def test_bad_params(data):
    X, _ = data
    with pytest.raises(InvalidInputError, match="HBOS has no parameter 'nbins'; it accepts: .*n_bins"):
        pyod_scorer("HBOS", nbins=4).fit(X)
    with pytest.raises(InvalidInputError, match="pass contamination as PyODScorer's own argument"):
        PyODScorer("HBOS", params={"contamination": 0.2}).fit(X)
    with pytest.raises(InvalidInputError, match="params must be a dict"):
        PyODScorer("HBOS", params=[("n_bins", 3)]).fit(X)
    with pytest.raises(InvalidInputError, match="X has 3 features"):
        pyod_scorer("ECOD").fit(X).score_samples(X[:, :3])


def test_non_finite_pyod_scores_are_an_error(rng):
    X = np.c_[rng.normal(size=(50, 2)), np.ones(50)]  # PyOD's PCA divides by a zero variance
    with np.errstate(all="ignore"), pytest.raises(InvalidInputError, match="non-finite scores .*constant columns"):
        pyod_scorer("PCA").fit(X)


def test_available_detectors():
    found = available_pyod_detectors()
    for name in ("ECOD", "HBOS", "COPOD", "IForest", "KNN", "LOF", "OCSVM", "PCA"):
        assert found[name] == f"pyod.models.{name.lower()}"
    assert not any(name.startswith("Base") for name in found)


def test_listing_imports_neither_pyod_nor_torch():
    code = ("import sys; from drama2.scorers.pyod_adapter import available_pyod_detectors as a; "
            "assert 'ECOD' in a(); print(sorted(m for m in ('pyod', 'torch') if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"


def test_missing_pyod_names_the_install_command(monkeypatch):
    pyod_adapter._scan_pyod.cache_clear()
    monkeypatch.setattr(pyod_adapter.importlib.util, "find_spec", lambda name: None)
    try:
        with pytest.raises(ComponentLoadError, match="pip install pyod"):
            available_pyod_detectors()
        with pytest.raises(ImportError, match="pip install pyod"):
            make_pyod_factory("ECOD")
    finally:
        monkeypatch.undo()
        pyod_adapter._scan_pyod.cache_clear()
    assert "ECOD" in available_pyod_detectors()


def test_missing_optional_dependency_names_the_package(monkeypatch, data):
    def fail(name):
        raise ModuleNotFoundError("No module named 'combo'", name="combo")

    monkeypatch.setattr(pyod_adapter.importlib, "import_module", fail)
    with pytest.raises(ComponentLoadError, match=r"LSCP \(pyod.models.lscp\) .*pip install combo"):
        pyod_scorer("LSCP").fit(data[0])


def test_a_pyod_parameter_without_default_is_named(data):
    try:
        load_pyod_class("MultiModalOD")
    except Exception:  # noqa: BLE001 - older PyOD releases lack it
        pytest.skip("this PyOD has no MultiModalOD")
    with pytest.raises(InvalidInputError, match="MultiModalOD needs 'modalities', which has no default"):
        pyod_scorer("MultiModalOD").fit(data[0])
