"""Draw the DRAMA pipeline (docs/figures/pipeline.png) for docs/concepts.md.

Run from the project root: ``OMP_NUM_THREADS=1 python docs/figures/pipeline.py``.
The top row is the recipe; the bottom row is a real fit: ``Drama(reducer="pca", split_levels=2,
random_state=0)`` on DRAMA's simulation ``synthetic-local-100`` (2000 signals of one shape, 100 with a
bump added).
"""

from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
from matplotlib.patches import FancyArrowPatch, FancyBboxPatch  # noqa: E402
from PIL import Image  # noqa: E402

import drama2  # noqa: E402
from drama2.preprocessing import Scaler  # noqa: E402

OUT = Path(__file__).with_suffix(".png")
GROUP_COLOURS = ("#1f77b4", "#2ca02c", "#9467bd", "#ff7f0e", "#17becf", "#8c564b", "#e377c2", "#bcbd22")

STEPS = [
    ("X", "n rows × d features"),
    ("scale", "per feature\n(minmax by default)"),
    ("reduce", "pca, ica, nmf, ae, vae, …\nto a small latent Z"),
    ("split in two", "ward or kmeans\non Z"),
    ("prototypes", "each group's latent centroid\ndecoded back to data space"),
    ("score", "min over prototypes P\u2c7c\nof D(x, P\u2c7c): one of ten metrics"),
]


def _flow(ax):
    ax.set_xlim(0, len(STEPS))
    ax.set_ylim(0, 1)
    ax.axis("off")
    for i, (title, text) in enumerate(STEPS):
        box = FancyBboxPatch((i + 0.06, 0.34), 0.88, 0.56, boxstyle="round,pad=0.02,rounding_size=0.06",
                             fc="#e8f0fb" if i not in (0, 5) else "#fdf0e3", ec="#345", lw=1.2)
        ax.add_patch(box)
        ax.text(i + 0.5, 0.77, title, ha="center", va="center", fontsize=12, weight="bold")
        ax.text(i + 0.5, 0.53, text, ha="center", va="center", fontsize=8.5, linespacing=1.3)
        if i:
            ax.add_patch(FancyArrowPatch((i - 0.06, 0.62), (i + 0.06, 0.62), arrowstyle="-|>",
                                         mutation_scale=14, color="#345"))
    loop = FancyArrowPatch((4.5, 0.34), (2.5, 0.34), connectionstyle="arc3,rad=-0.2", arrowstyle="-|>",
                           mutation_scale=14, color="#a33", lw=1.3)
    ax.add_patch(loop)
    ax.text(3.5, 0.0, "split_levels > 1: a fresh reducer on every group, split again (up to 2^levels prototypes)",
            ha="center", va="bottom", fontsize=8.5, color="#a33")


def main():
    data = drama2.load_dataset("synthetic-local-100")
    X, y = data.X, data.y
    model = drama2.Drama(reducer="pca", split_levels=2, random_state=0).fit(X)
    auc = drama2.evaluation.evaluate(y, model.decision_scores_)["auc"]
    x = np.linspace(0, 1, X.shape[1])

    fig = plt.figure(figsize=(12, 6.4))
    _flow(fig.add_axes((0.01, 0.62, 0.98, 0.36)))
    panels = [fig.add_axes((0.05 + i * 0.245, 0.08, 0.2, 0.44)) for i in range(4)]

    ax = panels[0]
    inliers, anomalies = np.flatnonzero(y == 0), np.flatnonzero(y == 1)
    for row in X[inliers[:12]]:
        ax.plot(x, row, color="0.7", lw=0.7)
    for row in X[anomalies[:2]]:
        ax.plot(x, row, color="#c22", lw=1.1)
    ax.set_title("data: 12 inliers, 2 anomalies (red)", fontsize=9)

    ax = panels[1]
    from sklearn.decomposition import PCA

    Z = PCA(n_components=2).fit_transform(Scaler("minmax").fit(X).to_distance_space(X))
    labels = model.leaf_labels_
    for k in range(len(model.leaves_)):
        ax.scatter(*Z[(labels == k) & (y == 0)].T, s=3, color=GROUP_COLOURS[k % len(GROUP_COLOURS)], alpha=0.5, lw=0)
    ax.scatter(*Z[y == 1].T, s=9, facecolor="none", edgecolor="#c22", lw=0.6)
    ax.set_title("first reducer's latent space;\ncolour = final group, red = anomaly", fontsize=9)
    ax.set_xticks([])
    ax.set_yticks([])

    ax = panels[2]
    for k, proto in enumerate(model.prototypes_):
        ax.plot(x, proto, color=GROUP_COLOURS[k % len(GROUP_COLOURS)], lw=1.5)
    ax.plot(x, X[anomalies[0]], color="#c22", lw=0.9, alpha=0.8)
    ax.set_title(f"the {len(model.prototypes_)} prototypes (split_levels=2)\nand one anomaly", fontsize=9)

    ax = panels[3]
    bins = np.linspace(0, model.decision_scores_.max(), 40)
    ax.hist(model.decision_scores_[y == 0], bins=bins, color="0.6", label="inliers", density=True)
    ax.hist(model.decision_scores_[y == 1], bins=bins, color="#c22", alpha=0.7, label="anomalies", density=True)
    ax.axvline(model.threshold_, color="k", lw=0.8, ls="--")
    ax.legend(fontsize=8, frameon=False)
    ax.set_title(f"score = l2 distance to the nearest\nprototype (AUC {auc:.3f}); dashed: threshold_", fontsize=9)
    for ax in panels:
        ax.tick_params(labelsize=7)

    fig.savefig(OUT, dpi=80)
    plt.close(fig)
    # A 256-colour palette keeps the committed file small.
    Image.open(OUT).convert("RGB").quantize(colors=128, method=Image.Quantize.MEDIANCUT).save(OUT, optimize=True)
    print(f"wrote {OUT} ({OUT.stat().st_size // 1024} KiB), AUC {auc:.3f}")


if __name__ == "__main__":
    main()
