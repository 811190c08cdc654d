"""RBMImputer: scikit-learn's imputer conventions, and training on incomplete rows."""

import warnings

import numpy as np
import pytest
from sklearn.base import clone
from sklearn.compose import ColumnTransformer
from sklearn.pipeline import make_pipeline
from sklearn.linear_model import LogisticRegression
from sklearn.utils.estimator_checks import parametrize_with_checks

from rbm import (BernoulliRBM, CategoricalRBM, GaussianBernoulliRBM, RBMImputer,
                 UnknownCategoryError)
from rbm.impute import (DEFAULT_RULE, DEFAULT_WEIGHT_DECAY, DefaultRule, default_epochs,
                        default_estimator, default_n_components, declared_labels,
                        estimator_class_for,
                        neighbour_identity)


# The checks feed real-valued data (blobs, normals, uniforms), the domain of
# the Gaussian model; every check passes, none is listed as an exception.
# check_sample_weight_equivalence_on_dense_data passes only because it
# transforms complete rows, which an imputer returns unchanged: the weights
# themselves are tested below and in test_sample_weight.py.
@parametrize_with_checks([RBMImputer(GaussianBernoulliRBM(n_components=4, n_iter=3),
                                     random_state=0)])
def test_sklearn_compatible_imputer(estimator, check):
    check(estimator)


def two_patterns(n=40):
    """Rows [1, 1, 0, 0] and [0, 0, 1, 1] alternating, two entries removed."""
    X = np.array([[1, 1, 0, 0], [0, 0, 1, 1]] * (n // 2), dtype=float)
    X[0, 1] = X[1, 2] = np.nan
    return X


def test_default_estimator_follows_the_data():
    rng = np.random.default_rng(0)
    binary = two_patterns()
    real = rng.standard_normal((30, 3))
    real[0, 0] = np.nan
    labels = rng.choice(["a", "b"], (30, 2)).astype(object)
    labels[0, 1] = None
    counts = rng.integers(0, 5, (30, 2))
    for X, kind, missing in [(binary, BernoulliRBM, np.nan), (real, GaussianBernoulliRBM, np.nan),
                             (labels, CategoricalRBM, None), (counts, CategoricalRBM, -1)]:
        imputer = RBMImputer(random_state=0, missing_values=missing).fit(X)
        assert type(imputer.estimator_) is kind
        assert imputer.estimator_.missing == "impute"
    assert default_epochs(40) == 1000 and default_epochs(100000) == 10
    assert default_epochs(20000) == 40  # 1,000 batches of 20 rows: 40,000 updates


def test_default_model_size_follows_the_internal_columns():
    assert [default_n_components(n) for n in (3, 64, 100, 256, 651)] == [64, 64, 100, 256, 512]
    assert default_n_components(976) == 512
    rng = np.random.default_rng(0)
    # 70 features of 3 observed categories each: 210 one-hot columns, as many hidden units.
    labels = rng.choice(["a", "b", "c"], (40, 70)).astype(object)
    missing = np.zeros(labels.shape, dtype=bool)
    missing[0, 0] = True
    labels[missing] = None
    model = default_estimator(labels, missing, 0)
    assert type(model) is CategoricalRBM and model.n_components == 210
    assert model.dtype == np.float32 and model.weight_decay == DEFAULT_WEIGHT_DECAY
    # Two such features: 6 columns, the fewest hidden units.
    imputer = RBMImputer(random_state=0, missing_values=None).fit(labels[:, :2])
    assert imputer.estimator_.n_components == 64


def test_a_default_rule_sets_size_training_chains_and_learning_rate():
    rule = DefaultRule(min_hidden=8, max_hidden=16, updates=400, weight_decay=1e-2,
                       n_chains=10, learning_rate_scale=2.0)
    X = two_patterns()
    model = default_estimator(X, np.isnan(X), 0, rule)
    assert type(model) is BernoulliRBM
    assert model.n_components == 8  # 4 columns, raised to the rule's fewest
    assert rule.n_components(100) == 16  # and capped at its most
    assert model.n_iter == 200  # 40 rows are 2 batches of 20: 400 updates
    assert model.weight_decay == 1e-2 and model.n_chains == 10
    assert model.learning_rate == 2 * 0.06  # twice "auto" with binary units
    labels = np.array([["a", "b"], ["b", "a"]] * 20, dtype=object)
    categorical = default_estimator(labels, np.zeros(labels.shape, bool), 0, rule)
    assert categorical.learning_rate == 2 * 0.04
    # Without a rule, DEFAULT_RULE: what RBMImputer(estimator=None) fits.
    fitted = RBMImputer(random_state=0).fit(X).estimator_
    assert fitted.n_chains == DEFAULT_RULE.n_chains
    assert fitted.n_components == DEFAULT_RULE.n_components(4)


def test_a_default_rule_sets_the_hidden_type_and_an_explicit_learning_rate():
    # An explicit rate wins over the scale on the estimator's default rate, so
    # a rule for real-valued hidden units does not follow that default.
    rule = DefaultRule(min_hidden=8, max_hidden=8, updates=40, hidden="relu",
                       learning_rate=0.013, learning_rate_scale=3.0)
    X = two_patterns()
    model = default_estimator(X, np.isnan(X), 0, rule)
    assert model.hidden == "relu" and model.learning_rate == 0.013
    fitted = RBMImputer(model, random_state=0).fit(X).estimator_
    assert fitted.hidden == "relu" and fitted._hidden_unit.name == "relu"
    assert DEFAULT_RULE.options(BernoulliRBM, 40, 0)["hidden"] == "bernoulli"


def test_a_default_rule_lowers_the_decay_of_many_categories_only():
    rule = DefaultRule(weight_decay=5e-3, decay_categories=4.0)
    assert rule.decay(None) == 5e-3 and rule.decay(3.0) == 5e-3  # never raised
    assert rule.decay(20.0) == pytest.approx(1e-3)
    rng = np.random.default_rng(0)
    # 8 observed categories in each of 3 features: 5e-3 x 4 / 8.
    labels = np.array([rng.permutation(8) for _ in range(3)]).T.repeat(5, axis=0)
    model = default_estimator(labels.astype(str).astype(object),
                              np.zeros(labels.shape, bool), 0, rule)
    assert type(model) is CategoricalRBM and model.weight_decay == pytest.approx(2.5e-3)
    X = two_patterns()  # binary: one column per feature, the decay as given
    assert default_estimator(X, np.isnan(X), 0, rule).weight_decay == 5e-3
    assert DefaultRule(weight_decay=5e-3).decay(20.0) == 5e-3  # off unless asked


def test_neighbour_identity_measures_near_duplicate_rows():
    rng = np.random.default_rng(0)
    # 200 rows of 30 features uniform over 20 labels: a pair agrees on
    # Binomial(30, 1/20) features (mean 1.5); 12 or more has probability
    # below 1e-8, so even the best of 199 neighbours stays under 0.4.
    labels = rng.integers(0, 20, (200, 30)).astype(object)
    none = np.zeros(labels.shape, bool)
    assert neighbour_identity(labels, none) < 0.4
    # Each row twice: every row's nearest other row is its copy.
    assert neighbour_identity(np.vstack([labels, labels]), np.zeros((400, 30), bool)) == 1.0
    # A row is not its own neighbour: two rows agreeing on 2 of 4 features.
    pair = np.array([["a", "b", "c", "d"], ["a", "b", "x", "y"]], dtype=object)
    assert neighbour_identity(pair, np.zeros(pair.shape, bool)) == 0.5
    # Missing entries count neither way: the disagreements hidden, identical.
    gaps = np.zeros(pair.shape, bool)
    gaps[1, 2:] = True
    assert neighbour_identity(pair, gaps) == 1.0
    assert neighbour_identity(pair[:1], gaps[:1]) == 0.0


def test_the_decay_of_many_categories_is_lowered_only_for_near_duplicates():
    rule = DefaultRule(weight_decay=5e-3, decay_categories=4.0, decay_identity=0.7)
    rng = np.random.default_rng(1)
    # 10 features of 20 labels: a pair agrees on Binomial(10, 1/20) of
    # them, 7 or more (identity 0.7) with probability below 1e-7.
    distinct = rng.integers(0, 20, (100, 10)).astype(object)
    copies = np.vstack([distinct[:50], distinct[:50]])  # identity 1
    q = np.mean([len(set(column)) for column in copies.T])  # about 18.5
    for X, expected in [(distinct, 5e-3), (copies, 5e-3 * 4 / q)]:
        model = default_estimator(X, np.zeros(X.shape, bool), 0, rule)
        assert model.weight_decay == pytest.approx(expected)
    # The default rule does this too (and never for binary data).
    model = default_estimator(copies, np.zeros(copies.shape, bool), 0)
    assert model.weight_decay < DEFAULT_WEIGHT_DECAY / 3
    assert default_estimator(distinct, np.zeros(distinct.shape, bool), 0).weight_decay \
        == DEFAULT_WEIGHT_DECAY


def test_imputes_the_obvious_value_and_draws_from_the_posterior():
    X = two_patterns()
    imputer = RBMImputer(random_state=0).fit(X)
    out = imputer.transform(X)
    assert out[0].tolist() == [1, 1, 0, 0] and out[1].tolist() == [0, 0, 1, 1]
    assert np.array_equal(out[2:], X[2:])
    # Draws: the observed entries stay, the missing ones are 0/1, and the
    # model's posterior puts about 0.99 on the obvious value.
    draws = RBMImputer(random_state=0, sample_posterior=True).fit(X)
    samples = np.array([draws.transform(X[:2]) for _ in range(50)])
    assert np.all(samples[:, 0, [0, 2, 3]] == [1, 0, 0])
    assert set(np.unique(samples[:, 0, 1])) <= {0.0, 1.0}
    # p >= 0.9 makes 40 or more ones in 50 draws a near-certainty (binomial
    # tail below 1e-3); a sampler ignoring the observed entries gives about 25.
    assert samples[:, 0, 1].sum() >= 40


def test_gaussian_imputation_is_the_conditional_mean_in_data_units():
    rng = np.random.default_rng(1)
    X = rng.standard_normal((60, 3)) * [1.0, 10.0, 0.1] + [0.0, 50.0, -3.0]
    X[rng.random(X.shape) < 0.2] = np.nan
    model = GaussianBernoulliRBM(n_components=4, n_iter=5, random_state=0)
    imputer = RBMImputer(model, random_state=0).fit(X)
    out = imputer.transform(X)
    standardised = (X - imputer.mean_) / imputer.scale_
    mean, _ = imputer.estimator_.conditional_marginals(standardised)
    np.testing.assert_allclose(out, mean * imputer.scale_ + imputer.mean_, rtol=1e-12)
    np.testing.assert_allclose(imputer.mean_, np.nanmean(X, axis=0))


def test_frames_pipelines_and_column_transformers():
    pd = pytest.importorskip("pandas")
    rng = np.random.default_rng(2)
    frame = pd.DataFrame({"colour": rng.choice(["red", "blue"], 80),
                          "size": rng.choice(["s", "m", "l"], 80),
                          "x": rng.standard_normal(80), "y": rng.standard_normal(80)})
    frame.loc[rng.random(80) < 0.2, "colour"] = None
    frame.loc[rng.random(80) < 0.2, "size"] = pd.NA
    frame.loc[rng.random(80) < 0.2, "x"] = np.nan
    labels = RBMImputer(random_state=0, add_indicator=True).set_output(transform="pandas")
    out = labels.fit_transform(frame[["colour", "size"]])
    assert list(out.columns) == ["colour", "size", "missingindicator_colour",
                                 "missingindicator_size"]
    assert out[["colour", "size"]].notna().all().all()
    assert set(out["size"]) <= {"s", "m", "l"}
    assert list(labels.get_feature_names_out()) == list(out.columns)
    columns = ColumnTransformer([
        ("labels", RBMImputer(random_state=0), ["colour", "size"]),
        ("numbers", RBMImputer(random_state=0), ["x", "y"])])
    filled = columns.fit_transform(frame)
    assert filled.shape == (80, 4) and not pd.isna(filled).any()
    target = (frame["y"] > 0).astype(int)
    pipeline = make_pipeline(RBMImputer(random_state=0), LogisticRegression())
    assert pipeline.fit(frame[["x", "y"]], target).score(frame[["x", "y"]], target) > 0.8


def test_bad_input_is_refused_with_clear_errors():
    labels = np.array([["a", None], ["b", None], ["a", None]], dtype=object)
    with pytest.raises(ValueError, match="feature 1 has no observed value"):
        RBMImputer(random_state=0).fit(labels)
    imputer = RBMImputer(random_state=0).fit(np.array([["a", "x"], ["b", "y"]] * 5,
                                                      dtype=object))
    with pytest.raises(ValueError, match="feature 0 has the value 'c'"):
        imputer.transform(np.array([["c", None]], dtype=object))
    with pytest.raises(ValueError, match="2 features"):
        imputer.transform(np.array([["a", "x", "z"]], dtype=object))


@pytest.mark.parametrize("call", ["fit", "fit_transform", "transform"])
def test_sparse_input_is_refused_with_what_to_do(call):
    # scikit-learn's "Sparse data was passed for X, but dense data is
    # required" said nothing of gaps (a sparse matrix's absent entries are 0)
    # nor of the estimator that takes sparse rows with gaps.
    import scipy.sparse as sp
    X = (np.random.default_rng(0).random((30, 4)) < 0.4).astype(float)
    X[0, 1] = np.nan
    imputer = RBMImputer(BernoulliRBM(n_components=2, n_iter=2, random_state=0))
    fitted = clone(imputer).fit(X)
    with pytest.raises(TypeError) as error:
        if call == "transform":
            fitted.transform(sp.csr_matrix(X))
        else:
            getattr(imputer, call)(sp.csr_matrix(X))
    message = str(error.value)
    assert message.startswith("RBMImputer takes dense X, but got a sparse csr_matrix")
    assert "X.toarray()" in message and "BernoulliRBM(missing='impute')" in message
    # What it advises works: the dense rows, and the model on the sparse ones.
    assert not np.isnan(fitted.transform(sp.csr_matrix(X).toarray())).any()
    BernoulliRBM(n_components=2, n_iter=2, missing="impute").fit(sp.csr_matrix(X))


@pytest.mark.parametrize("kind", ["binary", "real", "labels"])
def test_a_feature_never_observed_in_fit_is_refused_for_every_kind(kind):
    # Issue 17: a clear error where the model needs an observed entry.  A
    # binary column missing in every row used to be fitted silently and
    # imputed with the model's initial guess.
    pd = pytest.importorskip("pandas")
    rng = np.random.default_rng(0)
    values = {"binary": (rng.random((30, 3)) < 0.5).astype(float),
              "real": rng.standard_normal((30, 3)),
              "labels": rng.choice(["a", "b"], (30, 3)).astype(object)}[kind]
    gap = None if kind == "labels" else np.nan
    values[:, 1] = gap
    with pytest.raises(ValueError, match="feature 1 has no observed value in the data given "
                                         "to fit .1 such feature.s. of 3.*drop it or fill it"):
        RBMImputer(random_state=0).fit(values)
    frame = pd.DataFrame(values, columns=["x", "y", "z"])
    with pytest.raises(ValueError, match="column 'y' has no observed value"):
        RBMImputer(random_state=0).fit(frame)
    values[:] = gap
    with pytest.raises(ValueError, match="3 such feature.s. of 3"):
        RBMImputer(random_state=0).fit(values)


@pytest.mark.parametrize("sample_posterior", [False, True])
def test_only_rows_with_gaps_reach_the_model(sample_posterior):
    # Complete rows were sent through the RBM's chains too (2.6 s for 2,000
    # complete rows against 0.02 s for the 20 with gaps), and a row's draw
    # depended on how many complete rows came before it in the batch.
    rng = np.random.default_rng(0)
    X = (rng.random((200, 6)) < 0.5).astype(float)
    gaps = X[:10].copy()
    gaps[rng.random(gaps.shape) < 0.3] = np.nan
    gaps[:, 0] = np.nan
    # 20 hidden units: more states than the exact path enumerates, so chains.
    template = RBMImputer(BernoulliRBM(n_components=20, n_iter=2, random_state=0),
                          sample_posterior=sample_posterior, random_state=0)
    imputer = clone(template).fit(X)
    calls = []
    model = imputer.estimator_
    for name in ("_complete_by_marginals", "conditional_sample"):
        original = getattr(model, name)

        def counted(rows, *args, _original=original, **kwargs):
            calls.append(len(rows))
            return _original(rows, *args, **kwargs)

        setattr(model, name, counted)
    mixed = imputer.transform(np.vstack([X[10:], gaps]))
    assert calls == [len(gaps)]
    np.testing.assert_array_equal(mixed[:-len(gaps)], X[10:])
    alone = clone(template).fit(X).transform(gaps)
    np.testing.assert_array_equal(mixed[-len(gaps):], alone)
    assert imputer.transform(X[10:20]).tolist() == X[10:20].tolist() and calls == [10]
    # The observed entries of complete rows are still checked.
    with pytest.raises(ValueError, match=r"\[0, 1\]"):
        imputer.transform(np.vstack([gaps, np.full((1, 6), 2.0)]))


def test_rows_missing_every_entry_are_imputed_from_the_model_alone():
    # No row needs an observed entry: p(missing | nothing) is the model's
    # marginal, so a row with every entry missing gets its most probable
    # values (binary data: each unit's marginal mode).
    X = two_patterns()
    imputer = RBMImputer(BernoulliRBM(n_components=4, n_iter=20, random_state=0),
                         random_state=0).fit(X)
    marginals = imputer.estimator_.conditional_marginals(np.full((1, 4), np.nan))[0]
    out = imputer.transform(np.full((2, 4), np.nan))
    np.testing.assert_array_equal(out, np.tile(marginals > 0.5, (2, 1)).astype(float))


def test_identical_rows_get_identical_real_valued_imputations():
    # The conditional means of real-valued features are Gibbs estimates (16
    # hidden units are past the exact method): each distinct row is
    # estimated once, so copies of a row, and rows with nothing observed,
    # are filled alike (each with its own chains they differed by up to a
    # standard deviation where the conditional has several modes).
    from sklearn.datasets import load_iris
    X = load_iris().data.copy()
    X[np.random.default_rng(0).random(X.shape) < 0.2] = np.nan
    imputer = RBMImputer(GaussianBernoulliRBM(n_components=16, n_iter=20, random_state=0),
                         random_state=0).fit(X)
    row = np.array([np.nan, 3.0, np.nan, np.nan])
    out = imputer.transform(np.vstack([row, X[:5], row, np.full((2, 4), np.nan), row]))
    np.testing.assert_array_equal(out[0], out[6])
    np.testing.assert_array_equal(out[0], out[9])
    np.testing.assert_array_equal(out[7], out[8])
    assert not np.array_equal(out[0], out[7])  # (a different question)


BAD_IMPUTER_WEIGHTS = [
    ("negative", np.r_[-1.0, np.ones(39)], "must be non-negative"),
    ("NaN", np.r_[np.nan, np.ones(39)], "must be finite"),
    ("too short", np.ones(39), "length 40"),
    ("too long", np.ones(41), "length 40"),
]


@pytest.mark.parametrize("estimator", [None, BernoulliRBM(n_components=3, n_iter=2)],
                         ids=["default", "given"])
@pytest.mark.parametrize("label, weights, words", BAD_IMPUTER_WEIGHTS,
                         ids=[w[0] for w in BAD_IMPUTER_WEIGHTS])
def test_bad_weights_are_refused_by_the_imputer(estimator, label, weights, words):
    imputer = RBMImputer(estimator, random_state=0)
    with pytest.raises(ValueError, match=f"sample_weight {words}|sample_weight.*{words}"):
        imputer.fit(two_patterns(), sample_weight=weights)
    assert not hasattr(imputer, "estimator_")


def test_a_refused_fit_leaves_the_imputer_as_it_was():
    # A refused fit of other data must not leave the width and names of that
    # data on an imputer whose RBM was fitted to the earlier data: transform
    # of the earlier data kept working and its feature names held.
    pd = pytest.importorskip("pandas")
    from sklearn.exceptions import NotFittedError
    X = two_patterns()
    frame = pd.DataFrame(X, columns=list("abcd"))
    imputer = RBMImputer(BernoulliRBM(n_components=3, n_iter=2, random_state=0),
                         random_state=0).fit(frame)
    expected = imputer.transform(frame)
    wider = pd.DataFrame(np.hstack([X, X]), columns=list("pqrstuvw"))
    with pytest.raises(ValueError, match="sample_weight must be non-negative"):
        imputer.fit(wider, sample_weight=-np.ones(len(X)))
    assert imputer.n_features_in_ == 4
    assert list(imputer.feature_names_in_) == list("abcd")
    assert list(imputer.get_feature_names_out()) == list("abcd")
    np.testing.assert_array_equal(imputer.transform(frame), expected)
    # A refused first fit leaves an unfitted imputer: NotFittedError, as before it.
    fresh = RBMImputer(BernoulliRBM(n_components=3, n_iter=2), random_state=0)
    with pytest.raises(ValueError, match="sample_weight must be non-negative"):
        fresh.fit(X, sample_weight=-np.ones(len(X)))
    assert not hasattr(fresh, "n_features_in_")
    with pytest.raises(NotFittedError):
        fresh.transform(X)


# --------------------------------------------------------------------------
# Training on incomplete rows (missing="impute")
# --------------------------------------------------------------------------


def test_missing_impute_leaves_complete_data_training_unchanged():
    import scipy.sparse as sp
    rng = np.random.default_rng(3)
    X = (rng.random((60, 5)) < 0.4).astype(float)
    labels = rng.choice(["a", "b", "c"], (60, 3))
    for estimator, data in [(BernoulliRBM, X), (BernoulliRBM, sp.csr_matrix(X)),
                            (CategoricalRBM, labels)]:
        plain = estimator(n_components=3, n_iter=4, random_state=0).fit(data)
        option = estimator(n_components=3, n_iter=4, random_state=0, missing="impute").fit(data)
        assert np.array_equal(plain.components_, option.components_)
        assert np.array_equal(plain.score_samples(data), option.score_samples(data))


def test_missing_error_keeps_the_clear_error():
    X = np.array([[0.0, np.nan], [1.0, 1.0]])
    with pytest.raises(ValueError, match="missing='impute' trains on such rows"):
        BernoulliRBM(n_iter=1).fit(X)
    with pytest.raises(ValueError, match="missing='impute' trains on such rows"):
        CategoricalRBM(n_iter=1).fit(np.array([["a", None], ["b", "c"]], dtype=object))


@pytest.mark.parametrize("estimator", [BernoulliRBM, GaussianBernoulliRBM])
def test_an_infinite_entry_is_not_sent_to_missing_impute(estimator):
    # inf is no gap: the advice to train on gaps with missing="impute" was
    # given to models that had it already.
    X = np.array([[0.0, 1.0], [1.0, 0.0]] * 5)
    X[0, 0], X[1, 1] = np.inf, np.nan
    with pytest.raises(ValueError, match=r"\(0 NaN, 1 inf values\)") as error:
        estimator(n_iter=1, missing="impute").fit(X)
    assert "missing='impute'" not in str(error.value)


def test_an_infinite_real_value_is_refused_by_the_imputer_by_place():
    # The standardisation of real-valued columns turned one inf into a column
    # of them, and the RBM's error then counted "0 NaN, 59 inf values" and
    # advised the RBMImputer the user was calling.
    rng = np.random.default_rng(0)
    X = rng.standard_normal((30, 3))
    X[0, 2] = np.nan
    bad = X.copy()
    bad[4, 1] = -np.inf
    # The advice named missing_values=np.inf for -inf too (review s48, 6).
    match = (r"RBMImputer: X holds 1 infinite entries \(the first, -inf, in row 4, feature "
             r"1\); GaussianBernoulliRBM takes finite values only.*set "
             r"missing_values=-np.inf to impute them \(missing_values matches one value")
    imputer = RBMImputer(GaussianBernoulliRBM(n_components=2, n_iter=2, random_state=0),
                         random_state=0)
    with pytest.raises(ValueError, match=match):
        imputer.fit(bad)
    imputer.fit(X)
    with pytest.raises(ValueError, match=match):
        imputer.transform(bad)
    # As the placeholder, inf is imputed like any other (np.nan_to_num would
    # also turn -inf into a finite number, leaving nothing to impute).
    placeholder = np.where(np.isnan(bad), 0.0, bad)
    filled = imputer.set_params(missing_values=-np.inf).fit(placeholder).transform(placeholder)
    assert np.isfinite(filled).all()
    np.testing.assert_array_equal(np.delete(filled, 4, axis=0), np.delete(placeholder, 4, axis=0))
    # +inf beside the placeholder -inf: the advice names the other sign.
    placeholder[7, 0] = np.inf
    with pytest.raises(ValueError, match=r"\(the first, inf, in row 7, feature 0\).* set "
                                         r"missing_values=np.inf to impute"):
        imputer.transform(placeholder)


def test_training_on_gaps_recovers_the_dependence_that_dropping_rows_loses():
    # Two blocks of 4 copies of one bit each; 30% of entries missing, so only
    # 0.7**8 = 6% of rows are complete.  The question: p(v_0 = 1 | v_1..3 = 1,
    # v_4..7 = 0), 1/2 under independent units, near 1 for a model that
    # learned that copies agree.  Trained on the rows with gaps (fit, fit with
    # early stopping, a stream of partial_fit passes), the model must answer
    # closer to the model trained on the complete data than a model trained
    # on the complete rows only (same settings and seeds).
    rng = np.random.default_rng(4)
    bits = rng.integers(0, 2, (400, 2))
    X = np.repeat(bits, 4, axis=1).astype(float)
    gaps = X.copy()
    gaps[rng.random(X.shape) < 0.3] = np.nan
    query = np.array([[np.nan, 1, 1, 1, 0, 0, 0, 0]], dtype=float)

    def answer(model, data):
        return model.fit(data).conditional_marginals(query)[0, 0]

    settings = dict(n_components=4, n_iter=100, random_state=0)
    complete = answer(BernoulliRBM(**settings), X)
    dropped = answer(BernoulliRBM(**settings), X[~np.isnan(gaps).any(axis=1)])
    assert complete > 0.9 and dropped < 0.7
    answers = [answer(BernoulliRBM(**settings, missing="impute"), gaps),
               answer(BernoulliRBM(**settings, missing="impute", early_stopping=True), gaps)]
    stream = BernoulliRBM(n_components=4, random_state=0, missing="impute")
    for _ in range(100):
        stream.partial_fit(gaps)
    answers.append(stream.conditional_marginals(query)[0, 0])
    assert all(abs(a - complete) < abs(dropped - complete) for a in answers), answers


@pytest.mark.parametrize("kind", ["bernoulli", "categorical", "gaussian"])
def test_early_stopping_scores_validation_rows_with_gaps_by_their_observed_entries(kind):
    # The validation score of rows with gaps is log p(observed entries), the
    # missing entries summed out (not log p of a draw filling them, which
    # rewards confident conditionals): the restored model's exact
    # observed_log_likelihood of the same validation rows must equal it.
    from rbm._training import validation_split
    rng = np.random.default_rng(6)
    if kind == "categorical":
        X = rng.choice(np.array(["a", "b", "c"], dtype=object), (90, 4))
        X[rng.random(X.shape) < 0.25] = None
        model = CategoricalRBM(n_components=3, categories=[["a", "b", "c"]] * 4)
    elif kind == "gaussian":
        X = rng.normal(size=(90, 4))
        X[rng.random(X.shape) < 0.25] = np.nan
        model = GaussianBernoulliRBM(n_components=3)
    else:
        X = (rng.random((90, 5)) < 0.4).astype(float)
        X[rng.random(X.shape) < 0.25] = np.nan
        model = BernoulliRBM(n_components=3)
    model.set_params(n_iter=6, random_state=0, missing="impute", early_stopping=True,
                     validation_fraction=0.3, n_iter_no_change=6).fit(X)
    rows = np.arange(len(X), dtype=float)[:, None]
    _, valid, _, _ = validation_split(rows, True, 0.3, 0)
    held = valid[:, 0].astype(int)
    missing = np.array([[v is None or v != v for v in row] for row in X[held]])
    assert missing.any(axis=1).sum() >= 10  # the score is about rows with gaps
    observed = model.observed_log_likelihood(X[held])
    assert set(observed.method) <= {"exact", "complete"}
    assert model.best_validation_score_ == pytest.approx(observed.log_p.mean(), abs=1e-9)


def test_none_and_nan_in_object_arrays_are_missing_by_default():
    labels = np.array([["a", "x"], ["b", "y"]] * 10, dtype=object)
    gaps = labels.copy()
    gaps[0, 1], gaps[1, 0] = None, np.nan
    out = RBMImputer(random_state=0).fit(labels).transform(gaps)
    assert out[0, 1] in ("x", "y") and out[1, 0] in ("a", "b")
    assert out[0, 0] == "a" and out[1, 1] == "y"


@pytest.mark.parametrize("missing_values, X", [
    (-1, np.array([[1, 0], [-1, 1], [np.nan, 0], [0, 1]] * 5, dtype=float)),
    ("", np.array([["a", "x"], ["", "y"], [None, "x"], ["b", np.nan]] * 5, dtype=object)),
    (None, np.array([["a", "x"], [None, "y"], [np.nan, "x"], ["b", "y"]] * 5, dtype=object)),
], ids=["number", "string", "None"])
def test_gaps_that_missing_values_does_not_match_are_refused(missing_values, X):
    # Such entries (NaN, None) were trained on as gaps by the RBM, yet left
    # unfilled in the output; the default estimator even picked a Gaussian
    # model for 0/1 data because of them.  As scikit-learn's imputers refuse
    # NaN that is not missing_values, they are refused by place.
    imputer = RBMImputer(missing_values=missing_values, random_state=0)
    with pytest.raises(ValueError, match=r"X holds \d+ NaN, None or pandas NA entries although "
                                         r"missing_values=.*\(the first in row 2, feature 0\)"
                                         r".*Set missing_values=np.nan"):
        imputer.fit(X)
    assert not hasattr(imputer, "n_features_in_")
    gaps = np.array([v is None or v != v for v in X.ravel()]).reshape(X.shape)
    complete = X[~gaps.any(axis=1)]
    imputer.set_params(estimator=(BernoulliRBM if X.dtype.kind == "f" else CategoricalRBM)(
        n_components=2, n_iter=2, random_state=0)).fit(complete)
    with pytest.raises(ValueError, match="X holds .* NaN, None or pandas NA entries"):
        imputer.transform(X)


@pytest.mark.parametrize("dtype", [float, int, bool])
@pytest.mark.parametrize("missing_values", ["?", None])
def test_a_placeholder_no_number_can_equal_is_refused_for_numbers(dtype, missing_values):
    # It matched nothing, so nothing was imputed, silently; scikit-learn's
    # imputers refuse it.
    X = np.array([[0, 1], [1, 0]] * 10).astype(dtype)
    imputer = RBMImputer(BernoulliRBM(n_components=2, n_iter=2), missing_values=missing_values)
    with pytest.raises(ValueError, match=r"X holds numbers \(dtype .*\), but missing_values="
                                         ".* is not a number"):
        imputer.fit(X)


@pytest.mark.parametrize("estimator", [BernoulliRBM, GaussianBernoulliRBM])
def test_numbers_in_an_object_array_with_a_text_placeholder(estimator):
    # UCI-style data: numbers with "?" for the gaps.  The numeric RBM's rows
    # were converted to floats before the placeholder was taken out, so the
    # placeholder itself was refused as "values that are not numbers".
    X = np.array([[0, 1], [1, 0]] * 10).astype(object)
    X[0, 0] = "?"
    imputer = RBMImputer(estimator(n_components=2, n_iter=2, random_state=0),
                         missing_values="?", random_state=0)
    out = imputer.fit(X).transform(X)
    assert out[0, 0] != "?" and np.isfinite(float(out[0, 0]))
    np.testing.assert_array_equal(out[1:], X[1:])
    X[1, 1] = "many"  # a value that is not the placeholder is still refused
    with pytest.raises(ValueError, match="takes numbers, but X holds values that are not "
                                         r"\(.*'many'; feature 1\)"):
        imputer.transform(X)
    # In a DataFrame, by the column's name.
    pd = pytest.importorskip("pandas")
    imputer.fit(pd.DataFrame(X[2:], columns=["a", "b"]))
    with pytest.raises(ValueError, match=r"\(.*'many'; column 'b'\)"):
        imputer.transform(pd.DataFrame(X, columns=["a", "b"]))


def test_pandas_missing_markers_match_nan_and_pandas_na_alike():
    pd = pytest.importorskip("pandas")
    frame = pd.DataFrame({"a": pd.array([1, 0, None, 1] * 10, dtype="Int64"),
                          "b": pd.array(["x", "y", "x", None] * 10, dtype="string")})
    outs = [RBMImputer(CategoricalRBM(n_components=2, n_iter=2, random_state=0),
                       missing_values=marker, random_state=0).fit_transform(frame)
            for marker in (np.nan, pd.NA)]
    assert not pd.isna(outs[0]).any()
    np.testing.assert_array_equal(outs[0], outs[1])


def test_training_on_gaps_is_the_same_for_any_thread_count():
    from rbm import _gibbs
    rng = np.random.default_rng(5)
    X = (rng.random((80, 6)) < 0.4).astype(float)
    X[rng.random(X.shape) < 0.2] = np.nan
    models = []
    with _gibbs.kernel_settings(parallel_threshold=0):
        for n_jobs in (1, 3):
            model = BernoulliRBM(n_components=3, n_iter=3, random_state=0, missing="impute",
                                 n_jobs=n_jobs).fit(X)
            model.partial_fit(X[:30])
            models.append(model)
    assert np.array_equal(models[0].components_, models[1].components_)
    assert np.array_equal(models[0].h_samples_, models[1].h_samples_)


def test_sample_weight_reaches_the_estimator_and_integer_weights_act_as_repeats():
    # Issue 17, point 7: the imputer takes sample_weight too.  Weight 0 rows
    # are left out of training, so the model equals one fitted without them.
    rng = np.random.default_rng(0)
    X = (rng.random((120, 6)) < 0.4).astype(float)
    X[rng.random(X.shape) < 0.2] = np.nan
    weights = np.r_[np.zeros(20), np.ones(100)]
    estimator = BernoulliRBM(n_components=4, n_iter=3, random_state=0)
    weighted = RBMImputer(estimator=estimator, random_state=0).fit(X, sample_weight=weights)
    dropped = RBMImputer(estimator=estimator, random_state=0).fit(X[20:])
    np.testing.assert_array_equal(weighted.estimator_.components_,
                                  dropped.estimator_.components_)
    with pytest.raises(ValueError, match="sample_weight"):
        RBMImputer(estimator=estimator).fit(X, sample_weight=-np.ones(len(X)))


@pytest.mark.parametrize("kind", ["binary", "real", "labels"])
def test_a_feature_observed_only_in_rows_of_weight_zero_is_refused(kind):
    # Rows of weight 0 are left out, "the same model as without them"; but
    # without them such data is refused, while with them the feature was
    # fitted from nothing and imputed with the model's initial guess.
    rng = np.random.default_rng(0)
    X, model = {"binary": ((rng.random((30, 3)) < 0.5).astype(float), BernoulliRBM),
                "real": (rng.standard_normal((30, 3)), GaussianBernoulliRBM),
                "labels": (rng.choice(["a", "b"], (30, 3)).astype(object), CategoricalRBM)}[kind]
    X[1:, 1] = None if kind == "labels" else np.nan
    weights = np.r_[0.0, np.ones(29)]
    match = ("feature 1 has no observed value in the rows of positive sample_weight "
             r"\(1 such feature")
    for method in ("fit", "partial_fit"):
        with pytest.raises(ValueError, match=match):
            getattr(model(n_components=2, n_iter=2, random_state=0, missing="impute"),
                    method)(X, sample_weight=weights)
    imputer = RBMImputer(model(n_components=2, n_iter=2), random_state=0)
    with pytest.raises(ValueError, match=match):
        imputer.fit(X, sample_weight=weights)
    assert not hasattr(imputer, "estimator_")
    # Positive weight on that row: fitted; a later partial_fit may lack it.
    fitted = model(n_components=2, n_iter=2, random_state=0, missing="impute").fit(
        X, sample_weight=np.ones(30))
    fitted.partial_fit(X[1:], sample_weight=np.r_[0.0, np.ones(28)])


def test_a_numeric_model_given_labels_is_refused_clearly():
    labels = np.array([["red", None], ["blue", "x"]] * 5, dtype=object)
    with pytest.raises(ValueError, match="BernoulliRBM takes numbers, but X holds values "
                                         "that are not .*use CategoricalRBM for labels"):
        RBMImputer(BernoulliRBM(n_iter=1)).fit(labels)


def test_real_numbers_among_labels_are_pointed_out():
    # A frame of real and text columns reaches estimator=None as one object
    # array, which CategoricalRBM takes as labels: every distinct real value a
    # category.  The imputer says so; integers among labels are labels.
    pd = pytest.importorskip("pandas")
    rng = np.random.default_rng(0)
    mixed = pd.DataFrame({"x": rng.normal(size=40), "c": rng.choice(["a", "b"], 40)})
    mixed.loc[3, "x"], mixed.loc[5, "c"] = np.nan, None
    with pytest.warns(UserWarning, match="column 'x' holds real numbers .*ColumnTransformer"):
        RBMImputer(random_state=0).fit(mixed)
    labels = pd.DataFrame({"n": rng.integers(0, 3, 40).astype(object),
                           "c": rng.choice(["a", "b"], 40)})
    labels.loc[2, "c"] = None
    with warnings.catch_warnings():
        warnings.simplefilter("error", UserWarning)
        RBMImputer(random_state=0).fit(labels)


def gaussian_imputer():
    X = np.random.default_rng(0).standard_normal((40, 3))
    X[0, 1] = X[3, 2] = np.nan
    imputer = RBMImputer(GaussianBernoulliRBM(n_components=3, n_iter=2, random_state=0),
                         add_indicator=True, random_state=0).fit(X)
    return imputer, X


@pytest.mark.parametrize("attribute, value, match", [
    # get_feature_names_out made one name per n_features_in_, whatever the
    # model (names of the wrong count; for 2**62, memory exhausted and the
    # process killed, which this test does not risk on an unfixed tree).
    ("n_features_in_", 4, r"n_features_in_ must be its model's n_features_in_ \(3\)"),
    # Without the standardisation the imputed values came back in
    # standardised units, silently; other values failed in NumPy.
    ("mean_", None, "mean_ must be a finite float64 array of 3 entries"),
    ("mean_", np.zeros(2), "mean_ must be a finite float64 array of 3 entries"),
    ("scale_", np.array([1.0, 0.0, 1.0]), "scale_ must be .* each positive"),
    ("indicator_", None, "indicator_ must be the MissingIndicator"),
    ("estimator_", None, "estimator_ must be the fitted RBM"),
    ("random_state_", 0, "random_state_ must be a numpy RandomState"),
])
def test_the_imputers_own_fitted_attributes_are_named(attribute, value, match):
    imputer, X = gaussian_imputer()
    setattr(imputer, attribute, value)
    for call in (imputer.transform, lambda X: imputer.get_feature_names_out()):
        with pytest.raises(ValueError, match=match):
            call(X)


# --------------------------------------------------------------------------
# Real-world tables: column types and the columns' names in messages
# --------------------------------------------------------------------------


def tiny_labels_model():
    return CategoricalRBM(n_components=2, n_iter=2, random_state=0)


@pytest.mark.parametrize("dates", ["datetime", "timedelta", "datetime-tz"])
@pytest.mark.parametrize("beside", [True, False], ids=["beside-numbers", "alone"])
def test_date_columns_are_refused_by_name(dates, beside):
    # Beside numeric columns a date column made scikit-learn's validation
    # raise NumPy's DTypePromotionError, which names no column.
    pd = pytest.importorskip("pandas")
    values = {"datetime": pd.date_range("2020-01-01", periods=20),
              "timedelta": pd.to_timedelta(np.arange(20), unit="D"),
              "datetime-tz": pd.date_range("2020-01-01", periods=20, tz="UTC")}[dates]
    frame = pd.DataFrame({"when": values})
    if beside:
        frame["x"] = np.r_[np.nan, np.arange(19.0)]
    for estimator in (None, GaussianBernoulliRBM(n_components=2, n_iter=2), tiny_labels_model()):
        imputer = RBMImputer(estimator, random_state=0)
        with pytest.raises(ValueError, match="column 'when' holds dates or durations"):
            imputer.fit(frame)
        assert not hasattr(imputer, "n_features_in_")


def test_labels_mixing_strings_and_numbers_are_refused_by_name():
    # OneHotEncoder's "Encoders require their input argument must be
    # uniformly strings or numbers. Got ['int', 'str']" named neither the
    # column nor a value.
    pd = pytest.importorskip("pandas")
    frame = pd.DataFrame({"size": ["s", "m"] * 10,
                          "code": np.array(["x", 1, "x", 2] * 5, dtype=object)})
    match = (r"column 'code' mixes strings \(such as 'x'\) with other labels \(such as 1 "
             r"of type int\); a feature's labels must be uniformly strings or numbers")
    with pytest.raises(TypeError, match=match):
        tiny_labels_model().fit(frame)
    with pytest.raises(TypeError, match=match.replace("column 'code'", "feature 1")):
        tiny_labels_model().fit(frame.to_numpy())
    gaps = frame.copy()
    gaps.loc[0, "size"] = None
    for estimator in (None, tiny_labels_model()):
        with pytest.raises(TypeError, match=match):
            RBMImputer(estimator, random_state=0).fit(gaps)
    # One type per column is fine, whatever the types of the others.
    frame["code"] = frame["code"].astype(str)
    assert tiny_labels_model().fit(frame).n_features_in_ == 2


@pytest.mark.filterwarnings("ignore:X does not have valid feature names")
def test_the_models_messages_name_the_imputers_columns():
    # The model is fitted on the imputer's arrays, so it named an unseen
    # category of a DataFrame's column by position only ("feature 1").
    pd = pytest.importorskip("pandas")
    frame = pd.DataFrame({"colour": ["red", "blue"] * 10, "size": ["s", None, "m", "l"] * 5})
    imputer = RBMImputer(tiny_labels_model(), random_state=0).fit(frame)
    unseen = pd.DataFrame({"colour": [None], "size": ["xl"]})
    with pytest.raises(ValueError, match="CategoricalRBM: column 'size' has the value 'xl'") as raised:
        imputer.transform(unseen)
    # Renamed, it stays what it was: an UnknownCategoryError with its attributes
    # (the merge of the two made the renaming miss it: "feature 1" again).
    assert isinstance(raised.value, UnknownCategoryError)
    assert (raised.value.feature, raised.value.value) == (1, "xl")
    with pytest.raises(ValueError, match="feature 1 has the value 'xl'"):
        RBMImputer(tiny_labels_model(), random_state=0).fit(
            frame.to_numpy()).transform(unseen.to_numpy())
    # A message naming no feature passes through unchanged.
    with pytest.raises(ValueError, match="X has 1 features, but RBMImputer is expecting 2"):
        imputer.transform(frame.to_numpy()[:, :1])


@pytest.mark.parametrize("dtype", [np.int64, np.int32, np.uint8])
def test_integer_labels_keep_their_dtype(dtype):
    # Integer labels with a sentinel for the gaps came back as an object
    # array (object columns with set_output), where scikit-learn's imputers
    # keep an integer dtype.
    pd = pytest.importorskip("pandas")
    rng = np.random.default_rng(0)
    X = (rng.integers(0, 2, (30, 3)) * 7).astype(dtype)
    sentinel = 9
    X[:4, 1] = X[4:8, 2] = sentinel
    imputer = RBMImputer(tiny_labels_model(), missing_values=sentinel, random_state=0)
    out = imputer.fit_transform(X)
    assert out.dtype == X.dtype
    assert (out[:4, 1] != sentinel).all() and set(out[:4, 1].tolist()) <= set(
        X[4:, 1].tolist())
    np.testing.assert_array_equal(out[8:], X[8:])
    frame = imputer.set_output(transform="pandas").fit_transform(
        pd.DataFrame(X, columns=["a", "b", "c"]))
    assert list(frame.dtypes) == [np.dtype(dtype)] * 3
    np.testing.assert_array_equal(frame.to_numpy(), out)


def test_integer_labels_beyond_a_narrower_dtype_come_back_as_objects():
    # The imputed labels are categories of fit, which transform's narrower
    # dtype may not hold: they come back as objects, not wrapped around.
    X = np.array([[300, 5], [300, 6], [300, 7], [1, 5]] * 6)
    imputer = RBMImputer(CategoricalRBM(n_components=2, n_iter=20, random_state=0),
                         missing_values=-1, random_state=0).fit(X)
    out = imputer.transform(np.array([[-1, 5], [1, 6]], dtype=np.int8))
    assert out.dtype == object and out[0, 0] == 300
    assert imputer.transform(np.array([[-1, 5]], dtype=np.int16)).dtype == np.int16


@pytest.mark.filterwarnings("ignore:invalid value encountered in cast")
@pytest.mark.parametrize("categories, other", [([1, 2, 3], [1, 2]), ([-5, 7], [0])])
def test_a_gap_in_a_category_column_of_integers_stays_a_gap(categories, other):
    # pandas converts a frame of integer category columns (of different
    # categories) to int64, and turned a missing entry into -2**63:
    # CategoricalRBM learned it as a category, RBMImputer imputed nothing
    # there, and with missing="error" the gap was not refused.  (With equal
    # categories in every column pandas gives objects, and scikit-learn's
    # validation turns boolean categories into floats: both keep NaN.)
    pd = pytest.importorskip("pandas")
    frame = pd.DataFrame({"a": pd.Categorical(categories * (24 // len(categories))),
                          "b": pd.Categorical(other * (24 // len(other)))})
    frame.iloc[:2, 0] = np.nan
    model = CategoricalRBM(n_components=2, n_iter=2, random_state=0, missing="impute")
    assert [sorted(c.tolist()) for c in model.fit(frame).categories_] == [
        sorted(categories), sorted(other)]
    with pytest.raises(ValueError, match="got missing values .* the first in row 0, "
                                         "column 'a'"):
        CategoricalRBM(n_components=2, n_iter=2).fit(frame)
    for estimator in (None, tiny_labels_model()):
        out = RBMImputer(estimator, random_state=0).fit_transform(frame)
        assert out[0, 0] in categories and out[1, 0] in categories
        np.testing.assert_array_equal(out[2:], frame.iloc[2:].to_numpy(dtype=object))


@pytest.mark.parametrize("estimator", [BernoulliRBM, GaussianBernoulliRBM])
def test_numbers_in_an_object_array_come_back_as_floats(estimator):
    # They came back as an object array, numeric text ("1") left as text
    # beside the imputed floats; SimpleImputer's mean gives float64.
    pd = pytest.importorskip("pandas")
    X = np.array([[0, 1], [1, 0]] * 10).astype(object)
    X[0, 0], X[1, 1], X[2, 0] = None, "?", "1"
    imputer = RBMImputer(estimator(n_components=2, n_iter=2, random_state=0),
                         missing_values="?", random_state=0)
    with pytest.raises(ValueError, match="NaN, None or pandas NA entries"):
        imputer.fit(X)
    X[0, 0] = 1
    out = imputer.fit_transform(X)
    assert out.dtype == np.float64 and np.isfinite(out).all() and out[2, 0] == 1.0
    np.testing.assert_array_equal(out[3:], X[3:].astype(float))
    frame = pd.DataFrame(X, columns=["a", "b"])
    frame.iloc[1, 1] = None
    out = imputer.set_params(missing_values=np.nan).set_output(
        transform="pandas").fit_transform(frame)
    assert list(out.dtypes) == [np.float64] * 2 and out.notna().all().all()


@pytest.mark.parametrize("n_rows, match", [(0, r"0 sample\(s\) \(shape=\(0, 0\)\)"),
                                           (5, r"0 feature\(s\) \(shape=\(5, 0\)\)")])
def test_a_frame_without_columns_is_refused_in_scikit_learns_words(n_rows, match):
    # NumPy's "at least one array or dtype is required" named no problem.
    pd = pytest.importorskip("pandas")
    frame = pd.DataFrame(index=range(n_rows))
    with pytest.raises(ValueError, match=match + " while a minimum of 1 is required by "
                                               "RBMImputer"):
        RBMImputer().fit(frame)


@pytest.mark.parametrize("dtype", ["Int64", "UInt8"])
def test_nullable_integer_columns_are_imputed_as_integers(dtype):
    # A frame of nullable integer columns reaches NumPy as floats (NaN for
    # the gaps), so estimator=None picked a GaussianBernoulliRBM and imputed
    # values such as 1.33 in columns of integers; an integer array with a
    # sentinel for the gaps gets a CategoricalRBM.
    pd = pytest.importorskip("pandas")
    frame = pd.DataFrame({"a": pd.array([1, 2, None, 3] * 6, dtype=dtype),
                          "b": pd.array([5, 6, 7, None] * 6, dtype=dtype)})
    imputer = RBMImputer(random_state=0).fit(frame)
    assert isinstance(imputer.estimator_, CategoricalRBM)
    out = imputer.transform(frame)
    assert set(out[:, 0]) <= {1, 2, 3} and set(out[:, 1]) <= {5, 6, 7}
    # Beside a float column, or of 0 and 1, the choice is as for floats.
    mixed = frame.assign(x=np.linspace(0.1, 0.9, 24))
    assert isinstance(default_estimator(mixed.to_numpy(dtype=float), mixed.isna().to_numpy(),
                                        0, declared=declared_labels(mixed)),
                      GaussianBernoulliRBM)
    binary = pd.DataFrame({"a": pd.array([0, 1, None] * 8, dtype=dtype)})
    assert isinstance(RBMImputer(random_state=0).fit(binary).estimator_, BernoulliRBM)


def test_a_list_in_a_cell_is_refused_by_column():
    # A list (from JSON, say) among the labels raised "unhashable type:
    # 'list'" (estimator=None) or OneHotEncoder's "must be uniformly strings
    # or numbers. Got ['list']", naming no column.
    pd = pytest.importorskip("pandas")
    frame = pd.DataFrame({"size": ["s", None] * 10, "tags": [["a"], ["b", "c"]] * 10})
    match = r"column 'tags' holds a list \(\['a'\]\), which cannot be a category label"
    for estimator in (None, tiny_labels_model()):
        with pytest.raises(TypeError, match=match):
            RBMImputer(estimator, random_state=0).fit(frame)
    with pytest.raises(TypeError, match=match.replace("column 'tags'", "feature 1")):
        tiny_labels_model().fit(frame.dropna().to_numpy())


def test_a_value_that_reads_like_a_feature_is_not_renamed_as_a_column():
    # The messages' "feature i" become the frame's column names; a user's
    # value quoted in the message, such as 'feature 1', was rewritten too.
    pd = pytest.importorskip("pandas")
    frame = pd.DataFrame({"a": ["x", "y", None, "x"] * 10, "b": ["s", "m", "l", None] * 10})
    imputer = RBMImputer(random_state=0).fit(frame)
    odd = frame.copy()
    odd.loc[0, "b"] = "feature 1"
    with pytest.raises(ValueError, match=r"column 'b' has the value 'feature 1' \(in 1 row\)"):
        imputer.transform(odd)


# --------------------------------------------------------------------------
# Columns that held one value only in fit
# --------------------------------------------------------------------------


@pytest.mark.parametrize("sample_posterior", [False, True])
def test_a_column_constant_in_fit_is_imputed_with_its_value(sample_posterior):
    # A real column of 3.0 came back as 2.998 (conditional mean) or as far
    # off as 3.70 (posterior draws): the Gaussian unit's sigma has a floor and
    # the standardisation a unit scale for a column without spread.
    # SimpleImputer and IterativeImputer give 3.0.
    rng = np.random.default_rng(0)
    X = rng.standard_normal((200, 4))
    X[:, 2] = 3.0
    X[rng.random(X.shape) < 0.2] = np.nan
    imputer = RBMImputer(GaussianBernoulliRBM(n_components=8, n_iter=50, random_state=0),
                         sample_posterior=sample_posterior, random_state=0).fit(X)
    out = imputer.transform(X)
    gaps = np.isnan(X[:, 2])
    assert gaps.sum() > 20
    assert np.all(out[gaps, 2] == 3.0)
    # The other columns are the model's, varied.
    assert np.unique(out[np.isnan(X[:, 0]), 0]).size > 5


def test_a_binary_column_constant_in_fit_is_imputed_with_its_value():
    rng = np.random.default_rng(1)
    X = (rng.random((100, 5)) < 0.5).astype(float)
    X[:, 1] = 1.0
    X[rng.random(X.shape) < 0.3] = np.nan
    imputer = RBMImputer(BernoulliRBM(n_components=4, n_iter=2, random_state=0),
                         sample_posterior=True, random_state=0).fit(X)
    draws = np.vstack([imputer.transform(X) for _ in range(5)])
    gaps = np.tile(np.isnan(X[:, 1]), 5)
    assert np.all(draws[gaps, 1] == 1.0)


def test_a_column_constant_only_in_rows_of_positive_weight_counts_as_constant():
    rng = np.random.default_rng(2)
    X = rng.standard_normal((120, 3))
    weights = np.ones(120)
    X[:100, 0] = -2.0
    weights[100:] = 0.0   # the rows where column 0 varies take no part
    X[rng.random(X.shape) < 0.2] = np.nan
    X[100:, 0] = rng.standard_normal(20)
    imputer = RBMImputer(GaussianBernoulliRBM(n_components=3, n_iter=5, random_state=0),
                         random_state=0).fit(X, sample_weight=weights)
    out = imputer.transform(X)
    gaps = np.isnan(X[:, 0])
    assert gaps.any() and np.all(out[gaps, 0] == -2.0)
    # Without the weights the column varies: the model imputes it.
    out = RBMImputer(GaussianBernoulliRBM(n_components=3, n_iter=5, random_state=0),
                     random_state=0).fit(X).transform(X)
    assert not np.any(out[gaps, 0] == -2.0)


def test_a_damaged_record_of_constant_columns_is_named():
    imputer, X = gaussian_imputer()
    imputer._constants = np.zeros(2)
    with pytest.raises(ValueError, match="_constants must be None or a float64 array of 3"):
        imputer.transform(X)
    imputer._constants = None  # a model saved before the record: the model's answer
    assert not np.isnan(imputer.transform(X)).any()


@pytest.mark.parametrize("kind", ["bernoulli", "gaussian"])
def test_a_frozen_fitted_rbm_is_used_as_it_is(kind):
    # fit cloned the FrozenEstimator and set missing="impute" on it, which
    # FrozenEstimator refuses ("You cannot set parameters of the inner ...").
    from sklearn.frozen import FrozenEstimator
    rng = np.random.RandomState(0)
    if kind == "bernoulli":
        X = (rng.rand(80, 6) < 0.5).astype(float)
        model = BernoulliRBM(n_components=4, n_iter=2, random_state=0)
    else:
        X = rng.normal(size=(80, 6)) * 3.0 + 5.0  # not standardised: its own units
        model = GaussianBernoulliRBM(n_components=4, n_iter=2, random_state=0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        model.fit(X)
    weights = model.components_.copy()
    gaps = X.copy()
    gaps[rng.rand(*X.shape) < 0.2] = np.nan
    imputer = RBMImputer(FrozenEstimator(model), random_state=0).fit(gaps)
    assert imputer.estimator_ is model
    np.testing.assert_array_equal(model.components_, weights)
    completed = imputer.transform(gaps)
    missing = np.isnan(gaps)
    np.testing.assert_array_equal(completed[~missing], X[~missing])
    internal, observed = model._incomplete_input(gaps)
    expected = model._complete_by_marginals(internal, observed, random_state=0)
    np.testing.assert_allclose(completed[missing], expected[missing], rtol=1e-12)
    if kind == "gaussian":  # in the data's units: near the data, not near 0
        assert abs(completed[missing].mean() - 5.0) < 1.5


def test_a_frozen_estimator_of_no_fitted_rbm_is_named():
    from sklearn.frozen import FrozenEstimator
    X = np.array([[0.0, 1.0], [1.0, np.nan], [1.0, 0.0]])
    with pytest.raises(ValueError, match="must wrap a fitted BernoulliRBM.*not an unfitted "
                                         "BernoulliRBM; fit the RBM before freezing it"):
        RBMImputer(FrozenEstimator(BernoulliRBM())).fit(X)
    model = BernoulliRBM(n_components=2, n_iter=1, random_state=0).fit([[0, 1, 1], [1, 0, 1]])
    with pytest.raises(ValueError, match="X with 2 features, but its frozen BernoulliRBM "
                                         "was fitted on 3"):
        RBMImputer(FrozenEstimator(model)).fit(X)


def test_a_frozen_rbm_refuses_columns_it_was_not_fitted_on():
    from sklearn.frozen import FrozenEstimator
    pd = pytest.importorskip("pandas")
    X = pd.DataFrame((np.random.RandomState(0).rand(40, 3) < 0.5).astype(float),
                     columns=["p", "q", "r"])
    model = BernoulliRBM(n_components=2, n_iter=1, random_state=0).fit(X)
    gaps = X.copy()
    gaps.iloc[0, 1] = np.nan
    RBMImputer(FrozenEstimator(model)).fit(gaps)
    with pytest.raises(ValueError, match=r"columns \['r', 'q', 'p'\], but its frozen "
                                         r"BernoulliRBM was fitted on columns \['p', 'q', 'r'\]"):
        RBMImputer(FrozenEstimator(model)).fit(gaps[["r", "q", "p"]])


def test_a_frozen_rbm_is_not_overruled_by_columns_constant_in_a_few_fit_rows():
    # fit recorded the constant columns of the few rows given to it, which are
    # not what the frozen model learned from: column 0, 0 in those rows, was
    # then always imputed 0 although the model (column 0 = column 1) says 1.
    from sklearn.frozen import FrozenEstimator
    rng = np.random.default_rng(0)
    Z = (rng.random((2000, 6)) < 0.5).astype(float)
    Z[:, 1] = Z[:, 0]
    model = BernoulliRBM(n_components=8, n_iter=20, random_state=0).fit(Z)
    few = Z[Z[:, 0] == 0][:5].copy()
    few[0, 2] = np.nan
    imputer = RBMImputer(FrozenEstimator(model), random_state=0).fit(few)
    assert imputer._constants is None
    T = np.array([[np.nan, 1, 1, 0, 1, 0], [np.nan, 1, 0, 1, 1, 1]])
    expected = model._complete_by_marginals(*model._incomplete_input(T), random_state=0)
    np.testing.assert_array_equal(imputer.transform(T), expected)
    assert np.all(imputer.transform(T)[:, 0] == 1.0)


def test_a_frozen_rbm_imputes_a_column_unobserved_in_fit():
    # fit refused a column with no observed value, which the frozen model learned.
    from sklearn.frozen import FrozenEstimator
    rng = np.random.default_rng(0)
    X = (rng.random((300, 5)) < 0.5).astype(float)
    X[:, 1] = X[:, 0]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        model = BernoulliRBM(n_components=4, n_iter=5, random_state=0).fit(X)
    Y = X[:10].copy()
    Y[:, 1] = np.nan
    imputer = RBMImputer(FrozenEstimator(model), random_state=0).fit(Y)
    expected = model._complete_by_marginals(*model._incomplete_input(Y), random_state=0)
    np.testing.assert_array_equal(imputer.transform(Y), expected)
    with pytest.raises(ValueError, match="feature 1 has no observed value"):
        RBMImputer(model).fit(Y)  # a model to train still refuses it


def test_a_frozen_rbm_warns_that_sample_weight_is_ignored():
    from sklearn.frozen import FrozenEstimator
    X = np.array([[0.0, 1.0], [1.0, np.nan], [1.0, 0.0], [0.0, 1.0]])
    model = BernoulliRBM(n_components=2, n_iter=1, random_state=0).fit(np.nan_to_num(X))
    with pytest.warns(UserWarning, match="sample_weight is ignored with a FrozenEstimator"):
        imputer = RBMImputer(FrozenEstimator(model)).fit(X, sample_weight=[1, 2, 1, 0])
    assert imputer.estimator_ is model
    with pytest.raises(ValueError, match="sample_weight"):
        RBMImputer(FrozenEstimator(model)).fit(X, sample_weight=[1, 2])
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        RBMImputer(FrozenEstimator(model)).fit(X)


def test_values_too_large_to_square_are_standardised_without_overflow():
    # Beyond about 1e154 the variance overflowed: scale_ was inf, and every
    # transform was refused, advising a refit that could not help.
    rng = np.random.default_rng(0)
    X = rng.normal(size=(60, 4))
    X[rng.random(X.shape) < 0.2] = np.nan
    model = GaussianBernoulliRBM(n_components=4, n_iter=5, random_state=0)
    plain = RBMImputer(model).fit(X)
    huge = RBMImputer(model).fit(X * 1e160)
    np.testing.assert_allclose(huge.scale_, plain.scale_ * 1e160, rtol=1e-12)
    np.testing.assert_allclose(huge.transform(X * 1e160), plain.transform(X) * 1e160,
                               rtol=1e-6)
    spread = X.copy()
    spread[:, 0] = np.where(np.isnan(X[:, 0]), np.nan, np.where(X[:, 0] > 0, 1e308, -1e308))
    spread[0, 0] = spread[1, 0] = 1.7e308
    with pytest.raises(ValueError, match="cannot standardise feature 0.*Rescale"):
        RBMImputer(model).fit(spread)


@pytest.mark.parametrize("method", ["free_energy", "gibbs", "reconstruction_error"])
def test_a_method_that_needs_complete_rows_names_the_ones_that_take_gaps(method):
    # On a missing="impute" model the refusal advised setting missing="impute".
    X = (np.random.default_rng(0).random((60, 6)) > 0.5).astype(float)
    X[0, 0] = np.nan
    model = BernoulliRBM(n_components=3, n_iter=3, random_state=0, missing="impute").fit(X)
    with pytest.raises(ValueError, match="This model has missing='impute': .*transform, "
                                         "score_samples.* this method needs complete rows"):
        getattr(model, method)(X[:2])
    model.transform(X[:2]), model.score_samples(X[:2])  # (which take them)


# --------------------------------------------------------------------------
# Review s48: numbers read as text, rows of float gaps, declared categories
# --------------------------------------------------------------------------


def numbers_as_text_csv(n=60):
    """A CSV as pandas reads it with "?" for the gaps: numbers as text, b = -a + 0.1."""
    pd = pytest.importorskip("pandas")
    import io
    a = np.random.default_rng(0).normal(size=n)
    lines = [f"{x:.2f},{-x + .1:.2f}" for x in a]
    truth = np.column_stack([a.round(2), (-a + .1).round(2)])
    for i in range(3, n, 7):
        lines[i] = f"?,{-a[i] + .1:.2f}" if i % 2 else f"{a[i]:.2f},?"
    return pd.read_csv(io.StringIO("a,b\n" + "\n".join(lines))), truth


def test_numbers_read_as_text_are_imputed_as_numbers():
    # estimator=None took each distinct number written as text ("0.13") as a
    # category and imputed text copied from unrelated rows, silently; the
    # command line keeps a column of numbers numbers, and so does the imputer.
    frame, truth = numbers_as_text_csv()
    imputer = RBMImputer(missing_values="?", random_state=0).fit(frame)
    assert isinstance(imputer.estimator_, GaussianBernoulliRBM)
    out = imputer.transform(frame)
    assert out.dtype == np.float64
    gaps = (frame == "?").to_numpy()
    np.testing.assert_array_equal(out[~gaps], truth[~gaps])
    # Each imputed entry lies on the side of 0 the row's other entry says.
    np.testing.assert_array_equal(np.sign(out[gaps] - 0.05), np.sign(truth[gaps] - 0.05))
    # A NumPy string array of the same, alike.
    strings = frame.to_numpy().astype(str)
    np.testing.assert_array_equal(
        RBMImputer(missing_values="?", random_state=0).fit(strings).transform(strings), out)


def test_the_kind_of_numbers_read_as_text_is_the_kind_pandas_gives_them():
    gaps = np.array([[True, False, False]] + [[False] * 3] * 3)
    def chosen(rows):
        return estimator_class_for(np.array(rows, dtype=object), gaps)
    # integer text stays labels (as integers do), 0 and 1 are binary, and
    # text that no number reads as ("1_0", "nan", "inf", words) is labels
    assert chosen([["?", "1", "2"], ["3", "1", "2"], ["1", "2", "3"], ["2", "3", "1"]]) \
        is CategoricalRBM
    assert chosen([["?", "1", "0"], ["1", "1", "0"], ["0", "0", "1"], ["1", "0", "1"]]) \
        is BernoulliRBM
    assert chosen([["?", "1.5", "2"], ["3", "1", "2e3"], ["1", "2", "3"], ["2", "3", "1"]]) \
        is GaussianBernoulliRBM
    for word in ("1_0", "nan", "inf", "many"):
        assert chosen([["?", "1.5", "2"], ["3", word, "2"], ["1", "2", "3"], ["2", "3", "1"]]) \
            is CategoricalRBM


def test_numbers_as_text_beside_labels_are_pointed_out():
    # Beside a text column they are labels (one array, one model), and the
    # warning that names real numbers among labels looked at floats only.
    frame, _ = numbers_as_text_csv()
    frame["city"] = ["x", "y", "z"] * 20
    with pytest.warns(UserWarning, match=r"column 'a' holds real numbers \(such as '0.13'\)"):
        RBMImputer(missing_values="?", random_state=0).fit(frame)


@pytest.mark.parametrize("frame", [False, True], ids=["array", "frame"])
def test_a_row_of_float_gaps_gets_labels(frame):
    # A row of gaps as float NaN (an empty CSV row read by pandas) went into
    # a float copy of X, and NumPy said "could not convert string to float",
    # after the posterior draws' seed was taken from random_state_.
    pd = pytest.importorskip("pandas")
    X = np.array([["a", "x"], ["b", "y"], ["a", "y"]] * 20, dtype=object)
    X[::3, 0] = None
    def given(rows):
        return pd.DataFrame(rows, columns=["p", "q"]) if frame else rows
    gaps, as_objects = np.full((1, 2), np.nan), np.array([[None, None]], dtype=object)
    for sample_posterior in (False, True):
        imputer = RBMImputer(tiny_labels_model(), sample_posterior=sample_posterior,
                             random_state=0).fit(given(X))
        twin = clone(imputer).fit(given(X))
        out = imputer.transform(given(gaps))
        assert out.dtype == object
        np.testing.assert_array_equal(out, twin.transform(given(as_objects)))
        np.testing.assert_array_equal(imputer.transform(given(X)), twin.transform(given(X)))
    # Float labels where every one fits: floats, as before.
    numbers = np.array([[1.0, 2.0], [3.0, 2.0], [1.0, 4.0]] * 10)
    numbers[0, 0] = np.nan
    imputer = RBMImputer(tiny_labels_model(), random_state=0).fit(numbers)
    assert imputer.transform(gaps).dtype == np.float64


def test_a_failed_transform_leaves_the_posterior_draws_as_they_were(monkeypatch):
    # The seed of the draws was taken from random_state_ before the output
    # was assembled, so a failure there changed every later call's draws.
    X = np.array([["a", "x"], ["b", "y"], ["a", "y"]] * 20, dtype=object)
    X[::3, 0] = None
    imputer = RBMImputer(tiny_labels_model(), sample_posterior=True, random_state=0).fit(X)
    twin = clone(imputer).fit(X)
    with monkeypatch.context() as patch:
        def fails(*args, **kwargs):
            raise ValueError("assembling the output failed")
        patch.setattr(RBMImputer, "_model_output", fails)
        with pytest.raises(ValueError, match="assembling the output failed"):
            imputer.transform(X)
    np.testing.assert_array_equal(imputer.transform(X), twin.transform(X))


def test_declared_category_columns_are_labels():
    # A category column of float categories reached NumPy as float64 and NaN,
    # and a GaussianBernoulliRBM imputed values between the categories (an
    # integer category column beside it too).
    pd = pytest.importorskip("pandas")
    frame = pd.DataFrame({"size": pd.Categorical([36.5, 37.0, 38.5, np.nan, 37.0] * 8),
                          "grade": pd.Categorical([1, 2, 3, 2, np.nan] * 8)})
    with warnings.catch_warnings():
        warnings.simplefilter("error", UserWarning)  # declared: no "real numbers" warning
        imputer = RBMImputer(random_state=0).fit(frame)
    assert isinstance(imputer.estimator_, CategoricalRBM)
    out = imputer.transform(frame)
    assert set(out[:, 0]) <= {36.5, 37.0, 38.5} and set(out[:, 1]) <= {1, 2, 3}
    floats = frame[["size"]]
    assert isinstance(RBMImputer(random_state=0).fit(floats).estimator_, CategoricalRBM)
    # Beside a real column: labels, and the real column is pointed out.
    mixed = floats.assign(x=np.linspace(0.15, 0.95, 40))
    with pytest.warns(UserWarning, match="column 'x' holds real numbers"):
        assert isinstance(RBMImputer(random_state=0).fit(mixed).estimator_, CategoricalRBM)


def test_an_unknown_category_in_transform_advises_the_imputers_own_parameters():
    # The model's advice, "refit with categories that include it", names a
    # parameter RBMImputer lacks; a declared pandas category is not taken.
    pd = pytest.importorskip("pandas")
    dtype = pd.CategoricalDtype(["a", "b", "c"])
    frame = pd.DataFrame({"p": pd.Series(["a", "b"] * 10, dtype=dtype), "q": ["x", "y"] * 10})
    frame.loc[0, "q"] = None
    imputer = RBMImputer(random_state=0).fit(frame)  # (the imputer's own model)
    unseen = pd.DataFrame({"p": pd.Series(["c"], dtype=dtype), "q": [None]})
    with pytest.raises(UnknownCategoryError) as raised:
        imputer.transform(unseen)
    message = str(raised.value)
    assert message.startswith("CategoricalRBM: column 'p' has the value 'c' (in 1 row), which "
                              "is not one of its categories ['a', 'b']. Every value must be a "
                              "category the model saw in fit (the categories a pandas "
                              "category column declares are not taken); to impute others, fit "
                              "RBMImputer(estimator=CategoricalRBM(categories=[...]))")
    assert "refit with categories" not in message
    assert (raised.value.feature, raised.value.value, raised.value.n_rows) == (0, "c", 1)
    # As the advice says:
    listed = CategoricalRBM(n_components=2, n_iter=2, random_state=0,
                            categories=[["a", "b", "c"], ["x", "y"]])
    out = RBMImputer(listed, random_state=0).fit(frame).transform(unseen)
    assert out[0, 0] == "c" and out[0, 1] in ("x", "y")


def test_a_users_categorical_model_keeps_its_own_advice_for_an_unknown_category():
    # The user's model declares its categories: the imputer's advice (to list
    # them in a CategoricalRBM, as "the model saw in fit") told them to do
    # what they had done.  Their model's own message speaks of its parameter.
    X = np.array([["r", "x"], ["g", "y"], ["b", None]] * 6, dtype=object)
    listed = CategoricalRBM(n_components=2, n_iter=2, random_state=0,
                            categories=[["r", "g", "b"], ["x", "y"]])
    imputer = RBMImputer(listed, random_state=0).fit(X)
    with pytest.raises(UnknownCategoryError) as raised:
        imputer.transform(np.array([["purple", None]], dtype=object))
    message = str(raised.value)
    assert "listed in the categories parameter" in message
    assert "saw in fit" not in message and "RBMImputer(estimator=" not in message
