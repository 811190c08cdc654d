"""Saving models: skops for files you exchange, pickle or joblib for your own.

Fits a pipeline (scaling, then a BernoulliRBM), saves it with skops, loads
it back trusting only this library's types, and checks that the loaded model
transforms, scores and samples exactly like the original.

    python examples/persistence.py [--fast]
"""

import argparse
import os
import tempfile
from pathlib import Path

import numpy as np
import skops.io as sio
from sklearn.datasets import load_digits
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import MinMaxScaler

import rbm


def main(fast):
    X = load_digits().data
    pipeline = make_pipeline(
        MinMaxScaler(clip=True),
        rbm.BernoulliRBM(n_components=16, n_iter=5 if fast else 50, random_state=0),
    ).fit(X)
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "digits.skops"
        sio.dump(pipeline, path)
        print(f"Saved {path.name}: {path.stat().st_size / 1024:.0f} KiB")
        print(f"Types beyond skops' defaults: {sio.get_untrusted_types(file=path)}")
        loaded = sio.load(path, trusted=rbm.trusted_types())
    same = {
        "transform": np.array_equal(loaded.transform(X), pipeline.transform(X)),
        "score_samples": np.array_equal(loaded.score_samples(X), pipeline.score_samples(X)),
        "sample": np.array_equal(loaded[-1].sample(5, random_state=1),
                                 pipeline[-1].sample(5, random_state=1)),
    }
    for method, equal in same.items():
        print(f"  {method:14s} {'identical' if equal else 'DIFFERENT'}")
    if not all(same.values()):
        raise SystemExit("the loaded model differs from the saved one")
    print("Loaded model is identical: transform, score_samples and sample agree exactly.")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--fast", action="store_true", help="a quick, smaller run")
    args = parser.parse_args()
    main(args.fast or os.environ.get("RBM_EXAMPLES_FAST") == "1")
