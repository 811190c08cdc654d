"""Figures of fitted RBMs with ``rbm.plot``; writes the PNGs shown in the README.

Fits a BernoulliRBM to binarised digits and draws its filters, samples from
it, and the free energies of held-out data against samples; fits a small RBM
to anti-correlated pairs of bits and draws its log density over the unit square.

    python examples/figures.py                     # writes docs/*.png, about 20 s
    python examples/figures.py --output figs --fast
"""

import argparse
import os
from pathlib import Path

import numpy as np
from sklearn.datasets import load_digits
from sklearn.model_selection import train_test_split

from rbm import BernoulliRBM, plot


def anticorrelated_pairs(n, rng):
    """Binary pairs that are mostly (0, 1) or (1, 0): no independent model fits them."""
    corners = np.array([[0, 1], [1, 0], [0, 0], [1, 1]], dtype=np.float64)
    return corners[rng.choice(4, size=n, p=[0.45, 0.45, 0.05, 0.05])]


def main(output, fast):
    output.mkdir(parents=True, exist_ok=True)
    X = (load_digits().data / 16.0 > 0.5).astype(np.float64)
    X_train, X_test = train_test_split(X, test_size=0.3, random_state=0)
    model = BernoulliRBM(n_components=64, learning_rate=0.01, n_iter=10 if fast else 200,
                         n_chains=100, momentum=0.5, random_state=0).fit(X_train)
    steps = 50 if fast else 1000
    samples = model.sample(100 if fast else len(X_test), n_steps=steps, random_state=0)
    figures = {
        "filters.png": plot.plot_filters(model, image_shape=(8, 8), n_filters=16 if fast else 64),
        "samples.png": plot.plot_images(samples[:36], (8, 8)),
        "free_energy.png": plot.plot_free_energy(model, X_test, samples=samples),
    }
    figures["samples.png"].suptitle(f"Samples after {steps} Gibbs steps")
    if hasattr(model, "history_"):
        figures["learning_curves.png"] = plot.plot_learning_curves(model)

    X2 = anticorrelated_pairs(1000, np.random.default_rng(0))
    model2 = BernoulliRBM(n_components=4, learning_rate=0.05, n_iter=20 if fast else 200,
                          n_chains=100, momentum=0.5, random_state=0).fit(X2)
    # Over the unit square: at the corners, the log-probabilities of the four states.
    figures["energy_landscape.png"] = plot.plot_energy_landscape(
        model2, X2, resolution=40 if fast else 100)

    for name, fig in figures.items():
        fig.savefig(output / name, dpi=80)
    print(f"Wrote {len(figures)} figures to {output}: {', '.join(figures)}")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--output", type=Path, default=Path("docs"),
                        help="folder for the PNG files (default: docs)")
    parser.add_argument("--fast", action="store_true", help="a quick, smaller run")
    args = parser.parse_args()
    main(args.output, args.fast or os.environ.get("RBM_EXAMPLES_FAST") == "1")
