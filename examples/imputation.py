"""Filling in missing values: a DataFrame with gaps, imputed by an RBM.

scikit-learn's wine measurements as a DataFrame; 20% of the test rows'
entries are removed at random.  ``RBMImputer`` (a GaussianBernoulliRBM
trained on the training rows) fills them with their conditional means given
each row's observed entries; ``SimpleImputer`` (column means) is the
baseline.  Prints the RMSE of both in standardised units and draws the
removed values against the imputed ones (``--output``, default
``docs/imputation.png``; a temporary folder with ``--fast``).

    python examples/imputation.py [--fast] [--output FOLDER]
"""

import argparse
import os
import tempfile
from pathlib import Path

import numpy as np
from sklearn.datasets import load_wine
from sklearn.impute import SimpleImputer
from sklearn.model_selection import train_test_split

from rbm import GaussianBernoulliRBM, RBMImputer


def main(fast, output):
    frame = load_wine(as_frame=True).data
    train, test = train_test_split(frame, test_size=0.3, random_state=0)
    rng = np.random.default_rng(0)
    removed = rng.random(test.shape) < 0.2
    gaps = test.mask(removed)  # NaN where removed
    imputer = RBMImputer(GaussianBernoulliRBM(n_components=16, n_iter=30 if fast else 300,
                                              random_state=0), random_state=0)
    imputer.set_output(transform="pandas")
    filled = imputer.fit(train).transform(gaps)
    means = SimpleImputer().set_output(transform="pandas").fit(train).transform(gaps)
    centre, scale = train.mean().to_numpy(), train.std(ddof=0).to_numpy()

    def rmse(completed):
        error = (completed.to_numpy() - test.to_numpy()) / scale
        return float(np.sqrt(np.mean(error[removed] ** 2)))

    print(f"Imputed {removed.sum()} removed entries of {len(test)} rows: RMSE "
          f"{rmse(filled):.3f} (RBMImputer) against {rmse(means):.3f} (column means), "
          "in standard deviations")
    standardised = [(f.to_numpy() - centre) / scale for f in (test, filled, means)]
    plot(*standardised, removed, output)


def plot(test, filled, means, removed, output):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    truth = test[removed]
    fig, ax = plt.subplots(figsize=(4.5, 4.5))
    ax.scatter(truth, means[removed], s=10, alpha=0.6,
               label="column mean", color="tab:gray")
    ax.scatter(truth, filled[removed], s=10, alpha=0.8,
               label="RBMImputer", color="tab:blue")
    low, high = truth.min(), truth.max()
    ax.plot([low, high], [low, high], color="black", linewidth=0.8)
    ax.set_xlabel("removed value (standard deviations)")
    ax.set_ylabel("imputed value (standard deviations)")
    ax.set_title("wine: 20% of test entries removed")
    ax.legend(loc="upper left")
    fig.tight_layout()
    output.mkdir(parents=True, exist_ok=True)
    fig.savefig(output / "imputation.png", dpi=100)
    plt.close(fig)
    print(f"Wrote {output / 'imputation.png'}")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--fast", action="store_true")
    parser.add_argument("--output", type=Path, default=None,
                        help="folder of the figure (default docs/; a temporary one with --fast)")
    args = parser.parse_args()
    fast = args.fast or os.environ.get("RBM_EXAMPLES_FAST") == "1"
    if args.output is None:
        args.output = (Path(tempfile.mkdtemp()) if fast
                       else Path(__file__).resolve().parents[1] / "docs")
    main(fast, args.output)
