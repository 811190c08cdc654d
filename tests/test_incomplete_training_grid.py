"""``--grid`` of benchmarks/incomplete_training.py: parsed, checked and used."""

import argparse
import importlib.util
import os
import warnings

import pytest

BENCHMARK = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))),
                         "benchmarks", "incomplete_training.py")


@pytest.fixture(scope="module")
def benchmark():
    spec = importlib.util.spec_from_file_location("incomplete_training", BENCHMARK)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_grid_is_parsed_in_order(benchmark):
    assert benchmark.parse_grid("100,200,12800") == (100, 200, 12800)


@pytest.mark.parametrize("text", ["100,x", "200,100", "100,100", "0,100", ""])
def test_a_bad_grid_gets_a_clear_error(benchmark, text):
    with pytest.raises(argparse.ArgumentTypeError, match="--grid"):
        benchmark.parse_grid(text)


def test_without_grid_the_default_lengths_stay(benchmark, monkeypatch):
    seen = {}

    def runner(name, seed, loader, grid):
        seen["grid"] = grid
        return []

    monkeypatch.setattr(benchmark, "run_choosing_epochs", runner)
    benchmark.main(["--choose-epochs", "--sets", "wine"])
    assert seen["grid"] == benchmark.EPOCH_GRID == (100, 200, 400, 800, 1600, 3200)
    benchmark.main(["--choose-epochs", "--sets", "wine", "--grid", "3,7"])
    assert seen["grid"] == (3, 7)


def test_the_chosen_lengths_come_from_the_grid(benchmark):
    grid = (2, 5)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # short fits warn about convergence
        rows = benchmark.run_choosing_epochs("wine", seed=0, grid=grid)
    chosen = {label: n_iter for label, n_rows, *_, n_iter in rows if n_rows >= 2}
    assert "gaps (missing='impute')" in chosen and "mean fill" in chosen
    assert set(chosen.values()) <= set(grid)
