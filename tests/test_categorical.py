"""CategoricalRBM: estimator checks and known answers."""

import itertools

import numpy as np
import pytest
from scipy import stats
from scipy.special import logsumexp
from sklearn.utils.estimator_checks import parametrize_with_checks

from rbm import BernoulliRBM, CategoricalRBM, ManyCategoriesWarning, RBMClassifier
from sklearn_like import SKLEARN_LIKE
from weight_checks import CATEGORICAL_WEIGHT_CHECKS


# n_iter=10: the checks test the estimator API on tiny data sets, where the
# default n_iter="auto" plans thousands of epochs (about 300,000 updates).
@parametrize_with_checks([CategoricalRBM(n_iter=10)], xfail_strict=True,
                         expected_failed_checks=lambda _: CATEGORICAL_WEIGHT_CHECKS)
def test_sklearn_compatible_estimator(estimator, check):
    check(estimator)


# --------------------------------------------------------------------------
# Brute force over every (v, h)
# --------------------------------------------------------------------------

SIZES = (2, 3, 4)          # unequal category counts on purpose
LABELS = [["no", "yes"], [10, 20, 30], ["A", "C", "G", "T"]]


def random_model(sizes=SIZES, n_hidden=3, seed=0, scale=1.0, **kwargs):
    """A CategoricalRBM over features with ``sizes`` categories, random parameters."""
    rng = np.random.default_rng(seed)
    X = np.column_stack([rng.integers(0, q, 50) for q in sizes])
    X[: max(sizes)] = np.arange(max(sizes))[:, None] % np.array(sizes)  # every category seen
    model = CategoricalRBM(n_components=n_hidden, n_iter=0, random_state=seed, **kwargs).fit(X)
    model.components_[...] = scale * rng.standard_normal(model.components_.shape)
    model.intercept_visible_[...] = rng.standard_normal(model.intercept_visible_.shape)
    model.intercept_hidden_[...] = rng.standard_normal(n_hidden)
    return model


def all_configurations(sizes):
    return np.array(list(itertools.product(*[range(q) for q in sizes])))


def brute_force_log_p(model, sizes):
    """log p(v) of every configuration, summing exp(-E(v, h)) over all (v, h)."""
    W, b, c = model.components_, model.intercept_visible_, model.intercept_hidden_
    offsets = np.concatenate([[0], np.cumsum(sizes)[:-1]])
    H = np.array(list(itertools.product([0.0, 1.0], repeat=len(c))))
    log_weights = []
    for v in all_configurations(sizes):
        columns = offsets + v
        visible = b[columns].sum()
        coupling = H @ W[:, columns].sum(axis=1)
        log_weights.append(logsumexp(visible + H @ c + coupling))
    log_weights = np.array(log_weights)
    return log_weights - logsumexp(log_weights), logsumexp(log_weights)


def test_exact_log_partition_against_brute_force_over_v_and_h():
    model = random_model()
    _, log_z = brute_force_log_p(model, SIZES)
    assert model.log_partition(method="exact")[0] == pytest.approx(log_z, rel=1e-12)
    # Both enumeration directions: over v (24 states) and over h (2**12 states).
    big_hidden = random_model(n_hidden=12, seed=1, scale=0.3)
    _, log_z = brute_force_log_p(big_hidden, SIZES)
    assert big_hidden.log_partition(method="exact")[0] == pytest.approx(log_z, rel=1e-12)


def test_score_samples_is_a_normalised_distribution():
    model = random_model()
    log_p = model.score_samples(all_configurations(SIZES))
    np.testing.assert_allclose(log_p, brute_force_log_p(model, SIZES)[0], rtol=1e-10)
    assert logsumexp(log_p) == pytest.approx(0.0, abs=1e-12)


def chi_square_p_value(samples, log_p):
    """Pearson chi-square p-value of configuration counts against exp(log_p)."""
    index = np.ravel_multi_index(samples.T, SIZES)
    counts = np.bincount(index, minlength=len(log_p))
    return stats.chisquare(counts, len(samples) * np.exp(log_p)).pvalue


@pytest.mark.parametrize("dtype_model", ["small", "blas"])
def test_samples_follow_the_exact_distribution(dtype_model):
    """20,000 independent chains of 100 steps; chi-square over the 24 states.

    A p-value below 1e-3 fails (false-alarm rate 1e-3 with this fixed seed);
    the same samples must reject a model with one weight changed by 0.5.
    """
    from rbm import _gibbs

    model = random_model(scale=0.7)
    with _gibbs.kernel_settings(small_model_weights=0 if dtype_model == "blas" else 65536):
        samples = model.sample(20000, n_steps=100, random_state=0)
    log_p, _ = brute_force_log_p(model, SIZES)
    assert chi_square_p_value(samples, log_p) > 1e-3
    perturbed = random_model(scale=0.7)
    perturbed.components_[0, 3] += 0.5
    assert chi_square_p_value(samples, brute_force_log_p(perturbed, SIZES)[0]) < 1e-6


def test_samples_and_gibbs_return_the_original_labels():
    rng = np.random.default_rng(0)
    X = np.empty((60, 3), dtype=object)
    for i, labels in enumerate(LABELS):
        X[:, i] = [labels[j] for j in rng.integers(0, len(labels), 60)]
    model = CategoricalRBM(n_components=4, n_iter=5, random_state=0).fit(X)
    for out in (model.sample(30), model.gibbs(X[:30])):
        assert out.shape == (30, 3)
        for i, labels in enumerate(LABELS):
            assert set(out[:, i]) <= set(labels)
    assert [list(c) for c in model.categories_] == [sorted(labels) for labels in LABELS]


# --------------------------------------------------------------------------
# Reductions
# --------------------------------------------------------------------------

def test_two_categories_per_feature_is_a_bernoulli_rbm():
    """Same log-likelihood as the BernoulliRBM with W' = W[:, 1] - W[:, 0], etc."""
    rng = np.random.default_rng(0)
    X = rng.integers(0, 2, (200, 6))
    cat = CategoricalRBM(n_components=5, n_iter=20, random_state=0).fit(X)
    W = cat.components_.reshape(5, 6, 2)
    b = cat.intercept_visible_.reshape(6, 2)
    bern = BernoulliRBM(n_components=5, n_iter=0).fit(X.astype(float))
    bern.components_[...] = W[:, :, 1] - W[:, :, 0]
    bern.intercept_visible_[...] = b[:, 1] - b[:, 0]
    bern.intercept_hidden_[...] = cat.intercept_hidden_ + W[:, :, 0].sum(axis=1)
    np.testing.assert_allclose(cat.score_samples(X), bern.score_samples(X.astype(float)),
                               rtol=1e-10)


def test_a_single_feature_is_a_plain_categorical_distribution():
    """p(v) = softmax over v of b_v + sum_j softplus(c_j + W_jv), and fitting
    recovers the data frequencies."""
    model = random_model(sizes=(5,), n_hidden=3)
    W, b, c = model.components_, model.intercept_visible_, model.intercept_hidden_
    logits = b + np.logaddexp(0, c[:, None] + W).sum(axis=0)
    expected = logits - logsumexp(logits)
    np.testing.assert_allclose(model.score_samples(np.arange(5)[:, None]), expected,
                               rtol=1e-12)

    frequencies = np.array([0.4, 0.25, 0.2, 0.1, 0.05])
    X = np.repeat(np.arange(5), (frequencies * 2000).astype(int))[:, None]
    fitted = CategoricalRBM(n_components=3, n_iter=100, learning_rate=0.02, batch_size=100,
                            n_chains=500, random_state=0).fit(X)
    p = np.exp(fitted.score_samples(np.arange(5)[:, None]))
    # The maximum-likelihood fit is the frequencies; PCD noise at this learning
    # rate moves it by far less than 0.02.
    np.testing.assert_allclose(p, frequencies, atol=0.02)


# --------------------------------------------------------------------------
# Training
# --------------------------------------------------------------------------

def test_parameters_stay_in_the_zero_sum_gauge():
    rng = np.random.default_rng(0)
    X = np.column_stack([rng.integers(0, q, 300) for q in SIZES])
    for momentum in (0.0, 0.5):
        for threshold in (0, 65536):  # both product paths
            from rbm import _gibbs
            with _gibbs.kernel_settings(small_model_weights=threshold):
                model = CategoricalRBM(**{**SKLEARN_LIKE, "momentum": momentum},
                                       n_components=4, n_iter=20, random_state=0,
                                       centering=False).fit(X)
            offsets = np.cumsum((0,) + SIZES)
            for lo, hi in zip(offsets[:-1], offsets[1:]):
                np.testing.assert_allclose(model.components_[:, lo:hi].sum(axis=1), 0,
                                           atol=1e-12)
                assert abs(model.intercept_visible_[lo:hi].sum()) < 1e-12
            assert np.abs(model.components_).max() > 0.05  # it did learn


def test_visible_biases_start_at_smoothed_log_frequencies():
    X = np.array([[0]] * 70 + [[1]] * 20 + [[2]] * 10)
    model = CategoricalRBM(n_components=2, n_iter=0).fit(X)
    b = model.intercept_visible_
    p = np.exp(b) / np.exp(b).sum()
    np.testing.assert_allclose(p, [0.7, 0.2, 0.1], atol=2e-3)


def test_ais_within_three_standard_errors_of_exact_with_16_hidden_units():
    rng = np.random.default_rng(0)
    # Data with structure: the second and third features copy the first, noisily.
    first = rng.integers(0, 4, 500)
    X = np.column_stack([first, (first + (rng.random(500) < 0.2)) % 4,
                         (2 * first + (rng.random(500) < 0.2)) % 5, rng.integers(0, 3, 500)])
    model = CategoricalRBM(n_components=16, n_iter=30, random_state=0, learning_rate=0.05).fit(X)
    exact, _ = model.log_partition(method="exact")
    estimate, error = model.log_partition(method="ais", n_chains=100, n_betas=3000,
                                          random_state=0)
    assert 0 < error < 0.5
    assert abs(estimate - exact) < 3 * error


def test_thread_count_does_not_change_the_model():
    rng = np.random.default_rng(0)
    X = np.column_stack([rng.integers(0, q, 300) for q in SIZES])
    models = [CategoricalRBM(n_components=4, n_iter=3, random_state=0, n_jobs=n).fit(X)
              for n in (1, 2)]
    np.testing.assert_array_equal(models[0].components_, models[1].components_)


def test_both_product_paths_train_the_same_model():
    from rbm import _gibbs
    rng = np.random.default_rng(0)
    X = np.column_stack([rng.integers(0, q, 300) for q in SIZES])
    models = []
    for threshold in (0, 65536):
        with _gibbs.kernel_settings(small_model_weights=threshold):
            models.append(CategoricalRBM(n_components=4, n_iter=5, random_state=0).fit(X))
    np.testing.assert_allclose(models[0].components_, models[1].components_, atol=1e-10)


# --------------------------------------------------------------------------
# Input
# --------------------------------------------------------------------------

@pytest.fixture
def fitted():
    X = np.array([["a", "x"], ["b", "y"], ["c", "x"], ["a", "y"]] * 5, dtype=object)
    return CategoricalRBM(n_components=2, n_iter=2, random_state=0).fit(X), X


def test_unseen_category_names_the_feature_and_value(fitted):
    model, X = fitted
    Y = X.copy()
    Y[2, 1] = "z"
    for method in (model.transform, model.score_samples, model.free_energy):
        with pytest.raises(ValueError, match=r"feature 1 has the value 'z'.*\['x', 'y'\]"):
            method(Y)


def test_unseen_category_names_a_named_feature():
    pd = pytest.importorskip("pandas")
    frame = pd.DataFrame({"colour": ["red", "blue"] * 5, "size": [1, 2] * 5})
    model = CategoricalRBM(n_components=2, n_iter=1).fit(frame)
    bad = frame.copy()
    bad.loc[0, "size"] = 3
    with pytest.raises(ValueError, match=r"column 'size' has the value 3"):
        model.transform(bad)


@pytest.mark.parametrize("missing", [np.nan, None])
def test_missing_values_are_rejected(fitted, missing):
    model, X = fitted
    Y = X.copy()
    Y[1, 0] = missing
    with pytest.raises(ValueError, match="missing values.*row 1, feature 0"):
        CategoricalRBM(n_components=2).fit(Y)
    with pytest.raises(ValueError, match="missing values"):
        model.transform(Y)


def test_wrong_number_of_features_is_rejected(fitted):
    model, X = fitted
    with pytest.raises(ValueError, match="features"):
        model.transform(X[:, :1])


def test_sparse_input_is_rejected_with_a_clear_error():
    import scipy.sparse as sp
    with pytest.raises(TypeError, match="sparse input is not supported"):
        CategoricalRBM().fit(sp.csr_matrix(np.eye(3)))


def test_explicit_categories_allow_values_absent_from_the_training_data():
    X = np.array([[0], [1], [1]])
    model = CategoricalRBM(n_components=2, categories=[[0, 1, 2]], n_iter=5,
                           random_state=0).fit(X)
    assert model.components_.shape == (2, 3)
    assert np.isfinite(model.score_samples([[2]])).all()
    with pytest.raises(ValueError,
                       match=r"feature 0 has the value 5 .*not one of its categories \[0, 1\]"):
        CategoricalRBM(categories=[[0, 1]]).fit(np.array([[0], [5]]))


def test_an_unknown_category_error_carries_what_it_says():
    # The command line took the feature, value and categories out of the
    # message with a regex; the error now carries them.
    import pickle

    from rbm import UnknownCategoryError
    model = CategoricalRBM(n_components=2, n_iter=2, random_state=0).fit(
        np.array([["a", "x"], ["b", "y"]] * 3, dtype=object))
    with pytest.raises(UnknownCategoryError, match="feature 1 has the value 'z' .in 2 rows.") \
            as caught:
        model.transform(np.array([["a", "z"], ["b", "z"], ["a", "x"]], dtype=object))
    error = caught.value
    assert isinstance(error, ValueError)
    assert (error.feature, error.value, error.n_rows) == (1, "z", 2)
    assert error.categories.tolist() == ["x", "y"]
    assert error.shown_categories == "['x', 'y']" and "['x', 'y']" in str(error)
    copy = pickle.loads(pickle.dumps(error))  # (joblib's workers send errors back pickled)
    assert (str(copy), copy.feature, copy.value) == (str(error), 1, "z")
    many = UnknownCategoryError("m", feature=0, value=11, n_rows=1, categories=np.arange(11))
    assert many.shown_categories == "[0, 1, 2, 3, 4, 5, 6, 7, 8, 9], ..."


def test_verbose_fit_reports_every_epoch(fitted, capsys):
    _, X = fitted
    CategoricalRBM(n_components=2, n_iter=3, verbose=2, random_state=0).fit(X)
    lines = capsys.readouterr().out.strip().splitlines()
    assert len(lines) == 3 and all("reconstruction error" in line for line in lines)


def test_float32_trains_the_float64_model_to_rounding():
    # The same random stream makes the same decisions in both precisions.
    rng = np.random.default_rng(0)
    X = np.column_stack([rng.integers(0, q, 300) for q in SIZES])
    kwargs = dict(n_components=4, n_iter=3, random_state=0)
    single = CategoricalRBM(dtype=np.float32, **kwargs).fit(X)
    double = CategoricalRBM(dtype="float64", **kwargs).fit(X)
    assert single.components_.dtype == np.float32
    assert single.transform(X).dtype == np.float32
    assert double.components_.dtype == np.float64
    np.testing.assert_allclose(single.components_, double.components_, atol=1e-4)
    assert single.score(X) == pytest.approx(double.score(X), abs=1e-4)


def test_dtype_other_than_float32_or_float64_is_rejected():
    X = np.array([[0, 1], [1, 0]])
    with pytest.raises(ValueError, match="dtype"):
        CategoricalRBM(dtype=np.int64).fit(X)


def _with_a_column(values, n_rows=300):
    """A frame of one ordinary categorical column and the given one."""
    import pandas as pd
    rng = np.random.default_rng(0)
    return pd.DataFrame({"site": rng.choice(list("ACGT"), n_rows), "other": values})


@pytest.mark.parametrize("kind", ["measurement", "identifier"])
def test_a_column_of_about_one_row_per_category_warns_naming_it(kind):
    rng = np.random.default_rng(1)
    values = (rng.normal(size=300).round(3) if kind == "measurement"
              else [f"row{i}" for i in range(300)])
    X = _with_a_column(values)
    for fit in (lambda m: m.fit(X), lambda m: m.partial_fit(X)):
        with pytest.warns(ManyCategoriesWarning, match=r"column 'other' has \d+ distinct "
                          r"values in 300 rows.*KBinsDiscretizer") as record:
            fit(CategoricalRBM(n_components=2, n_iter=1, random_state=0))
        assert len(record) == 1
        assert record[0].filename == __file__   # points at the user's line
    with pytest.warns(ManyCategoriesWarning, match="RBMClassifier: column 'other'"):
        RBMClassifier(2, visible="categorical", n_iter=1, random_state=0).fit(
            X, np.arange(300) % 2)


def test_many_categories_each_seen_often_do_not_warn(recwarn):
    X = _with_a_column(np.arange(300) % 120)           # 120 categories, 2-3 rows each
    CategoricalRBM(n_components=2, n_iter=1, random_state=0).fit(X)
    small = _with_a_column(np.arange(40), n_rows=40)   # one row each, but only 40
    CategoricalRBM(n_components=2, n_iter=1, random_state=0).fit(small)
    given = _with_a_column(np.arange(300))             # categories given: meant
    CategoricalRBM(n_components=2, n_iter=1, categories=[list("ACGT"), list(range(300))],
                   random_state=0).fit(given)
    assert not [w for w in recwarn if issubclass(w.category, ManyCategoriesWarning)]
