"""A hostile user's pass over the three density models: each test here failed
before the fix it comes with (input forms, parameters, methods)."""

import re
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from rbm import BernoulliRBM, CategoricalRBM, DivergenceError, GaussianBernoulliRBM


def _binary(n_rows=40, n_columns=4, seed=0):
    return (np.random.default_rng(seed).random((n_rows, n_columns)) < 0.5).astype(float)


MODELS = {
    "bernoulli": (BernoulliRBM, _binary),
    "gaussian": (GaussianBernoulliRBM,
                 lambda: np.random.default_rng(0).standard_normal((40, 4))),
    "categorical": (CategoricalRBM,
                    lambda: np.random.default_rng(0).integers(0, 3, (40, 4))),
}


def _small(cls, **params):
    return cls(**{"n_components": 3, "n_iter": 2, "random_state": 0, "n_jobs": 1, **params})


@pytest.mark.parametrize("name", list(MODELS))
@pytest.mark.parametrize("method", ["fit", "partial_fit", "transform", "score_samples",
                                    "free_energy", "gibbs"])
def test_a_series_is_refused_as_one_dimensional(name, method):
    # A Series' .dtypes is its one dtype, not a list: the check for dates
    # iterated over it and raised "'Float64DType' object is not iterable".
    cls, data = MODELS[name]
    X = data()
    model = _small(cls).fit(X)
    call = getattr(_small(cls) if method in ("fit", "partial_fit") else model, method)
    with pytest.raises(ValueError, match="Expected a 2-dimensional container"):
        call(pd.Series(X[:, 0]))


# --------------------------------------------------------------------------
# The README's code for these models, run as written
# --------------------------------------------------------------------------

README = Path(__file__).resolve().parents[1] / "README.md"


def _run_readme_block(section):
    """Run the first Python block of a README section; {claim comment: (value
    of the expression on that line, the number stated)} for each line whose
    comment states a number after a colon ("...: about -16.0", "...: 1.0 here")."""
    text = README.read_text().split(f"\n## {section}\n")[1].split("\n## ")[0]
    block = text.split("```python\n")[1].split("```")[0]
    namespace, code, claims = {}, [], {}
    for line in block.splitlines():
        claim = re.search(r"#\s*([^#]*?:\s*(?:about\s+)?(-?\d+(?:\.\d+)?)(?: here)?)\s*$", line)
        if claim:
            exec("\n".join(code), namespace)
            code = []
            claims[claim.group(1)] = (eval(line[: claim.start()], namespace),
                                      float(claim.group(2)))
        else:
            code.append(line)
    return claims


def test_the_readme_gaussian_example_gives_the_numbers_it_states():
    # It claimed accuracy 1.0 and a log density of about -16.0, figures from
    # before the defaults changed (0.926 and -16.49 now; seeds 0-4 give
    # 0.926 to 0.944 and -16.56 to -16.46).
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        claims = _run_readme_block("Real-valued data: GaussianBernoulliRBM")
    assert len(claims) == 2, claims
    (accuracy, stated_accuracy), (log_density, stated_log_density) = claims.values()
    # One of the 54 test rows may be classified differently on another CPU.
    assert accuracy == pytest.approx(stated_accuracy, abs=1 / 54 + 1e-3)
    # The seed-to-seed spread is about 0.04 nats.
    assert log_density == pytest.approx(stated_log_density, abs=0.05)


# --------------------------------------------------------------------------
# set_params between calls
# --------------------------------------------------------------------------


def _gaussian_rows():
    return np.random.default_rng(0).integers(0, 3, (60, 5)).astype(float)


@pytest.mark.parametrize("how", ["partial_fit", "warm_start"])
def test_learn_sigma_set_false_after_a_fit_keeps_sigma_where_it_is(how):
    # The layer read learn_sigma once, at the first fit: set to False
    # afterwards, continued training still moved sigma.
    X = _gaussian_rows()
    model = _small(GaussianBernoulliRBM, learning_rate=0.05).fit(X)
    sigma = model.sigma_.copy()
    model.set_params(learn_sigma=False)
    if how == "partial_fit":
        model.partial_fit(X)
    else:
        model.set_params(warm_start=True).fit(X)
    assert model.n_iter_ > 2  # it did train
    np.testing.assert_array_equal(model.sigma_, sigma)


@pytest.mark.parametrize("how", ["partial_fit", "warm_start"])
def test_sigma_floor_set_after_a_fit_bounds_continued_training(how):
    # sigma_floor=1 pins sigma at each feature's standard deviation, its
    # ceiling; set after a fit it was ignored and sigma kept shrinking.
    X = _gaussian_rows()
    model = _small(GaussianBernoulliRBM, learning_rate=0.05).fit(X)
    assert np.any(model.sigma_ < 0.99 * X.std(axis=0))  # learned below the ceiling
    model.set_params(sigma_floor=1.0)
    if how == "partial_fit":
        model.partial_fit(X)
    else:
        model.set_params(warm_start=True).fit(X)
    np.testing.assert_allclose(model.sigma_, X.std(axis=0), rtol=1e-12)


def test_a_partial_fit_that_diverges_after_set_params_changes_nothing():
    # The layer takes the new sigma_floor and learn_sigma before the pass; a
    # pass that raises must put them back with the rest of the model.
    from test_failed_calls import fingerprint

    X = _gaussian_rows()
    model = _small(GaussianBernoulliRBM).fit(X)
    before = fingerprint(model)
    model.set_params(sigma_floor=0.9, learn_sigma=False, learning_rate=1e8)
    with pytest.raises(DivergenceError):
        model.partial_fit(X)
    model.set_params(sigma_floor=0.2, learn_sigma=True, learning_rate="auto")
    assert fingerprint(model) == before


# --------------------------------------------------------------------------
# CategoricalRBM's categories parameter
# --------------------------------------------------------------------------


@pytest.mark.parametrize("missing, gaps", [("error", False), ("impute", False), ("impute", True)])
@pytest.mark.parametrize("categories, problem", [
    ([[0, 1, 2, np.nan], [0, 1, 2]], r"categories\[0\] holds a missing value \(nan\)"),
    ([[0, 1, 2, None], [0, 1, 2]], r"categories\[0\] holds a missing value \(None\)"),
    ([[0, 1, 2], [0, 1, 2, pd.NA]], r"categories\[1\] holds a missing value \(<NA>\)"),
    ([[0, 1, 2], "auto"], r"categories\[1\] must be a list of that feature's categories, "
                          r"got 'auto'"),
    ([3, [0, 1, 2]], r"categories\[0\] must be a list of that feature's categories, got 3"),
    ([[[0, 1], [2]], [0, 1, 2]], r"categories\[0\] must be a list of that feature's "
                                 r"categories, got \[\[0, 1\], \[2\]\]"),
    # NumPy read ["a", 1] as ['a', '1'], and the value 1 was "not one of its
    # categories ['a', '1']" (review s48, 7).
    ([[0, 1, 2], ["a", 1, 2]], r"categories\[1\] mixes strings \(such as 'a'\) with other "
                               r"labels \(such as 1 of type int\); a feature's categories "
                               r"must be uniformly strings or numbers"),
])
def test_a_malformed_categories_list_is_refused_by_name(categories, problem, missing, gaps):
    # OneHotEncoder answered these in NumPy's words: "cannot convert float
    # NaN to integer", "int() argument must be ... not 'NoneType'", "too many
    # indices for array", "setting an array element with a sequence".
    X = np.random.default_rng(0).integers(0, 3, (30, 2)).astype(float)
    if gaps:
        X[3, 0] = X[5, 1] = np.nan
    model = _small(CategoricalRBM, categories=categories, missing=missing)
    with pytest.raises(ValueError, match=problem):
        model.fit(X)
    assert not hasattr(model, "n_features_in_")


@pytest.mark.parametrize("missing, gaps", [("error", False), ("impute", False), ("impute", True)])
@pytest.mark.parametrize("n_lists", [1, 3])
def test_a_categories_list_for_another_number_of_features_is_refused_by_name(
        n_lists, missing, gaps):
    # With missing="impute", a gap in a feature past the end of the list
    # raised IndexError ("list index out of range") from the placeholder of
    # missing entries, which reads categories[i]; without gaps OneHotEncoder
    # said "Shape mismatch: if categories is an array, it has to be of shape
    # (n_features,)", which does not say what to do.
    X = np.random.default_rng(0).integers(0, 3, (30, 2)).astype(float)
    if gaps:
        X[3, 0] = X[5, 1] = np.nan
    model = _small(CategoricalRBM, categories=[[0, 1, 2]] * n_lists, missing=missing)
    with pytest.raises(ValueError, match=re.escape(
            f"categories lists the categories of {n_lists} feature(s), but X has 2; give "
            "one list per feature, or categories='auto'")):
        model.fit(X)
    assert not hasattr(model, "n_features_in_")


# --------------------------------------------------------------------------
# NumPy scalars as hyperparameters
# --------------------------------------------------------------------------


@pytest.mark.parametrize("name", list(MODELS))
def test_a_float16_momentum_warmup_trains_as_its_value(name):
    # round(float16(0.1) * n_epochs, 9) is NaN (the rounding scales by 1e9,
    # past float16's range): fit raised "cannot convert float NaN to integer".
    cls, data = MODELS[name]
    X = data()
    warmup = np.float16(0.1)
    model = _small(cls, n_iter=10, momentum_warmup=warmup).fit(X)
    reference = _small(cls, n_iter=10, momentum_warmup=float(warmup)).fit(X)
    np.testing.assert_array_equal(model.components_, reference.components_)
    assert model.history_["momentum"] == reference.history_["momentum"]


def test_a_float16_validation_fraction_splits_many_rows():
    # float16(0.5) * 65,600 rows overflows float16 to inf: fit raised
    # OverflowError ("cannot convert float infinity to integer").
    X = _binary(65_600, 3).astype(np.float32)
    params = dict(n_iter=1, batch_size=2_000, early_stopping=True, n_components=2)
    model = BernoulliRBM(validation_fraction=np.float16(0.5), random_state=0, n_jobs=1,
                         **params).fit(X)
    reference = BernoulliRBM(validation_fraction=0.5, random_state=0, n_jobs=1,
                             **params).fit(X)
    np.testing.assert_array_equal(model.components_, reference.components_)


# --------------------------------------------------------------------------
# A first fit that diverges
# --------------------------------------------------------------------------


def _independent_log_likelihood(model, X):
    """Mean log-likelihood of X under the model's start: the independent model
    of the data marginals (a model with zero weights and those visible biases)."""
    start = _small(type(model), n_iter=0).fit(X)
    start.components_ = np.zeros_like(start.components_)
    start._training.log_partition_cache.clear()
    return start.score(X)


@pytest.mark.parametrize("name", ["bernoulli", "categorical"])
def test_a_runaway_after_bad_passes_goes_back_to_before_them(name):
    # Pass 1 at this rate leaves the model ~1e11 nats below the independent
    # model (a finite divergence, forgiven until 3 in a row); pass 2 runs
    # away past the energy bound.  Only pass 2 was undone: the model kept
    # pass 1's parameters, which no warm start could then train (each
    # declared a divergence against the independent model at once).
    X = (_binary(60, 6) if name == "bernoulli"
         else np.random.default_rng(0).integers(0, 3, (60, 6)))
    model = _small(MODELS[name][0], n_iter=5, learning_rate=1e6)
    with pytest.raises(DivergenceError, match="energy scale") as error:
        model.fit(X)
    assert model.n_iter_ == 0
    assert model.score(X) == pytest.approx(_independent_log_likelihood(model, X), abs=0.5)
    assert "from before the 1 pass before this one" in str(error.value)
    model.set_params(learning_rate="auto", warm_start=True).fit(X)  # trains on
    assert model.n_iter_ == 5


def test_a_first_fit_that_diverges_records_the_passes_it_keeps():
    # It kept 4 passes (n_iter_=4) but no history_, so a later partial_fit
    # started a history of one row while n_iter_ counted 5 passes.
    X = np.random.default_rng(0).standard_normal((60, 6))
    model = _small(GaussianBernoulliRBM, n_iter=50, learning_rate=1.0, momentum=0.9)
    with pytest.raises(DivergenceError):
        model.fit(X)
    assert 0 < model.n_iter_ < 50
    assert model.history_["epoch"] == list(range(1, model.n_iter_ + 1))
    assert all(len(column) == model.n_iter_ for column in model.history_.values())
    model.set_params(learning_rate=0.01, momentum=0.0).partial_fit(X)
    assert model.history_["epoch"] == list(range(1, model.n_iter_ + 1))


def test_a_first_partial_fit_that_diverges_has_trained_no_pass():
    # It keeps the started model (usable, tests/test_input_validation.py) but
    # set no n_iter_: model.n_iter_ raised AttributeError.
    X = (np.random.default_rng(0).random((200, 64)) < 0.5).astype(np.float32)
    model = BernoulliRBM(n_components=8, learning_rate=1e39, random_state=0, n_jobs=1)
    with pytest.raises(DivergenceError):
        model.partial_fit(X)
    assert model.n_iter_ == 0 and not hasattr(model, "history_")
    model.set_params(learning_rate=0.01).partial_fit(X)
    assert model.n_iter_ == 1 and model.history_["epoch"] == [1]


@pytest.mark.parametrize("change, message", [
    (dict(n_chains=7), "has n_chains=7, but was fitted with 20 persistent chains"),
    (dict(n_chains=None, batch_size=10), "has n_chains=None with batch_size=10, but"),
    (dict(method="pt", n_temperatures=4),
     "but method is now 'pt', which needs 80 chains (n_chains=20, times n_temperatures=4)"),
])
@pytest.mark.parametrize("call", ["partial_fit", "warm_fit"])
def test_a_chain_count_set_after_a_fit_is_refused_not_ignored(change, message, call):
    # partial_fit and warm starts ran the fit's 20 chains whatever n_chains
    # (or batch_size, method, n_temperatures) said since, silently.
    from test_failed_calls import fingerprint

    X = _binary(60, 6)
    model = BernoulliRBM(n_components=3, n_iter=2, n_chains=20, random_state=0,
                         n_jobs=1).fit(X)
    model.set_params(**change, warm_start=call == "warm_fit")
    before = fingerprint(model)
    with pytest.raises(ValueError, match=re.escape(message)):
        model.partial_fit(X) if call == "partial_fit" else model.fit(X)
    assert fingerprint(model) == before
    model.set_params(n_chains=20, method="pcd", batch_size=20).partial_fit(X)
    assert model.n_iter_ == 3 and model.h_samples_.shape[0] == 20
    # Chains assigned by hand, of any count (blocks of n_temperatures for
    # PT), are the user's choice: the new settings then train them.
    model.h_samples_ = model.h_samples_[:8].copy()
    model.set_params(**change, warm_start=False).partial_fit(X)
    assert model.n_iter_ == 4 and model.h_samples_.shape[0] == 8


def test_the_chain_count_refusal_says_which_n_chains_continues():
    # With method="pt" it said "Set the chain settings back to those of its
    # fit", with no number to set; the fit's chains in blocks of the
    # n_temperatures asked for are a setting that continues the model.
    X = _binary(60, 6)
    model = BernoulliRBM(n_components=3, n_iter=2, n_chains=20, random_state=0,
                         n_jobs=1).fit(X)
    model.set_params(method="pt", n_temperatures=4)
    with pytest.raises(ValueError, match=re.escape(
            "fitted with method='pcd' (20 persistent chains), but method is now 'pt'")
            + ".*" + re.escape("(or n_chains=5, which goes on with those chains in blocks "
                               "of n_temperatures=4)")):
        model.partial_fit(X)
    model.set_params(n_chains=5).partial_fit(X)
    assert model.n_iter_ == 3 and model.h_samples_.shape[0] == 20


def _pt_model():
    X = _binary(60, 6)
    return BernoulliRBM(n_components=3, n_iter=2, n_chains=20, method="pt", n_temperatures=4,
                        random_state=0, n_jobs=1).fit(X), X


@pytest.mark.parametrize("call", ["partial_fit", "warm_fit"])
def test_a_method_changed_from_pt_names_the_method_not_only_n_chains(call):
    # pt -> pcd said "has n_chains=20, but was fitted with 80 persistent
    # chains ... Set n_chains=80": nothing of the method that had changed.
    model, X = _pt_model()
    model.set_params(method="pcd", warm_start=call == "warm_fit")
    with pytest.raises(ValueError) as error:
        model.partial_fit(X) if call == "partial_fit" else model.fit(X)
    message = str(error.value)
    assert ("was fitted with method='pt' and n_temperatures=4 (80 persistent chains, 20 per "
            "temperature), but method is now 'pcd'") in message
    assert "Set method='pt' back to continue it" in message and "warm_start=False" in message
    assert "which needs 20 chains (n_chains=20)" in message
    model.set_params(n_chains=None, batch_size=20)
    with pytest.raises(ValueError, match=re.escape(
            "method is now 'pcd', which needs 20 chains (n_chains=None, so batch_size=20)")):
        model.partial_fit(X) if call == "partial_fit" else model.fit(X)
    model.set_params(method="pt", n_chains=20).partial_fit(X)  # what it says continues it
    assert model.n_iter_ == 3 and model.h_samples_.shape[0] == 80


@pytest.mark.parametrize("call", ["partial_fit", "warm_fit"])
@pytest.mark.parametrize("n_temperatures", [5, 6])
def test_a_changed_n_temperatures_gets_one_message(n_temperatures, call):
    # 80 chains: n_temperatures=5 (a divisor of 80) was refused as a chain
    # count ("has n_chains=20 and n_temperatures=5 (100 chains), but was
    # fitted with 80"), n_temperatures=6 as blocks ("h_samples_ has 80
    # persistent chains, but this model needs one or more blocks of
    # n_temperatures=6"): two messages for one change, neither naming it.
    model, X = _pt_model()
    model.set_params(n_temperatures=n_temperatures, warm_start=call == "warm_fit")
    with pytest.raises(ValueError) as error:
        model.partial_fit(X) if call == "partial_fit" else model.fit(X)
    message = str(error.value)
    assert (f"was fitted with method='pt' and n_temperatures=4 (80 persistent chains, 20 per "
            f"temperature), but n_temperatures is now {n_temperatures}, which needs "
            f"{20 * n_temperatures} chains") in message
    assert "Set n_temperatures=4 back to continue it" in message
    assert ("(or n_chains=16, which goes on" in message) == (n_temperatures == 5)
    model.set_params(n_temperatures=4).partial_fit(X)
    assert model.n_iter_ == 3


@pytest.mark.parametrize("change, message", [
    (dict(dtype=np.float32), "has dtype=float32 but was fitted with dtype=float64"),
    (dict(categories=[[0, 1, 2, 3]] * 4), "categories differs from the categories it was fitted"),
])
@pytest.mark.parametrize("call", ["partial_fit", "warm_fit"])
def test_a_categorical_coding_set_after_a_fit_is_refused_not_ignored(change, message, call):
    # The one-hot coding is fixed at the first fit: partial_fit and warm
    # starts trained float64 on three categories whatever dtype or
    # categories said since, silently.
    from test_failed_calls import fingerprint

    X = np.random.default_rng(0).integers(0, 3, (60, 4))
    model = _small(CategoricalRBM).fit(X)
    model.set_params(**change, warm_start=call == "warm_fit")
    before = fingerprint(model)
    with pytest.raises(ValueError, match=re.escape(message)):
        model.partial_fit(X) if call == "partial_fit" else model.fit(X)
    assert fingerprint(model) == before
    # The fitted categories given explicitly, or 'auto', ask for nothing new.
    model.set_params(dtype=np.float64, categories=[[0, 1, 2]] * 4).partial_fit(X)
    model.set_params(categories="auto").partial_fit(X)
    assert model.n_iter_ == 4


# --------------------------------------------------------------------------
# CategoricalRBM: dates and durations as labels
# --------------------------------------------------------------------------

DAYS = np.array(["2020-01-01", "2020-01-02", "2020-01-05"], dtype="datetime64[ns]")


def _dates(n_rows=30, n_columns=2, seed=0):
    codes = np.random.default_rng(seed).integers(0, 3, (n_rows, n_columns))
    return DAYS[codes], codes


@pytest.mark.parametrize("kind", ["datetime64", "timedelta64"])
def test_dates_as_labels_train_the_model_of_their_codes(kind):
    # fit took datetime64 labels, but every later call (score, transform,
    # sample, partial_fit) failed the fitted-state check: "categories_[0]
    # must hold distinct categories in sorted order ...; refit the model".
    X, codes = _dates()
    if kind == "timedelta64":
        X = X - DAYS[0]
    model = _small(CategoricalRBM).fit(X)
    reference = _small(CategoricalRBM).fit(codes)
    np.testing.assert_array_equal(model.components_, reference.components_)
    np.testing.assert_array_equal(model.score_samples(X), reference.score_samples(codes))
    np.testing.assert_array_equal(model.transform(X), reference.transform(codes))
    samples = model.sample(5)
    assert samples.dtype == X.dtype and np.isin(samples, X).all()
    assert model.gibbs(X[:3]).dtype == X.dtype
    model.partial_fit(X)
    assert model.n_iter_ == 3


def test_a_frame_of_dates_beside_numbers_is_taken_as_labels():
    # scikit-learn's validation looks for one dtype for all the columns, and
    # NumPy has none for datetime64 and int64: fit raised DTypePromotionError.
    X, codes = _dates()
    frame = pd.DataFrame({"day": X[:, 0], "count": codes[:, 1]})
    model = _small(CategoricalRBM).fit(frame)
    reference = _small(CategoricalRBM).fit(codes)
    np.testing.assert_array_equal(model.components_, reference.components_)
    samples = model.sample(4)
    assert list(samples.columns) == ["day", "count"]
    assert samples["day"].dtype == frame["day"].dtype and samples["day"].isin(X[:, 0]).all()


def test_a_missing_date_is_a_missing_value():
    # NaT passed the missing-value check (which looked at float and object
    # labels only) and became a category.
    X, _ = _dates()
    X[4, 1] = np.datetime64("NaT")
    with pytest.raises(ValueError, match=r"missing values .* in 1 entry, the first in "
                                         r"row 4, feature 1"):
        _small(CategoricalRBM).fit(X)
    model = _small(CategoricalRBM, missing="impute").fit(X)
    assert not np.isnat(model.categories_[1]).any()
    filled = model.conditional_sample(X)
    assert not np.isnat(filled).any() and np.isin(filled[4, 1], DAYS)


def test_the_readme_says_when_one_partial_fit_equals_many():
    # "one call over 1,000 rows equals 100 calls over 10 rows" held only with
    # batch_size=10 on a model already started: on fresh models the first of
    # the 100 calls starts the biases at the marginals of its 10 rows.
    text = " ".join(README.read_text().split())
    claim = re.search(r"with `batch_size=(\d+)`, one call over ([\d,]+) rows equals (\d+) "
                      r"calls over (\d+) rows, on a model already started", text)
    assert claim, "the README's partial_fit claim"
    batch, rows, calls, per_call = (int(g.replace(",", "")) for g in claim.groups())
    assert rows == calls * per_call
    X = _binary(rows, 6)
    params = dict(n_components=3, batch_size=batch, random_state=0, n_jobs=1)
    fresh_whole = BernoulliRBM(**params).partial_fit(X)
    fresh_pieces = BernoulliRBM(**params)
    for start in range(0, rows, per_call):
        fresh_pieces.partial_fit(X[start : start + per_call])
    assert not np.array_equal(fresh_whole.intercept_visible_, fresh_pieces.intercept_visible_)
    whole = BernoulliRBM(**params).partial_fit(X[:per_call])
    pieces = BernoulliRBM(**params).partial_fit(X[:per_call])
    whole.partial_fit(X)
    for start in range(0, rows, per_call):
        pieces.partial_fit(X[start : start + per_call])
    np.testing.assert_array_equal(whole.components_, pieces.components_)
    np.testing.assert_array_equal(whole.h_samples_, pieces.h_samples_)
