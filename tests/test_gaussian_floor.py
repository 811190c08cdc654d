"""GaussianBernoulliRBM on data it used to fit badly without a word (issue 21).

Point 6, collapsing variances: on a handful of rows of two-valued data the
learned sigmas shrank onto the training values, and held-out rows scored
hundreds of thousands of nats below a standard normal.  sigma now has a
floor, ``sigma_floor`` times each feature's standard deviation (a constant
feature counting the data's scale as its spread), and ``fit`` warns when a
sigma ends there.

Point 13, data far from standardised: raw breast cancer (features in the
thousands) fitted silently and scored thousands of nats below a single
Gaussian.  ``fit`` now warns, naming the fix (StandardScaler in a Pipeline).

Held-out likelihoods are exact: the models have few hidden units, and
``mixture_log_density`` computes each model's density independently, as the
mixture of Gaussians it defines.
"""

import importlib.util
import os
import warnings

import numpy as np
import pytest
from scipy import stats
from sklearn.datasets import load_breast_cancer, load_wine
from sklearn.exceptions import ConvergenceWarning
from sklearn.model_selection import train_test_split
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler
from sklearn.utils._param_validation import InvalidParameterError

from rbm import GaussianBernoulliRBM
from rbm._units.gaussian import OFF_SCALE_FACTOR, SIGMA_FLOOR_FRACTION

from scipy.special import logsumexp

from test_gaussian import mixture_of

BENCHMARKS = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))),
                          "benchmarks")

#: Every two-valued row of three features: the held-out set of the tiny cases.
ALL_PATTERNS = np.array([[i >> 2 & 1, i >> 1 & 1, i & 1] for i in range(8)], dtype=float)


def mixture_log_density(model, X):
    """Exact log density of each row of X: the model's mixture of diagonal
    Gaussians, one feature at a time (the spreads of raw data span too many
    orders of magnitude for a covariance matrix)."""
    log_w, means, sigma, _ = mixture_of(model)
    # A few rows at a time: 16 hidden units are 65,536 components, and all
    # rows at once (rows x components x features) took 16 GB.
    rows_per_block = max(1, 2 ** 21 // (means.shape[0] * X.shape[1]))
    return np.concatenate([
        logsumexp(stats.norm.logpdf(block[:, None, :], means[None], sigma).sum(axis=2)
                  + log_w, axis=1)
        for block in np.array_split(X, -(-len(X) // rows_per_block))])


def far_from_standardised_warnings(records):
    return [r for r in records if "far from zero mean" in str(r.message)]


def floor_warnings(records):
    return [r for r in records if issubclass(r.category, ConvergenceWarning)
            and "ended at its floor" in str(r.message)]


# --------------------------------------------------------------------------
# Point 6: collapsing variances
# --------------------------------------------------------------------------

def tiny_standardised(rows):
    """Training rows standardised, and every pattern with the training scaler."""
    scaler = StandardScaler().fit(rows)
    return scaler.transform(rows), scaler.transform(ALL_PATTERNS)


def test_a_constant_feature_starts_at_the_data_scale_not_a_thousandth_of_it():
    # Column 2 is constant in training: StandardScaler leaves it at 0 with
    # spread 0.  Its sigma used to start (and stay below) 1e-3 of the scale.
    X, _ = tiny_standardised(np.array([[0, 1, 0], [1, 1, 0], [0, 0, 0]], float))
    model = GaussianBernoulliRBM(n_components=2, n_iter=0).fit(X)
    np.testing.assert_allclose(model.sigma_, [1.0, 1.0, 1.0])


def test_three_rows_of_two_valued_data_no_longer_collapse_and_the_floor_warns():
    """The issue's case: 3 rows of 3 standardised 0/1 columns, one constant.

    Before the floor, held-out rows scored -249,970 nats each (sigma of the
    constant column 0.001; a standard normal scores -4.3).  At the floor a
    held-out row one unit off the constant column loses at most
    1 / (2 sigma_floor**2) = 12.5 nats there against the training rows'
    component, so the mean stays within tens of nats, not hundreds of
    thousands; -50 leaves room for the other two columns' fit.
    """
    X, held_out = tiny_standardised(np.array([[0, 1, 0], [1, 1, 0], [0, 0, 0]], float))
    model = GaussianBernoulliRBM(n_components=4, random_state=0)
    with pytest.warns(ConvergenceWarning, match=r"feature 2\).*sigma_floor=0\.2") as records:
        model.fit(X)
    assert len(floor_warnings(records)) == 1
    assert np.all(model.sigma_ >= SIGMA_FLOOR_FRACTION * 1.0 * (1 - 1e-12))
    held_out_score = np.mean(mixture_log_density(model, held_out))
    np.testing.assert_allclose(model.score(held_out), held_out_score, rtol=1e-9)
    assert held_out_score > -50


def test_every_sigma_stays_above_its_floor_and_a_floor_of_one_fixes_sigma():
    X = StandardScaler().fit_transform(load_wine().data)
    std = X.std(axis=0)
    with pytest.warns(ConvergenceWarning, match="sigma_floor=0.9"):
        model = GaussianBernoulliRBM(n_components=8, n_iter=100, sigma_floor=0.9,
                                     random_state=0).fit(X)
    assert np.all(model.sigma_ >= 0.9 * std * (1 - 1e-12))
    with warnings.catch_warnings(record=True) as records:
        warnings.simplefilter("always")
        fixed = GaussianBernoulliRBM(n_components=8, n_iter=100, sigma_floor=1.0,
                                     random_state=0).fit(X)
    np.testing.assert_allclose(fixed.sigma_, std, rtol=1e-12)
    assert not floor_warnings(records)


@pytest.mark.parametrize("bad", [0.0, -0.1, 1.5])
def test_sigma_floor_outside_zero_to_one_is_refused(bad):
    X = np.random.default_rng(0).standard_normal((20, 2))
    with pytest.raises(InvalidParameterError, match="sigma_floor"):
        GaussianBernoulliRBM(n_components=2, sigma_floor=bad).fit(X)


def test_the_default_floor_leaves_benchmark_fits_as_they_were():
    """On standardised wine with a benchmark setting the learned sigmas stay
    above 0.39 of the data's spread (measured), so the default floor never
    binds: the model is the one the old floor (0.01) gave, bit for bit, and
    no warning is given."""
    X = StandardScaler().fit_transform(load_wine().data)
    settings = dict(n_components=16, learning_rate=0.01, n_iter=100, batch_size=10,
                    random_state=0)
    with warnings.catch_warnings(record=True) as records:
        warnings.simplefilter("always")
        default = GaussianBernoulliRBM(**settings).fit(X)
    old = GaussianBernoulliRBM(sigma_floor=0.01, **settings).fit(X)
    assert not floor_warnings(records) and not far_from_standardised_warnings(records)
    np.testing.assert_array_equal(default.sigma_, old.sigma_)
    np.testing.assert_array_equal(default.components_, old.components_)


# --------------------------------------------------------------------------
# Point 13: data far from standardised
# --------------------------------------------------------------------------

def test_raw_breast_cancer_warns_with_the_fix_and_the_fix_scores_far_better():
    """Raw breast cancer (means up to 894, spreads from 0.003 to 597) scored
    -3,641 nats per held-out row (16 hidden units, 100 epochs; a single
    Gaussian: +23), without a word.  The floor alone lifts it to -10.8, but
    the fit is still poor: the warning names StandardScaler, and the fitted
    Pipeline's exact score, taken back to the data's units by the scaler's
    log-Jacobian, is +7.9.  The bound, 5 nats, is a quarter of that gap."""
    X = load_breast_cancer().data
    X_train, X_test = train_test_split(X, test_size=0.3, random_state=0)
    settings = dict(n_components=16, n_iter=100, random_state=0)
    with pytest.warns(UserWarning, match=r"far from zero mean.*StandardScaler") as records:
        raw = GaussianBernoulliRBM(**settings).fit(X_train)
    assert len(far_from_standardised_warnings(records)) == 1
    with warnings.catch_warnings(record=True) as records:
        warnings.simplefilter("always")
        pipe = make_pipeline(StandardScaler(), GaussianBernoulliRBM(**settings)).fit(X_train)
    assert not far_from_standardised_warnings(records)
    scaler, model = pipe[0], pipe[-1]
    in_data_units = (mixture_log_density(model, scaler.transform(X_test))
                     - np.log(scaler.scale_).sum())
    raw_score = np.mean(mixture_log_density(raw, X_test))
    assert np.mean(in_data_units) > raw_score + 5


@pytest.mark.parametrize("scale, shift", [(100.0, 0.0), (0.01, 0.0), (1.0, 100.0)])
def test_far_means_or_spreads_warn_on_fit_and_the_first_partial_fit(scale, shift):
    X = shift + scale * np.random.default_rng(0).standard_normal((50, 3))
    with pytest.warns(UserWarning, match=r"far from zero mean.*feature 0"):
        GaussianBernoulliRBM(n_components=2, n_iter=1).fit(X)
    model = GaussianBernoulliRBM(n_components=2)
    with pytest.warns(UserWarning, match="far from zero mean"):
        model.partial_fit(X)
    with warnings.catch_warnings(record=True) as records:
        warnings.simplefilter("always")
        model.partial_fit(X)
    assert not far_from_standardised_warnings(records)


@pytest.mark.parametrize("model", ["density", "classifier"])
@pytest.mark.parametrize("scale, shift", [(100.0, 0.0), (1.0, 100.0)])
def test_later_rows_off_a_standardised_models_scale_warn(model, scale, shift):
    # One pass on unscaled rows wrecked a model fitted to standardised ones
    # (wine: -17.0 to -318.7 nats per row), without a word; a few
    # standardised rows, whatever their own spread, say nothing.
    rng = np.random.default_rng(0)
    X, y = rng.standard_normal((60, 3)), np.arange(60) % 2
    if model == "density":
        fitted = GaussianBernoulliRBM(n_components=2, n_iter=2, random_state=0).fit(X)
        train = fitted.partial_fit
    else:
        from rbm import RBMClassifier
        fitted = RBMClassifier(n_components=2, n_iter=2, visible="gaussian",
                               random_state=0).fit(X, y)
        train = lambda rows: fitted.partial_fit(rows, y[:len(rows)])  # noqa: E731
    for rows in (X[:1], X[:2], X[:3]):
        with warnings.catch_warnings(record=True) as records:
            warnings.simplefilter("always")
            train(rows)
        assert not far_from_standardised_warnings(records)
    with pytest.warns(UserWarning, match=r"far from zero mean.*feature 0"):
        train(shift + scale * X[:10])


@pytest.mark.parametrize("case", ["rows of weight 0", "rows with gaps"])
def test_the_rows_the_model_is_fitted_to_are_the_ones_warned_about(case):
    # Rows of weight 0 (dropped) hid the warning about the two rows left, and
    # missing="impute" fits were never warned about at all.
    rng = np.random.default_rng(0)
    X = rng.standard_normal((40, 3))
    if case == "rows of weight 0":
        fit = dict(X=X, sample_weight=np.r_[1.0, 1.0, np.zeros(38)])  # two rows: tiny spreads
        model = GaussianBernoulliRBM(n_components=2, n_iter=1, random_state=0)
    else:
        X = 100 * X
        X[0, 0] = np.nan
        fit = dict(X=X)
        model = GaussianBernoulliRBM(n_components=2, n_iter=1, random_state=0,
                                     missing="impute")
    with pytest.warns(UserWarning, match="far from zero mean") as records:
        model.fit(**fit)
    assert len(far_from_standardised_warnings(records)) == 1


@pytest.mark.parametrize("call", ["partial_fit", "warm fit"])
def test_later_rows_with_gaps_are_judged_by_their_observed_entries(call):
    # Before: the placeholders 0 of the missing entries counted, and a batch
    # whose feature 0 has mean 11.7 where observed passed without a word
    # once half of those entries were missing.
    rng = np.random.default_rng(0)
    X = rng.standard_normal((60, 3))
    X[0, 1] = np.nan
    model = GaussianBernoulliRBM(n_components=2, n_iter=2, random_state=0,
                                 missing="impute").fit(X)
    later = rng.standard_normal((40, 3))
    later[:, 0] += 11.7
    later[::2, 0] = np.nan
    train = (model.partial_fit if call == "partial_fit"
             else model.set_params(warm_start=True, n_iter=1).fit)
    with pytest.warns(UserWarning, match=r"far from zero mean.*feature 0.*mean 11\.\d"):
        train(later)
    # Standardised rows with gaps say nothing: the observed entries are.
    later[1::2, 0] -= 11.7
    with warnings.catch_warnings(record=True) as records:
        warnings.simplefilter("always")
        train(later)
    assert not far_from_standardised_warnings(records)


def test_later_rows_are_judged_as_few_weighted_rows():
    # Row by row, standardised breast cancer warned 3 times (one row reaches
    # 12 standard deviations: its "mean"); a row of weight 0 warned; a warm
    # fit on unscaled rows did not.
    from sklearn.preprocessing import StandardScaler

    X = StandardScaler().fit_transform(load_breast_cancer().data)
    model = GaussianBernoulliRBM(n_components=4, n_iter=2, random_state=0).fit(X)
    with warnings.catch_warnings(record=True) as records:
        warnings.simplefilter("always")
        for row in X[:300]:
            model.partial_fit(row[None])
        rows = X[:10].copy()
        rows[0] = 1e4
        model.partial_fit(rows, sample_weight=np.r_[0.0, np.ones(9)])
    assert not far_from_standardised_warnings(records)
    raw = load_breast_cancer().data
    with pytest.warns(UserWarning, match="far from zero mean"):
        model.partial_fit(raw[:1])
    with pytest.warns(UserWarning, match="far from zero mean"):
        model.set_params(warm_start=True, n_iter=1).fit(raw)


def test_the_warning_points_at_the_callers_line():
    X = 1e3 * np.random.default_rng(0).standard_normal((50, 2))
    with pytest.warns(UserWarning, match="far from zero mean") as records:
        GaussianBernoulliRBM(n_components=2, n_iter=1).fit(X)
    assert far_from_standardised_warnings(records)[0].filename == __file__


def benchmark_training_sets():
    """The training splits of benchmarks/gaussian_density.py (quick)."""
    spec = importlib.util.spec_from_file_location(
        "gaussian_density", os.path.join(BENCHMARKS, "gaussian_density.py"))
    benchmark = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(benchmark)
    return {name: data[0] for name, data in benchmark.datasets(quick=True).items()}


def test_standardised_and_benchmark_data_do_not_warn():
    rng = np.random.default_rng(0)
    sets = benchmark_training_sets()
    # A standardised feature that is constant (spread 0 after StandardScaler),
    # two-valued standardised data, and data just inside the bounds.
    sets["constant column"] = StandardScaler().fit_transform(
        np.column_stack([rng.standard_normal(30), np.ones(30)]))
    sets["0/1"] = StandardScaler().fit_transform(rng.integers(0, 2, (30, 4)).astype(float))
    sets["inside the bounds"] = (0.9 * OFF_SCALE_FACTOR
                                 + 0.9 * OFF_SCALE_FACTOR * rng.standard_normal((500, 2)))
    for name, X in sets.items():
        with warnings.catch_warnings(record=True) as records:
            warnings.simplefilter("always")
            GaussianBernoulliRBM(n_components=2, n_iter=1).fit(X)
        assert not far_from_standardised_warnings(records), name


def test_a_standard_normal_is_what_standardised_means():
    # The bounds are about the data, not the model: a standard normal sample
    # sits well inside them (means within 1, spreads within a factor of 2).
    X = stats.norm.rvs(size=(10, 5), random_state=0)
    assert np.all(np.abs(X.mean(axis=0)) < OFF_SCALE_FACTOR)
    assert np.all((X.std(axis=0) > 1 / OFF_SCALE_FACTOR) & (X.std(axis=0) < OFF_SCALE_FACTOR))


def test_the_command_line_on_a_four_row_csv_no_longer_collapses(tmp_path, capsys):
    """The issue's CLI case: ``rbm fit small.csv --model gaussian`` on four
    rows of 0/1 data (3 for training, one held out, standardised by the
    CLI) scored -499,988 nats on the held-out row with these settings; the
    training split's third column is constant.  Bound as in the three-row case above."""
    from rbm import cli

    path = tmp_path / "four.csv"
    path.write_text("a,b,c\n0,1,0\n1,0,0\n0,0,1\n1,1,0\n")
    with pytest.warns(ConvergenceWarning, match="ended at its floor"):
        status = cli.main(["fit", str(path), "--model", "gaussian", "--n-components", "4",
                           "--random-state", "0", "--n-jobs", "1"], prog="rbm")
    out = capsys.readouterr().out
    assert status == 0
    held_out = float(out.split("Held-out log-likelihood:")[1].split()[0])
    assert held_out > -50
