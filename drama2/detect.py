"""``drama2 detect``: from a catalogue to a ranked, explained anomaly list.

:func:`detect` runs in passes over the input, each reading it in row chunks
(:class:`drama2.datasets.stream.TableStream`):

1. **fit** (unless a fitted model is given): a uniform random sample of at
   most ``fit_rows`` rows is drawn in one pass (smallest random keys win, so
   the sample does not depend on the chunk size) and the detector is fitted
   on it; the same pass counts rows with missing values.
2. **score**: every row is scored. The scores go to a spool (a temporary
   file once there are more than ``bucket_rows``); the pass also keeps the
   best keys it needs (the ``top`` rows, the thresholds of ``explain_rows``
   and of the figure) and a random sample of 100,000 keys.
3. **write**: the input is read again with the spooled scores, only output
   rows are kept (for a small ``top``, Parquet row groups without any are
   skipped), explained, and put into buckets of about ``bucket_rows`` rows
   by key range (boundaries from the top keys, or for a full ranking from
   the key sample; kept in memory when one
   bucket holds the whole output, else Arrow IPC files in a temporary
   directory beside the output). The buckets are sorted and ranked one at a
   time and appended to the output, which is written under a temporary
   name and renamed at the end, so a failure never leaves a half-written
   file.

Memory: the chunk being processed, one bucket, the fit sample, the key
sample, and the tracked top keys (16 bytes per row of ``top`` or of
``explain_rows``; none for a full, fully explained ranking). Nothing grows
with the number of input rows. Scores of +inf rank first; NaN scores
(rows dropped for missing values) are never output.
"""

from __future__ import annotations

import os
import shutil
import sys
import tempfile
import time
import warnings
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from drama2.errors import Drama2Error, InvalidInputError
from drama2.preprocessing import CONSTANT_FEATURES_WARNING
from drama2.ranking import (BUCKET_ROWS, OUTPUT_FORMATS, POSITION_COLUMN, SAMPLE_KEYS, KeySample, RankBuckets,
                            RankedWriter, Ranking, ScoreSpool, TopKeys)
from drama2.sampling import TaggedSample

__all__ = ["detect", "DetectResult", "make_detector", "DEFAULT_FIT_ROWS", "DEFAULT_CHUNK_ROWS", "BUCKET_ROWS",
           "OUTPUT_FORMATS"]

DEFAULT_FIT_ROWS = 100_000
DEFAULT_CHUNK_ROWS = 100_000
#: Rows explained by the model-agnostic fallback unless told otherwise (each costs d + 1 scorings).
DEFAULT_FALLBACK_EXPLAIN_ROWS = 1000
#: Rows of the input sampled for the fallback's reference medians when the model carries none.
REFERENCE_ROWS = 10_000
#: Top rows shown in the figure.
FIGURE_ROWS = 6
_RESERVED = ("score", "rank", "prototype")


@dataclass
class DetectResult:
    """What :func:`detect` did.

    Attributes
    ----------
    out : Path
        The ranked list.
    n_rows : int
        Rows in the input.
    n_scored : int
        Rows scored (``n_rows - n_dropped``).
    n_dropped : int
        Rows left out for missing values (``drop_nan=True``).
    n_written : int
        Rows in the output.
    features : list of str
        The feature columns, in the model's order.
    id_column : str
        The identifier column of the output (``row``: position in the input file).
    model : object
        The fitted detector used.
    fitted : bool
        Whether ``detect`` fitted it (False for a given model).
    n_fit_rows : int
        Rows it was fitted on (0 when given).
    explanation : str or None
        How rows were explained (``drama:l2``, ``replacement``, ...), None when not.
    figure : Path or None
        The figure of the top anomalies, when asked for.
    seconds : dict
        Wall time of each pass.
    """

    out: Path
    n_rows: int
    n_scored: int
    n_dropped: int
    n_written: int
    features: list
    id_column: str
    model: object = field(repr=False)
    fitted: bool
    n_fit_rows: int
    explanation: str | None
    figure: Path | None
    seconds: dict


# ====================================================================== detectors
def make_detector(spec=None, random_state=0):
    """An unfitted detector from a scorer spec as written for ``drama2 bench --scorers``.

    Parameters
    ----------
    spec : str, estimator or None
        ``None``, ``"ensemble"`` or ``"default"``: :class:`drama2.ensemble.Ensemble`
        with its default members. A spec such as ``"iforest"``,
        ``"drama[reducer=pca, metric=l2]"`` or ``"pyod:ECOD"``: that scorer (a
        grid of values is an error). An estimator object is returned as it is.
    random_state : int or None
        Given to the detector when it accepts one and the spec does not set it.

    Returns
    -------
    estimator
    """
    from drama2.validation import accepts_parameter, check_parameters

    if spec is not None and not isinstance(spec, str):
        return spec
    if spec is None or spec.strip() in ("ensemble", "default"):
        from drama2.ensemble import Ensemble

        return Ensemble(random_state=random_state)
    from drama2.bench.config import parse_scorer
    from drama2.registry import get_registry

    specs = parse_scorer(spec)
    if len(specs) != 1:
        raise InvalidInputError(f"detector {spec!r} is a grid of {len(specs)} detectors; give one value per "
                                "parameter.")
    cls = get_registry().load("scorers", specs[0].name)
    params = dict(specs[0].params)
    check_parameters(cls, params, component=f"detector {specs[0].name!r}")
    if "random_state" not in params and accepts_parameter(cls, "random_state"):
        params["random_state"] = random_state
    return cls(**params)


def _is_drama(model) -> bool:
    from drama2.engine import Drama

    return isinstance(model, Drama)


# ====================================================================== sampling
class _Reservoir:
    """A uniform sample of at most ``size`` rows of a chunked stream (see :class:`drama2.sampling.TaggedSample`).

    Tags are drawn for every row in file order, so the sample is the same whatever the chunk size.
    """

    def __init__(self, size: int, rng: np.random.Generator):
        self.rng = rng
        self._sample = TaggedSample(size)

    def add(self, start: int, X: np.ndarray, good: np.ndarray) -> None:
        tags = self.rng.random(X.shape[0])
        rows = np.flatnonzero(good)
        self._sample.add(tags[rows], X[rows], start + rows)

    @property
    def size(self) -> int:
        return self._sample.tags.size

    def sample(self) -> np.ndarray:
        """The sampled rows in file order."""
        if self._sample.columns is None:
            return np.empty((0, 0))
        rows, index = self._sample.columns
        return rows[np.argsort(index, kind="stable")]

    def positions(self) -> np.ndarray:
        """The sampled rows' positions in the file, in file order (the order of :meth:`sample`)."""
        if self._sample.columns is None:
            return np.empty(0, dtype=np.int64)
        return np.sort(np.asarray(self._sample.columns[1], dtype=np.int64), kind="stable")


class _MissingCounter:
    """Rows with missing or non-finite feature values, per column, over a whole pass."""

    def __init__(self, features):
        self.features = list(features)
        self.per_column = np.zeros(len(self.features), dtype=np.int64)
        self.rows = 0
        self.first = []

    def add(self, chunk, bad_cells: np.ndarray, bad_rows: np.ndarray) -> None:
        if not bad_rows.any():
            return
        self.rows += int(bad_rows.sum())
        self.per_column += bad_cells.sum(axis=0)
        if len(self.first) < 5:
            self.first += (chunk.start + np.flatnonzero(bad_rows)[:5 - len(self.first)]).tolist()

    def error(self, path, n_rows) -> InvalidInputError:
        counts = {c: int(k) for c, k in zip(self.features, self.per_column) if k}
        return InvalidInputError(
            f"{path}: {self.rows} of {n_rows} rows have missing or non-finite feature values (per column: {counts}; "
            f"first rows, counted from 0: {self.first}). Pass --drop-nan (drop_nan=True) to leave those rows out of the ranking, "
            "or fill them before detecting.")


def _bad(X: np.ndarray):
    cells = ~np.isfinite(X)
    return cells, cells.any(axis=1)


# ====================================================================== progress
class _Progress:
    """A rich progress bar on stderr, or nothing."""

    def __init__(self, enabled: bool):
        self.bar = None
        if enabled:
            from rich.console import Console
            from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

            self.bar = Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
                                TimeElapsedColumn(), console=Console(stderr=True), transient=False)

    def __enter__(self):
        if self.bar is not None:
            self.bar.__enter__()
        return self

    def __exit__(self, *exc):
        if self.bar is not None:
            self.bar.__exit__(*exc)

    def task(self, description: str, total):
        if self.bar is None:
            return lambda rows: None
        task_id = self.bar.add_task(description, total=total)
        return lambda rows: self.bar.advance(task_id, rows)


# ====================================================================== detect
def detect(input, out, *, columns=None, exclude_columns=None, id_column=None, detector=None, model=None,
           save_model=None, top=None, fit_rows: int = DEFAULT_FIT_ROWS, explain: bool = True, explain_rows=None,
           top_features: int = 3, chunk_rows: int = DEFAULT_CHUNK_ROWS, drop_nan: bool = False, figure=None,
           random_state=0, progress=None, hdu=1, bucket_rows: int = BUCKET_ROWS, trusted=()) -> DetectResult:
    """Score a table, rank its rows, explain them and write the ranked list.

    Parameters
    ----------
    input : str or Path
        CSV, TSV (optionally gzipped), Parquet, FITS or npz table. CSV and
        Parquet are streamed in chunks, FITS binary tables too; npz files
        are read whole.
    out : str or Path
        The ranked list: ``.csv`` or ``.parquet`` (``.pq``). Columns: the id
        column (``id_column``, else ``row``, the 0-based position in the
        input), ``score`` (higher = more anomalous), ``rank`` (1 = most
        anomalous, ties in file order), ``prototype`` (DRAMA models: index of
        the nearest prototype in ``model.leaves_``), and with explanations
        ``top_feature_i`` / ``top_contribution_i`` for i = 1..``top_features``.
    columns : list of str, optional
        Feature columns. Default: the model's ``feature_names_in_`` when it
        has them, else every column but ``id_column`` and ``exclude_columns``.
    exclude_columns : list of str, optional
        Columns left out of the default features (labels, coordinates,
        flags); not together with ``columns``.
    id_column : str, optional
        Identifier column copied to the output.
    detector : str or estimator, optional
        What to fit (see :func:`make_detector`): default the ensemble.
    model : str, Path or fitted estimator, optional
        A fitted model (a file written by :func:`drama2.save`, or the object);
        then nothing is fitted.
    save_model : str or Path, optional
        Save the fitted model there (with ``feature_names_in_`` set to the
        feature columns, and ``reference_medians_`` for non-DRAMA models).
    top : int, optional
        Write only the ``top`` highest-scoring rows.
    fit_rows : int, default 100,000
        Fit on a uniform random sample of at most this many rows.
    explain : bool, default True
        Add the top contributing features (see :func:`drama2.explain`).
    explain_rows : int, optional
        Explain only rows ranked up to this. Default: every output row for
        DRAMA models (cheap, exact), the top 1,000 for other detectors (the
        replacement fallback costs d + 1 scorings per row). The scores of
        that many rows are kept in memory (16 bytes each) to find them.
    top_features : int, default 3
        Contributing features named per row.
    chunk_rows : int, default 100,000
        Rows read and scored at a time.
    drop_nan : bool, default False
        Leave rows with missing or non-finite features out (counted in the
        result) instead of failing.
    figure : str or Path, optional
        Draw the top six anomalies beside their prototypes (or the
        reference medians) there: a .png, .pdf or .svg file.
    random_state : int or None, default 0
        Seeds the fit sample and the detector.
    progress : bool or None
        Progress bars on stderr; default when stderr is a terminal.
    hdu : int or str, default 1
        FITS extension of the table.
    bucket_rows : int
        Rows per rank bucket of the writing pass and scores kept in memory
        before spilling to a temporary file (see the module notes).
    trusted : sequence of str, optional
        Packages besides drama2's own whose classes a saved model may hold (a
        plugin's scorer), as for :func:`drama2.save` and :func:`drama2.load`.

    Returns
    -------
    DetectResult

    Raises
    ------
    InvalidInputError
        Missing or non-numeric columns, rows with missing values (without
        ``drop_nan``), a model whose feature count differs from the columns,
        an unknown output suffix. Nothing is written then.
    """
    from drama2.datasets.stream import TableStream

    seconds = {}
    if not isinstance(input, (str, os.PathLike)):
        raise InvalidInputError(f"detect reads a table file (a path), got {type(input).__name__}; for data already "
                                "in memory, fit a detector yourself: drama2.detect.make_detector(spec).fit(X).")
    out = Path(out)
    if out.suffix.lower() not in OUTPUT_FORMATS:
        raise InvalidInputError(f"{out}: the ranked list is written as CSV or Parquet; give a file ending in "
                                f"{', '.join(OUTPUT_FORMATS)}.")
    if not out.parent.is_dir():
        raise InvalidInputError(f"{out}: the directory {out.parent} does not exist; create it first.")
    if Path(input).resolve() == out.resolve():
        raise InvalidInputError(f"{out}: the output would overwrite the input; choose another file name.")
    if figure is not None:
        from drama2.explanations import check_figure_path

        figure = check_figure_path(figure)
    if save_model is not None and not Path(save_model).parent.is_dir():
        raise InvalidInputError(f"{save_model}: the directory {Path(save_model).parent} does not exist; create it "
                                "first.")
    if top is not None and int(top) < 1:
        raise InvalidInputError(f"top must be a positive number of rows, got {top}.")
    if int(top_features) < 1:
        raise InvalidInputError(f"top_features must be at least 1, got {top_features}.")
    if explain_rows is not None and int(explain_rows) < 0:
        raise InvalidInputError(f"explain_rows must be 0 or more, got {explain_rows}.")
    if int(fit_rows) < 2:
        raise InvalidInputError(f"fit_rows must be at least 2, got {fit_rows}.")
    if model is not None and detector is not None:
        raise InvalidInputError("give either a fitted model (--model) or a detector to fit (--detector), not both.")
    if id_column in _RESERVED:
        raise InvalidInputError(f"id column {id_column!r} would clash with the output column of the same name; "
                                "rename it in the input.")
    source = TableStream(input, hdu=hdu)
    if id_column is not None:
        source.require_columns([id_column])
    if isinstance(model, (str, os.PathLike)):
        from drama2.persistence import load

        model = load(model, trusted=trusted)
    features = _features(source, columns, id_column, model, exclude_columns or ())
    if progress is None:
        progress = sys.stderr.isatty()
    rng = np.random.default_rng(random_state)

    scratch = _Scratch(out)
    saved = None
    try:
        with _Progress(progress) as bars:
            fitted = model is None
            n_fit = 0
            fitted_rows = None
            n_rows = source.n_rows
            if fitted:
                begin = time.perf_counter()
                model, n_fit, n_rows, fitted_rows = _fit(source, features, make_detector(detector, random_state),
                                                         fit_rows, rng, drop_nan, chunk_rows, bars)
                seconds["fit"] = time.perf_counter() - begin
            if save_model is not None:
                from drama2.persistence import save

                save(model, save_model, trusted=trusted)  # now, so a failure while scoring keeps the fit
                saved = save_model
            if explain_rows is None and not _is_drama(model):
                explain_rows = DEFAULT_FALLBACK_EXPLAIN_ROWS
            # Ranks the writing pass must recognise before the output is sorted.
            tracked = [FIGURE_ROWS if figure is not None else 0, int(explain_rows or 0) if explain else 0]
            if top is not None:
                tracked.append(int(top))
            summary = _ScoreSummary(ScoreSpool(scratch.path, bucket_rows), TopKeys(max(tracked)),
                                    KeySample(SAMPLE_KEYS, np.random.default_rng(rng.integers(2**32))))

            begin = time.perf_counter()
            need_reference = ((explain or figure is not None) and not _is_drama(model)
                              and getattr(model, "reference_medians_", None) is None)
            reference = _score(source, features, model, drop_nan, chunk_rows, n_rows, rng, need_reference, summary,
                               bars, fitted_rows)
            if reference is not None:
                model.reference_medians_ = reference
            seconds["score"] = time.perf_counter() - begin

            spool = summary.spool
            ranking = Ranking(spool.n_valid, top, summary.top_keys, summary.sample, bucket_rows)
            if explain_rows is not None and int(explain_rows) >= ranking.n_out:
                explain_rows = None  # every output row: no threshold to look up
            begin = time.perf_counter()
            if explain_rows is not None and int(explain_rows) == 0:
                explain = False  # no row to explain: no empty explanation columns either
            n_named = min(int(top_features), len(features))  # never more feature columns than features
            written, method, figure_path = _write(source, out, features, id_column, model, spool, ranking,
                                                  explain, explain_rows, n_named, chunk_rows,
                                                  figure, scratch, bars)
            seconds["write"] = time.perf_counter() - begin
    except Exception as exc:
        if saved is not None:
            note = (f"The fitted model was saved to {saved} before this failure; pass it as the model (--model) "
                    "to score again without refitting.")
            if isinstance(exc, Drama2Error) and exc.args:  # the CLI prints only the message
                exc.args = (f"{exc.args[0]} {note}", *exc.args[1:])
            elif hasattr(exc, "add_note"):  # Python >= 3.11: shown with the traceback
                exc.add_note(note)
        raise
    finally:
        scratch.remove()

    n_rows, n_dropped = spool.n, spool.n - spool.n_valid
    return DetectResult(out=out, n_rows=n_rows, n_scored=n_rows - n_dropped, n_dropped=n_dropped,
                        n_written=written, features=features, id_column=id_column or "row", model=model,
                        fitted=fitted, n_fit_rows=n_fit, explanation=method, figure=figure_path, seconds=seconds)


def _looks_like_identifier(name: str) -> bool:
    """Whether a column name reads as an object identifier: ``id``, ``objid``, ``source_id``, ``ObjectID`` ..."""
    lowered = str(name).lower()
    return lowered in ("id", "objid", "oid", "uid") or lowered.endswith(("_id", "objectid", "sourceid"))


def _features(source, columns, id_column, model, exclude=()) -> list[str]:
    """The feature columns, checked against the table and the model."""
    known = getattr(model, "feature_names_in_", None) if model is not None else None
    exclude = [str(c) for c in exclude]
    if exclude:
        if columns is not None:
            raise InvalidInputError("give the feature columns (--columns) or the columns to leave out "
                                    "(--exclude-columns), not both.")
        source.require_columns(exclude)  # a misspelt name would otherwise stay a feature unnoticed
    if columns is not None:
        features = [str(c) for c in columns]
        fitted_on = [str(c) for c in known] if known is not None else None
        if fitted_on is not None and features != fitted_on:
            # The model's columns are positional. The same names in another order would score the wrong
            # features: refused. Other names may be the same quantities renamed in this file: used by position.
            listed = f"{', '.join(features[:20])}{' …' if len(features) > 20 else ''}"
            if sorted(features) == sorted(fitted_on):
                raise InvalidInputError(
                    f"the model was fitted on the columns {', '.join(fitted_on)} (in this order), but --columns "
                    f"gives them in another order ({listed}). Leave out --columns to use the model's, or list them "
                    "in its order.")
            warnings.warn(f"the model was fitted on the columns {', '.join(fitted_on)}; --columns {listed} are used "
                          "in their place, by position.", UserWarning, stacklevel=3)
    elif known is not None:
        features = [str(c) for c in known if str(c) not in exclude]
    else:
        features = [c for c in source.columns if c != id_column and c not in exclude]
        identifiers = [c for c in features if _looks_like_identifier(c)]
        if identifiers:  # a catalogue's object ids (Gaia source_id ...) would be scored as a physical quantity
            warnings.warn(f"column(s) {', '.join(identifiers)} look like identifiers but are used as features, since "
                          "every column but --id-column and --exclude-columns is; name the id column with "
                          "--id-column or leave such columns out with --exclude-columns.", UserWarning, stacklevel=3)
    if not features:
        raise InvalidInputError(f"{source.path}: no feature columns (the table has: {', '.join(source.columns)}).")
    duplicated = sorted({c for c in features if features.count(c) > 1})
    if duplicated:
        raise InvalidInputError(f"feature column(s) {duplicated} are listed more than once.")
    if id_column in features:
        raise InvalidInputError(f"{id_column!r} is both the id column and a feature column.")
    source.require_columns(features)
    source.check_numeric(features)
    if model is not None:
        expected = getattr(model, "n_features_in_", None)
        if expected is not None and int(expected) != len(features):
            names = f" ({', '.join(map(str, known))})" if known is not None else ""
            raise InvalidInputError(
                f"the model was fitted on {int(expected)} features{names}, but {len(features)} columns are selected "
                f"({', '.join(features[:20])}{' …' if len(features) > 20 else ''}); choose the model's columns, in "
                "its order, with --columns.")
    return features


def _fit(source, features, estimator, fit_rows, rng, drop_nan, chunk_rows, bars):
    reservoir = _Reservoir(fit_rows, rng)
    missing = _MissingCounter(features)
    advance = bars.task("sampling rows to fit", source.n_rows)
    n_rows = 0
    for chunk in source.chunks(features, chunk_rows=chunk_rows):
        cells, bad_rows = _bad(chunk.X)
        missing.add(chunk, cells, bad_rows)
        reservoir.add(chunk.start, chunk.X, ~bad_rows)
        n_rows = chunk.stop
        advance(chunk.X.shape[0])
    if missing.rows and not drop_nan:
        raise missing.error(source.path, n_rows)
    sample = reservoir.sample()
    if sample.shape[0] < 2:
        raise InvalidInputError(f"{source.path}: {sample.shape[0]} usable rows; fitting needs at least 2.")
    constant = [name for name, spread in zip(features, np.ptp(sample, axis=0)) if spread == 0]
    if constant and len(constant) < len(features):  # all constant: the detector's own error says so
        warnings.warn(f"{source.path}: column(s) {constant[:10]} are constant over the {sample.shape[0]} rows fitted "
                      "on, so they carry no information; leave them out with --exclude-columns.", UserWarning,
                      stacklevel=2)
    with warnings.catch_warnings():  # said once above, by name, instead of by position from each scaler
        warnings.filterwarnings("ignore", message=CONSTANT_FEATURES_WARNING, category=UserWarning)
        estimator.fit(sample)
    estimator.feature_names_in_ = np.asarray(features, dtype=str)
    if not _is_drama(estimator):
        estimator.reference_medians_ = np.median(sample, axis=0)
    own = getattr(estimator, "decision_scores_", None)
    fitted_rows = None if own is None else (reservoir.positions(), np.asarray(own, dtype=np.float64))
    return estimator, sample.shape[0], n_rows, fitted_rows


@dataclass
class _ScoreSummary:
    """What the scoring pass keeps: the scores, the best keys and a key sample."""

    spool: ScoreSpool
    top_keys: TopKeys
    sample: KeySample

    def add(self, start: int, scores: np.ndarray) -> None:
        self.spool.append(scores)
        valid = np.flatnonzero(~np.isnan(scores))
        neg, pos = -scores[valid], start + valid
        self.top_keys.add(neg, pos)
        self.sample.add(neg, pos)

    def finish(self) -> None:
        self.spool.close()
        self.top_keys.finish()


class _Scratch:
    """A temporary directory beside the output, made on first use and removed at the end."""

    def __init__(self, out: Path):
        self.out, self.directory = out, None

    def path(self) -> Path:
        if self.directory is None:
            self.directory = Path(tempfile.mkdtemp(prefix=f".{self.out.name}.", dir=self.out.parent))
        return self.directory

    def remove(self) -> None:
        if self.directory is not None:
            shutil.rmtree(self.directory, ignore_errors=True)


def _score(source, features, model, drop_nan, chunk_rows, n_rows, rng, need_reference, summary, bars,
           fitted_rows=None):
    """Score every row into ``summary`` (NaN for dropped rows); reference medians from a row sample if asked.

    ``fitted_rows`` — (file positions, training scores) of the rows the model was fitted on: they keep the
    model's own training scores, as a row scored again as new data would be its own nearest neighbour
    (kNN, LOF and the ensemble's neighbour members) and rank too low.
    """
    from drama2.explanations import anomaly_scores


    missing = _MissingCounter(features)
    reservoir = _Reservoir(REFERENCE_ROWS, rng) if need_reference else None
    advance = bars.task("scoring", n_rows)
    total = 0
    for chunk in source.chunks(features, chunk_rows=chunk_rows):
        cells, bad_rows = _bad(chunk.X)
        missing.add(chunk, cells, bad_rows)
        scores = np.full(chunk.X.shape[0], np.nan)
        if not missing.rows or drop_nan:  # after the first bad row without drop_nan: only count the rest
            good = ~bad_rows
            if good.any():
                scores[good] = anomaly_scores(model, chunk.X[good] if bad_rows.any() else chunk.X)
            if fitted_rows is not None:
                positions, own = fitted_rows
                lo, hi = np.searchsorted(positions, [chunk.start, chunk.stop])
                scores[positions[lo:hi] - chunk.start] = own[lo:hi]
            if reservoir is not None:
                reservoir.add(chunk.start, chunk.X, good)
            summary.add(chunk.start, scores)
        total = chunk.stop
        advance(chunk.X.shape[0])
    if missing.rows and not drop_nan:
        raise missing.error(source.path, total)
    summary.finish()
    reference = None
    if reservoir is not None and reservoir.size:
        reference = np.median(reservoir.sample(), axis=0)
    return reference


def _write(source, out, features, id_column, model, spool, ranking, explain, explain_rows, n_top, chunk_rows,
           figure, scratch, bars):
    """The writing pass: re-read the output rows, explain them, bucket them, write sorted; returns counts."""
    drama = _is_drama(model)
    need_features = drama or (explain and (explain_rows is None or explain_rows > 0)) or figure is not None
    writer = RankedWriter(out, features)
    buckets = RankBuckets(ranking.n_buckets, scratch.path)
    method = None
    figure_rows, figure_positions, figure_ids = [], [], []
    try:
        advance = bars.task("writing", spool.n)
        read_columns = features if need_features else features[:1]
        last = 0
        for chunk in source.chunks(read_columns, id_column, chunk_rows=chunk_rows, rows=ranking.wanted_rows()):
            advance(chunk.stop - last)
            last = chunk.stop
            scores = spool.read(chunk.start, chunk.stop)
            bucket = ranking.route(chunk.start, scores)
            where = np.flatnonzero(bucket >= 0)
            if where.size == 0:
                continue
            scores = scores[where]
            X = chunk.X[where] if need_features else None
            positions = chunk.start + where
            if not explain:
                explained = np.zeros(where.size, dtype=bool)
            elif explain_rows is None:  # every output row
                explained = np.ones(where.size, dtype=bool)
            else:
                explained = ranking.within(int(explain_rows), positions, scores)
            table, chunk_method = _output_table(chunk, where, scores, explained, X, model, drama, n_top, id_column,
                                                explain)
            method = method or chunk_method
            buckets.write(table, bucket[where])
            if figure is not None:
                show = np.flatnonzero(ranking.within(FIGURE_ROWS, positions, scores))
                figure_rows.append(X[show])
                figure_positions.append(positions[show])
                ids = table.column(id_column or "row").take(show).to_pylist()
                figure_ids += [str(i) for i in ids]
        figure_path = None
        if figure is not None and figure_rows:  # before the output is committed: a failure leaves neither
            positions = np.concatenate(figure_positions)
            figure_path = _figure(figure, model, features, np.concatenate(figure_rows),
                                  ranking.top_ranks(positions), figure_ids, id_column or "row")
        written = 0
        for table in buckets.sorted_tables(ranking.n_out):
            writer.write(table, chunk_rows)
            written += table.num_rows
        writer.commit(_empty_table(id_column, drama, explain, n_top))
    except BaseException:
        buckets.close()
        writer.abort()
        raise
    return written, method if explain else None, figure_path


def _output_table(chunk, where, scores, explained, X, model, drama, n_top, id_column, explain):
    """The output columns of a chunk's output rows (``where``), with their file positions in place of ranks."""
    import pyarrow as pa

    from drama2.explanations import explain_by_replacement, explain_drama, top_features

    columns = {}
    if id_column is not None:
        columns[id_column] = chunk.ids.take(pa.array(where))
    else:
        columns["row"] = pa.array(chunk.start + where, type=pa.int64())
    columns["score"] = pa.array(scores)
    columns[POSITION_COLUMN] = pa.array(chunk.start + where, type=pa.int64())  # becomes the rank
    method = None
    codes = np.full((where.size, n_top), -1, dtype=np.int32)
    values = np.full((where.size, n_top), np.nan)
    if drama:
        if explained.all() and n_top > 0:
            ex = explain_drama(model, X)
            nearest = ex.nearest
        else:
            nearest = model.nearest_leaf(X)
            ex = explain_drama(model, X[explained]) if explained.any() and n_top > 0 else None
        columns["prototype"] = pa.array(nearest, type=pa.int64())
    elif explained.any() and n_top > 0:
        ex = explain_by_replacement(model, X[explained])
    else:
        ex = None
    if ex is not None:
        method = ex.method
        index, value = top_features(ex.contributions, n_top)
        k = index.shape[1]
        codes[explained, :k], values[explained, :k] = index, value
    if explain:
        for i in range(n_top):
            columns[f"top_feature_{i + 1}"] = pa.array(codes[:, i])
            columns[f"top_contribution_{i + 1}"] = pa.array(values[:, i], mask=codes[:, i] < 0)
    return pa.table(columns), method


def _empty_table(id_column, drama, explain, n_top):
    import pyarrow as pa

    columns = {id_column or "row": pa.array([], type=pa.string() if id_column else pa.int64()),
               "score": pa.array([], type=pa.float64()), "rank": pa.array([], type=pa.int64())}
    if drama:
        columns["prototype"] = pa.array([], type=pa.int64())
    if explain:
        for i in range(n_top):
            columns[f"top_feature_{i + 1}"] = pa.array([], type=pa.int32())
            columns[f"top_contribution_{i + 1}"] = pa.array([], type=pa.float64())
    return pa.table(columns)


def _figure(path, model, features, X, ranks, ids, id_name):
    from drama2.explanations import explain, plot_explanation

    order = np.argsort(ranks, kind="stable")
    ex = explain(model, X[order], feature_names=features)
    labels = [f"rank {ranks[i]} ({id_name} {ids[i]})" for i in order]
    return plot_explanation(ex, path, rows=range(len(order)), labels=labels)
