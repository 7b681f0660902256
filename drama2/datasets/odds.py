"""ODDS benchmark datasets (Rayana 2016), read from a local data directory and verified by sha256.

Files are looked up as ``<data dir>/odds/<name>.mat`` (or ``.npz``) in the
first of: the ``data_dir`` argument, ``$DRAMA2_DATA``, ``~/.cache/drama2``.
MAT v5 files are read with scipy, MAT v7.3 (HDF5) with h5py, npz without
pickle; integer features become float64 and labels are checked to be 0/1.
"""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

import numpy as np

from drama2.datasets.base import Dataset
from drama2.errors import InvalidInputError

ODDS_CITATION = "Shebuti Rayana (2016). ODDS Library. Stony Brook University, Department of Computer Science."
ODDS_URL = "https://odds.cs.stonybrook.edu/"

#: name → (file name, sha256, n, d, outliers)
ODDS_FILES: dict[str, tuple[str, str | None, int, int, int]] = {
    "annthyroid": ("annthyroid.mat", "17a1012d005f2179eca3b87c0028eb5ca807794b359c33fa1f8ca5ac846c514f", 7200, 6, 534),
    "arrhythmia": ("arrhythmia.mat", "e4d47e499591ae31e5d7f0cd983367092353eac240f48e14c9b36457edb3460d", 452, 274, 66),
    "breastw": ("breastw.mat", "a2e3f7c7f61ddde87c4373f0c0539de996227b9659c70b3c227948ebf0c6062b", 683, 9, 239),
    "cardio": ("cardio.mat", "5e568b6a73711012c481fa6cc984ab9c68e9a4fa44d6aeb3b43efa381c3f695b", 1831, 21, 176),
    "cover": ("cover.npz", "945a097c3542ae81a551bf1c06dcad78a755d94f84fcaf1d60687e42d1a656df", 286048, 10, 2747),
    "glass": ("glass.mat", "2c506e6e1e2ca1e82a905d10a90773151ff812c4bd969c71a12db5b2bb6e7921", 214, 9, 9),
    "http": ("http.mat", "e4e4e6a0d4108b8767d44fe7b79e4cf017e2e46fbd085b444d9e4c1e612bae72", 567498, 3, 2211),
    "ionosphere": ("ionosphere.mat", "8ac5dfa6f47db4acdfe10615489b7f7dd015d79d5b381ce641e72baca3cfefb0", 351, 33, 126),
    "letter": ("letter.mat", "f4a229b0e2a6b0c9157ce27fa760bcbac0f948cd690b2f5d51c120e5450f2195", 1600, 32, 100),
    "lympho": ("lympho.mat", "031b907ecb50347720b08b38f8139d05635adeca9335a064d89d5569c27a5834", 148, 18, 6),
    "mammography": ("mammography.mat", "271ebb568314a856666d3504b4882e21b0ea6e1ba9e648ad256d572a36df597e", 11183, 6, 260),
    "mnist": ("mnist.mat", "9479e221f236684c09f3e11c7ad124725d34ecd301b9450425e8b113368413a6", 7603, 100, 700),
    "musk": ("musk.mat", "50bbf414caceb66cfe6f6b1eb7c1ff7c6eb1e6d87173f7bb597ba55cd3dc5493", 3062, 166, 97),
    "optdigits": ("optdigits.mat", "30c664cd6f3740a173277a27cd1028d471b06f0835a9902c9712749cec58c1c4", 5216, 64, 150),
    "pendigits": ("pendigits.mat", "7bc32ac83b3d583443acea8b1342a54aaa59eaedb9996af405322f473f3c22bc", 6870, 16, 156),
    "pima": ("pima.mat", "b6a5be8d548b9293d6958beceb1c77055591714d25d40d957eba87808456468f", 768, 8, 268),
    "satellite": ("satellite.mat", "6feac3112b9c14e1c3e60afc437f2f3d29dc1000119c9f950c628078778d6aa0", 6435, 36, 2036),
    "satimage-2": ("satimage-2.mat", "95c37a07cea2cb201f6900d14f521510e10b6b2f0074c06ac46d3157440ec67b", 5803, 36, 71),
    "shuttle": ("shuttle.mat", "b6e396c92354d5dcf5036901e36dc58e2913f2d1a5e138c35a2bedf9c69db899", 49097, 9, 3511),
    "smtp": ("smtp.mat", "5b6d13dd23e8c5e4235081ea58b606df216a2b9b86e7f5403cde26f62dafc0d8", 95156, 3, 30),
    "speech": ("speech.mat", None, 3686, 400, 61),
    "thyroid": ("thyroid.mat", "49155d7861b977e90808faf68343ff67a67f63090c2744d514dbb67ac68e7e33", 3772, 6, 93),
    "vertebral": ("vertebral.mat", "84b50b055f118f54b5c976650ccd284ab7c1adee822f8b3eb517c7e2c890d15e", 240, 6, 30),
    "vowels": ("vowels.mat", "51d5397bad1ceeda22b7cd44fd58125c5d603c9c2edb53aa59933330e259ac7b", 1456, 12, 50),
    "wbc": ("wbc.mat", "afe6b26953cc196b9a480318c903e0edef22529c2f61bd02082438c6e70630a7", 378, 30, 21),
    "wine": ("wine.mat", "d1b7cc643379e14397ee25bc1125ba08e4c929f2ec44d8782b1340d7045d4cf7", 129, 13, 10),
}

#: The 20 ODDS sets of the DRAMA paper's grid (its reference JSON).
DRAMA_ODDS = ("arrhythmia", "breastw", "cardio", "glass", "ionosphere", "lympho", "mammography", "mnist",
              "musk", "optdigits", "pendigits", "pima", "satellite", "satimage-2", "shuttle", "thyroid",
              "vertebral", "vowels", "wbc", "wine")


class DatasetNotFoundError(InvalidInputError, FileNotFoundError):
    """A dataset file is not in any searched directory."""


def data_dirs(data_dir=None) -> list[Path]:
    """The directories searched for data, in order."""
    dirs = []
    if data_dir is not None:
        dirs.append(Path(data_dir))
    if os.environ.get("DRAMA2_DATA"):
        dirs.append(Path(os.environ["DRAMA2_DATA"]))
    dirs.append(Path.home() / ".cache" / "drama2")
    return dirs


def sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _locate(file_name: str, data_dir=None) -> Path | None:
    """The first ``odds/<file_name>`` in the searched directories, or None."""
    for directory in data_dirs(data_dir):
        path = directory / "odds" / file_name
        if path.is_file():
            return path
    return None


def find_file(name: str, data_dir=None) -> Path:
    """Path of the verified file of ODDS dataset ``name``."""
    file_name, expected, *_ = ODDS_FILES[name]
    path = _locate(file_name, data_dir)
    if path is not None:
        actual = sha256_of(path)
        if expected is not None and actual != expected:
            raise InvalidInputError(
                f"{path} does not match its pinned checksum (sha256 {actual}, expected {expected}); the "
                "file is corrupt, truncated or a different version. Replace it with the ODDS original."
            )
        return path
    where = ", ".join(str(d / "odds") for d in data_dirs(data_dir))
    raise DatasetNotFoundError(
        f"ODDS dataset {name!r}: file {file_name} not found in {where}. Download it from {ODDS_URL} and put it "
        "in one of those directories (or set DRAMA2_DATA to a directory with an odds/ folder)."
    )


def _read(path: Path) -> tuple[np.ndarray, np.ndarray]:
    if path.suffix == ".npz":
        with np.load(path, allow_pickle=False) as z:
            return np.asarray(z["X"]), np.asarray(z["y"])
    import scipy.io

    try:
        m = scipy.io.loadmat(path)
        return np.asarray(m["X"]), np.asarray(m["y"])
    except NotImplementedError:  # MAT v7.3 is HDF5, stored transposed
        import h5py

        with h5py.File(path, "r") as f:
            return np.asarray(f["X"]).T, np.asarray(f["y"]).T


def load_odds(name: str, data_dir=None) -> Dataset:
    """Load ODDS dataset ``name`` from the data directory, verified against its sha256."""
    if name not in ODDS_FILES:
        raise InvalidInputError(f"{name!r} is not an ODDS dataset; known: {', '.join(sorted(ODDS_FILES))}.")
    path = find_file(name, data_dir)
    X, y = _read(path)
    X = np.asarray(X, dtype=np.float64)
    y = np.asarray(y).reshape(-1)
    if not np.isin(y, (0, 1)).all():
        raise InvalidInputError(f"{path}: labels must be 0/1, found values {np.unique(y)[:10].tolist()}.")
    return Dataset(name=name, X=X, y=y.astype(np.int64), source=str(path), citation=ODDS_CITATION,
                   metadata={"sha256": ODDS_FILES[name][1]})


def odds_loader(name: str):
    """A loader function for one ODDS dataset (what the registry stores)."""

    def load(data_dir=None, **_ignored) -> Dataset:
        return load_odds(name, data_dir=data_dir)

    load.__doc__ = f"Load the ODDS dataset {name!r}."
    return load


def file_status(name: str, data_dir=None, *, verify: bool = True) -> dict:
    """Where ODDS dataset ``name``'s file is and whether it is intact.

    Returns a dict with ``name, n, d, outliers, status, path, source``; ``status`` is ``present``
    (checksum verified, or only found when ``verify`` is False), ``missing`` or ``corrupt``.
    """
    file_name, expected, n, d, outliers = ODDS_FILES[name]
    row = {"name": name, "n": n, "d": d, "outliers": outliers, "status": "missing", "path": None,
           "source": ODDS_URL}
    path = _locate(file_name, data_dir)
    if path is not None:
        ok = not verify or expected is None or sha256_of(path) == expected
        row.update(status="present" if ok else "corrupt", path=str(path))
    return row
