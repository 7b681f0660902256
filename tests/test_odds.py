"""ODDS files: formats, dtypes, labels and checksum verification."""

import shutil

import numpy as np
import pytest

from drama2 import InvalidInputError, load_dataset
from drama2.datasets.odds import DatasetNotFoundError, load_odds


def test_loads_v5_and_v73_files_with_float_features(data_dir):
    cardio = load_dataset("cardio", data_dir=data_dir)
    assert cardio.X.shape == (1831, 21) and cardio.X.dtype == np.float64 and cardio.n_outliers == 176
    breastw = load_odds("breastw", data_dir=data_dir)  # stored as uint8
    assert breastw.X.dtype == np.float64
    smtp = load_odds("smtp", data_dir=data_dir)  # MAT v7.3 (HDF5)
    assert smtp.X.shape == (95156, 3) and smtp.n_outliers == 30


def test_a_corrupt_file_is_refused_with_the_expected_hash(data_dir, tmp_path):
    (tmp_path / "odds").mkdir()
    target = tmp_path / "odds" / "wine.mat"
    shutil.copy(data_dir / "odds" / "wine.mat", target)
    with open(target, "r+b") as fh:
        fh.truncate(1000)
    with pytest.raises(InvalidInputError, match="d1b7cc643379e14397ee25bc1125ba08e4c929f2ec44d8782b1340d7045d4cf7"):
        load_odds("wine", data_dir=tmp_path)


def test_a_missing_file_names_the_file_and_directories(tmp_path, monkeypatch):
    monkeypatch.delenv("DRAMA2_DATA", raising=False)
    monkeypatch.setenv("HOME", str(tmp_path))
    with pytest.raises(DatasetNotFoundError, match="speech.mat"):
        load_odds("speech", data_dir=tmp_path)


def test_a_data_dir_that_does_not_exist_is_reported(tmp_path):
    from drama2.datasets.odds import data_dirs

    with pytest.warns(UserWarning, match="is not a directory; searching"):
        dirs = data_dirs(tmp_path / "typo")
    assert dirs[0] == tmp_path / "typo"
