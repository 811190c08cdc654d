"""Ctrl-C stops the compiled loops that run without the GIL (Gibbs steps,
AIS temperatures): it took effect only when such a call ended, tens of
seconds later (``python -m rbm sample ... --n-steps 3000000``, log Z by AIS
of a large model)."""

import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]

CHILD = textwrap.dedent("""
    import os, signal, sys, threading
    import numpy as np
    import rbm
    X = (np.random.default_rng(0).random((100, 16)) < 0.4).astype(float)
    model = rbm.BernoulliRBM(n_components=8, n_iter=1, random_state=0, n_jobs=1).fit(X)
    # (AIS on a model whose temperatures take long, not on a long list of them:
    # a billion took longer to list in NumPy than the signal took to come)
    wide = rbm.BernoulliRBM(n_components=200, n_iter=1, random_state=0, n_jobs=1).fit(X)
    calls = {
        # Hours of work each, were they not stopped.
        "sample": lambda: model.sample(4, n_steps=2**31 - 1, method="gibbs"),
        "ais": lambda: wide.log_partition(method="ais", n_betas=10**6, n_chains=100),
        "conditional": lambda: model.conditional_sample(
            np.where(np.eye(4, 16) > 0, np.nan, X[:4]), n_steps=2**31 - 1, method="gibbs"),
    }
    threading.Timer(0.5, os.kill, (os.getpid(), signal.SIGINT)).start()
    try:
        calls[sys.argv[1]]()
    except KeyboardInterrupt:
        sys.exit(42)
    sys.exit(1)
""")


@pytest.mark.parametrize("call", ["sample", "ais", "conditional"])
def test_ctrl_c_stops_a_long_compiled_loop(call):
    # The timeout only keeps a broken loop from hanging the suite: a loop that
    # ignored the signal would run for hours.
    result = subprocess.run([sys.executable, "-c", CHILD, call], cwd=ROOT, timeout=60,
                            capture_output=True, text=True,
                            env={**os.environ, "PYTHONPATH": os.pathsep.join(
                                [str(ROOT), *filter(None, [os.environ.get("PYTHONPATH")])])})
    assert result.returncode == 42, result.stderr
