"""What NumPy's spinning BLAS workers cost the next fit (issue 20).

After a multi-threaded product, NumPy's OpenBLAS keeps its idle workers
spinning for 2**28 clock ticks (about 0.1 s) before they sleep
(``OPENBLAS_THREAD_TIMEOUT``, read when NumPy loads).  The kernel runs its
products on its own thread team, so a fit started in that window shares the
cores with them.  Each case runs in a fresh process, once with the default
timeout and once with ``OPENBLAS_THREAD_TIMEOUT=4`` (the workers sleep at
once):

* **fits**: 784 x 500 binary, batch 100, 5,000 rows, one epoch a fit
  (``n_iter=1``): rounds of a NumPy product of the floor's shapes, then three
  fits; every other round sleeps 0.5 s after the product.  Printed: each
  fit's milliseconds, first fit after the product first.
* **partial_fit**: a pass over 20,000 rows of 784 features in 1,000-row
  ``partial_fit`` calls, 500 hidden units (min of 3 passes).
* **fit + transform**: rounds of a one-epoch fit of the first case's shape
  followed by ``transform`` of its 5,000 rows (NumPy's threaded product), so
  that each fit starts right after the previous round's ``transform`` (min
  of 5 rounds).

Run from the repository root on an otherwise idle machine::

    PYTHONPATH=. python benchmarks/idle_blas_workers.py
"""

import argparse
import os
import subprocess
import sys
import textwrap

FITS = textwrap.dedent("""
    import time, numpy as np, rbm
    rng = np.random.default_rng(0)
    X = (rng.random((5000, 784)) < 0.3).astype(np.float32)
    W = rng.standard_normal((500, 784)).astype(np.float32)
    def fit():
        start = time.perf_counter()
        rbm.BernoulliRBM(n_components=500, batch_size=100, n_iter=1, random_state=0).fit(X)
        return (time.perf_counter() - start) * 1e3
    fit()
    for round in range(6):
        for _ in range(50):  # about an epoch of the floor's products
            np.matmul(X[:200], W.T); np.matmul(X[:100] @ W.T, W)
        if round % 2:
            time.sleep(0.5)
        times = [fit() for _ in range(3)]
        pause = "after a 0.5 s pause" if round % 2 else "right after"
        print(f"  {pause:20s}", " ".join(f"{t:6.1f}" for t in times), "ms")
""")

PARTIAL_FIT = textwrap.dedent("""
    import time, numpy as np, rbm
    X = (np.random.default_rng(0).random((20000, 784)) < 0.3).astype(np.float32)
    model = rbm.BernoulliRBM(n_components=500, batch_size=100, random_state=0)
    model.partial_fit(X[:1000])
    passes = []
    for _ in range(3):
        start = time.perf_counter()
        for i in range(0, 20000, 1000):
            model.partial_fit(X[i:i + 1000])
        passes.append((time.perf_counter() - start) * 1e3)
    print(f"  one pass in 1,000-row calls: min {min(passes):.0f} ms",
          [round(p) for p in passes])
""")


FIT_AND_TRANSFORM = textwrap.dedent("""
    import time, numpy as np, rbm
    X = (np.random.default_rng(0).random((5000, 784)) < 0.3).astype(np.float32)
    def round_trip():
        start = time.perf_counter()
        model = rbm.BernoulliRBM(n_components=500, batch_size=100, n_iter=1, random_state=0)
        model.fit(X).transform(X)
        return (time.perf_counter() - start) * 1e3
    round_trip()
    rounds = [round_trip() for _ in range(5)]
    print(f"  fit + transform: min {min(rounds):.0f} ms a round", [round(r) for r in rounds])
""")


def run(code, timeout):
    env = dict(os.environ)
    env.pop("OPENBLAS_THREAD_TIMEOUT", None)
    if timeout is not None:
        env["OPENBLAS_THREAD_TIMEOUT"] = str(timeout)
    result = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True,
                            text=True, check=True)
    print(result.stdout, end="", flush=True)


def main(argv=None):
    # No options yet; the parser gives --help and refuses typos instead of
    # starting the minute-long run.
    argparse.ArgumentParser(description=__doc__.split("\n", 1)[0]).parse_args(argv)
    for name, code in (("fits", FITS), ("partial_fit", PARTIAL_FIT),
                       ("fit + transform", FIT_AND_TRANSFORM)):
        for timeout in (None, 4):
            label = "default timeout" if timeout is None else f"OPENBLAS_THREAD_TIMEOUT={timeout}"
            print(f"{name}, {label}:", flush=True)
            run(code, timeout)


if __name__ == "__main__":
    main()
