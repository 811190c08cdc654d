"""Rows with gaps, found wanting by hostile review (round 46).

RBMImputer's most probable values alike on every transform (and in a
pickled copy) with random_state=None; sparse input with NaN among its
stored values taking the gap path of every method that takes gaps, and
sparse input without NaN staying sparse under missing="impute"; a list of
float rows with None imputed as numbers; domain errors reporting the
extremes of the observed entries only; and a complete DataFrame validated
(and warned about) once by transform.
"""

import pickle
import re
import warnings

import numpy as np
import pandas as pd
import pytest
import scipy.sparse as sp
from sklearn.base import clone
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import make_pipeline

from rbm import BernoulliRBM, CategoricalRBM, GaussianBernoulliRBM, RBMImputer
from test_memory import traced_peak


def _binary_with_gaps(n_rows=80, n_features=6, seed=0):
    rng = np.random.default_rng(seed)
    pattern = rng.random(n_features) > 0.5
    X = np.where(rng.random((n_rows, n_features)) < 0.85, pattern, ~pattern).astype(float)
    X[rng.random(X.shape) < 0.2] = np.nan
    return X


# ----------------------------------------------------------------------
# 1. RBMImputer.transform is deterministic after fit
# ----------------------------------------------------------------------

def _gibbs_imputer(random_state=None):
    # 20 hidden units: more than 14, so the marginals come from clamped chains.
    return RBMImputer(BernoulliRBM(n_components=20, n_iter=3, random_state=random_state),
                      random_state=random_state)


def test_imputer_without_a_seed_imputes_alike_on_every_transform_and_when_pickled():
    # Before, each transform seeded the chains anew from random_state=None:
    # real values moved by up to 0.2 between calls, and 0/1 entries flipped.
    X = _binary_with_gaps(n_rows=200)
    rng = np.random.default_rng(1)
    Xr = rng.normal(size=(80, 4))
    Xr[rng.random(Xr.shape) < 0.2] = np.nan
    real = RBMImputer(GaussianBernoulliRBM(n_components=20, n_iter=3))
    for imputer, data in ((_gibbs_imputer(), X), (real, Xr)):
        imputer.fit(data)
        once = imputer.transform(data)
        np.testing.assert_array_equal(imputer.transform(data), once)
        np.testing.assert_array_equal(pickle.loads(pickle.dumps(imputer)).transform(data), once)


def test_imputer_with_an_integer_seed_seeds_its_chains_with_it_as_before():
    # The seed drawn at fit is draw_entropy(random_state): for an integer, a
    # function of it, the seed the chains had before marginal_seed_.
    X = _binary_with_gaps()
    imputer = _gibbs_imputer(random_state=3).fit(X)
    missing = np.isnan(X)
    p = imputer.estimator_.conditional_marginals(X, random_state=3)
    np.testing.assert_array_equal(imputer.transform(X)[missing], (p[missing] > 0.5) * 1.0)
    np.testing.assert_array_equal(imputer.fit_transform(X), imputer.transform(X))


def test_an_imputer_without_a_seed_of_its_own_seeds_its_chains_from_its_models():
    # As before marginal_seed_: a seeded estimator imputes alike on every refit.
    X = _binary_with_gaps()
    template = RBMImputer(BernoulliRBM(n_components=20, n_iter=3, random_state=5))
    first, second = clone(template).fit(X), clone(template).fit(X)
    assert first.marginal_seed_ == second.marginal_seed_
    np.testing.assert_array_equal(first.transform(X), second.transform(X))


def test_an_imputer_saved_before_the_seed_still_transforms_and_a_bad_seed_is_refused():
    X = _binary_with_gaps()
    imputer = _gibbs_imputer(random_state=3).fit(X)
    expected = imputer.transform(X)
    old = pickle.loads(pickle.dumps(imputer))
    del old.marginal_seed_
    np.testing.assert_array_equal(old.transform(X), expected)  # seeded by random_state=3
    for bad in ([1, 2, 3, 4], (1, 2, 3), (1, 2, 3, 2 ** 32), (1, 2, 3, True), "seed"):
        broken = pickle.loads(pickle.dumps(imputer))
        broken.marginal_seed_ = bad
        with pytest.raises(ValueError, match=r"marginal_seed_ must be a tuple of 4 integers "
                                             r"in \[0, 2\*\*32\).*refit the imputer"):
            broken.transform(X)


# ----------------------------------------------------------------------
# 2. Sparse rows with NaN take the gap path of every method taking gaps
# ----------------------------------------------------------------------

def test_sparse_rows_with_nan_are_rows_with_gaps_in_every_method_that_takes_them():
    X = _binary_with_gaps()
    Xs = sp.csr_matrix(X)
    model = BernoulliRBM(n_components=4, n_iter=3, random_state=0, missing="impute")
    dense = clone(model).fit(X)
    model.fit(Xs)
    np.testing.assert_array_equal(model.components_, dense.components_)
    np.testing.assert_array_equal(model.transform(Xs), dense.transform(X))
    np.testing.assert_array_equal(model.score_samples(Xs), dense.score_samples(X))
    assert model.score(Xs) == dense.score(X)
    model.partial_fit(Xs)
    dense.partial_fit(X)
    np.testing.assert_array_equal(model.components_, dense.components_)
    y = np.arange(len(X)) % 2
    pipeline = make_pipeline(clone(model), LogisticRegression()).fit(Xs, y)
    assert pipeline.predict(Xs).shape == (len(X),)


def test_the_refusal_of_gaps_names_no_method_that_refuses_them():
    X = _binary_with_gaps()
    Xs = sp.csr_matrix(X)
    model = BernoulliRBM(n_components=4, n_iter=3, random_state=0, missing="impute").fit(Xs)
    with pytest.raises(ValueError, match="missing='impute'") as error:
        model.gibbs(Xs)
    named = re.search(r"missing='impute': (.*) take rows with gaps", str(error.value))[1]
    methods = re.split(r", | and ", named)
    assert "score" in methods and "gibbs" not in methods
    for method in methods:
        getattr(clone(model) if "fit" in method else model, method)(Xs)  # each takes them


# ----------------------------------------------------------------------
# 3. Complete sparse input stays sparse under missing="impute"
# ----------------------------------------------------------------------

def test_complete_sparse_input_is_not_densified_with_missing_impute():
    # 1000 x 2000 at 1%: a dense copy is 16 MB, the matrix 0.24 MB. Before,
    # missing="impute" fit (and partial_fit) peaked at 32 MB, missing="error" at 8 MB.
    Xs = sp.random(1000, 2000, density=0.01, format="csr", random_state=0,
                   data_rvs=np.ones)
    plain = BernoulliRBM(n_components=2, n_iter=1, batch_size=100, random_state=0)
    gappy = clone(plain).set_params(missing="impute")
    peaks = [[traced_peak(lambda: model.fit(Xs)), traced_peak(lambda: model.partial_fit(Xs)),
              traced_peak(lambda: model.transform(Xs)),
              traced_peak(lambda: model.score_samples(Xs))] for model in (plain, gappy)]
    for with_error, with_impute in zip(*peaks):
        assert with_impute < 1.1 * with_error + 2 ** 20, peaks
    fresh = [clone(m).fit(Xs) for m in (plain, gappy)]
    np.testing.assert_array_equal(fresh[0].components_, fresh[1].components_)
    np.testing.assert_array_equal(fresh[0].intercept_hidden_, fresh[1].intercept_hidden_)
    np.testing.assert_array_equal(fresh[0].intercept_visible_, fresh[1].intercept_visible_)


def test_imputer_refusing_sparse_input_says_that_the_model_densifies_gaps():
    X = _binary_with_gaps()
    with pytest.raises(TypeError) as error:
        RBMImputer().fit(sp.csr_matrix(X))
    message = str(error.value)
    assert "without densifying" not in message
    assert "densifying it (sparse X without NaN stays sparse)" in message


# ----------------------------------------------------------------------
# 4. A list of float rows with None is numbers
# ----------------------------------------------------------------------

def test_a_list_of_float_rows_with_none_is_imputed_as_numbers():
    rng = np.random.default_rng(0)
    values = rng.normal(size=(60, 3))
    values[rng.random(values.shape) < 0.2] = np.nan
    rows = [[None if np.isnan(v) else float(v) for v in row] for row in values]
    imputer = RBMImputer(random_state=0)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # (no "real numbers among labels")
        out = imputer.fit_transform(rows)
    assert isinstance(imputer.estimator_, GaussianBernoulliRBM)
    assert out.dtype == np.float64
    np.testing.assert_array_equal(out, RBMImputer(random_state=0).fit_transform(values))
    binary = _binary_with_gaps()
    listed = [[None if np.isnan(v) else v for v in row] for row in binary.tolist()]
    imputer = RBMImputer(random_state=0).fit(listed)
    assert isinstance(imputer.estimator_, BernoulliRBM)
    np.testing.assert_array_equal(imputer.transform(listed),
                                  RBMImputer(random_state=0).fit(binary).transform(binary))
    # The model given the list itself reads None as NaN too.
    model = BernoulliRBM(n_components=3, n_iter=2, random_state=0, missing="impute")
    np.testing.assert_array_equal(clone(model).fit(listed).components_,
                                  clone(model).fit(binary).components_)


def test_integer_and_text_labels_with_none_stay_labels():
    integers = [[1, 2], [3, None], [2, 5], [None, 2]] * 10
    imputer = RBMImputer(random_state=0).fit(integers)
    assert isinstance(imputer.estimator_, CategoricalRBM)
    out = imputer.transform(integers)
    assert out.dtype == object and {type(v) for v in out.ravel()} == {int}
    text = [["a", 1.5], [None, 2.5], ["b", None]] * 10
    with pytest.warns(UserWarning, match="holds real numbers"):
        imputer = RBMImputer(random_state=0).fit(text)
    assert isinstance(imputer.estimator_, CategoricalRBM)


# ----------------------------------------------------------------------
# 5. Domain errors report the observed entries' extremes
# ----------------------------------------------------------------------

def test_a_domain_error_reports_the_extremes_of_the_observed_entries_only():
    X = np.nan_to_num(_binary_with_gaps(n_features=5))
    model = BernoulliRBM(n_components=3, n_iter=2, random_state=0, missing="impute").fit(X)
    for call in (model.conditional_sample, model.conditional_marginals, model.transform):
        with pytest.raises(ValueError, match=r"minimum 0\.7 and maximum 1\.5\."):
            call(np.array([[0.7, np.nan, np.nan, np.nan, 1.5]]))
    imputer = RBMImputer(BernoulliRBM(n_components=3, n_iter=2, random_state=0)).fit(
        _binary_with_gaps(n_features=5))
    with pytest.raises(ValueError, match=r"minimum 2\.0 and maximum 2\.0\."):
        imputer.transform(np.array([[np.nan, 2.0, np.nan, np.nan, np.nan]]))


# ----------------------------------------------------------------------
# 6. transform of a complete DataFrame validates it once
# ----------------------------------------------------------------------

def test_transform_of_a_complete_frame_warns_of_its_names_once():
    X = np.nan_to_num(_binary_with_gaps())
    model = BernoulliRBM(n_components=3, n_iter=2, random_state=0, missing="impute").fit(X)
    frame = pd.DataFrame(X, columns=[f"c{i}" for i in range(X.shape[1])])
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        H = model.transform(frame)
    names = [w for w in caught if "feature names" in str(w.message)]
    assert len(names) == 1, [str(w.message) for w in caught]
    np.testing.assert_allclose(H, model.transform(X), rtol=1e-12)


@pytest.mark.parametrize("form", ["frame", "list"])
def test_transform_of_complete_input_keeps_its_dtype_whatever_missing_is(form):
    # Validated once on the gap path, a float64 DataFrame (or a list) came
    # back in a float32 model's dtype with missing="impute", and in float64
    # with missing="error".
    X = np.nan_to_num(_binary_with_gaps())
    given = pd.DataFrame(X) if form == "frame" else X.tolist()
    outputs = []
    for missing in ("error", "impute"):
        model = BernoulliRBM(n_components=3, n_iter=2, random_state=0,
                             missing=missing).fit(X.astype(np.float32))
        assert model.components_.dtype == np.float32
        outputs.append(model.transform(given))
    assert outputs[0].dtype == outputs[1].dtype == np.float64
    np.testing.assert_array_equal(outputs[0], outputs[1])


def test_a_plain_tuple_is_still_no_random_state():
    # The imputer's seed is passed as rbm._streams.Entropy; a plain tuple
    # passed as random_state was taken as seed material by every call.
    X = np.nan_to_num(_binary_with_gaps())
    model = BernoulliRBM(n_components=3, n_iter=2, random_state=0).fit(X)
    for call in (lambda: model.sample(2, random_state=(1, 2, 3, 4)),
                 lambda: model.log_partition("ais", n_chains=10, n_betas=20, random_state=(1,))):
        with pytest.raises(ValueError, match="cannot be used to seed"):
            call()


def test_an_imputer_seeded_by_a_random_state_draws_its_posterior_as_before():
    # The marginals' seed is drawn from a copy of a RandomState instance: the
    # posterior draws take the stream where fit leaves it, as they did.
    from rbm._streams import draw_entropy
    X = _binary_with_gaps()
    imputer = RBMImputer(BernoulliRBM(n_components=3, n_iter=2, random_state=0),
                         sample_posterior=True,
                         random_state=np.random.RandomState(7)).fit(X)
    fresh = np.random.RandomState(7)
    assert imputer.random_state_.get_state()[1].tolist() == fresh.get_state()[1].tolist()
    assert imputer.marginal_seed_ == tuple(draw_entropy(np.random.RandomState(7)))
