"""A hostile pass over sampling: ``sample``, ``gibbs``, ``conditional_sample``,
the classifier's ``sample(n, y=...)`` and the command line's ``sample``.

Each test here failed before the fix it names.
"""

import numpy as np
import pandas as pd
import pytest

from rbm import BernoulliRBM, CategoricalRBM, cli, persistence


@pytest.fixture(scope="module")
def frame_model():
    """A CategoricalRBM fitted on a DataFrame (so ``sample`` returns one)."""
    rng = np.random.default_rng(0)
    frame = pd.DataFrame({"colour": rng.choice(["red", "blue"], 40),
                          "size": rng.choice([1, 2, 3], 40)})
    return CategoricalRBM(n_components=2, n_iter=2, random_state=0).fit(frame)


@pytest.mark.parametrize("suffix", [None, ".csv", ".npy"])
def test_cli_sample_of_a_model_fitted_on_a_frame_writes_its_rows(frame_model, tmp_path,
                                                                    capsys, suffix):
    # Before: the command iterated over the DataFrame `sample` returns, so it
    # wrote the column names ("colour", "size"), one per line, and no sample,
    # with exit status 0; to a .npy file it failed with "unexpected
    # AttributeError: 'DataFrame' object has no attribute 'dtype'".
    path = tmp_path / "model.skops"
    persistence.save(frame_model, path)
    argv = ["sample", str(path), "-n", "4", "--n-steps", "2", "--seed", "1"]
    output = None if suffix is None else tmp_path / ("samples" + suffix)
    if output is not None:
        argv += ["-o", str(output)]
    assert cli.main(argv) == 0
    expected = frame_model.sample(4, n_steps=2, random_state=1)
    if suffix == ".npy":
        assert np.load(output).tolist() == [[str(v) for v in row]
                                            for row in expected.to_numpy()]
        return
    text = capsys.readouterr().out if output is None else output.read_text()
    lines = text.splitlines()
    assert lines[0] == "colour,size"  # the frame's column names as the header row
    assert [line.split(",") for line in lines[1:]] == [
        [str(v) for v in row] for row in expected.to_numpy()]
