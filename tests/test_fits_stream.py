"""FITS binary tables read record by record agree with astropy reading the whole table."""

import numpy as np
import pandas as pd
import pytest

pytest.importorskip("astropy")
from astropy.table import MaskedColumn, Table  # noqa: E402

from drama2.datasets.stream import TableStream  # noqa: E402
from drama2.errors import InvalidInputError  # noqa: E402

N = 257


@pytest.fixture
def fits_path(tmp_path):
    rng = np.random.default_rng(0)
    table = Table()
    table["name"] = np.array([f"obj{i}" for i in range(N)])  # 'A' column, padded in the file
    table["source_id"] = rng.integers(2**62, 2**63 - 1, N, dtype=np.int64)  # 'K', no scaling
    table["uid"] = np.arange(N, dtype=np.uint32) + np.uint32(2**32 - N)  # 'J' with TZERO = 2**31
    table["mag"] = rng.normal(18, 1, N).astype(np.float32)  # 'E'
    flux = rng.normal(size=N)
    flux[[3, 100]] = np.nan
    table["flux"] = flux  # 'D' with NaN
    table["count"] = np.arange(N, dtype=np.uint16)  # 'I' with TZERO = 32768
    table["nobs"] = MaskedColumn(np.arange(N, dtype=np.int32), mask=np.arange(N) % 50 == 7)  # 'J' with TNULL
    table["flag"] = np.arange(N) % 3 == 0  # 'L'
    table["small"] = np.arange(N, dtype=np.uint8)  # 'B'
    table["counter"] = np.arange(N, dtype=np.uint64) * np.uint64(3)  # 'K' with TZERO = 2**63: small values stay exact
    table["spectrum"] = np.ones((N, 3))  # a vector column, never asked for
    path = tmp_path / "cat.fits"
    table.write(path)
    return path


FEATURES = ["mag", "flux", "count", "nobs", "flag", "small", "uid", "counter"]


def test_chunks_match_astropy(fits_path):
    stream = TableStream(fits_path)
    assert stream._records is not None  # the record reader, not the whole-table fallback
    assert stream.n_rows == N and stream.columns[:3] == ["name", "source_id", "uid"]
    whole = Table.read(fits_path)
    expected = np.column_stack([np.ma.filled(np.ma.asarray(whole[c]).astype(float), np.nan) for c in FEATURES])
    for id_column in ("name", "source_id", "uid"):
        chunks = list(stream.chunks(FEATURES, id_column, chunk_rows=100))
        assert [c.start for c in chunks] == [0, 100, 200]
        X = np.concatenate([c.X for c in chunks])
        np.testing.assert_array_equal(X, expected)
        np.testing.assert_array_equal(X[:, -1], 3.0 * np.arange(N))
        ids = sum((c.ids.to_pylist() for c in chunks), [])
        assert ids == [v.item() if hasattr(v, "item") else v for v in whole[id_column]]


def test_text_and_vector_columns_are_not_features(fits_path):
    stream = TableStream(fits_path)
    assert stream.non_numeric(["name", "mag"]) == ["name"]
    with pytest.raises(InvalidInputError, match=r"\['spectrum'\] hold arrays per row"):
        stream.check_numeric(["mag", "spectrum"])


def test_detect_scores_a_fits_table_like_the_same_parquet(fits_path, tmp_path):
    from drama2.detect import detect

    Table.read(fits_path)[["source_id", *FEATURES[:3]]].to_pandas().to_parquet(tmp_path / "cat.parquet")
    args = dict(columns=FEATURES[:3], id_column="source_id", detector="drama[reducer=pca, metric=l2]",
                drop_nan=True, chunk_rows=64)
    a = pd.read_parquet(detect(fits_path, tmp_path / "a.parquet", **args).out)
    b = pd.read_parquet(detect(tmp_path / "cat.parquet", tmp_path / "b.parquet", **args).out)
    assert len(a) == N - 2  # the two NaN fluxes are dropped
    pd.testing.assert_frame_equal(a, b)


@pytest.mark.filterwarnings("ignore:File may have been truncated")
def test_a_truncated_fits_file_is_reported(fits_path, tmp_path):
    data = fits_path.read_bytes()
    cut = tmp_path / "cut.fits"
    cut.write_bytes(data[:len(data) - 2880])  # the last FITS block of the table is gone
    stream = TableStream(cut)
    with pytest.raises(InvalidInputError, match="truncated"):
        list(stream.chunks(["mag"], chunk_rows=100))


def test_a_missing_hdu_lists_the_file_s_hdus(fits_path):
    with pytest.raises(InvalidInputError, match=r"no HDU 3; the file has 0 \(PRIMARY, PrimaryHDU\), 1 .*BinTableHDU"):
        TableStream(fits_path, hdu=3)
