"""Hidden-unit types side by side on real-valued data (issue 19).

On standardised wine and breast cancer (the splits of ``gaussian_density.py``:
60/20/20, scaled with the training split), reports the mean test
log-density (nats per sample) of a single full-covariance Gaussian
(``GaussianMixture(1, covariance_type="full")``) and of GaussianBernoulliRBM
with each hidden type and ``n_components = n_features`` (batch 10, 100
persistent chains, no weight decay: decay shrinks the couplings that carry
the correlations; 1,000 epochs), its learning rate chosen on the
validation split.  With Gaussian hidden units the model is
itself a multivariate Gaussian (log Z in closed form, trained by its exact
gradient from the data's moments); the others use AIS.  The full Gaussian is
shown with ``reg_covar`` 1e-4 and 1e-6 (GaussianMixture's default).
Usage::

    PYTHONPATH=. python benchmarks/hidden_types.py [--quick] [--output FILE]
        [--hidden TYPE ...]
"""

import argparse
import sys
import time
from pathlib import Path

import numpy as np
from sklearn.datasets import load_breast_cancer, load_wine
from sklearn.mixture import GaussianMixture

sys.path.insert(0, str(Path(__file__).resolve().parent))
from gaussian_density import split_and_scale  # noqa: E402

from rbm import GaussianBernoulliRBM  # noqa: E402

HIDDEN = ["bernoulli", "gaussian", "relu", "drelu"]


def best_rbm(hidden, X_train, X_valid, rates, n_iter):
    """(validation score, model, seconds, rate) of the rate best on validation."""
    best = None
    for rate in rates:
        start = time.perf_counter()
        model = GaussianBernoulliRBM(
            n_components=X_train.shape[1], hidden=hidden, learning_rate=rate, n_iter=n_iter,
            batch_size=10, n_chains=100, weight_decay=0.0, random_state=0,
            on_divergence="warn").fit(X_train)
        seconds = time.perf_counter() - start
        score = model.score(X_valid)
        if np.isfinite(score) and (best is None or score > best[0]):
            best = (score, model, seconds, rate)
    return best


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="one rate, few epochs")
    parser.add_argument("--output", help="also write the markdown table to this file")
    parser.add_argument("--hidden", nargs="+", choices=HIDDEN, default=HIDDEN,
                        help="hidden types to run (default: all)")
    args = parser.parse_args()
    hidden_types = args.hidden
    rates = [0.003] if args.quick else [0.003, 0.001]
    n_iter = 30 if args.quick else 1000
    sets = {"wine": load_wine().data, "breast cancer": load_breast_cancer().data}
    lines = ["| set | full Gaussian (reg 1e-4) | full Gaussian (reg 1e-6) | "
             + " | ".join(f"{h} hidden" for h in hidden_types) + " |",
             "|---|" + "---:|" * (len(hidden_types) + 2)]
    for name, X in sets.items():
        X_train, X_valid, X_test = split_and_scale(X)
        cells = [name]
        for reg_covar in (1e-4, 1e-6):  # 1e-6: GaussianMixture's default
            gaussian = GaussianMixture(1, covariance_type="full", reg_covar=reg_covar)
            cells.append(f"{gaussian.fit(X_train).score(X_test):.3f}")
        for hidden in hidden_types:
            found = best_rbm(hidden, X_train, X_valid, rates, n_iter)
            if found is None:
                cells.append("diverged")
                continue
            _, model, seconds, rate = found
            estimate = model.log_partition()
            cells.append(f"{model.score(X_test):.3f} (lr {rate}, {estimate.method}, "
                         f"{seconds:.0f} s)")
            print(name, hidden, cells[-1], flush=True)
        lines.append("| " + " | ".join(cells) + " |")
    text = "\n".join(lines)
    print(text)
    if args.output:
        Path(args.output).write_text(text + "\n")


if __name__ == "__main__":
    main()
