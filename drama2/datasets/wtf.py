"""WTF (Widefield ouTlier Finder, ASKAP-EMU) radio cut-outs, read from a directory of PNG files.

No public copy of the set DRAMA used exists (337 "boring" + 17 "interesting"
64 × 64 cut-outs), so drama2 reads the layout of the original code wherever a
user keeps the files: every ``*.png`` in one directory, labelled by its name
(an uppercase ``B`` in the file stem means boring = 0, otherwise interesting
= 1), each image divided by its own maximum and flattened.

The directory is ``path`` when given, else ``<data dir>/wtf`` in the first of:
the ``data_dir`` argument, ``$DRAMA2_DATA``, the cache directory (``$DRAMA2_CACHE``, else ``~/.cache/drama2``).
"""

from __future__ import annotations

import warnings
from pathlib import Path

import numpy as np

from drama2.datasets.base import Dataset
from drama2.datasets.odds import DatasetNotFoundError, data_dirs
from drama2.errors import InvalidInputError

CITATION = (
    "WTF: Crawford, Norris & Polsterer (2016), 'WTF? Discovering the Unexpected in Next-Generation Radio "
    "Continuum Surveys', ASP Conf. Ser. 512 (ADASS XXV), 109; EMU: Norris et al. (2011), PASA 28, 215; "
    "DRAMA: Vafaei Sadr, Bassett & Kunz (2019), arXiv:1909.04060"
)

#: The labelling rule of the original code, as stored in the dataset's metadata.
LABEL_RULE = "uppercase 'B' in the file stem -> boring (0), otherwise interesting (1)"

# Pillow modes kept at full depth: converting them to "L" would clip 16-bit values at 255.
_DEEP_MODES = ("I", "I;16", "I;16B", "I;16L", "I;16N", "F")


def label_from_name(file_name: str) -> int:
    """Label of a cut-out from its file name: 0 (boring) if the stem holds an uppercase ``B``, else 1.

    Only uppercase ``B`` counts, as in the original code, so ``blob_3.png`` is interesting.
    """
    return 0 if "B" in Path(file_name).stem else 1


def find_directory(path=None, data_dir=None) -> Path:
    """The directory of WTF cut-outs: ``path``, else the first existing ``<data dir>/wtf``."""
    if path is not None:
        directory = Path(path).expanduser()
        if not directory.is_dir():
            what = "is a file, not a directory" if directory.is_file() else "does not exist"
            raise DatasetNotFoundError(
                f"WTF: {directory} {what}. Pass the directory that holds the 64x64 PNG cut-outs, "
                "e.g. load_dataset('wtf', path='/data/wtf_pngs')."
            )
        return directory
    candidates = [d / "wtf" for d in data_dirs(data_dir)]
    for directory in candidates:
        if directory.is_dir():
            return directory
    raise DatasetNotFoundError(
        f"WTF: no cut-out directory found; looked in {', '.join(map(str, candidates))}. The WTF set has no "
        "public copy: point drama2 at your PNG cut-outs with load_dataset('wtf', path='/your/png/dir'), or "
        "put them in one of those wtf/ folders (or set DRAMA2_DATA to a directory with a wtf/ folder)."
    )


def list_pngs(directory: Path) -> list[Path]:
    """The ``*.png`` files of ``directory`` (any case of the extension), sorted by name."""
    files = sorted((p for p in directory.iterdir() if p.is_file() and p.suffix.lower() == ".png"),
                   key=lambda p: p.name)
    if not files:
        others = sum(1 for p in directory.iterdir() if p.is_file())
        raise InvalidInputError(
            f"WTF: no .png files in {directory} ({others} other files). The loader reads one PNG cut-out per "
            "object, labelled by its name (a 'B' in the name = boring)."
        )
    return files


def read_png(file: Path) -> np.ndarray:
    """One PNG as a 2-D float64 array: greyscale ("L") for RGB/RGBA/palette, full depth for 16-bit."""
    from PIL import Image, UnidentifiedImageError

    try:
        with Image.open(file) as image:
            image.load()  # decode now, so a truncated file fails here with its name
            if image.mode not in _DEEP_MODES:
                image = image.convert("L")  # ITU-R 601-2 luma; alpha is dropped
            return np.asarray(image, dtype=np.float64)
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError) as exc:
        raise InvalidInputError(f"WTF: cannot read {file} as a PNG image ({exc}); replace or remove the file.") \
            from exc


def _resize(pixels: np.ndarray, size: int) -> np.ndarray:
    from PIL import Image

    image = Image.fromarray(pixels.astype(np.float32))  # float32 -> mode "F"
    return np.asarray(image.resize((size, size), Image.Resampling.BILINEAR), dtype=np.float64)


def _fit_size(pixels: np.ndarray, file: Path, image_size, resize: bool, first_shape) -> np.ndarray:
    """Check (or, with ``resize``, make) the image the expected size."""
    if image_size is None:
        if first_shape is not None and pixels.shape != first_shape:
            raise InvalidInputError(
                f"WTF: {file.name} is {pixels.shape[1]}x{pixels.shape[0]} pixels but the first image is "
                f"{first_shape[1]}x{first_shape[0]}; give image_size=N with resize=True to resample all to NxN.")
        return pixels
    if pixels.shape == (image_size, image_size):
        return pixels
    if resize:
        return _resize(pixels, image_size)
    raise InvalidInputError(
        f"WTF: {file.name} is {pixels.shape[1]}x{pixels.shape[0]} pixels, expected {image_size}x{image_size}; "
        f"pass resize=True to resample every image to {image_size}x{image_size}, or remove the file.")


def _scale_to_max(pixels: np.ndarray, file: Path) -> np.ndarray:
    peak = pixels.max()
    if peak <= 0:
        raise InvalidInputError(
            f"WTF: {file.name} is blank (maximum {peak:g}), so it cannot be scaled to maximum 1; remove the "
            "file, or load with normalise=False.")
    return pixels / peak


def load_wtf(path=None, *, data_dir=None, image_size: int | None = 64, resize: bool = False,
             normalise: bool = True, **_ignored) -> Dataset:
    """Load the WTF cut-outs from a directory of PNG files.

    Parameters
    ----------
    path : str or Path, optional
        Directory holding the ``*.png`` cut-outs. Default: ``<data dir>/wtf`` in the first of
        ``data_dir``, ``$DRAMA2_DATA``, the cache directory (``$DRAMA2_CACHE``, else ``~/.cache/drama2``).
    data_dir : str or Path, optional
        Data directory searched first when ``path`` is not given.
    image_size : int or None
        Expected side length in pixels (64 for WTF); an image of another size is an error unless
        ``resize`` is True. None accepts any size as long as all images share it.
    resize : bool
        Resample every image to ``image_size`` × ``image_size`` (bilinear) instead of refusing
        images of another size.
    normalise : bool
        Divide each image by its own maximum, as the original code did (a blank image is then an error).

    Returns
    -------
    Dataset
        ``X`` of shape (n, height·width) float64, ``y`` 0 = boring / 1 = interesting,
        ``images`` of shape (n, 1, height, width); ``metadata["files"]`` lists the file names in row order.

    Raises
    ------
    InvalidInputError
        Missing directory (:class:`~drama2.datasets.odds.DatasetNotFoundError`), no PNGs, an unreadable
        file, an image of the wrong size or (with ``normalise``) a blank image; the message names the file.

    Notes
    -----
    Files are read in name order, so rows are deterministic. Colour and palette images are converted
    to greyscale (Pillow mode "L"); 16-bit greyscale images keep their full depth.
    """
    if image_size is not None and (isinstance(image_size, bool) or not isinstance(image_size, (int, np.integer))
                                   or image_size < 1):
        raise InvalidInputError(f"image_size must be a positive integer or None, got {image_size!r}.")
    if resize and image_size is None:
        raise InvalidInputError("resize=True needs image_size=N, the side length to resample to.")
    directory = find_directory(path, data_dir)
    files = list_pngs(directory)
    rows = []
    for file in files:
        pixels = _fit_size(read_png(file), file, image_size, resize, rows[0].shape if rows else None)
        rows.append(_scale_to_max(pixels, file) if normalise else pixels)
    height, width = rows[0].shape
    X = np.stack(rows).reshape(len(rows), height * width)
    y = np.array([label_from_name(f.name) for f in files], dtype=np.int64)
    if np.unique(y).size == 1:
        kind = "boring (an uppercase 'B' in every name)" if y[0] == 0 else "interesting (no 'B' in any name)"
        warnings.warn(f"WTF: all {len(y)} images in {directory} are labelled {kind}; check the file naming.",
                      UserWarning, stacklevel=2)
    metadata = {"image_shape": (1, height, width), "files": [f.name for f in files], "label_rule": LABEL_RULE,
                "normalise": normalise, "resized": bool(resize), "n_boring": int((y == 0).sum()),
                "n_interesting": int(y.sum())}
    return Dataset(name="wtf", X=X, y=y, source=str(directory), citation=CITATION, metadata=metadata)
