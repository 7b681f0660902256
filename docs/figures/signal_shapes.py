"""Draw DRAMA's ten simulated signal shapes (docs/figures/signal_shapes.png).

Run from the project root: ``python docs/figures/signal_shapes.py``.
Each panel shows the noiseless shape and three noisy draws (σ = 0.2, n_f = 100).
"""

from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

from drama2.datasets.synthetic import SHAPE_IDS, shape, signals  # noqa: E402

OUT = Path(__file__).with_suffix(".png")


def main():
    x = np.linspace(0, 1, 100)
    fig, axes = plt.subplots(2, 5, figsize=(14, 5.2), sharex=True, sharey=True, constrained_layout=True)
    for ax, i in zip(axes.flat, SHAPE_IDS):
        for row in signals(i, 3, 100, random_state=i):
            ax.plot(x, row, color="0.7", lw=0.8)
        ax.plot(x, shape(i, x, 1.0, 0.0), color="C0", lw=2)
        ax.set_title(f"shape {i}")
        ax.grid(alpha=0.3)
    for ax in axes[1]:
        ax.set_xlabel("x")
    fig.suptitle("DRAMA's ten signal shapes: noiseless (blue) and three noisy draws (σ = 0.2)")
    fig.savefig(OUT, dpi=110)
    print(f"wrote {OUT}")


if __name__ == "__main__":
    main()
