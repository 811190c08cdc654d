"""Verbose progress of fit and score, and the labels of recorded likelihoods (issue 21, points 5, 10, 17)."""

import io
import math
import sys

import numpy as np
import pytest
from sklearn.datasets import load_digits

from rbm import BernoulliRBM
from rbm._monitor import LIKELIHOOD_CHECKS, PROGRESS_LINES, ProgressLine


@pytest.fixture(scope="module")
def digits():
    return load_digits().data / 16.0


class FakeTerminal(io.StringIO):
    def isatty(self):
        return True


def test_verbose_fit_writes_a_few_plain_lines_when_not_a_terminal(digits, capsys):
    n_epochs = 30
    BernoulliRBM(n_components=8, n_iter=n_epochs, random_state=0, verbose=1).fit(digits[:200])
    out = capsys.readouterr().out
    lines = out.splitlines()
    assert "\r" not in out
    # epoch 1, every n_epochs // PROGRESS_LINES epochs (which includes the last)
    assert len(lines) == 1 + PROGRESS_LINES
    # as the verbose parameter's documentation says (it said "about 20 epochs")
    assert 1 + PROGRESS_LINES == 6
    assert "about six plain lines" in " ".join(BernoulliRBM.__doc__.split())
    assert lines[-1].startswith(f"[BernoulliRBM] epoch {n_epochs}/{n_epochs}, ")
    assert "updates/s" in lines[-1] and "left" in lines[-1]
    # 8 hidden units: log Z is exact, and the line says so
    assert "training log-likelihood" in lines[-1] and "(exact)" in lines[-1]


def test_verbose_fit_updates_one_line_in_place_on_a_terminal(digits, monkeypatch):
    terminal = FakeTerminal()
    monkeypatch.setattr(sys, "stdout", terminal)
    BernoulliRBM(n_components=8, n_iter=10, random_state=0, verbose=1).fit(digits[:200])
    out = terminal.getvalue()
    assert out.startswith("\r[BernoulliRBM] epoch 1/10")
    assert out.endswith("\n") and out.count("\n") == 1
    assert out.rstrip("\n").rsplit("\r", 1)[1].startswith("[BernoulliRBM] epoch 10/10, ")


def test_progress_line_on_a_terminal_is_throttled(monkeypatch):
    terminal = FakeTerminal()
    clock = iter(np.arange(0.0, 100.0, 0.01))  # 10 ms per update, 25 per allowed write
    monkeypatch.setattr("rbm._monitor.time.perf_counter", lambda: float(next(clock)))
    line = ProgressLine("M", 100, 10, stream=terminal)
    for epoch in range(1, 101):
        line.update({"epoch": epoch, "seconds": epoch * 0.01, "log_likelihood_train": math.nan,
                     "log_likelihood_validation": math.nan, "log_likelihood_method": ""})
    line.finish()
    writes = terminal.getvalue().count("\r")
    assert writes == 4 + 1 + 1  # every 25 updates, the last epoch, finish


def test_verbose_two_keeps_one_line_per_epoch(digits, capsys):
    BernoulliRBM(n_components=8, n_iter=7, random_state=0, verbose=2).fit(digits[:100])
    assert len(capsys.readouterr().out.splitlines()) == 7


@pytest.mark.parametrize("n_components", [6, 8])
def test_default_fit_of_a_small_model_records_exact_likelihoods(digits, n_components):
    n_epochs = 2 * LIKELIHOOD_CHECKS
    model = BernoulliRBM(n_components=n_components, n_iter=n_epochs, random_state=0).fit(digits)
    history = model.history_
    recorded = [i for i, v in enumerate(history["log_likelihood_train"]) if not math.isnan(v)]
    assert recorded == list(range(1, n_epochs, 2))  # every n_epochs // LIKELIHOOD_CHECKS
    assert all(history["log_likelihood_method"][i] == "exact" for i in recorded)
    assert all(history["log_likelihood_method"][i] == "" for i in range(0, n_epochs, 2))
    # the last check is the model's exact mean log-likelihood of its training rows
    assert history["log_likelihood_train"][-1] == pytest.approx(model.score(digits),
                                                                abs=1e-9)


@pytest.mark.parametrize("n_components, n_rows, n_epochs", [(16, 1797, 40), (4, 50, 1)])
def test_fits_too_short_to_afford_a_likelihood_check_record_none(digits, n_components, n_rows,
                                                                 n_epochs):
    # An exact log Z of 2**16 states costs more than 10% of 40 epochs of the
    # digits, and any check more than a one-epoch fit of 50 rows: monitoring
    # nobody asked for costs nothing there (issue 20: no per-fit fixed costs).
    model = BernoulliRBM(n_components=n_components, n_iter=n_epochs,
                         random_state=0).fit(digits[:n_rows])
    assert all(math.isnan(v) for v in model.history_["log_likelihood_train"])
    assert all(m == "" for m in model.history_["log_likelihood_method"])


def test_likelihood_monitoring_spends_a_share_of_training_unasked_and_more_when_required():
    from rbm._monitor import (CHECK_OVERHEAD_FLOPS, MONITOR_AIS_FLOPS_PER_WEIGHT,
                              MONITOR_SHARE, PASS_FLOPS_PER_WEIGHT, likelihood_monitoring)
    n_train, n_weights = 50_000, 640
    between_checks = PASS_FLOPS_PER_WEIGHT * n_train * n_weights  # 1 epoch per check
    affordable = MONITOR_SHARE * between_checks - CHECK_OVERHEAD_FLOPS
    assert likelihood_monitoring(affordable, n_train, n_weights, 20, False) == "exact"
    ais = MONITOR_AIS_FLOPS_PER_WEIGHT * n_weights + CHECK_OVERHEAD_FLOPS
    assert ais > MONITOR_SHARE * between_checks  # so unasked, nothing beyond the share
    assert likelihood_monitoring(2 * affordable, n_train, n_weights, 20, False) is None
    # Required (early stopping), exact up to the training between checks plus
    # the AIS run it replaces, AIS beyond (and for models too large to enumerate).
    assert likelihood_monitoring(between_checks, n_train, n_weights, 20, True) == "exact"
    assert likelihood_monitoring(between_checks + 2 * ais, n_train, n_weights, 20, True) == "ais"
    assert likelihood_monitoring(math.inf, n_train, n_weights, 20, True) == "ais"
    # With 100 times the epochs per check, the short AIS run fits the share.
    assert likelihood_monitoring(math.inf, n_train, n_weights, 2000, False) == "ais"


def test_early_stopping_likelihoods_of_a_large_model_are_labelled_ais(digits):
    model = BernoulliRBM(n_components=100, n_iter=4, early_stopping=True,
                         random_state=0).fit(digits)
    methods = model.history_["log_likelihood_method"]
    assert all(m.startswith("ais ± ") for m in methods)
    assert all(float(m.split("± ")[1]) > 0 for m in methods)


def test_default_digits_fit_of_a_large_model_records_a_short_ais_likelihood(digits,
                                                                            monkeypatch):
    # The default digits fit (256 hidden units, the "auto" plan) records the
    # training likelihood at its checks: a short AIS run costs little there.
    import rbm._training as training
    from rbm._monitor import likelihood_monitoring

    default = BernoulliRBM()
    n_epochs = training.planned_epochs(default.n_iter, default.batch_size, len(digits))
    n_weights = default.n_components * digits.shape[1]
    assert likelihood_monitoring(math.inf, len(digits), n_weights, n_epochs, False) == "ais"
    # A short fit would spend more on it than on training, and records none.
    assert likelihood_monitoring(math.inf, len(digits), n_weights, 40, False) is None
    model = BernoulliRBM(n_components=64, n_iter=40, random_state=0).fit(digits)
    assert all(math.isnan(v) for v in model.history_["log_likelihood_train"])
    # Where it is affordable, the checks record it, labelled with its error.
    monkeypatch.setattr(training, "likelihood_monitoring", lambda *args: "ais")
    model = BernoulliRBM(n_components=64, n_iter=40, random_state=0).fit(digits)
    history = model.history_
    recorded = [i for i, v in enumerate(history["log_likelihood_train"]) if not math.isnan(v)]
    assert recorded == list(range(1, 40, 2))
    assert all(history["log_likelihood_method"][i].startswith("ais ± ") for i in recorded)


def test_first_score_announces_its_ais_run_at_verbose(digits, capsys):
    model = BernoulliRBM(n_components=40, n_iter=1, random_state=0, verbose=1).fit(digits)
    capsys.readouterr()
    model.score(digits[:20])
    lines = capsys.readouterr().out.splitlines()
    assert len(lines) == 2
    assert "estimating log Z by AIS" in lines[0]
    assert "standard error" in lines[1] and lines[1].endswith(" s")
    model.score(digits[:20])  # cached: nothing to announce
    assert capsys.readouterr().out == ""


def test_command_line_and_demo_describe_log_z_alike(digits):
    from rbm._demo import _log_z_label
    from rbm.cli import _describe_log_z
    model = BernoulliRBM(n_components=8, n_iter=1, random_state=0).fit(digits[:100])
    exact = model.log_partition()
    assert _describe_log_z(exact) == "exact"
    assert _log_z_label(model, exact).startswith("exact, ")
    ais = model.log_partition(method="ais", n_betas=100)
    assert _describe_log_z(ais).startswith("AIS, ") and "standard error" in _describe_log_z(ais)
    assert _log_z_label(model, ais) == _describe_log_z(ais)
