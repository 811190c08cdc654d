"""A plain float array skips scikit-learn's data-frame probe (issue 20's fixed
costs) and is validated exactly as scikit-learn would validate it."""
import subprocess
import sys
import textwrap
import warnings

import numpy as np
import pytest
from sklearn.utils.validation import validate_data

import rbm
from rbm._units._layer import is_plain_float_matrix

X = (np.random.RandomState(0).rand(40, 6) > 0.5).astype(np.float64)


def test_a_fresh_process_fits_and_scores_arrays_without_narwhals_plugin_discovery():
    # narwhals reads every installed package's entry points the first time
    # scikit-learn asks it about an input: the cost this path avoids.
    script = textwrap.dedent("""
        import numpy as np, rbm
        from narwhals import plugins
        X = (np.random.RandomState(0).rand(40, 6) > 0.5).astype(np.float32)
        for cls in (rbm.BernoulliRBM, rbm.GaussianBernoulliRBM):
            model = cls(n_components=3, n_iter=1, random_state=0).fit(X)
            model.transform(X); model.score_samples(X); model.partial_fit(X)
        print(plugins._discover_entrypoints.cache_info().misses)
    """)
    out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                         check=True)
    assert out.stdout.split()[-1] == "0"


@pytest.mark.parametrize("data, dtype, plain", [
    (X, [np.float64, np.float32], True),
    (X.astype(np.float32), [np.float64, np.float32], True),
    (X.astype(np.float32), np.float64, False),   # converted: scikit-learn's path
    (X.astype(">f8"), [np.float64, np.float32], False),  # byte order: converted
    (X.astype(int), [np.float64, np.float32], False),
    (X[:, 0], [np.float64, np.float32], False),
    (X[:0], [np.float64, np.float32], False),
    (np.ma.masked_array(X), [np.float64, np.float32], False),
    (X.tolist(), [np.float64, np.float32], False),
])
def test_only_an_array_that_scikit_learn_would_return_as_it_is_takes_the_short_path(
        data, dtype, plain):
    model = rbm.BernoulliRBM()
    assert is_plain_float_matrix(model, data, dtype) is plain
    if plain:  # and scikit-learn's validation agrees: the same array back
        assert validate_data(rbm.BernoulliRBM(), data, dtype=dtype,
                             ensure_all_finite=False) is data


@pytest.mark.parametrize("cls", [rbm.BernoulliRBM, rbm.GaussianBernoulliRBM])
def test_a_wrong_feature_count_reads_as_scikit_learns_message(cls):
    model = cls(n_components=3, n_iter=1, random_state=0).fit(X)
    messages = []
    for wrong in (X[:, :4], X[:, :4].tolist()):  # the short path, scikit-learn's
        with pytest.raises(ValueError) as error:
            model.transform(wrong)
        messages.append(str(error.value))
    assert messages[0] == messages[1]
    assert f"X has 4 features, but {cls.__name__} is expecting 6" in messages[0]


def test_a_model_fitted_with_feature_names_still_warns_about_an_array():
    pd = pytest.importorskip("pandas")
    frame = pd.DataFrame(X, columns=[f"c{i}" for i in range(6)])
    model = rbm.BernoulliRBM(n_components=3, n_iter=1, random_state=0).fit(frame)
    with pytest.warns(UserWarning, match="X does not have valid feature names"):
        model.transform(X)
    model.fit(X)  # refitted on an array: the names are forgotten, as scikit-learn does
    assert not hasattr(model, "feature_names_in_")
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        model.transform(X)


def test_the_short_path_fits_the_same_model_as_scikit_learns_path():
    # A list of lists goes through scikit-learn's validation, the array not.
    from_array = rbm.BernoulliRBM(n_components=3, n_iter=2, random_state=0).fit(X)
    from_list = rbm.BernoulliRBM(n_components=3, n_iter=2, random_state=0).fit(X.tolist())
    np.testing.assert_array_equal(from_array.components_, from_list.components_)
    assert from_array.n_features_in_ == from_list.n_features_in_ == 6
