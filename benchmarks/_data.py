"""Where the benchmarks find the shared data sets: one place for every script.

``DATA_ROOT`` is the folder named by the environment variable
``RBM_BENCHMARK_DATA`` where it is set, else ``shared/data`` beside the
repository (``<repo>/../shared/data``).  A script whose files are absent
there skips those sets with a message; nothing here checks that they exist.

Scripts run as ``python benchmarks/x.py`` find this module on ``sys.path``
already; one loaded by file path (the tests do) puts its own folder there
first.
"""

import os
from pathlib import Path

DATA_ROOT = Path(os.environ.get("RBM_BENCHMARK_DATA")
                 or Path(__file__).resolve().parents[2] / "shared" / "data")
#: The binary (DEBD) suite: ``<name>.npz`` with ``train``, ``valid``, ``test``.
BINARY = DATA_ROOT / "binary"
#: The protein alignments: ``<name>.npz`` with ``codes`` (and an alphabet).
PROTEIN = DATA_ROOT / "protein"
