"""What ``sample_weight`` costs in ``fit``: weighted against unweighted, same shapes.

The two acceptance shapes of ``throughput.py`` (64 x 64, batch 10, float64,
10,000 rows; 784 x 500, batch 100, float32, 5,000 rows), PCD-1.  Two kinds
of weights, all positive (no row is dropped, the kernel takes its weighted
path): "jitter", 1 + 1e-9 u (u uniform in [0, 1)), which trains the same
model as no weights to 1e-9 and so measures the weighted path alone; and
"1-4", random integers 1 to 4, which train another model (its sampled
states, and so the row-sum products of small models, differ).  The
variants alternate, repeat after repeat, in one process; the minimum time
of each is kept and each ratio to "none" printed with the spread of the
per-repeat ratios.

    PYTHONPATH=. python benchmarks/sample_weight_cost.py [--repeats 7]
"""

import argparse
import time

import numpy as np

from rbm import BernoulliRBM

SHAPES = (
    dict(n_visible=64, n_hidden=64, batch_size=10, dtype=np.float64, n_rows=10_000, n_iter=3),
    dict(n_visible=784, n_hidden=500, batch_size=100, dtype=np.float32, n_rows=5_000, n_iter=1),
)


def fit_seconds(X, weights, shape):
    model = BernoulliRBM(n_components=shape["n_hidden"], batch_size=shape["batch_size"],
                         n_iter=shape["n_iter"], random_state=0, n_chains=None,
                         learning_rate=0.01)
    start = time.perf_counter()
    model.fit(X, sample_weight=weights)
    return time.perf_counter() - start


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--repeats", type=int, default=7)
    args = parser.parse_args()
    rng = np.random.default_rng(0)
    for shape in SHAPES:
        X = (rng.random((shape["n_rows"], shape["n_visible"])) < 0.3).astype(shape["dtype"])
        variants = {"none": None,
                    "jitter": 1.0 + 1e-9 * rng.random(shape["n_rows"]),
                    "1-4": rng.integers(1, 5, shape["n_rows"]).astype(float)}
        fit_seconds(X, None, shape)  # warm-up
        times = {name: [] for name in variants}
        for _ in range(args.repeats):
            for name, weights in variants.items():
                times[name].append(fit_seconds(X, weights, shape))
        rows = shape["n_rows"] * shape["n_iter"]
        print(f"{shape['n_visible']}x{shape['n_hidden']} batch {shape['batch_size']} "
              f"{np.dtype(shape['dtype']).name}: none {rows / min(times['none']):,.0f} "
              "samples/s")
        for name in ("jitter", "1-4"):
            ratios = np.array(times[name]) / np.array(times["none"])
            print(f"    {name}: {rows / min(times[name]):,.0f} samples/s; time min/min "
                  f"{min(times[name]) / min(times['none']):.3f}, per-repeat ratios "
                  f"{ratios.min():.3f} to {ratios.max():.3f} (median {np.median(ratios):.3f})")


if __name__ == "__main__":
    main()
