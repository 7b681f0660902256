"""ALeRCE loader and the leave-one-subclass-out splits, on a small fixture in the ALeRCE schema."""

import numpy as np
import pandas as pd
import pytest

from drama2 import InvalidInputError
from drama2.datasets.alerce import (
    ALERCE_GROUPS,
    CLASS_TO_GROUP,
    alerce_splits,
    group_subset,
    load_alerce,
    load_alerce_periodic,
)
from drama2.datasets.odds import DatasetNotFoundError

CLASSES = [c for classes in ALERCE_GROUPS.values() for c in classes]  # the 15 sub-classes
PER_CLASS = 12
FEATURES = [f"f{k}" for k in range(10)]
FEW_DETECTIONS = ["ZTF00obj000", "ZTF01obj000", "ZTF02obj000"]  # < 6 in g and in r
G_ONLY = "ZTF00obj001"  # enough in g, too few in r
NAN_F3 = ["ZTF03obj002", "ZTF05obj004", "ZTF09obj007", "ZTF12obj003"]
INF_F7 = "ZTF14obj005"


def _tables():
    """Labels and features as the ALeRCE files hold them (plus the oddities the loader must handle)."""
    rng = np.random.default_rng(7)
    oids = [f"ZTF{c:02d}obj{k:03d}" for c in range(len(CLASSES)) for k in range(PER_CLASS)]
    classes = [cls for cls in CLASSES for _ in range(PER_CLASS)]
    labels = pd.DataFrame({"oid": oids, "classALeRCE": classes, "source": "catalogue"})
    extra = pd.DataFrame({"oid": ["ZTFea0001", "ZTFtde001", "ZTFnofeat1"], "classALeRCE": ["EA", "TDE", "SNIa"],
                          "source": "catalogue"})
    labels = pd.concat([labels, extra], ignore_index=True).sample(frac=1.0, random_state=2, ignore_index=True)

    feat_oids = oids + ["ZTFea0001", "ZTFtde001", "ZTFunlabel"]
    n = len(feat_oids)
    index = [CLASSES.index(c) for c in classes] + [CLASSES.index("E"), 0, 0]
    features = pd.DataFrame(rng.normal(0, 0.1, (n, len(FEATURES))), columns=FEATURES, index=feat_oids)
    features["f0"] += index  # f0 rounds to the class index: a check that rows stay aligned with classes
    features["n_det_1"] = rng.integers(6, 40, n)
    features["n_det_2"] = rng.integers(6, 40, n)
    features.loc[FEW_DETECTIONS, ["n_det_1", "n_det_2"]] = [3, 2]
    features.loc[G_ONLY, ["n_det_1", "n_det_2"]] = [8, 2]
    features.loc[NAN_F3, "f3"] = np.nan
    features.loc[INF_F7, "f7"] = np.inf
    features["band_note"] = "gr"  # a non-numeric column
    features.index.name = "oid"
    return labels, features.sample(frac=1.0, random_state=1)  # unsorted, like a real dump


def _write(directory, kind):
    labels, features = _tables()
    directory.mkdir(parents=True, exist_ok=True)
    if kind == "csv":
        labels.to_csv(directory / "labels.csv", index=False)
        features.reset_index().to_csv(directory / "features.csv", index=False)
        return directory / "labels.csv", directory / "features.csv"
    labels.to_parquet(directory / "labels.parquet")
    features.to_parquet(directory / "features.parquet")  # oid as the index
    return directory / "labels.parquet", directory / "features.parquet"


@pytest.fixture(params=["csv", "parquet"])
def files(request, tmp_path):
    return _write(tmp_path / request.param, request.param)


@pytest.fixture
def parquet(tmp_path):
    return _write(tmp_path / "pq", "parquet")


def test_join_and_counts(files):
    ds = load_alerce(*files)
    md = ds.metadata
    assert md["n_labelled"] == 15 * PER_CLASS + 2  # + EA merged into E and the oid without features
    assert md["class_aliases_merged"] == {"EA": 1} and md["excluded_classes_dropped"] == {"TDE": 1}
    assert md["n_without_features"] == 1 and md["n_too_few_detections"] == len(FEW_DETECTIONS)
    assert ds.X.shape == (15 * PER_CLASS + 1 - len(FEW_DETECTIONS), len(FEATURES) + 2)
    assert md["feature_names"] == FEATURES + ["n_det_1", "n_det_2"]
    assert md["non_numeric_columns_dropped"] == ["band_note"]
    assert ds.y is None and ds.name == "alerce" and "161, 141" in ds.citation and "166, 151" in ds.citation
    assert list(md["ids"]) == sorted(md["ids"]) and "ZTFunlabel" not in md["ids"]
    assert md["class_counts"]["E"] == PER_CLASS + 1


def test_csv_and_parquet_give_the_same_dataset(tmp_path):
    a = load_alerce(*_write(tmp_path / "a", "csv"))
    b = load_alerce(*_write(tmp_path / "b", "parquet"))
    np.testing.assert_allclose(a.X, b.X)
    np.testing.assert_array_equal(a.classes, b.classes)


def test_rows_stay_aligned_with_their_classes(parquet):
    ds = load_alerce(*parquet)
    f0 = ds.X[:, ds.metadata["feature_names"].index("f0")]
    np.testing.assert_array_equal(np.round(f0).astype(int), [CLASSES.index(c) for c in ds.classes])
    _, features = _tables()
    row = list(ds.metadata["ids"]).index("ZTF07obj003")
    np.testing.assert_allclose(ds.X[row], features.loc["ZTF07obj003", ds.metadata["feature_names"]].astype(float))


def test_group_mapping_and_restriction(parquet):
    ds = load_alerce(*parquet)
    assert set(ds.classes) == set(CLASSES)
    np.testing.assert_array_equal(ds.metadata["groups"], [CLASS_TO_GROUP[c] for c in ds.classes])
    transient = load_alerce(*parquet, group="transient")
    assert transient.name == "alerce-transient" and transient.metadata["group"] == "Transient"
    assert set(transient.classes) == set(ALERCE_GROUPS["Transient"])
    assert transient.metadata["n_without_features"] == 1  # the SNIa without features
    assert len(transient.classes) == (ds.metadata["groups"] == "Transient").sum()


def test_detection_filter_variants(parquet, tmp_path):
    n_any = load_alerce(*parquet).X.shape[0]
    both = load_alerce(*parquet, detections_in="both")
    assert both.X.shape[0] == n_any - 1 and G_ONLY not in both.metadata["ids"]
    assert "g and r" in both.metadata["detection_filter"]
    assert load_alerce(*parquet, min_detections=None).X.shape[0] == n_any + len(FEW_DETECTIONS)
    labels, features = _tables()
    features.drop(columns=["n_det_1", "n_det_2"]).to_parquet(tmp_path / "no_det.parquet")
    unfiltered = load_alerce(parquet[0], tmp_path / "no_det.parquet")
    assert unfiltered.metadata["detection_filter"].startswith("skipped")
    assert unfiltered.metadata["n_too_few_detections"] == 0 and unfiltered.X.shape[0] == n_any + 3


def test_missing_values_are_imputed_with_column_medians_by_default(parquet):
    ds = load_alerce(*parquet)
    md = ds.metadata
    assert md["missing"] == "median" and md["missing_counts"] == {"f3": len(NAN_F3), "f7": 1}
    assert np.isfinite(ds.X).all()
    kept = load_alerce(*parquet, missing="keep")
    f3 = md["feature_names"].index("f3")
    expected = np.nanmedian(kept.X[:, f3])
    assert md["imputed_medians"]["f3"] == pytest.approx(expected)
    rows = np.isin(md["ids"], NAN_F3)
    np.testing.assert_allclose(ds.X[rows, f3], expected)


def test_other_missing_value_policies(parquet):
    n = load_alerce(*parquet).X.shape[0]
    kept = load_alerce(*parquet, missing="keep")
    assert np.isnan(kept.X).sum() == len(NAN_F3) + 1  # the inf counts as missing
    dropped = load_alerce(*parquet, missing="drop")
    assert dropped.X.shape[0] == n - len(NAN_F3) - 1 and dropped.metadata["n_dropped_missing"] == 5
    assert len(dropped.classes) == len(dropped.metadata["ids"]) == dropped.X.shape[0]
    assert not set(NAN_F3) & set(dropped.metadata["ids"])
    with pytest.raises(InvalidInputError, match=r"missing or infinite.*f3"):
        load_alerce(*parquet, missing="error")
    with pytest.raises(InvalidInputError, match="missing must be one of"):
        load_alerce(*parquet, missing="zero")


def test_an_empty_column_is_dropped_and_reported(parquet, tmp_path):
    labels, features = _tables()
    features["f_empty"] = np.nan
    features.to_parquet(tmp_path / "f.parquet")
    ds = load_alerce(parquet[0], tmp_path / "f.parquet")
    assert ds.metadata["empty_columns_dropped"] == ["f_empty"] and "f_empty" not in ds.metadata["feature_names"]


def test_an_explicit_feature_list(parquet):
    ds = load_alerce(*parquet, features=["f1", "f0"])
    assert ds.X.shape[1] == 2 and ds.metadata["feature_names"] == ["f1", "f0"]
    with pytest.raises(InvalidInputError, match="not in the feature table"):
        load_alerce(*parquet, features=["f1", "nope"])
    with pytest.raises(InvalidInputError, match="not numeric"):
        load_alerce(*parquet, features=["band_note"])


def test_leave_one_subclass_out_splits_within_a_group(parquet):
    ds = load_alerce(*parquet)
    transient = ALERCE_GROUPS["Transient"]
    n_group = int((ds.metadata["groups"] == "Transient").sum())
    splits = list(alerce_splits(ds, "Transient", n_folds=5, random_state=0))
    assert [(s.held_out, s.fold) for s in splits] == [(c, k) for c in transient for k in range(5)]
    for cls in transient:
        folds = [s for s in splits if s.held_out == cls]
        assert sum(len(s.y_test) for s in folds) == n_group  # every group row is tested once per held-out class
        for s in folds:
            assert cls not in s.classes_train
            assert set(s.classes_train) == set(transient) - {cls}
            assert set(s.classes_test) <= set(transient)
            np.testing.assert_array_equal(s.y_test, (s.classes_test == cls).astype(int))
            assert s.y_test.sum() >= 1
            n_train_all = n_group - len(s.y_test)
            assert 0.75 <= n_train_all / n_group <= 0.85  # 80/20
            assert len(s.X_train) == n_train_all - (ds.classes[ds.metadata["groups"] == "Transient"] == cls).sum() \
                + s.y_test.sum()
            assert s.X_train.shape[1] == ds.X.shape[1]


def test_periodic_other_stays_an_inlier_class(parquet):
    ds = load_alerce(*parquet)
    splits = list(alerce_splits(ds, "Periodic", n_folds=5))
    assert {s.held_out for s in splits} == {"CEP", "DSCT", "E", "RRL", "LPV"}
    assert all("Periodic-Other" in s.classes_train for s in splits)
    chosen = list(alerce_splits(ds, "periodic", held_out=["E"], n_folds=5))
    assert {s.held_out for s in chosen} == {"E"} and len(chosen) == 5
    with pytest.raises(InvalidInputError, match=r"\['SNIa'\] are not Periodic classes"):
        alerce_splits(ds, "Periodic", held_out=["SNIa"])


def test_splits_are_the_same_from_the_full_set_and_a_group_load(parquet):
    full = load_alerce(*parquet, missing="keep")
    group = load_alerce(*parquet, group="Stochastic", missing="keep")
    np.testing.assert_array_equal(group_subset(full, "Stochastic").X, group.X)
    a = list(alerce_splits(full, "Stochastic", random_state=3))
    b = list(alerce_splits(group, "Stochastic", random_state=3))
    assert len(a) == len(b) == 25
    for s, t in zip(a, b):
        np.testing.assert_array_equal(s.X_test, t.X_test)
        np.testing.assert_array_equal(s.classes_train, t.classes_train)


def test_default_files_are_found_under_the_data_dir(tmp_path, monkeypatch):
    monkeypatch.delenv("DRAMA2_DATA", raising=False)
    _write(tmp_path / "alerce", "csv")
    ds = load_alerce(data_dir=tmp_path, random_state=0)
    assert ds.metadata["labels_path"] == str(tmp_path / "alerce" / "labels.csv")
    periodic = load_alerce_periodic(data_dir=tmp_path, random_state=0)
    assert periodic.name == "alerce-periodic" and set(periodic.classes) == set(ALERCE_GROUPS["Periodic"])
    with pytest.raises(InvalidInputError, match="always loads the Periodic group"):
        load_alerce_periodic(data_dir=tmp_path, group="Transient")


def test_missing_files_name_both_expected_paths_and_the_sources(tmp_path, monkeypatch):
    monkeypatch.delenv("DRAMA2_DATA", raising=False)
    monkeypatch.delenv("DRAMA2_CACHE", raising=False)
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    with pytest.raises(DatasetNotFoundError) as info:
        load_alerce(data_dir=tmp_path)
    message = str(info.value)
    for expected in ("labels.csv", "labels.parquet", "features.parquet", "features.csv", str(tmp_path / "alerce"),
                     "https://alerce.science/", "AnomalyALeRCE"):
        assert expected in message
    with pytest.raises(DatasetNotFoundError, match="nowhere.csv does not exist"):
        load_alerce(tmp_path / "nowhere.csv", tmp_path / "f.parquet")


@pytest.mark.parametrize("column", ["oid", "classALeRCE"])
def test_labels_without_a_required_column(parquet, tmp_path, column):
    labels, _ = _tables()
    labels.drop(columns=[column]).to_csv(tmp_path / "bad.csv", index=False)
    with pytest.raises(InvalidInputError, match=rf"lacks column\(s\) \['{column}'\]"):
        load_alerce(tmp_path / "bad.csv", parquet[1])


def test_features_without_an_oid(parquet, tmp_path):
    _, features = _tables()
    features.reset_index(drop=True).to_parquet(tmp_path / "f.parquet")
    with pytest.raises(InvalidInputError, match="no 'oid' column or index"):
        load_alerce(parquet[0], tmp_path / "f.parquet")


def test_unknown_group(parquet):
    with pytest.raises(InvalidInputError, match=r"unknown group 'Eruptive'.*Transient"):
        load_alerce(*parquet, group="Eruptive")
    with pytest.raises(InvalidInputError, match="unknown group"):
        alerce_splits(load_alerce(*parquet), "Eruptive")


def test_unknown_class_names_are_named_or_dropped(parquet, tmp_path):
    labels, _ = _tables()
    labels.loc[labels["oid"].isin(["ZTF00obj005", "ZTF07obj001"]), "classALeRCE"] = "Mystery"
    labels.to_csv(tmp_path / "labels.csv", index=False)
    with pytest.raises(InvalidInputError, match=r"\{'Mystery': 2\}.*unknown_classes='drop'"):
        load_alerce(tmp_path / "labels.csv", parquet[1])
    ds = load_alerce(tmp_path / "labels.csv", parquet[1], unknown_classes="drop")
    assert ds.metadata["unknown_classes_dropped"] == {"Mystery": 2} and "Mystery" not in ds.classes


def test_conflicting_labels_for_one_object(parquet, tmp_path):
    labels, _ = _tables()
    clash = pd.DataFrame({"oid": ["ZTF00obj005"], "classALeRCE": ["QSO"], "source": "x"})
    pd.concat([labels, clash]).to_csv(tmp_path / "labels.csv", index=False)
    with pytest.raises(InvalidInputError, match="ZTF00obj005"):
        load_alerce(tmp_path / "labels.csv", parquet[1])


def test_an_unsupported_file_type(parquet, tmp_path):
    (tmp_path / "labels.txt").write_text("oid,classALeRCE\n")
    with pytest.raises(InvalidInputError, match="neither CSV"):
        load_alerce(tmp_path / "labels.txt", parquet[1])
