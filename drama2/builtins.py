"""Built-in components, registered through the same hooks as third-party plugins.

Every factory is a lazy ``"module:attr"`` string, so building the registry
(and ``drama2 list``) imports neither torch nor scikit-learn.
"""

from __future__ import annotations

from drama2.hookspecs import hookimpl

_METRIC_DESCRIPTIONS = {
    "l1": "city-block distance Σ|u−v|",
    "l2": "Euclidean distance",
    "l4": "Minkowski distance of order 4",
    "wl2": "Euclidean distance weighted by 1/σ of the prototype's leaf (σ ≥ 0.01)",
    "wl4": "order-4 Minkowski distance weighted by 1/σ of the prototype's leaf (σ ≥ 0.01)",
    "braycurtis": "Bray–Curtis dissimilarity Σ|u−v| / Σ|u+v|",
    "chebyshev": "Chebyshev distance max|u−v|",
    "canberra": "Canberra distance Σ|u−v| / (|u|+|v|)",
    "correlation": "one minus the Pearson correlation of sample and prototype",
    "mahalanobis": "squared Mahalanobis distance to the leaf mean (pseudo-inverse covariance)",
}


@hookimpl
def register_reducers(register):
    register("none", "drama2.reducers.linear:IdentityReducer", description="no reduction (latent = data)")
    register("pca", "drama2.reducers.linear:PCAReducer", description="principal component analysis")
    register("ica", "drama2.reducers.linear:ICAReducer", description="independent component analysis (FastICA)")
    register("nmf", "drama2.reducers.linear:NMFReducer",
             description="non-negative matrix factorisation (non-negative input)")


@hookimpl
def register_metrics(register):
    for name, description in _METRIC_DESCRIPTIONS.items():
        register(name, f"drama2.metrics:{name}", description=description)


@hookimpl
def register_clusterers(register):
    register("ward", "drama2.clustering:WardClusterer",
             description="Ward agglomerative clustering (subsample + nearest centroid above max_samples rows)")
    register("kmeans", "drama2.clustering:KMeansClusterer", description="k-means")


@hookimpl
def register_scorers(register):
    register("drama", "drama2.engine:Drama", description="the DRAMA meta-algorithm (reduce, split, prototypes, metric)")


@hookimpl
def register_datasets(register):
    register("synthetic-local-100", "drama2.datasets.synthetic:load_local_100",
             description="DRAMA's local (event) anomaly simulation: 2000 + 100 signals, 100 features")
    from drama2.datasets.odds import ODDS_FILES, odds_loader

    for name, (file_name, _sha, n, d, outliers) in ODDS_FILES.items():
        register(name, odds_loader(name),
                 description=f"ODDS {name}: {n} × {d}, {outliers} outliers ({file_name})", family="odds")
