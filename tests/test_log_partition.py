"""Annealed importance sampling against exact log Z over many random models.

A single AIS-vs-exact comparison (``test_known_answers.py``) can pass by luck
and says nothing about whether the reported standard errors are honest.  Here
40 random models (20 visible units, 10 to 16 hidden units, so exact
enumeration takes milliseconds; weights of scales 0.1, 0.3 and 1.0) each get
one AIS estimate with its standard error, and the ensemble is checked against
what the statistics of AIS predict.  A new model type joins through
``exact_reference.FAMILIES``.
"""

import numpy as np
import pytest
from scipy import stats

from exact_reference import ALPHA, FAMILIES

N_MODELS = 40
N_VISIBLE = 20
HIDDEN_SIZES = range(10, 17)
SCALES = (0.1, 0.3, 1.0)
N_CHAINS, N_BETAS = 100, 1000


def ais_errors(family):
    """(log Z_ais - log Z_exact, reported standard error) of each random model."""
    errors, std_errors = [], []
    for i in range(N_MODELS):
        n_hidden = HIDDEN_SIZES[i % len(HIDDEN_SIZES)]
        W, b, c = family.random_params(N_VISIBLE, n_hidden, 1000 + i, SCALES[i % len(SCALES)])
        model = family.model(W, b, c)
        exact, _ = model.log_partition("exact")
        estimate, std_error = model.log_partition("ais", n_chains=N_CHAINS, n_betas=N_BETAS,
                                                  random_state=i)
        errors.append(estimate - exact)
        std_errors.append(std_error)
    return np.array(errors), np.array(std_errors)


def coverage_minimum(k_se, n_models=N_MODELS):
    """Fewest of N_MODELS errors within k_se standard errors that a correct AIS
    reaches with probability at least 1 - ALPHA.

    With M chains, the error divided by its delta-method standard error is
    approximately Student's t with M - 1 degrees of freedom (the standard
    error is estimated from the same M weights), so each model is covered
    with probability pi = P(|t_{M-1}| <= k_se) (0.952 for 2 SE, 0.997 for 3);
    the models are independent, so the count is Binomial(N_MODELS, pi).
    """
    pi = 1 - 2 * stats.t.sf(k_se, N_CHAINS - 1)
    return int(stats.binom.ppf(ALPHA, n_models, pi))


def ais_ensemble_checks(errors, std_errors):
    """Which of the ensemble checks the AIS results pass (a dict of booleans)."""
    z = errors / std_errors
    n_models = len(errors)
    # On the Z scale AIS is unbiased: E[Z_ais / Z] = 1, and Var(Z_ais / Z) is
    # about SE^2, so the sum of (Z_ais / Z - 1) over independent models,
    # divided by sqrt(sum SE^2), is approximately N(0, 1).
    ratio_z = np.sum(np.expm1(errors)) / np.sqrt(np.sum(std_errors ** 2))
    sum_z2 = np.sum(z ** 2)
    return {
        "within 2 SE": np.sum(np.abs(z) <= 2) >= coverage_minimum(2, n_models),
        "within 3 SE": np.sum(np.abs(z) <= 3) >= coverage_minimum(3, n_models),
        "Z unbiased": abs(ratio_z) < stats.norm.isf(ALPHA / 2),
        # Standard errors not inflated either: sum z^2 is about chi^2 with
        # N_MODELS degrees of freedom, so it must not be implausibly small.
        "SE not inflated": sum_z2 > stats.chi2.ppf(ALPHA, n_models),
    }


@pytest.mark.parametrize("family", FAMILIES, ids=lambda f: f.name)
def test_ais_errors_match_their_standard_errors(family):
    """AIS log Z estimates fall within their stated errors at the expected rate.

    What the right check is: AIS estimates Z without bias, so log Z_ais is
    biased low (Jensen: E[log Z_ais] <= log Z, by about SE^2 / 2, at most
    0.002 nats here against standard errors of 0.01 to 0.06, so it moves
    each error by under SE / 30).  Hence

    * coverage: the number of models within 2 SE and within 3 SE of the
      exact value is at least the binomial lower bound of a correct
      estimator (``coverage_minimum``: 33 and 38 of 40);
    * unbiasedness is checked on the Z scale, where it holds exactly, not on
      the log scale, where a small negative mean error is expected;
    * the standard errors are not inflated (sum of squared z-scores).

    Each check fails for a correct AIS with probability at most ALPHA (fixed
    seeds: deterministically passes or fails).  Power: the same results with
    the standard errors halved (a sqrt(M) vs M slip), or each estimate one SE
    too high, fail the coverage and unbiasedness checks.
    """
    errors, std_errors = ais_errors(family)
    assert np.all(std_errors > 0) and np.all(np.isfinite(errors))
    # The models span easy and hard: standard errors differ several-fold.
    assert std_errors.max() > 3 * std_errors.min()
    checks = ais_ensemble_checks(errors, std_errors)
    assert all(checks.values()), checks

    halved = ais_ensemble_checks(errors, std_errors / 2)
    assert not halved["within 2 SE"]
    shifted = ais_ensemble_checks(errors + std_errors, std_errors)
    assert not shifted["Z unbiased"]


def test_parameter_fingerprint_tells_shapes_dtypes_split_points_and_layers_apart():
    # Cache keys: contents alone read arrays of other shapes, an other split
    # between consecutive arrays, or other layer types as the same model.
    from rbm._partition import parameter_fingerprint
    from rbm._units import BernoulliVisible, GaussianVisible
    W, b, c = np.zeros((2, 3)), np.arange(3.0), np.arange(2.0)
    layers = (BernoulliVisible(),)
    base = parameter_fingerprint((W, b, c), layers)
    others = [parameter_fingerprint((W.reshape(3, 2), b, c), layers),
              parameter_fingerprint((W.astype(np.float32), b, c), layers),
              parameter_fingerprint((W, np.arange(2.0), np.r_[2.0, 0.0, 1.0]), layers),
              parameter_fingerprint((W, b, c), (GaussianVisible(),))]
    assert len({base, *others}) == 5
    assert parameter_fingerprint((W.copy(), b.copy(), c.copy()), (BernoulliVisible(),)) == base


def test_ais_whose_weights_one_run_carries_reports_no_error_bar_and_warns():
    # Strong couplings and 3 temperatures: one run carries ~99% of the weight.
    # The delta method's bar, sqrt((M / ESS - 1) / (M - 1)), read 0.99 nats
    # while the estimate was 19 nats below the exact log Z.
    import warnings
    from rbm import BernoulliRBM
    rng = np.random.RandomState(0)
    X = (rng.rand(200, 16) < 0.5).astype(float)
    model = BernoulliRBM(n_components=10, n_iter=1, random_state=0).fit(X)
    model.components_ = rng.normal(0, 10.0, model.components_.shape)
    exact = model.log_partition("exact").log_z
    with pytest.warns(RuntimeWarning, match=r"unreliable: its 100 runs' importance weights "
                                            r"count as 1\.\d+ effective runs.*n_betas, now 3"):
        estimate = model.log_partition("ais", n_betas=3, random_state=1)
    assert exact - estimate.log_z > 5  # far off: no finite bar below 1 nat may stand
    assert estimate.std_error == np.inf
    # The bracket's lower side falls back on Markov's inequality (the mean
    # weight is unbiased): log(1 / 0.005) nats below, which holds here.
    assert estimate.lower == pytest.approx(estimate.log_z - np.log(200), rel=1e-12)
    assert estimate.lower < exact
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert model.log_partition("ais", n_betas=3, random_state=1).std_error == np.inf


def test_combine_log_weights_keeps_the_delta_method_where_many_runs_count():
    from rbm._partition import combine_log_weights, effective_runs
    log_w = np.log(np.random.default_rng(0).uniform(0.5, 1.5, size=100))
    assert effective_runs(log_w) > 90
    ratios = np.exp(log_w) / np.exp(log_w).mean()
    log_z, std_error = combine_log_weights(log_w, 2.0)
    assert std_error == pytest.approx(np.std(ratios, ddof=1) / 10, rel=1e-12)
    assert log_z == pytest.approx(2.0 + np.log(np.exp(log_w).mean()), rel=1e-12)
    # One run of 100 with all the weight: the old bar read exactly 1.0.
    assert combine_log_weights(np.r_[0.0, np.full(99, -50.0)], 0.0)[1] == np.inf


def test_log_z_cached_under_the_keys_of_models_saved_before_the_fingerprint_is_kept(
        monkeypatch):
    # Review: the cache keys' fingerprint now covers shapes, dtypes and layer
    # types; a model saved before named its entries by the arrays' contents
    # alone, and after loading it lost them (log_partition_ None, and the
    # first score ran its AIS again: minutes for a large model).
    import rbm._likelihood as likelihood
    from rbm import BernoulliRBM
    from rbm._partition import contents_digest

    rng = np.random.default_rng(0)
    X = (rng.random((100, 12)) < 0.5).astype(float)
    model = BernoulliRBM(n_components=6, n_iter=2, random_state=0).fit(X)
    model.score(X)  # log Z of score (exact here), cached
    before = model.log_partition("ais", n_chains=20, n_betas=50)
    fingerprint = model._parameter_fingerprint()
    legacy = contents_digest(model._learned_parameters())
    assert legacy != fingerprint
    saved = {key.replace(fingerprint, legacy): value
             for key, value in model._training.log_partition_cache.items()}
    model._training.log_partition_cache = dict(saved)
    assert model.log_partition_ is not None  # score's entry, found under its old name
    calls = []
    forward = likelihood.LikelihoodMixin._forward_ais
    monkeypatch.setattr(likelihood.LikelihoodMixin, "_forward_ais",
                        lambda *a, **k: calls.append(1) or forward(*a, **k))
    model._training.log_partition_cache = dict(saved)
    again = model.log_partition("ais", n_chains=20, n_betas=50)
    assert calls == [] and tuple(again) == tuple(before)
    assert all(key.endswith(fingerprint) for key in model._training.log_partition_cache)


def test_an_estimate_without_a_standard_error_says_so_in_words():
    # Review: the CLI's label read "standard error inf" and fit's history
    # "ais ± inf", the wording the demo had just been changed to avoid.
    import math

    from rbm._monitor import estimate_tag
    from rbm._partition import LogPartitionEstimate

    without = LogPartitionEstimate(12.5, math.inf, "ais", n_chains=20, n_betas=50)
    with_error = LogPartitionEstimate(12.5, 0.03, "ais", n_chains=20, n_betas=50)
    assert "inf" not in without.label and "too few effective runs" in without.label
    assert "standard error 0.03" in with_error.label
    assert estimate_tag(without) == "ais ± ?" and estimate_tag(with_error) == "ais ± 0.03"
