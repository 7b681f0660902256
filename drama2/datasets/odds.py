"""ODDS benchmark datasets (Rayana 2016): found locally or downloaded, always verified by sha256.

Files are looked up as ``<dir>/odds/<file>`` (``.mat`` or ``.npz``) in, in order: the ``data_dir``
argument, ``$DRAMA2_DATA``, and the download cache ``$DRAMA2_CACHE`` (default ``~/.cache/drama2``).
A file found nowhere is downloaded into ``<cache>/odds/`` from ``$DRAMA2_DATA_URL/odds/<file>``
when that mirror is set, else from the dataset's known direct URL, unless downloads are off
(``download=False`` or ``DRAMA2_OFFLINE=1``); see :mod:`drama2.datasets.download`. A file that
does not match its pinned sha256 is never returned.

MAT v5 files are read with scipy, MAT v7.3 (HDF5) with h5py, npz without pickle; integer features
become float64 and labels are checked to be 0/1.
"""

from __future__ import annotations

import hashlib
import os
import urllib.parse
import warnings
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from drama2.datasets.base import Dataset
from drama2.datasets.download import DownloadError
from drama2.datasets.download import download as download_verified  # `download` is a parameter below
from drama2.errors import InvalidInputError

ODDS_CITATION = "Shebuti Rayana (2016). ODDS Library. Stony Brook University, Department of Computer Science."
ODDS_URL = "https://odds.cs.stonybrook.edu/"


@dataclass(frozen=True)
class OddsFile:
    """One ODDS dataset file: what it holds, its pinned checksum and where it comes from.

    Attributes
    ----------
    file : str
        File name, looked up as ``<dir>/odds/<file>``.
    sha256 : str or None
        Pinned sha256 of the file; None when drama2 has never seen a copy (it is then never downloaded).
    n, d, outliers : int
        Rows, features and outliers (label 1) of the file.
    page : str
        The dataset's page in the ODDS library (the citable source).
    url : str or None
        Direct download URL of a file with exactly this content, or None when there is none.
    note : str
        Provenance of a substitute file, or why there is no download.
    """

    file: str
    sha256: str | None
    n: int
    d: int
    outliers: int
    page: str
    url: str | None = None
    note: str = ""


def _page(slug: str) -> str:
    return f"{ODDS_URL}{slug}/"


def _dropbox(key: str, file: str) -> str:
    # The ODDS pages link each .mat file to Dropbox; dl=1 returns the file rather than a preview page.
    return f"https://www.dropbox.com/s/{key}/{file}?dl=1"


_ADBENCH = "https://github.com/Minqi824/ADBench/raw/main/adbench/datasets/Classical/"

# Direct URLs are the ODDS library's own Dropbox links (cover: ADBench's copy). Evidence that each
# serves the pinned file: OutlierDetectionData.jl (src/ODDS/ODDS.jl) pins the same URL with the same
# sha256 for every .mat file here except mammography (its newer Dropbox link, pinned with this sha256
# by another public loader), smtp and wine (the widely used ODDS links; no published hash). Every
# download is checked against the sha256 here regardless, so a changed file is refused, never used.
#: name → the dataset's file, checksum, size and sources.
ODDS_FILES: dict[str, OddsFile] = {
    "annthyroid": OddsFile("annthyroid.mat", "17a1012d005f2179eca3b87c0028eb5ca807794b359c33fa1f8ca5ac846c514f",
                           7200, 6, 534, _page("annthyroid-dataset"), _dropbox("aifk51owxbogwav", "annthyroid.mat")),
    "arrhythmia": OddsFile("arrhythmia.mat", "e4d47e499591ae31e5d7f0cd983367092353eac240f48e14c9b36457edb3460d",
                           452, 274, 66, _page("arrhythmia-dataset"), _dropbox("lmlwuspn1sey48r", "arrhythmia.mat")),
    "breastw": OddsFile("breastw.mat", "a2e3f7c7f61ddde87c4373f0c0539de996227b9659c70b3c227948ebf0c6062b",
                        683, 9, 239, _page("breast-cancer-wisconsin-original-dataset"),
                        _dropbox("g3hlnucj71kfvq4", "breastw.mat")),
    "cardio": OddsFile("cardio.mat", "5e568b6a73711012c481fa6cc984ab9c68e9a4fa44d6aeb3b43efa381c3f695b",
                       1831, 21, 176, _page("cardiotocogrpahy-dataset"), _dropbox("galg3ihvxklf0qi", "cardio.mat")),
    "cover": OddsFile("cover.npz", "945a097c3542ae81a551bf1c06dcad78a755d94f84fcaf1d60687e42d1a656df",
                      286048, 10, 2747, _page("forestcovercovertype-dataset"), _ADBENCH + "10_cover.npz",
                      note="substitute: ADBench's 10_cover.npz (Han et al. 2022), the same data as ODDS "
                           "ForestCover, whose cover.mat is a different file"),
    "glass": OddsFile("glass.mat", "2c506e6e1e2ca1e82a905d10a90773151ff812c4bd969c71a12db5b2bb6e7921",
                      214, 9, 9, _page("glass-data"), _dropbox("iq3hjxw77gpbl7u", "glass.mat")),
    "http": OddsFile("http.mat", "e4e4e6a0d4108b8767d44fe7b79e4cf017e2e46fbd085b444d9e4c1e612bae72",
                     567498, 3, 2211, _page("http-kddcup99-dataset"),
                     note="substitute: a MAT v5 re-save of ODDS http.mat (the original is MAT v7.3, a "
                          "different file); no public copy of the re-save exists, so it cannot be downloaded"),
    "ionosphere": OddsFile("ionosphere.mat", "8ac5dfa6f47db4acdfe10615489b7f7dd015d79d5b381ce641e72baca3cfefb0",
                           351, 33, 126, _page("ionosphere-dataset"), _dropbox("lpn4z73fico4uup", "ionosphere.mat")),
    "letter": OddsFile("letter.mat", "f4a229b0e2a6b0c9157ce27fa760bcbac0f948cd690b2f5d51c120e5450f2195",
                       1600, 32, 100, _page("letter-recognition-dataset"), _dropbox("rt9i95h9jywrtiy", "letter.mat")),
    "lympho": OddsFile("lympho.mat", "031b907ecb50347720b08b38f8139d05635adeca9335a064d89d5569c27a5834",
                       148, 18, 6, _page("lympho"), _dropbox("ag469ssk0lmctco", "lympho.mat")),
    "mammography": OddsFile("mammography.mat", "271ebb568314a856666d3504b4882e21b0ea6e1ba9e648ad256d572a36df597e",
                            11183, 6, 260, _page("mammography-dataset"),
                            "https://www.dropbox.com/scl/fi/x36bm1kj7atqrd2/mammography.mat"
                            "?rlkey=poytkapk2no64s7yy2ux4nzg8&dl=1"),
    "mnist": OddsFile("mnist.mat", "9479e221f236684c09f3e11c7ad124725d34ecd301b9450425e8b113368413a6",
                      7603, 100, 700, _page("mnist-dataset"), _dropbox("n3wurjt8v9qi6nc", "mnist.mat")),
    "musk": OddsFile("musk.mat", "50bbf414caceb66cfe6f6b1eb7c1ff7c6eb1e6d87173f7bb597ba55cd3dc5493",
                     3062, 166, 97, _page("musk-dataset"), _dropbox("we6aqhb0m38i60t", "musk.mat")),
    "optdigits": OddsFile("optdigits.mat", "30c664cd6f3740a173277a27cd1028d471b06f0835a9902c9712749cec58c1c4",
                          5216, 64, 150, _page("optdigits-dataset"), _dropbox("w52ndgz5k75s514", "optdigits.mat")),
    "pendigits": OddsFile("pendigits.mat", "7bc32ac83b3d583443acea8b1342a54aaa59eaedb9996af405322f473f3c22bc",
                          6870, 16, 156, _page("pendigits-dataset"), _dropbox("1x8rzb4a0lia6t1", "pendigits.mat")),
    "pima": OddsFile("pima.mat", "b6a5be8d548b9293d6958beceb1c77055591714d25d40d957eba87808456468f",
                     768, 8, 268, _page("pima-indians-diabetes-dataset"), _dropbox("mvlwu7p0nyk2a2r", "pima.mat")),
    "satellite": OddsFile("satellite.mat", "6feac3112b9c14e1c3e60afc437f2f3d29dc1000119c9f950c628078778d6aa0",
                          6435, 36, 2036, _page("satellite-dataset"), _dropbox("dpzxp8jyr9h93k5", "satellite.mat")),
    "satimage-2": OddsFile("satimage-2.mat", "95c37a07cea2cb201f6900d14f521510e10b6b2f0074c06ac46d3157440ec67b",
                           5803, 36, 71, _page("satimage-2-dataset"), _dropbox("hckgvu9m6fs441p", "satimage-2.mat")),
    "shuttle": OddsFile("shuttle.mat", "b6e396c92354d5dcf5036901e36dc58e2913f2d1a5e138c35a2bedf9c69db899",
                        49097, 9, 3511, _page("shuttle-dataset"), _dropbox("mk8ozgisimfn3dw", "shuttle.mat")),
    "smtp": OddsFile("smtp.mat", "5b6d13dd23e8c5e4235081ea58b606df216a2b9b86e7f5403cde26f62dafc0d8",
                     95156, 3, 30, _page("smtp-kddcup99-dataset"), _dropbox("dbv2u4830xri7og", "smtp.mat")),
    "speech": OddsFile("speech.mat", None, 3686, 400, 61, _page("speech-dataset"),
                       note="drama2 has no copy and no pinned checksum for it, so it is never downloaded"),
    "thyroid": OddsFile("thyroid.mat", "49155d7861b977e90808faf68343ff67a67f63090c2744d514dbb67ac68e7e33",
                        3772, 6, 93, _page("thyroid-disease-dataset"), _dropbox("bih0e15a0fukftb", "thyroid.mat")),
    "vertebral": OddsFile("vertebral.mat", "84b50b055f118f54b5c976650ccd284ab7c1adee822f8b3eb517c7e2c890d15e",
                          240, 6, 30, _page("vertebral-dataset"), _dropbox("5kuqb387sgvwmrb", "vertebral.mat")),
    "vowels": OddsFile("vowels.mat", "51d5397bad1ceeda22b7cd44fd58125c5d603c9c2edb53aa59933330e259ac7b",
                       1456, 12, 50, _page("japanese-vowels-data"), _dropbox("pa26odoq6atq9vx", "vowels.mat")),
    "wbc": OddsFile("wbc.mat", "afe6b26953cc196b9a480318c903e0edef22529c2f61bd02082438c6e70630a7",
                    378, 30, 21, _page("wbc"), _dropbox("ebz9v9kdnvykzcb", "wbc.mat")),
    "wine": OddsFile("wine.mat", "d1b7cc643379e14397ee25bc1125ba08e4c929f2ec44d8782b1340d7045d4cf7",
                     129, 13, 10, _page("wine-dataset"), _dropbox("uvjaudt2uto7zal", "wine.mat")),
}

#: The 20 ODDS sets of the DRAMA paper's grid (its reference JSON).
DRAMA_ODDS = ("arrhythmia", "breastw", "cardio", "glass", "ionosphere", "lympho", "mammography", "mnist",
              "musk", "optdigits", "pendigits", "pima", "satellite", "satimage-2", "shuttle", "thyroid",
              "vertebral", "vowels", "wbc", "wine")


class DatasetNotFoundError(InvalidInputError, FileNotFoundError):
    """A dataset file is in no searched directory and could not be downloaded; the message says how to provide it."""


def cache_dir() -> Path:
    """The download cache: ``$DRAMA2_CACHE``, else ``~/.cache/drama2`` (ODDS files go to its ``odds/``)."""
    configured = os.environ.get("DRAMA2_CACHE")
    return Path(configured).expanduser() if configured else Path.home() / ".cache" / "drama2"


def data_dirs(data_dir=None) -> list[Path]:
    """The directories searched for data, in order: ``data_dir``, ``$DRAMA2_DATA``, :func:`cache_dir`."""
    dirs = []
    if data_dir is not None:
        dirs.append(Path(data_dir))
        if not dirs[0].is_dir():  # most likely a typo: say so rather than quietly use the other places
            warnings.warn(f"data_dir {str(data_dir)!r} is not a directory; searching $DRAMA2_DATA and the cache "
                          "only.", UserWarning, stacklevel=3)
    if os.environ.get("DRAMA2_DATA"):
        dirs.append(Path(os.environ["DRAMA2_DATA"]))
    dirs.append(cache_dir())
    return dirs


def downloads_enabled(download: bool | None = None) -> bool:
    """Whether a missing file may be downloaded: ``download`` if given, else not when ``$DRAMA2_OFFLINE`` is set."""
    if download is not None:
        return download
    return os.environ.get("DRAMA2_OFFLINE", "").strip().lower() in ("", "0", "false", "no")


def download_url(name: str) -> str | None:
    """Where ODDS dataset ``name``'s file would be downloaded from, or None when nowhere.

    ``$DRAMA2_DATA_URL/odds/<file>`` when that mirror is set, else the built-in direct URL. A file
    without a pinned checksum is never downloaded, so it has no URL.
    """
    entry = ODDS_FILES[name]
    if entry.sha256 is None:
        return None
    mirror = os.environ.get("DRAMA2_DATA_URL")
    if mirror:
        return f"{mirror.rstrip('/')}/odds/{urllib.parse.quote(entry.file)}"
    return entry.url


def sha256_of(path: Path) -> str:
    """The hex sha256 of the file at ``path``."""
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


def _verified(path: Path, expected: str | None) -> Path:
    """``path`` if its sha256 is ``expected`` (or nothing is pinned); raise otherwise."""
    if expected is not None:
        actual = sha256_of(path)
        if actual != expected:
            raise InvalidInputError(
                f"{path} does not match its pinned checksum (sha256 {actual}, expected {expected}); the "
                "file is corrupt, truncated or a different version. Replace it with the ODDS original."
            )
    return path


def _not_found(name: str, data_dir, reason: str) -> DatasetNotFoundError:
    """The error for a file that is nowhere: what was searched, why it was not fetched, where to put it."""
    entry = ODDS_FILES[name]
    target = cache_dir() / "odds" / entry.file
    searched = ", ".join(str(d / "odds") for d in data_dirs(data_dir))
    # A mirror only helps for files drama2 would download, i.e. those with a pinned checksum.
    mirror = f", or set DRAMA2_DATA_URL to a mirror that serves <base>/odds/{entry.file}" if entry.sha256 else ""
    return DatasetNotFoundError(
        f"ODDS dataset {name!r}: file {entry.file} not found in {searched}; {reason.rstrip('.')}. Get it from the "
        "ODDS page "
        f"{entry.page} and put it at {target} (or in the odds/ folder of a directory passed as data_dir or "
        f"set as DRAMA2_DATA){mirror}."
    )


def _why_not_downloaded(name: str, download: bool | None) -> str | None:
    """Why ``name`` cannot be downloaded now, or None when it can."""
    entry = ODDS_FILES[name]
    if entry.sha256 is None:
        return f"the dataset is known but its file is unavailable: {entry.note}"
    if not downloads_enabled(download):
        how = "download=False" if download is False else "DRAMA2_OFFLINE is set"
        direct = f" (direct download: {entry.url})" if entry.url else ""
        return f"downloads are off ({how}){direct}"
    if download_url(name) is None:
        return f"there is no direct download for it ({entry.note})"
    return None


def find_file(name: str, data_dir=None, download: bool | None = None) -> Path:
    """Path of the verified file of ODDS dataset ``name``, downloading it into the cache if needed.

    Parameters
    ----------
    name : str
        A key of :data:`ODDS_FILES`.
    data_dir : path-like, optional
        Searched first for ``odds/<file>``, before ``$DRAMA2_DATA`` and the cache.
    download : bool, optional
        Whether a missing file may be downloaded into ``<cache>/odds/``. None (default): yes unless
        ``$DRAMA2_OFFLINE`` is set.

    Returns
    -------
    pathlib.Path
        A file whose sha256 matches the pinned one (any file for a dataset without a pinned sha256).

    Raises
    ------
    DatasetNotFoundError
        Not found and not downloadable (offline, no URL, no checksum) or the download failed; the
        message names the file, the directories searched, the path to put it at, the ODDS page and
        the download error. The :class:`~drama2.datasets.download.DownloadError` is its ``__cause__``.
    InvalidInputError
        A file was found but does not match its pinned sha256.
    """
    entry = ODDS_FILES[name]
    path = _locate(entry.file, data_dir)
    if path is not None:
        return _verified(path, entry.sha256)
    reason = _why_not_downloaded(name, download)
    if reason is not None:
        raise _not_found(name, data_dir, reason)
    url = download_url(name)
    try:
        return download_verified(url, cache_dir() / "odds" / entry.file, entry.sha256)
    except DownloadError as exc:
        raise _not_found(name, data_dir, f"downloading it failed: {exc}") from exc


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


def load_odds(name: str, data_dir=None, download: bool | None = None) -> Dataset:
    """Load ODDS dataset ``name``, verified against its sha256 and downloaded if missing (see :func:`find_file`)."""
    if name not in ODDS_FILES:
        raise InvalidInputError(f"{name!r} is not an ODDS dataset; known: {', '.join(sorted(ODDS_FILES))}.")
    path = find_file(name, data_dir, download=download)
    X, y = _read(path)
    X = np.asarray(X, dtype=np.float64)
    y = np.asarray(y).reshape(-1)
    if not np.isin(y, (0, 1)).all():
        raise InvalidInputError(f"{path}: labels must be 0/1, found values {np.unique(y)[:10].tolist()}.")
    entry = ODDS_FILES[name]
    return Dataset(name=name, X=X, y=y.astype(np.int64), source=str(path), citation=ODDS_CITATION,
                   metadata={"sha256": entry.sha256, "page": entry.page})


def odds_loader(name: str):
    """A loader function for one ODDS dataset (what the registry stores)."""

    def load(data_dir=None, download=None, **_ignored) -> Dataset:
        return load_odds(name, data_dir=data_dir, download=download)

    load.__doc__ = f"Load the ODDS dataset {name!r}."
    return load


def file_status(name: str, data_dir=None, *, verify: bool = True) -> dict:
    """Where ODDS dataset ``name``'s file is and whether it is intact; never downloads.

    Returns a dict with ``name, n, d, outliers, status, path, source, url``; ``status`` is ``present``
    (checksum verified, or only found when ``verify`` is False), ``missing`` or ``corrupt``; ``source``
    is the ODDS page and ``url`` where a missing file would be downloaded from (None: nowhere).
    """
    entry = ODDS_FILES[name]
    row = {"name": name, "n": entry.n, "d": entry.d, "outliers": entry.outliers, "status": "missing",
           "path": None, "source": entry.page, "url": download_url(name)}
    path = _locate(entry.file, data_dir)
    if path is not None:
        ok = not verify or entry.sha256 is None or sha256_of(path) == entry.sha256
        row.update(status="present" if ok else "corrupt", path=str(path))
    return row
