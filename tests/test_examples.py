"""Every example runs to completion in fast mode and prints its headline result."""

import re
import runpy
from pathlib import Path

import pytest

EXAMPLES = Path(__file__).resolve().parents[1] / "examples"

#: example -> pattern its output must match (the headline result).
HEADLINES = {
    "density_estimation.py": r"Held-out log-likelihood: -\d+\.\d+ nats per image "
                             r"\(independent pixels: -\d+\.\d+\)",
    "figures.py": r"Wrote 5 figures to .*: filters.png, samples.png, free_energy.png, "
                  r"learning_curves.png, energy_landscape.png",
    "persistence.py": r"Loaded model is identical",
    "anomaly_detection.py": r"Mean ROC AUC over 1 normal class\(es\): 0\.9\d+",
    "pretraining.py": r"RBM features \+ logistic regression\s+test accuracy 0\.\d+\n"
                      r"\s+pretrained \+ fine-tuned MLP\s+test accuracy 0\.\d+\n"
                      r"\s+randomly initialised MLP\s+test accuracy 0\.\d+",
    "classification.py": r"RBMClassifier test accuracy 0\.\d+ \(logistic regression 0\.\d+\)\n"
                         r"With 10% of the labels \(\d+ rows\): test accuracy 0\.\d+\n"
                         r"Sampled 50 images of the digit 3: a classifier of real digits "
                         r"reads \d+% of them as 3",
    "imputation.py": r"RMSE 0\.\d+ \(RBMImputer\) against 0\.\d+ \(column means\)",
    "dask_incremental.py": r"Held-out log-likelihood: -\d+\.\d+ nats per image "
                           r"\(computed on the workers\)\nGridSearchCV on the cluster: best",
}

#: example -> the optional packages it imports beyond the test extra
#: (``pip install rbm[dask]``); without them the example is skipped.
OPTIONAL_IMPORTS = {"dask_incremental.py": ("dask.distributed", "dask_ml.wrappers")}


def test_every_example_is_tested():
    assert sorted(p.name for p in EXAMPLES.glob("*.py")) == sorted(HEADLINES)


@pytest.mark.parametrize("name", sorted(HEADLINES))
def test_example_runs_in_fast_mode(name, tmp_path, monkeypatch, capsys):
    for module in OPTIONAL_IMPORTS.get(name, ()):
        pytest.importorskip(module)
    argv = [str(EXAMPLES / name), "--fast"]
    if name == "figures.py":
        argv += ["--output", str(tmp_path)]
    monkeypatch.setattr("sys.argv", argv)
    monkeypatch.setenv("RBM_EXAMPLES_FAST", "1")
    try:
        runpy.run_path(str(EXAMPLES / name), run_name="__main__")
    except SystemExit as exit_info:  # argparse or an explicit exit
        assert exit_info.code in (None, 0)
    out = capsys.readouterr().out
    assert re.search(HEADLINES[name], out), out
    if name == "figures.py":
        for png in ("filters.png", "samples.png", "free_energy.png", "learning_curves.png",
                    "energy_landscape.png"):
            assert (tmp_path / png).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
