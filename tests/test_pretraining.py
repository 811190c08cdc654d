"""Greedy layer-wise pretraining in a Pipeline, and fine-tuning an MLP from the stack."""

import pickle
import warnings

import numpy as np
import pytest
from scipy.special import expit, softmax
from sklearn.base import clone
from sklearn.datasets import load_digits
from sklearn.exceptions import ConvergenceWarning, NotFittedError
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import train_test_split
from sklearn.neural_network import MLPClassifier
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import MinMaxScaler
from threadpoolctl import threadpool_limits

from rbm import BernoulliRBM
from rbm.pretraining import fine_tune


@pytest.fixture(scope="module", autouse=True)
def one_blas_thread():
    """scikit-learn's small products run far faster on one BLAS thread than on several."""
    with threadpool_limits(limits=1, user_api="blas"):
        yield


@pytest.fixture(scope="module")
def digits():
    X, y = load_digits(return_X_y=True)
    return train_test_split(X / 16.0, y, test_size=0.3, random_state=0)


def _rbm(n_components):
    return BernoulliRBM(n_components, n_iter=60, learning_rate=0.05, momentum=0.5,
                        batch_size=10, weight_decay=0.0, learning_rate_schedule="constant",
                        random_state=0, n_jobs=1)


@pytest.fixture(scope="module")
def stack(digits):
    X_train, _, _, _ = digits
    return make_pipeline(_rbm(48), _rbm(24)).fit(X_train)


def test_pipeline_of_rbms_trains_each_layer_on_the_previous_layers_output(digits, stack):
    X_train, _, _, _ = digits
    first, second = stack[0], stack[1]
    alone = clone(second).fit(first.transform(X_train))
    np.testing.assert_array_equal(second.components_, alone.components_)
    assert stack.transform(X_train).shape == (len(X_train), 24)


def test_stacked_features_classify_digits(digits, stack):
    X_train, X_test, y_train, y_test = digits
    clf = make_pipeline(clone(stack[0]), clone(stack[1]), LogisticRegression(C=100, max_iter=2000))
    assert clf.fit(X_train, y_train).score(X_test, y_test) > 0.85


def _frozen_mlp(sizes):
    """An MLP whose one SGD epoch cannot move any weight: lr 1e-300 is below rounding."""
    return MLPClassifier(sizes, activation="logistic", solver="sgd", momentum=0.0,
                         learning_rate_init=1e-300, max_iter=1, random_state=0)


def _fine_tune_quietly(*args, **kwargs):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        return fine_tune(*args, **kwargs)


def test_mlp_starts_from_the_rbm_weights(digits, stack):
    X_train, X_test, y_train, _ = digits
    mlp = _fine_tune_quietly(stack, X_train, y_train, _frozen_mlp((48, 24)))
    first, second = stack[0], stack[1]
    np.testing.assert_array_equal(mlp.coefs_[0], first.components_.T)
    np.testing.assert_array_equal(mlp.intercepts_[0], first.intercept_hidden_)
    np.testing.assert_array_equal(mlp.coefs_[1], second.components_.T)
    np.testing.assert_array_equal(mlp.intercepts_[1], second.intercept_hidden_)
    assert mlp.coefs_[2].shape == (24, 10)  # the output layer: scikit-learn's own init
    hidden = stack.transform(X_test)
    expected = softmax(hidden @ mlp.coefs_[2] + mlp.intercepts_[2], axis=1)
    np.testing.assert_allclose(mlp.predict_proba(X_test), expected, rtol=1e-10)
    assert "_init_coef" not in vars(mlp)  # the instance is a plain MLPClassifier again
    pickle.loads(pickle.dumps(mlp))


def test_layers_beyond_the_stack_use_scikit_learns_initialisation(digits, stack):
    X_train, _, y_train, _ = digits
    mlp = _fine_tune_quietly([stack[0]], X_train, y_train, _frozen_mlp((48, 16)))
    np.testing.assert_array_equal(mlp.coefs_[0], stack[0].components_.T)
    assert mlp.coefs_[1].shape == (48, 16)
    bound = np.sqrt(2.0 / (48 + 16))  # Glorot for logistic units, as scikit-learn draws
    assert np.all(np.abs(mlp.coefs_[1]) <= bound) and np.std(mlp.coefs_[1]) > bound / 4


def test_fine_tuning_trains_the_whole_network(digits, stack):
    X_train, X_test, y_train, y_test = digits
    mlp = _fine_tune_quietly(stack, X_train, y_train, MLPClassifier(
        (48, 24), activation="logistic", learning_rate_init=0.01, max_iter=30, random_state=0))
    assert not np.array_equal(mlp.coefs_[0], stack[0].components_.T)
    assert mlp.score(X_test, y_test) > 0.9


def test_default_mlp_has_the_stacks_sizes(digits, stack):
    X_train, _, y_train, _ = digits
    mlp = _fine_tune_quietly(list(stack.named_steps.values()), X_train[:200], y_train[:200])
    assert mlp.hidden_layer_sizes == (48, 24) and mlp.activation == "logistic"


class _ScaledRBM(BernoulliRBM):
    """An RBM whose transform is not logistic(X W^T + c) (as with a learnt sigma)."""

    def transform(self, X):
        return expit(2.0 * (np.asarray(X) @ self.components_.T) + self.intercept_hidden_)


def test_bad_stacks_and_networks_are_refused(digits, stack):
    X_train, _, y_train, _ = digits
    with pytest.raises(ValueError, match="logistic"):
        fine_tune(stack, X_train, y_train, MLPClassifier((48, 24), activation="relu"))
    with pytest.raises(ValueError, match=r"sizes \[48, 24\]"):
        fine_tune(stack, X_train, y_train, MLPClassifier((24, 48), activation="logistic"))
    with pytest.raises(ValueError, match="RBM 1 .* has 64 inputs but RBM 0's output has 48"):
        fine_tune([stack[0], stack[0]], X_train, y_train)
    with pytest.raises(ValueError, match="64 features"):
        fine_tune([stack[1]], X_train, y_train)
    scaled = _ScaledRBM(8, n_iter=1, random_state=0).fit(X_train)
    with pytest.raises(ValueError, match="transform is not logistic"):
        fine_tune([scaled], X_train, y_train)
    with pytest.raises(ValueError, match="at least one"):
        fine_tune([], X_train, y_train)
    with pytest.raises(NotFittedError):
        fine_tune([BernoulliRBM(8)], X_train, y_train)
    with pytest.raises(TypeError, match="layer 0 is a MinMaxScaler"):
        fine_tune(make_pipeline(MinMaxScaler().fit(X_train), stack[0]), X_train, y_train)


@pytest.mark.parametrize("pandas_output", [False, True])
def test_a_stack_fitted_on_a_frame_is_fine_tuned_without_a_feature_name_warning(pandas_output):
    # fine_tune(stack, frame, y) warned "X does not have valid feature names,
    # but BernoulliRBM was fitted with feature names": its check of each
    # layer's transform passed the rows as an array.
    pd = pytest.importorskip("pandas")
    rng = np.random.default_rng(0)
    X = pd.DataFrame((rng.random((40, 6)) < 0.5).astype(float), columns=list("abcdef"))
    y = (X["a"] > 0).astype(int)
    stack = make_pipeline(BernoulliRBM(4, n_iter=2, random_state=0),
                          BernoulliRBM(3, n_iter=2, random_state=0))
    if pandas_output:  # the second layer is then fitted on a frame too
        stack.set_output(transform="pandas")
    stack.fit(X)
    with warnings.catch_warnings():
        warnings.simplefilter("error", UserWarning)
        mlp = _fine_tune_quietly(stack, X, y, _frozen_mlp((4, 3)))
    np.testing.assert_allclose(mlp.coefs_[0], stack[0].components_.T, rtol=0, atol=1e-12)


def test_a_categorical_rbm_is_refused_as_a_layer_for_what_it_is():
    # It was refused as "RBM 0 (CategoricalRBM) has 12 inputs but X has 6
    # features", of the very X it was fitted on: its weights act on the
    # one-hot columns of the labels.
    from rbm import CategoricalRBM
    X = np.random.default_rng(0).integers(0, 2, (30, 6))
    model = CategoricalRBM(n_components=3, n_iter=1, random_state=0).fit(X)
    with pytest.raises(ValueError, match=r"RBM 0 \(CategoricalRBM\) takes category labels, "
                                         r"one-hot coded into 12 columns .*OneHotEncoder"):
        fine_tune([model], X, X[:, 0])


@pytest.mark.parametrize("pandas_output", [False, True])
def test_a_frame_of_the_stacks_columns_in_another_order_is_refused(pandas_output):
    # The layer check put the first layer's own column names on the rows taken
    # from X, so X's columns in another order (or of other names) passed it and
    # the MLP was fine-tuned on columns the stack was not pretrained on.
    pd = pytest.importorskip("pandas")
    rng = np.random.default_rng(0)
    X = pd.DataFrame((rng.random((60, 6)) < 0.5).astype(float), columns=list("abcdef"))
    y = (X["a"] > 0).astype(int)
    stack = make_pipeline(BernoulliRBM(4, n_iter=2, random_state=0),
                          BernoulliRBM(3, n_iter=2, random_state=0))
    if pandas_output:
        stack.set_output(transform="pandas")
    stack.fit(X)
    with pytest.raises(ValueError, match="Feature names must be in the same order"):
        _fine_tune_quietly(stack, X[list("fedcba")], y, _frozen_mlp((4, 3)))
    with pytest.raises(ValueError, match="Feature names unseen at fit time"):
        _fine_tune_quietly(stack, X.rename(columns={"a": "z"}), y, _frozen_mlp((4, 3)))
    mlp = _fine_tune_quietly(stack, X, y, _frozen_mlp((4, 3)))
    np.testing.assert_allclose(mlp.coefs_[1], stack[1].components_.T, rtol=0, atol=1e-12)


def test_a_sparse_coo_x_is_checked_on_its_first_rows():
    import scipy.sparse as sp
    rng = np.random.default_rng(0)
    X = (rng.random((40, 6)) < 0.5).astype(float)
    model = BernoulliRBM(4, n_iter=2, random_state=0).fit(X)
    mlp = _fine_tune_quietly([model], sp.coo_matrix(X), np.arange(40) % 2, _frozen_mlp((4,)))
    np.testing.assert_allclose(mlp.coefs_[0], model.components_.T, rtol=0, atol=1e-12)


def test_a_single_rbm_is_a_stack_of_one():
    # It failed with "'BernoulliRBM' object is not iterable".
    X, y = load_digits(return_X_y=True)
    X = X[:200] / 16
    y = y[:200]
    rbm_ = BernoulliRBM(16, n_iter=2, random_state=0).fit(X)
    mlp = MLPClassifier((16,), activation="logistic", max_iter=1, random_state=0)
    single = fine_tune(rbm_, X, y, mlp)
    listed = fine_tune([rbm_], X, y, mlp)
    np.testing.assert_array_equal(single.coefs_[0], listed.coefs_[0])
    with pytest.raises(TypeError, match="a fitted RBM, a list of them or a Pipeline"):
        fine_tune(3, X, y)


def test_every_row_of_x_is_checked_against_the_first_rbm(digits, stack):
    # Only the first 20 rows were checked: later rows out of [0, 1] trained
    # the MLP silently, and a later NaN got MLPClassifier's message, which
    # says nothing of the stack.
    X_train, _, y_train, _ = digits
    mlp = MLPClassifier((48, 24), activation="logistic", max_iter=1, random_state=0)
    late_scale = np.vstack([X_train[:20], X_train[20:] * 16])
    late_nan = X_train.copy()
    late_nan[25, 3] = np.nan
    early_nan = np.where(X_train > 0.5, np.nan, X_train)
    for bad, message in [(late_scale, r"values in \[0, 1\]"), (late_nan, "NaN"),
                         (early_nan, "NaN")]:
        with pytest.raises(ValueError, match=r"^fine_tune: X is not input for RBM 0 "
                                             rf"\(BernoulliRBM\): .*{message}"):
            fine_tune(stack, bad, y_train, mlp)


def test_the_default_network_is_seeded_by_random_state_and_takes_weights(digits, stack):
    # fine_tune(mlp=None) could not be made reproducible, nor weighted.
    X_train, _, y_train, _ = digits
    X, y = X_train[:200], y_train[:200]
    first, again = (_fine_tune_quietly(stack, X, y, random_state=0) for _ in range(2))
    for a, b in zip(first.coefs_, again.coefs_):
        np.testing.assert_array_equal(a, b)
    assert first.random_state == 0
    weights = np.where(y == 3, 5.0, 1.0)
    weighted = _fine_tune_quietly(stack, X, y, random_state=0, sample_weight=weights)
    mlp = MLPClassifier((48, 24), activation="logistic", random_state=0)
    reference = _fine_tune_quietly(stack, X, y, mlp, sample_weight=weights)
    np.testing.assert_array_equal(weighted.coefs_[-1], reference.coefs_[-1])
    assert not np.array_equal(weighted.coefs_[-1], first.coefs_[-1])
    with pytest.raises(ValueError, match="random_state seeds the default network"):
        fine_tune(stack, X, y, mlp, random_state=0)


def test_a_stack_fitted_on_a_frame_warns_once_of_an_array_x():
    # Both the check of all of X and the check of the first rows through the
    # stack warned "X does not have valid feature names".
    pd = pytest.importorskip("pandas")
    rng = np.random.default_rng(0)
    X = (rng.random((40, 6)) < 0.5).astype(float)
    model = BernoulliRBM(4, n_iter=2, random_state=0).fit(pd.DataFrame(X, columns=list("abcdef")))
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        _fine_tune_quietly(model, X, np.arange(40) % 2, _frozen_mlp((4,)))
    names = [w for w in caught if "feature names" in str(w.message)]
    assert len(names) == 1, [str(w.message) for w in names]


def test_weights_are_refused_up_front_where_the_network_takes_none(digits, stack):
    # MLPClassifier.fit takes sample_weight from scikit-learn 1.7 (pyproject
    # asks for 1.6): before it, fine_tune raised a bare TypeError from inside
    # the network's fit, after checking all of X.
    class Unweighted(MLPClassifier):  # MLPClassifier.fit as in scikit-learn 1.6
        def fit(self, X, y):
            return super().fit(X, y)

    X_train, _, y_train, _ = digits
    mlp = Unweighted((48, 24), activation="logistic", max_iter=1, random_state=0)
    with pytest.raises(TypeError, match=r"^fine_tune: sample_weight was given, but "
                                        r"Unweighted.fit takes no sample_weight.*1\.7"):
        fine_tune(stack, X_train, y_train, mlp, sample_weight=np.ones(len(y_train)))
    assert _fine_tune_quietly(stack, X_train, y_train, mlp).coefs_[0].shape == (64, 48)
