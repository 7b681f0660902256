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
    neural = "drama2.reducers.neural"
    register("ae", f"{neural}:AutoEncoder", description="dense autoencoder (torch; GPU when available)")
    register("vae", f"{neural}:VariationalAutoEncoder",
             description="dense variational autoencoder; encodes the posterior mean")
    register("conv1d-ae", f"{neural}:Conv1dAutoEncoder", description="1-D convolutional autoencoder (spectra, "
             "light curves)")
    register("conv1d-vae", f"{neural}:Conv1dVariationalAutoEncoder", description="1-D convolutional VAE")
    register("conv2d-ae", f"{neural}:Conv2dAutoEncoder", description="2-D convolutional autoencoder (images, "
             "cutouts; square images or image_shape)")
    register("conv2d-vae", f"{neural}:Conv2dVariationalAutoEncoder", description="2-D convolutional VAE")
    register("umap", "drama2.reducers.umap:UMAPReducer",
             description="UMAP (umap-learn); prototypes are member means (no inverse)")


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
    register("lof", "drama2.scorers.baselines:LOF",
             description="Local Outlier Factor (scikit-learn); score = the LOF value, about 1 for inliers")
    register("iforest", "drama2.scorers.baselines:IForest",
             description="Isolation Forest (scikit-learn); score = 2^(-E[h(x)]/c(psi))")
    register("knn", "drama2.scorers.baselines:KNN",
             description="distance to the k-th nearest training neighbour (or the mean/median of the k)")
    register("eif", "drama2.scorers.eif:EIF",
             description="Extended Isolation Forest in torch (Hariri et al. 2021); CPU or GPU, chunked scoring")
    register("mcdsvdd", "drama2.scorers.svdd:MCDSVDD",
             description="Multi-Class Deep SVDD: one centre per inlier class (labels via fit(X, y_classes), else "
                         "clusters); score = squared distance to the nearest centre")
    register("deepsvdd", "drama2.scorers.svdd:DeepSVDD",
             description="Deep SVDD (Ruff et al. 2018): one fixed centre, bias-free encoder")
    register("ensemble", "drama2.ensemble:Ensemble",
             description="many detectors as one: rank-normalised members, weighted median (members='default' or "
                         "'wide', or a list of specs); label-aware selection with select()")
    register("ae-recon", "drama2.scorers.recon:AERecon",
             description="autoencoder reconstruction error (any neural reducer as the model)")
    register("pyod:*", "drama2.scorers.pyod_adapter:make_pyod_factory",
             members="drama2.scorers.pyod_adapter:available_pyod_detectors",
             description="any installed PyOD detector by class name, e.g. pyod:ECOD, pyod:HBOS, pyod:COPOD "
                         "(parameters pass through)")


@hookimpl
def register_datasets(register):
    from drama2.datasets.synthetic import SCENARIOS, scenario_loader

    for name, (_generator, _settings, description) in SCENARIOS.items():
        register(name, scenario_loader(name), description=f"DRAMA simulation, {description}", family="synthetic")
    register("digits", "drama2.datasets.digits:load_digits",
             description="scikit-learn's handwritten digits (1797 × 8 × 8, 10 classes) for leave-one-class-out",
             family="multiclass")
    register("wtf", "drama2.datasets.wtf:load_wtf",
             description="WTF (ASKAP-EMU) 64 × 64 PNG cut-outs, uppercase 'B' in the file name = boring; your files: "
                         "path=... or <data dir>/wtf/", family="astronomy")
    register("alerce", "drama2.datasets.alerce:load_alerce",
             description="ALeRCE/ZTF labelled light-curve features, 15 sub-classes in 3 groups; your files: "
                         "labels_path=, features_path= or <data dir>/alerce/", family="astronomy")
    for group in ("transient", "stochastic", "periodic"):
        register(f"alerce-{group}", f"drama2.datasets.alerce:load_alerce_{group}",
                 description=f"ALeRCE/ZTF {group} sub-classes only (leave-one-subclass-out, MCDSVDD)",
                 family="astronomy")
    from drama2.datasets.odds import ODDS_FILES, odds_loader

    for name, entry in ODDS_FILES.items():
        register(name, odds_loader(name),
                 description=f"ODDS {name}: {entry.n} × {entry.d}, {entry.outliers} outliers ({entry.file})",
                 family="odds")
