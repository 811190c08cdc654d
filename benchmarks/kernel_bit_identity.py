"""Fit the same models with two builds of rbm and compare the parameters bit for bit.

Each build is a source tree with its extensions built in place (for the
commit before a kernel redesign: ``git worktree add /tmp/kbase <commit>`` and
``python setup.py build_ext --inplace`` there).  Each tree fits every
combination below in its own subprocess (cwd = the tree, so its ``rbm`` is
the one imported) and the parameters are compared with ``np.array_equal``:

    estimator (Bernoulli dense and CSR, a 300 x 260 Bernoulli model on the
    BLAS path, Gaussian dense and CSR, categorical) x method (cd, pcd, pt) x
    options (none, centering, L1, sparsity, no momentum with weight decay,
    k=2 with momentum and weight decay) x dtype (float64, float32), plus
    samples and an AIS log Z of some of them.

Usage::

    python benchmarks/kernel_bit_identity.py OLD_TREE NEW_TREE [--blas scipy|default]

``--blas scipy`` (the default) makes each build call SciPy's BLAS, so both
sides use the same BLAS: a build with ``_gibbs.kernel_settings`` through
``kernel_settings(numpy_blas=False)``, an older one with
``_gibbs.use_numpy_blas(False)``; ``--blas numpy`` makes a build with
``_gibbs.kernel_settings`` call NumPy's OpenBLAS (the older build's
default); ``--blas default`` compares each build with its own default.  A
build with neither switch runs its default, and the child says so on
stderr.  BLAS results differ between CPUs, so this is a comparison on one
machine.  (``compare_builds.py params`` does the same comparison with more
cases and setup hooks.)
"""

import argparse
import os
import subprocess
import sys
import tempfile

import numpy as np

FIT = r'''
import sys, warnings
import numpy as np, scipy.sparse as sp
warnings.simplefilter("ignore")
sys.path.insert(0, ".")
from rbm import BernoulliRBM, GaussianBernoulliRBM, CategoricalRBM, _gibbs
if sys.argv[2] in ("scipy", "numpy") and hasattr(_gibbs, "kernel_settings"):
    settings = _gibbs.kernel_settings(numpy_blas=sys.argv[2] == "numpy")
    # For the whole run (settings kept alive); the switch must have taken.
    assert settings.__enter__()["numpy_blas"] == (sys.argv[2] == "numpy")
elif sys.argv[2] == "scipy" and hasattr(_gibbs, "use_numpy_blas"):
    _gibbs.use_numpy_blas(False)
elif sys.argv[2] != "default":
    print(f"this build has no BLAS switch: --blas {sys.argv[2]} ignored", file=sys.stderr)
rng = np.random.default_rng(0)
Xb = rng.random((130, 20)) < 0.3
Xbig = rng.random((300, 300)) < 0.3
Xg = rng.standard_normal((130, 12))
Xc = rng.integers(0, 4, size=(130, 9))
OPTIONS = ({}, dict(centering=True), dict(l1_weight_decay=1e-3),
           dict(sparsity_cost=0.1, sparsity_target=0.1), dict(momentum=0.0, weight_decay=1e-3),
           dict(k=2, momentum=0.5, weight_decay=1e-3))
out = {}
for dt in (np.float64, np.float32):
    data = (("bernoulli", BernoulliRBM, Xb.astype(dt)),
            ("bernoulli-csr", BernoulliRBM, sp.csr_matrix(Xb.astype(dt))),
            ("bernoulli-blas", BernoulliRBM, Xbig.astype(dt)),
            ("gaussian", GaussianBernoulliRBM, Xg.astype(dt)),
            ("gaussian-csr", GaussianBernoulliRBM, sp.csr_matrix(Xg.astype(dt))),
            ("categorical", CategoricalRBM, Xc))
    for method in ("cd", "pcd", "pt"):
        for extra in OPTIONS:
            for name, make, X in data:
                kw = dict(n_components=7, method=method, n_iter=3, batch_size=13,
                          random_state=0, n_temperatures=3, **extra)
                if name == "bernoulli-blas":
                    kw.update(n_components=260, n_iter=1, batch_size=50)
                key = f"{name}-{np.dtype(dt).name}-{method}-{sorted(extra.items())}"
                m = make(**kw).fit(X)
                for attr in ("components_", "intercept_visible_", "intercept_hidden_",
                             "h_samples_", "sigma_"):
                    if hasattr(m, attr):
                        out[f"{key}-{attr}"] = np.asarray(getattr(m, attr))
                if method == "pcd" and not extra and name in ("bernoulli", "gaussian",
                                                              "categorical"):
                    out[f"{key}-sample"] = np.asarray(m.sample(7, n_steps=3, random_state=1))
                    if name == "bernoulli" and dt == np.float64:
                        out[f"{key}-ais"] = np.asarray(
                            m.log_partition(method="ais", n_betas=200, random_state=0))
np.savez(sys.argv[1], **out)
'''


def fit(tree, blas, path):
    env = dict(os.environ, PYTHONPATH=tree)
    subprocess.run([sys.executable, "-c", FIT, path, blas], cwd=tree, env=env, check=True)
    return np.load(path)


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("old")
    parser.add_argument("new")
    parser.add_argument("--blas", choices=("scipy", "numpy", "default"), default="scipy")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        old = fit(args.old, args.blas, os.path.join(tmp, "old.npz"))
        new = fit(args.new, args.blas, os.path.join(tmp, "new.npz"))
        keys = sorted(set(old.files) | set(new.files))
        differ = [k for k in keys if k not in old.files or k not in new.files
                  or not np.array_equal(old[k], new[k])]
        for key in differ:
            print("DIFFERS", key)
        print(f"{len(keys) - len(differ)} of {len(keys)} arrays bit-identical "
              f"(BLAS: {args.blas})")
    sys.exit(1 if differ else 0)


if __name__ == "__main__":
    main()
