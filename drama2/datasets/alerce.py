"""ALeRCE / ZTF labelled light curves: the data of the MCDSVDD benchmark (SPEC §7).

The ALeRCE labelled set (one row per ZTF object: ``oid``, ``classALeRCE``) is
inner-joined on ``oid`` with the ALeRCE light-curve feature table, classes are
mapped onto the 15 sub-classes of the light-curve classifier and their three
groups (Transient, Stochastic, Periodic), and objects with fewer than 6
detections in both g and r are dropped. :func:`alerce_splits` then builds the
leave-one-subclass-out splits of the MCDSVDD protocol within one group.

Files are looked up as ``<data dir>/alerce/labels.(csv|parquet)`` and
``<data dir>/alerce/features.(parquet|csv)`` in the first of: the
``data_dir`` argument, ``$DRAMA2_DATA``, the cache directory (``$DRAMA2_CACHE``, else ``~/.cache/drama2``).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from drama2.datasets.base import Dataset
from drama2.datasets.odds import DatasetNotFoundError, data_dirs
from drama2.datasets import tables
from drama2.datasets.splits import leave_one_class_out
from drama2.errors import InvalidInputError

CITATION = (
    "ALeRCE: Förster et al. (2021), AJ 161, 242; light-curve classifier, labelled set and features: "
    "Sánchez-Sáez et al. (2021), AJ 161, 141; MCDSVDD protocol: Pérez-Carrasco et al. (2023), AJ 166, 151 "
    "(arXiv:2308.05011)"
)
SOURCES = ("https://alerce.science/ (the broker); https://github.com/mperezcarrasco/AnomalyALeRCE "
           "(MCDSVDD code; its data/README.md links the labelled set and feature table)")

#: The three groups of the ALeRCE light-curve classifier and their sub-classes.
ALERCE_GROUPS: dict[str, tuple[str, ...]] = {
    "Transient": ("SLSN", "SNII", "SNIa", "SNIbc"),
    "Stochastic": ("AGN", "Blazar", "CV/Nova", "QSO", "YSO"),
    "Periodic": ("CEP", "DSCT", "E", "RRL", "LPV", "Periodic-Other"),
}
#: Sub-class → group.
CLASS_TO_GROUP = {cls: group for group, classes in ALERCE_GROUPS.items() for cls in classes}
#: Inlier-only classes: MCDSVDD holds out 14 sub-classes, never the catch-all Periodic-Other.
NEVER_HELD_OUT = ("Periodic-Other",)
#: Finer labels of the labelled set merged into the 15 classes (as in the MCDSVDD preprocessing).
CLASS_ALIASES = {"RSCVn": "Periodic-Other", "SNIIn": "SNII", "EA": "E", "EB/EW": "E", "Ceph": "CEP"}
#: Labels of the labelled set outside the 15 classes; MCDSVDD drops them, so does drama2 (counted).
EXCLUDED_CLASSES = ("NLAGN", "NLQSO", "ZZ", "TDE", "SNIIb")
#: Detection counts in g (1) and r (2) of the ALeRCE feature table.
DETECTION_COLUMNS = ("n_det_1", "n_det_2")

_MISSING_POLICIES = ("median", "drop", "keep", "error")


# ---------------------------------------------------------------------------- files
def _locate(given, stem: str, suffixes: tuple[str, ...], data_dir) -> tuple[Path | None, str | None]:
    """The given path, else the first ``<dir>/alerce/<stem><suffix>`` found; and what went wrong, if anything."""
    if given is not None:
        path = Path(given).expanduser()
        return path, None if path.is_file() else f"{stem} file {path} does not exist"
    tried = [d / "alerce" / f"{stem}{suffix}" for d in data_dirs(data_dir) for suffix in suffixes]
    path = next((p for p in tried if p.is_file()), None)
    return path, None if path else f"no {stem} table (looked for {', '.join(map(str, tried))})"


def find_files(labels_path=None, features_path=None, data_dir=None) -> tuple[Path, Path]:
    """Paths of the labels and feature tables: the given ones, else those in ``<data dir>/alerce/``."""
    labels, labels_problem = _locate(labels_path, "labels", (".csv", ".parquet"), data_dir)
    features, features_problem = _locate(features_path, "features", (".parquet", ".csv"), data_dir)
    problems = [p for p in (labels_problem, features_problem) if p]
    if problems:
        raise DatasetNotFoundError(
            f"ALeRCE: {'; '.join(problems)}. Pass labels_path= and features_path=, or put labels.csv (columns oid, "
            "classALeRCE) and features.parquet (indexed by oid) in <data dir>/alerce/. The labelled set and "
            f"feature table are distributed by the ALeRCE team and the MCDSVDD authors: {SOURCES}."
        )
    return labels, features


def read_table(path: Path) -> pd.DataFrame:
    """A CSV (``.csv``, ``.csv.gz``) or parquet (``.parquet``, ``.pq``) table, read by :func:`tables.read_table`."""
    if not path.name.lower().endswith((".csv", ".csv.gz", ".parquet", ".pq")):
        raise InvalidInputError(f"ALeRCE: {path} is neither CSV (.csv, .csv.gz) nor parquet (.parquet, .pq).")
    try:
        return tables.read_table(path)
    except InvalidInputError:
        raise
    except Exception as exc:  # pandas/pyarrow raise many types for a damaged file
        raise InvalidInputError(f"ALeRCE: cannot read {path} ({type(exc).__name__}: {exc}).") from exc


def read_labels(path: Path) -> pd.DataFrame:
    """The labelled set as a frame with string columns ``oid`` and ``classALeRCE``, one row per object."""
    table = read_table(path)
    absent = [c for c in ("oid", "classALeRCE") if c not in table.columns]
    if absent:
        raise InvalidInputError(f"ALeRCE: labels table {path} lacks column(s) {absent}; it has "
                                f"{list(table.columns)[:20]}. The labelled set needs 'oid' and 'classALeRCE'.")
    labels = table[["oid", "classALeRCE"]].dropna().astype(str).drop_duplicates()
    clashes = labels.loc[labels["oid"].duplicated(), "oid"].unique()
    if len(clashes):
        raise InvalidInputError(f"ALeRCE: labels table {path} gives {len(clashes)} object(s) two different "
                                f"classes, e.g. {clashes[:5].tolist()}; keep one label per oid.")
    return labels.reset_index(drop=True)


def read_features(path: Path) -> pd.DataFrame:
    """The feature table indexed by string ``oid`` (taken from an ``oid`` column or the index)."""
    table = read_table(path)
    if "oid" in table.columns:
        table = table.set_index("oid")
    elif table.index.name != "oid":
        raise InvalidInputError(f"ALeRCE: feature table {path} has no 'oid' column or index; the features must "
                                "be keyed by the ZTF object id.")
    table.index = table.index.astype(str)
    duplicated = table.index[table.index.duplicated()].unique()
    if len(duplicated):
        raise InvalidInputError(f"ALeRCE: feature table {path} has {len(duplicated)} repeated oid(s), e.g. "
                                f"{duplicated[:5].tolist()}; keep one row of features per object.")
    return table


# ---------------------------------------------------------------------------- classes
def canonical_group(group: str) -> str:
    """The group name as in :data:`ALERCE_GROUPS` (case-insensitive), or an error listing them."""
    for name in ALERCE_GROUPS:
        if str(group).lower() == name.lower():
            return name
    raise InvalidInputError(f"ALeRCE: unknown group {group!r}; groups are {list(ALERCE_GROUPS)}.")


def map_classes(labels: pd.DataFrame, unknown_classes: str = "error") -> tuple[pd.DataFrame, dict]:
    """Merge aliases into the 15 sub-classes, drop excluded labels and attach each row's group.

    Returns the mapped frame (with a ``group`` column) and counts of what was merged or dropped.
    Class names outside the taxonomy are an error, or dropped with ``unknown_classes="drop"``.
    """
    if unknown_classes not in ("error", "drop"):
        raise InvalidInputError(f"unknown_classes must be 'error' or 'drop', got {unknown_classes!r}.")
    raw = labels["classALeRCE"]
    aliased = raw[raw.isin(list(CLASS_ALIASES))].value_counts().to_dict()
    classes = raw.replace(CLASS_ALIASES)
    excluded = classes[classes.isin(EXCLUDED_CLASSES)].value_counts().to_dict()
    unknown = classes[~classes.isin(list(CLASS_TO_GROUP) + list(EXCLUDED_CLASSES))].value_counts().to_dict()
    if unknown and unknown_classes == "error":
        raise InvalidInputError(
            f"ALeRCE: class name(s) outside the ALeRCE taxonomy: {unknown} (name: count). Known: "
            f"{sorted(CLASS_TO_GROUP)}, aliases {CLASS_ALIASES}, excluded {list(EXCLUDED_CLASSES)}. Fix the labels "
            "or pass unknown_classes='drop'.")
    keep = classes.isin(list(CLASS_TO_GROUP))
    mapped = labels.loc[keep, ["oid"]].assign(classALeRCE=classes[keep], group=classes[keep].map(CLASS_TO_GROUP))
    report = {"class_aliases_merged": aliased, "excluded_classes_dropped": excluded,
              "unknown_classes_dropped": unknown}
    return mapped.reset_index(drop=True), report


# ---------------------------------------------------------------------------- rows and columns
def join_features(labels: pd.DataFrame, table: pd.DataFrame) -> tuple[pd.DataFrame, pd.DataFrame, int]:
    """Inner join on ``oid``, sorted by ``oid``: the labels, their aligned feature rows, and how many
    labelled objects had no features."""
    has = labels["oid"].isin(table.index)
    labels = labels[has].sort_values("oid", kind="stable").reset_index(drop=True)
    rows = table.loc[labels["oid"].to_numpy()].reset_index(drop=True)
    return labels, rows, int((~has).sum())


def detection_mask(features: pd.DataFrame, min_detections, detections_in: str) -> tuple[np.ndarray, str]:
    """Rows with at least ``min_detections`` detections in g or r (``"any"``) or in both (``"both"``)."""
    if detections_in not in ("any", "both"):
        raise InvalidInputError(f"detections_in must be 'any' or 'both', got {detections_in!r}.")
    everything = np.ones(len(features), dtype=bool)
    if not min_detections:
        return everything, "off (min_detections not set)"
    absent = [c for c in DETECTION_COLUMNS if c not in features.columns]
    if absent:
        return everything, f"skipped: feature table lacks {absent}"
    enough = features[list(DETECTION_COLUMNS)].apply(pd.to_numeric, errors="coerce").to_numpy() >= min_detections
    mask = enough.all(axis=1) if detections_in == "both" else enough.any(axis=1)
    rule = "g and r" if detections_in == "both" else "g or r"
    return mask, f">= {min_detections} detections in {rule} ({' / '.join(DETECTION_COLUMNS)})"


def feature_columns(features: pd.DataFrame, names=None) -> tuple[pd.DataFrame, list[str]]:
    """The numeric feature columns (booleans as 0/1) and the names of the non-numeric ones dropped.

    With ``names``, exactly those columns, which must exist and be numeric.
    """
    if names is not None:
        names = list(names)
        absent = [c for c in names if c not in features.columns]
        if absent:
            raise InvalidInputError(f"ALeRCE: requested feature(s) {absent[:10]} are not in the feature table.")
        bad = [c for c in names if not pd.api.types.is_numeric_dtype(features[c])]
        if bad:
            raise InvalidInputError(f"ALeRCE: requested feature(s) {bad[:10]} are not numeric.")
        return features[names].astype(np.float64), []
    numeric = [c for c in features.columns if pd.api.types.is_numeric_dtype(features[c])]
    dropped = [str(c) for c in features.columns if c not in set(numeric)]
    if not numeric:
        raise InvalidInputError("ALeRCE: the feature table has no numeric column besides 'oid'.")
    return features[numeric].astype(np.float64), dropped


def handle_missing(X: pd.DataFrame, missing: str) -> tuple[pd.DataFrame, np.ndarray, dict]:
    """Apply the missing-value policy to ``X`` (±inf counts as missing).

    Returns the cleaned frame, the mask of rows kept, and a report for the metadata. Columns
    with no value at all are dropped (except under ``"error"``), since nothing can stand in for them.
    """
    if missing not in _MISSING_POLICIES:
        raise InvalidInputError(f"missing must be one of {_MISSING_POLICIES}, got {missing!r}.")
    X = X.replace([np.inf, -np.inf], np.nan)
    counts = X.isna().sum()
    counts = {str(c): int(n) for c, n in counts[counts > 0].items()}
    report = {"missing": missing, "missing_counts": counts}
    if counts and missing == "error":
        raise InvalidInputError(
            f"ALeRCE: {sum(counts.values())} missing or infinite feature values in {len(counts)} column(s), e.g. "
            f"{dict(list(counts.items())[:5])}; choose missing='median', 'drop' or 'keep'.")
    empty = [str(c) for c in X.columns if X[c].isna().all()]
    X = X.drop(columns=empty)
    report["empty_columns_dropped"] = empty
    rows = np.ones(len(X), dtype=bool)
    if missing == "median":
        medians = X.median()
        report["imputed_medians"] = {str(c): float(medians[c]) for c in X.columns if X[c].isna().any()}
        X = X.fillna(medians)
    elif missing == "drop":
        rows = ~X.isna().any(axis=1).to_numpy()
        report["n_dropped_missing"] = int((~rows).sum())
        X = X[rows]
    return X, rows, report


# ---------------------------------------------------------------------------- loader
def load_alerce(labels_path=None, features_path=None, *, group=None, data_dir=None, min_detections: int | None = 6,
                detections_in: str = "any", missing: str = "median", features=None,
                unknown_classes: str = "error", **_ignored) -> Dataset:
    """Load the ALeRCE labelled set joined with the light-curve features.

    Parameters
    ----------
    labels_path : str or Path, optional
        Labelled set, CSV or parquet, with columns ``oid`` and ``classALeRCE`` (others ignored).
        Default ``<data dir>/alerce/labels.csv`` (or ``.parquet``).
    features_path : str or Path, optional
        Feature table, parquet or CSV, keyed by ``oid`` (a column or the index).
        Default ``<data dir>/alerce/features.parquet`` (or ``.csv``).
    group : {"Transient", "Stochastic", "Periodic"}, optional
        Keep only this group's sub-classes (case-insensitive). Default: all three.
    data_dir : str or Path, optional
        Data directory searched first for ``alerce/``.
    min_detections : int or None
        Keep objects with at least this many detections (``n_det_1`` = g, ``n_det_2`` = r); None or 0
        turns the filter off. Skipped, and said so in the metadata, when those columns are absent.
    detections_in : {"any", "both"}
        ``"any"``: enough detections in g *or* r (the ALeRCE classifier's rule, SPEC §7);
        ``"both"``: in g *and* r (the stricter filter of the MCDSVDD code's final data).
    missing : {"median", "drop", "keep", "error"}
        Missing or infinite feature values: replace by the column median over the returned rows
        (default; the real table has many NaNs), drop rows having any, leave them as NaN (to
        impute inside each split yourself), or refuse.
    features : list of str, optional
        Exactly these feature columns (e.g. the 152 of the ALeRCE classifier). Default: every
        numeric column (booleans as 0/1); non-numeric columns are dropped and listed in the metadata.
    unknown_classes : {"error", "drop"}
        What to do with class names outside the taxonomy (aliases and excluded labels are always handled).

    Returns
    -------
    Dataset
        ``X`` (objects sorted by ``oid``), ``y`` None (a split chooses the anomaly class),
        ``classes`` the sub-class names, ``metadata["groups"]`` each row's group,
        ``metadata["ids"]``, ``metadata["feature_names"]`` and the counts of every row or
        column removed on the way.
    """
    target_group = None if group is None else canonical_group(group)
    labels_path, features_path = find_files(labels_path, features_path, data_dir)
    labels, class_report = map_classes(read_labels(labels_path), unknown_classes)
    n_labelled = len(labels)
    if target_group is not None:
        labels = labels[labels["group"] == target_group]
    labels, rows, n_without_features = join_features(labels, read_features(features_path))
    enough, detection_rule = detection_mask(rows, min_detections, detections_in)
    labels, rows = labels[enough], rows[enough]
    if labels.empty:
        raise InvalidInputError(f"ALeRCE: no object left after joining {labels_path} with {features_path} "
                                f"({n_without_features} labelled objects without features, detection filter: "
                                f"{detection_rule}). Check that both files use the same ZTF oids.")
    X, dropped = feature_columns(rows, features)
    X, kept, missing_report = handle_missing(X, missing)
    joined = labels[kept]
    if joined.empty:
        raise InvalidInputError("ALeRCE: every object has a missing feature value; use missing='median' or 'keep'.")
    counts = {"n_labelled": n_labelled, "n_without_features": n_without_features,
              "n_too_few_detections": int((~enough).sum()), "detection_filter": detection_rule,
              "non_numeric_columns_dropped": dropped, **class_report, **missing_report}
    metadata = _metadata(joined, X, target_group, counts, labels_path, features_path)
    name = "alerce" if target_group is None else f"alerce-{target_group.lower()}"
    return Dataset(name=name, X=X.to_numpy(dtype=np.float64), y=None, source=f"{labels_path} + {features_path}",
                   citation=CITATION, metadata=metadata, classes=joined["classALeRCE"].to_numpy(dtype=str))


def _metadata(rows: pd.DataFrame, X: pd.DataFrame, group, counts: dict, labels_path, features_path) -> dict:
    """Per-row groups and oids, feature names, class counts and the bookkeeping of what was removed."""
    class_counts = rows["classALeRCE"].value_counts().sort_index()
    return {"groups": rows["group"].to_numpy(dtype=str), "ids": rows["oid"].to_numpy(dtype=str),
            "feature_names": [str(c) for c in X.columns], "group": group,
            "class_counts": {str(k): int(v) for k, v in class_counts.items()}, **counts,
            "labels_path": str(labels_path), "features_path": str(features_path)}


def _group_loader(group: str):
    """A registry loader for one group (``load_alerce(group=group, ...)``)."""

    def load(labels_path=None, features_path=None, **options) -> Dataset:
        requested = options.pop("group", None)
        if requested is not None and canonical_group(requested) != group:
            raise InvalidInputError(f"this loader always loads the {group} group; use 'alerce' with group=... "
                                    "for another.")
        return load_alerce(labels_path, features_path, group=group, **options)

    load.__name__ = load.__qualname__ = f"load_alerce_{group.lower()}"
    load.__doc__ = f"Load the {group} group of the ALeRCE labelled set (see :func:`load_alerce`)."
    return load


load_alerce_transient = _group_loader("Transient")
load_alerce_stochastic = _group_loader("Stochastic")
load_alerce_periodic = _group_loader("Periodic")


# ---------------------------------------------------------------------------- protocol
def group_subset(dataset: Dataset, group: str) -> Dataset:
    """The rows of ``dataset`` in one group, with the per-row metadata cut to match."""
    group = canonical_group(group)
    groups = dataset.metadata.get("groups")
    if groups is None or dataset.classes is None:
        raise InvalidInputError(f"dataset {dataset.name!r} has no ALeRCE groups and classes; load it with "
                                "load_alerce.")
    rows = np.asarray(groups) == group
    if not rows.any():
        raise InvalidInputError(f"dataset {dataset.name!r} has no {group} objects; groups present: "
                                f"{sorted(set(np.asarray(groups).tolist()))}.")
    metadata = dict(dataset.metadata, group=group, groups=np.asarray(groups)[rows],
                    ids=np.asarray(dataset.metadata["ids"])[rows])
    suffix = f"-{group.lower()}"
    name = dataset.name if dataset.name.endswith(suffix) else dataset.name + suffix
    return Dataset(name=name, X=dataset.X[rows], y=None, source=dataset.source, citation=dataset.citation,
                   metadata=metadata, classes=np.asarray(dataset.classes)[rows])


def alerce_splits(dataset: Dataset, group: str, *, held_out=None, n_folds: int = 5, random_state=0):
    """Leave-one-subclass-out splits of the MCDSVDD protocol within one group.

    Each sub-class of ``group`` in turn is the anomaly: for every fold of a stratified
    ``n_folds``-fold split (5 folds: 80 % train / 20 % test), the training rows are the group's
    *other* sub-classes (with their labels, for MCDSVDD) and the test rows are the fold's share of
    every sub-class of the group, the held-out one labelled 1.

    Parameters
    ----------
    dataset : Dataset
        From :func:`load_alerce` (all groups or this group).
    group : {"Transient", "Stochastic", "Periodic"}
        The group whose sub-classes play inliers and anomaly.
    held_out : iterable of str, optional
        Sub-classes to hold out; default every sub-class of the group present in the data except
        Periodic-Other, which stays an inlier class (the 14 held-out classes of MCDSVDD).
    n_folds : int
        Number of stratified folds.
    random_state : int
        Seed of the fold shuffling.

    Returns
    -------
    iterator of drama2.datasets.splits.ClassSplit
        Ordered by held-out class, then fold.
    """
    subset = group_subset(dataset, group)
    present = set(np.unique(subset.classes).tolist())
    if held_out is None:
        held_out = [c for c in ALERCE_GROUPS[canonical_group(group)] if c in present and c not in NEVER_HELD_OUT]
    else:
        held_out = list(held_out)
        foreign = [c for c in held_out if c not in present]
        if foreign:
            raise InvalidInputError(f"held_out class(es) {foreign} are not {canonical_group(group)} classes of "
                                    f"this dataset; present: {sorted(present)}.")
    return leave_one_class_out(subset, held_out=held_out, n_folds=n_folds, random_state=random_state)
