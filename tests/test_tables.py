"""Users' own tables: every format gives the same dataset; bad tables get errors that name the problem."""

import numpy as np
import pandas as pd
import pytest

from drama2 import Drama
from drama2.datasets.tables import from_table
from drama2.errors import InvalidInputError


@pytest.fixture
def catalogue(rng):
    n = 40
    return pd.DataFrame({
        "oid": [f"ZTF{i:04d}" for i in range(n)],
        "mag_g": rng.normal(18, 1, n),
        "mag_r": rng.normal(17.5, 1, n),
        "period": rng.uniform(0.1, 10, n),
        "flagged": rng.random(n) < 0.5,
        "is_anomaly": (np.arange(n) % 10 == 0).astype(int),
        "kind": np.where(np.arange(n) % 2 == 0, "RRL", "CEP"),
    })


def _write(frame, path):
    suffix = path.suffix
    if suffix == ".csv":
        frame.to_csv(path, index=False)
    elif suffix == ".parquet":
        frame.to_parquet(path)
    elif suffix == ".fits":
        from astropy.table import Table

        Table.from_pandas(frame).write(path)
    else:
        numeric = [c for c in frame.columns if pd.api.types.is_numeric_dtype(frame[c])]
        np.savez(path, **{c: frame[c].to_numpy() for c in numeric})
    return path


@pytest.mark.parametrize("suffix", [".csv", ".parquet", ".fits", ".npz"])
def test_every_format_gives_the_same_features_and_labels(catalogue, tmp_path, suffix):
    path = _write(catalogue, tmp_path / f"cat{suffix}")
    ds = from_table(path, columns=["mag_g", "mag_r", "period"], label="is_anomaly")
    np.testing.assert_allclose(ds.X, catalogue[["mag_g", "mag_r", "period"]].to_numpy())
    np.testing.assert_array_equal(ds.y, catalogue["is_anomaly"].to_numpy())
    assert ds.X.dtype == np.float64 and ds.name == "cat" and ds.source == str(path)
    assert ds.metadata["feature_names"] == ["mag_g", "mag_r", "period"]


def test_default_features_are_all_but_the_declared_columns(catalogue, tmp_path):
    path = _write(catalogue, tmp_path / "cat.parquet")
    ds = from_table(path, label="is_anomaly", id_column="oid", class_column="kind")
    assert ds.metadata["feature_names"] == ["mag_g", "mag_r", "period", "flagged"]  # booleans count as numeric
    np.testing.assert_array_equal(ds.metadata["ids"], catalogue["oid"].to_numpy())
    np.testing.assert_array_equal(ds.classes, catalogue["kind"].to_numpy())
    Drama(reducer="pca", n_components=2, min_leaf_size=2, random_state=0).fit(ds.X)


def test_non_numeric_columns_are_rejected_by_name(catalogue, tmp_path):
    path = _write(catalogue, tmp_path / "cat.csv")
    with pytest.raises(InvalidInputError, match=r"\['oid', 'kind'\] are not numeric.*columns=\[") as err:
        from_table(path, label="is_anomaly")
    assert "id_column=" in str(err.value)


def test_excluded_columns_leave_the_default_features(catalogue, tmp_path):
    path = _write(catalogue, tmp_path / "cat.csv")
    ds = from_table(path, label="is_anomaly", exclude_columns=["oid", "kind", "flagged"])
    assert ds.metadata["feature_names"] == ["mag_g", "mag_r", "period"]
    with pytest.raises(InvalidInputError, match="no column"):
        from_table(path, label="is_anomaly", exclude_columns=["oid", "knd"])


def test_a_label_column_among_the_features_is_warned_about(catalogue, tmp_path):
    path = _write(catalogue, tmp_path / "cat.csv")
    with pytest.warns(UserWarning, match="'is_anomaly' is also a feature"):
        from_table(path, columns=["mag_g", "is_anomaly"], label="is_anomaly")


def test_a_table_with_a_header_and_no_rows_says_so(tmp_path):
    (tmp_path / "empty.csv").write_text("mag_g,mag_r\n")
    with pytest.raises(InvalidInputError, match="columns but no rows"):
        from_table(tmp_path / "empty.csv")


def test_missing_values_are_an_error_by_default_and_can_be_dropped(catalogue, tmp_path):
    catalogue.loc[[3, 7], "mag_g"] = np.nan
    catalogue.loc[7, "period"] = np.inf
    catalogue.loc[11, "period"] = np.nan
    path = _write(catalogue, tmp_path / "cat.parquet")
    with pytest.raises(InvalidInputError, match=r"3 of 40 rows.*'mag_g': 2, 'period': 2.*missing='drop'"):
        from_table(path, columns=["mag_g", "period"])
    with pytest.warns(UserWarning, match="dropped 3 of 40 rows"):
        ds = from_table(path, columns=["mag_g", "period"], id_column="oid", missing="drop")
    assert ds.X.shape == (37, 2) and ds.metadata["n_dropped"] == 3
    assert "ZTF0003" not in set(ds.metadata["ids"]) and len(ds.metadata["ids"]) == 37
    np.testing.assert_array_equal(ds.metadata["row_index"], np.setdiff1d(np.arange(40), [3, 7, 11]))


def test_masked_fits_cells_are_missing_values(catalogue, tmp_path):
    from astropy.table import MaskedColumn, Table

    table = Table.from_pandas(catalogue[["mag_g", "mag_r"]])
    table["mag_r"] = MaskedColumn(table["mag_r"], mask=np.arange(40) == 5)
    table.write(tmp_path / "masked.fits")
    with pytest.raises(InvalidInputError, match="1 of 40 rows"):
        from_table(tmp_path / "masked.fits")
    with pytest.warns(UserWarning):
        assert from_table(tmp_path / "masked.fits", missing="drop").X.shape == (39, 2)


def test_labels_must_be_binary(catalogue, tmp_path):
    catalogue["is_anomaly"] = catalogue["is_anomaly"] * 2
    path = _write(catalogue, tmp_path / "cat.csv")
    with pytest.raises(InvalidInputError, match=r"'is_anomaly' must hold 0/1.*\[0\.0, 2\.0\]"):
        from_table(path, columns=["mag_g"], label="is_anomaly")
    catalogue["is_anomaly"] = np.where(catalogue["is_anomaly"] > 0, "yes", "no")
    _write(catalogue, path)
    with pytest.raises(InvalidInputError, match=r"'is_anomaly' must hold 0/1.*text values \['yes', 'no'\]"):
        from_table(path, columns=["mag_g"], label="is_anomaly")


def test_npz_with_x_and_y_uses_y_as_the_label(tmp_path, rng):
    X, y = rng.normal(size=(30, 4)), (np.arange(30) < 3).astype(np.uint8)
    np.savez(tmp_path / "odds_like.npz", X=X.astype(np.int16), y=y.reshape(-1, 1))
    ds = from_table(tmp_path / "odds_like.npz")
    assert ds.metadata["feature_names"] == ["x0", "x1", "x2", "x3"] and ds.n_outliers == 3
    np.testing.assert_array_equal(ds.X, X.astype(np.int16).astype(np.float64))


def test_npz_is_read_without_unpickling(tmp_path):
    np.savez(tmp_path / "objects.npz", X=np.array([[1, "a"]], dtype=object))
    with pytest.raises(InvalidInputError, match="allow_pickle=False.*never unpickles"):
        from_table(tmp_path / "objects.npz")


@pytest.mark.parametrize("call, message", [
    (lambda p: from_table(p / "cat.xlsx"), r"unknown table format '\.xlsx'.*\.csv"),
    (lambda p: from_table(p / "absent.csv"), "absent.csv: no such file"),
    (lambda p: from_table(p / "cat.csv", columns=["mag_g", "colour"]), r"no column\(s\) \['colour'\].*mag_r"),
    (lambda p: from_table(p / "cat.parquet", columns=["mag_g"], label="label"), r"no column\(s\) \['label'\]"),
    (lambda p: from_table(p / "cat.csv", columns=["mag_g"], missing="impute"), "missing must be one of"),
])
def test_bad_requests_name_the_problem(catalogue, tmp_path, call, message):
    _write(catalogue, tmp_path / "cat.csv")
    _write(catalogue, tmp_path / "cat.parquet")
    with pytest.raises(InvalidInputError, match=message):
        call(tmp_path)


def test_csv_identifiers_keep_their_leading_zeros(tmp_path):
    path = tmp_path / "catalogue.csv"
    path.write_text("obj_id,flux,colour\n0000041,1.0,2.0\n0000042,3.0,4.5\n0000043,1.5,2.5\n")
    data = from_table(path, id_column="obj_id")
    assert data.metadata["ids"].tolist() == ["0000041", "0000042", "0000043"]
    assert data.X.shape == (3, 2)


def test_a_file_name_given_to_load_dataset_points_to_from_table():
    import drama2
    from drama2.errors import UnknownComponentError

    with pytest.raises(UnknownComponentError, match=r"looks like a file: .*drama2\.from_table\('my_catalogue\.csv'"):
        drama2.load_dataset("my_catalogue.csv")
    with pytest.raises(UnknownComponentError) as caught:
        drama2.load_dataset("cardoi")
    assert "from_table" not in str(caught.value)
