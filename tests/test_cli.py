"""The command line: fitting, reporting, saving, figures, and one-line errors."""

import re
import subprocess
import sys
from importlib import import_module
from pathlib import Path

import numpy as np
import pytest
import skops.io as sio

import rbm
from rbm import BernoulliRBM, CategoricalRBM, cli

ROOT = Path(__file__).resolve().parents[1]
SMALL = ["--n-components", "4", "--n-iter", "3", "--random-state", "0", "--n-jobs", "1"]


def run(argv, capsys):
    status = cli.main(argv, prog="rbm")
    out, err = capsys.readouterr()
    return status, out, err


@pytest.fixture(scope="module")
def binary_csv(tmp_path_factory):
    rng = np.random.default_rng(0)
    X = (rng.random((120, 6)) < np.linspace(0.2, 0.8, 6)).astype(int)
    path = tmp_path_factory.mktemp("data") / "binary.csv"
    np.savetxt(path, X, fmt="%d", delimiter=",", header="a,b,c,d,e,f", comments="")
    return path, X.astype(np.float64)


def _held_out(out):
    return float(re.search(r"Held-out log-likelihood: (-?[\d.]+)", out).group(1))


def test_fit_a_csv_reports_saves_and_plots(binary_csv, tmp_path, capsys):
    path, X = binary_csv
    model_path, plots = tmp_path / "model.skops", tmp_path / "figures"
    status, out, err = run(["fit", str(path), *SMALL, "--save", str(model_path),
                            "--plots", str(plots), "--sample-steps", "10"], capsys)
    assert status == 0, err
    assert "120 samples x 6 features, used as given" in out  # binary: no preprocessing
    assert "Training on 96 samples, 24 held out" in out
    assert "log Z =" in out and "(exact)" in out

    saved = sio.load(model_path, trusted=rbm.trusted_types())
    model = saved[-1]
    assert isinstance(model, BernoulliRBM) and model.n_components == 4
    reported = _held_out(out)
    assert all(np.isfinite([reported])) and reported < 0
    # The report is the saved model's mean log-likelihood of some 24 of the rows.
    assert min(model.score_samples(X)) <= reported <= max(model.score_samples(X))
    for name in ("filters.png", "samples.png", "free_energy.png", "learning_curves.png"):
        assert (plots / name).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert "Wrote 4 figures" in out


def test_score_a_saved_model_on_new_data(binary_csv, tmp_path, capsys):
    path, X = binary_csv
    model_path = tmp_path / "model.joblib"
    run(["fit", str(path), *SMALL, "--save", str(model_path), "--test-size", "0", "-q"],
        capsys)
    np.save(tmp_path / "rows.npy", X[:10])
    status, out, err = run(["score", str(model_path), str(tmp_path / "rows.npy")], capsys)
    assert status == 0, err
    value = float(re.search(r": (-?[\d.]+) nats per sample", out).group(1))
    model = rbm.persistence.load(model_path)[-1]
    assert value == pytest.approx(model.score(X[:10]), abs=1e-4)


def test_fit_a_bundled_data_set_with_automatic_preprocessing(tmp_path, capsys):
    status, out, err = run(["fit", "iris", *SMALL, "--plots", str(tmp_path),
                            "--sample-steps", "5", "--verbose", "2"], capsys)
    assert status == 0, err
    assert "iris (bundled with scikit-learn): 150 samples x 4 features, scaled to [0, 1] " \
           "and binarized at 0.5" in out
    assert out.count("[BernoulliRBM] Iteration") == 3  # progress, every epoch
    assert "Held-out log-likelihood" in out


AUTOMATIC = {"binarize": "scaled to [0, 1] and binarized at 0.5",
             "standardize": "standardized", "bins": "cut into 5 quantile bins per feature"}


@pytest.mark.parametrize("model_name", sorted(cli.available_models()))
def test_every_model_fits_bundled_data_with_its_own_preprocessing(model_name, tmp_path,
                                                                  capsys):
    status, out, err = run(["fit", "wine", "--model", model_name, *SMALL,
                            "--learning-rate", "0.01", "--save", str(tmp_path / "m.skops"),
                            "-q"], capsys)
    assert status == 0, err
    assert AUTOMATIC[cli.MODELS[model_name][1]] in out
    assert "Held-out log-likelihood" in out
    saved = rbm.persistence.load(tmp_path / "m.skops")
    assert type(saved[-1]) is cli.available_models()[model_name]


def test_two_feature_data_get_an_energy_landscape(tmp_path, capsys):
    rng = np.random.default_rng(1)
    np.save(tmp_path / "two.npy", rng.random((80, 2)) * 10)
    status, out, err = run(["fit", str(tmp_path / "two.npy"), *SMALL, "--preprocess",
                            "minmax", "--plots", str(tmp_path / "f"), "--sample-steps", "5"],
                           capsys)
    assert status == 0, err
    assert "scaled to [0, 1]." in out
    assert (tmp_path / "f" / "energy_landscape.png").is_file()


def test_model_parameters_reach_the_model(binary_csv, tmp_path, capsys):
    path, _ = binary_csv
    model_path = tmp_path / "m.pkl"
    status, _, err = run(["fit", str(path), *SMALL, "--method", "cd", "--k", "2",
                          "--momentum", "0.5", "--weight-decay", "0.001",
                          "--save", str(model_path), "-q"], capsys)
    assert status == 0, err
    params = rbm.persistence.load(model_path)[-1].get_params()
    assert (params["method"], params["k"], params["momentum"], params["weight_decay"],
            params["n_components"]) == ("cd", 2, 0.5, 0.001, 4)


def test_fit_says_which_epoch_early_stopping_kept(binary_csv, tmp_path, capsys):
    path, _ = binary_csv
    model_path = tmp_path / "m.pkl"
    argv = ["fit", str(path), "--n-components", "4", "--n-iter", "40", "--random-state", "0",
            "--n-jobs", "1", "--param", "early_stopping=true", "--param", "n_iter_no_change=1",
            "--save", str(model_path)]
    status, out, err = run(argv, capsys)
    assert status == 0, err
    model = rbm.persistence.load(model_path)[-1]
    assert (f"Early stopping kept epoch {model.best_epoch_} of the {model.n_iter_} trained "
            f"(validation log-likelihood {model.best_validation_score_:.3f})") in out


@pytest.mark.parametrize("word, expected", [("false", False), ("FALSE", False),
                                            ("True", True), ("true", True)])
def test_boolean_parameters_take_true_and_false_in_any_case(binary_csv, tmp_path, capsys,
                                                            word, expected):
    # Was: --param shuffle=false was refused ("must be an instance of 'bool'... Got
    # 'false'"); only Python's True and False were read as booleans.
    path, _ = binary_csv
    model_path = tmp_path / "m.pkl"
    status, _, err = run(["fit", str(path), *SMALL, "--param", f"shuffle={word}",
                          "--save", str(model_path), "-q"], capsys)
    assert status == 0, err
    assert rbm.persistence.load(model_path)[-1].get_params()["shuffle"] is expected


@pytest.mark.parametrize("argv, message", [
    (["fit", "missing.csv"], "no such file: 'missing.csv'"),
    (["fit", "data.txt"], "neither a .csv nor a .npy file nor a bundled data set"),
    (["fit", "{bad_csv}"], "column 2 holds text ('x') but --model bernoulli needs numbers"),
    (["fit", "{one_d}"], "must hold a 2-D array"),
    (["fit", "{nan_csv}"], "holds 1 NaN and 0 infinite values"),
    (["fit", "{empty_csv}"], "holds no data"),
    (["fit", "{binary}", "--n-components", "0"], "'n_components' parameter"),
    (["fit", "{binary}", "--param", "colour=3"], "Invalid parameter 'colour'"),
    (["fit", "{wide}", "--preprocess", "none"], "expects values in [0, 1]"),
    (["fit", "{binary}", "--image-shape", "3x3"], "has 9 pixels but the data have 6"),
    (["fit", "{binary}", "--save", "model.txt", "-q"], "--save 'model.txt': cannot tell how"),
    (["score", "absent.skops", "digits"], "no such file"),
])
def test_errors_are_one_line_on_stderr(argv, message, binary_csv, tmp_path, capsys,
                                       monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "bad.csv").write_text("1,2\n3,x\n")
    (tmp_path / "nan.csv").write_text("a,b\n1,nan\n0,1\n")
    (tmp_path / "empty.csv").write_text("a,b\n")
    np.save(tmp_path / "one_d.npy", np.arange(5.0))
    np.save(tmp_path / "wide.npy", np.arange(12.0).reshape(6, 2))
    files = {"bad_csv": "bad.csv", "one_d": "one_d.npy", "wide": "wide.npy",
             "nan_csv": "nan.csv", "empty_csv": "empty.csv",
             "binary": str(binary_csv[0])}
    argv = [arg.format(**files) for arg in argv]
    status, out, err = run(argv + (SMALL[2:] if argv[0] == "fit" else []), capsys)
    assert status == 1
    assert err.startswith(f"rbm {argv[0]}: error: ") and err.count("\n") == 1
    assert message in err


def test_usage_errors_exit_with_status_2(capsys):
    # --ais-betas 0 and --sample-steps 0 used to fail after training, --threshold nan
    # to binarize everything to 0, --n-bins 1 to reach KBinsDiscretizer unnamed.
    for argv in (["fit"], ["fit", "digits", "--test-size", "1.5"],
                 ["fit", "digits", "--method", "gibbs"], ["fit", "digits", "--model", "x"],
                 ["fit", "digits", "--ais-betas", "0"], ["fit", "digits", "--sample-steps", "0"],
                 ["fit", "digits", "--threshold", "nan"], ["fit", "digits", "--n-bins", "1"]):
        with pytest.raises(SystemExit) as exit_info:
            cli.main(argv, prog="rbm")
        assert exit_info.value.code == 2
    assert "usage: rbm fit" in capsys.readouterr().err


def test_no_command_runs_the_demo_with_its_defaults():
    parser = cli.build_parser("rbm")
    args = parser.parse_args(cli._with_default_command([]))
    assert args.run is rbm._demo.run
    assert (args.n_components, args.epochs, args.feature_components, args.seed) == (
        20, "auto", 256, 0)
    args = parser.parse_args(cli._with_default_command(["--epochs", "3", "--quiet"]))
    assert args.run is rbm._demo.run and args.epochs == 3 and args.quiet


def test_demo_density_part_prints_its_report(capsys):
    args = cli.build_parser("rbm").parse_args(
        ["demo", "--epochs", "2", "--n-components", "8", "--quiet"])
    rbm._demo.density_estimation(args)
    out = capsys.readouterr().out
    assert "Trained 2 epochs of PCD-1" in out
    assert re.search(r"BernoulliRBM, 8 hidden units\s+-\d+\.\d{3}", out)
    assert re.search(r"independent pixels\s+-\d+\.\d{3}", out)


def test_models_registry_lists_available_models_only():
    assert cli.available_models()["bernoulli"] is BernoulliRBM
    for name, cls in cli.available_models().items():
        assert cls.__name__ == cli.MODELS[name][0]


def test_console_script_points_at_main():
    pyproject = (ROOT / "pyproject.toml").read_text()
    scripts = pyproject.split("[project.scripts]\n", 1)[1].split("\n[", 1)[0]
    target = re.search(r'^rbm = "([\w.]+):(\w+)"$', scripts, re.MULTILINE)
    module, function = target.groups()
    assert getattr(import_module(module), function) is cli.main


def test_python_dash_m_rbm_help_and_error_without_traceback(tmp_path):
    help_run = subprocess.run([sys.executable, "-m", "rbm", "fit", "--help"], cwd=ROOT,
                              capture_output=True, text=True, timeout=120)
    assert help_run.returncode == 0
    assert help_run.stdout.startswith("usage: python -m rbm fit")
    assert "examples:" in help_run.stdout
    error_run = subprocess.run([sys.executable, "-m", "rbm", "fit", str(tmp_path / "x.npy")],
                               cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert error_run.returncode == 1
    assert error_run.stderr.startswith("python -m rbm fit: error: no such file")
    assert "Traceback" not in error_run.stderr


@pytest.mark.parametrize("text, expected", [
    ("a,b\n1,0\n0,1\n", [[1.0, 0.0], [0.0, 1.0]]),               # numbers: NumPy's fast reader
    ("1;0\n0;1\n", [[1.0, 0.0], [0.0, 1.0]]),                     # no header, semicolons
    ('x\t"y"\n"2"\t3\n', [[2.0, 3.0]]),                            # tabs and quotes
    ("colour,n\nred,1\nblue,2\n", [["red", 1], ["blue", 2]]),     # words and whole numbers
    ("red|1.5\nblue|2\n", [["red", 1.5], ["blue", 2.0]]),           # pipes, no header
    ("red,S\nblue,M\n", [["blue", "M"]]),                          # every column text: header
])
def test_csv_reader_types_each_column(text, expected, tmp_path):
    (tmp_path / "data.csv").write_text(text)
    args = cli.build_parser("rbm").parse_args(["score", "m.skops", str(tmp_path / "data.csv")])
    assert cli._load_data(args).X.tolist() == expected


def impute_args(model, n_components=None, n_iter=None, seed=3):
    from types import SimpleNamespace
    return SimpleNamespace(model=model, n_components=n_components, n_iter=n_iter, seed=seed)


def test_impute_with_a_named_model_trains_it_by_the_imputers_rule():
    # `rbm impute --model NAME` builds NAME itself; it must be the model
    # RBMImputer's own choice would be for the same data (size, chains,
    # weight decay, updates: one code path), with --n-components and
    # --n-iter overriding the rule.
    from rbm.impute import default_estimator
    rng = np.random.default_rng(0)
    X = (rng.random((500, 6)) < 0.5).astype(float)
    X[rng.random(X.shape) < 0.1] = np.nan
    model = cli._imputer_estimator(impute_args("bernoulli"), X)
    assert isinstance(model, BernoulliRBM)
    assert model.get_params() == default_estimator(X, np.isnan(X), 3).get_params()
    assert model.n_chains != BernoulliRBM().n_chains  # the rule's, not the class default
    model = cli._imputer_estimator(impute_args("bernoulli", 7, 2), X)
    assert (model.n_components, model.n_iter) == (7, 2)


def test_impute_named_categorical_model_gets_the_imputers_decay_and_size():
    # Many categories and near-identical rows (a protein family's alignment
    # in miniature): the imputer lowers the weight decay and gives one
    # hidden unit per observed category; `--model categorical` must too
    # (before, it kept 5e-3 and 64 hidden units).
    from rbm.impute import DEFAULT_RULE, default_estimator, neighbour_identity
    rng = np.random.default_rng(1)
    letters = np.array(list("ACDEFGHIKLMNPQRSTVWY-"), dtype=object)
    ancestors = rng.integers(0, len(letters), (5, 12))
    codes = ancestors[rng.integers(0, 5, 200)]
    codes = np.where(rng.random(codes.shape) < 0.05, rng.integers(0, 21, codes.shape), codes)
    X = letters[codes]
    X[rng.random(X.shape) < 0.1] = None
    missing = np.equal(X, None)
    assert neighbour_identity(X, missing) >= DEFAULT_RULE.decay_identity
    model = cli._imputer_estimator(impute_args("categorical"), X)
    assert isinstance(model, CategoricalRBM)
    assert model.get_params() == default_estimator(X, missing, 3).get_params()
    assert model.weight_decay < DEFAULT_RULE.weight_decay
    assert model.n_components > DEFAULT_RULE.min_hidden


def _fail_after_writing_some(monkeypatch, suffix):
    """Make writing a .csv or .npy fail partway, after some bytes are written."""
    if suffix == ".npy":
        def save(f, *args, **kwargs):
            f.write(b"\x93NUMPY half")
            raise OSError(28, "No space left on device")
        monkeypatch.setattr(np, "save", save)
        return
    real, calls = cli._format_value, []

    def format_value(value):
        calls.append(value)
        if len(calls) > 20:
            raise OSError(28, "No space left on device")
        return real(value)
    monkeypatch.setattr(cli, "_format_value", format_value)


@pytest.mark.parametrize("name", ["features.csv", "features.npy"])
def test_a_write_that_fails_halfway_leaves_the_old_output_whole(name, binary_csv, tmp_path,
                                                               capsys, monkeypatch):
    # Before: -o opened the file for writing at once, emptying it, so a failure
    # while writing (a full disk, say) lost the file that was there.
    path, _ = binary_csv
    model_path = tmp_path / "m.skops"
    assert run(["fit", str(path), *SMALL, "--save", str(model_path), "-q"], capsys)[0] == 0
    output = tmp_path / name
    output.write_bytes(b"the previous output\n")
    _fail_after_writing_some(monkeypatch, output.suffix)
    status, _, err = run(["transform", str(model_path), str(path), "-o", str(output)], capsys)
    assert status == 1 and "No space left on device" in err, err
    assert output.read_bytes() == b"the previous output\n"
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(["m.skops", name])


def test_impute_help_says_which_options_need_a_model_named_and_which_marks_are_gaps(capsys):
    # Before: --help gave --n-components and --n-iter plain defaults, and using
    # either without --model was then refused ("--n-components and --n-iter set
    # the model --model names"); nor did it say that NA marks a gap.
    with pytest.raises(SystemExit):
        cli.main(["impute", "--help"], prog="rbm")
    text = " ".join(capsys.readouterr().out.split())
    assert "--n-components N hidden units, with a --model named" in text
    assert "--n-iter N training epochs, with a --model named" in text
    assert "nan, NA, N/A, NULL and the like in a column of numbers" in text


def test_two_features_one_constant_in_training_get_no_landscape_and_no_error(tmp_path, capsys):
    # Before: the fit trained and saved, then failed with "empty plotting range:
    # x from -1.41 to 0.71, y from 0.0 to 0.0" (exit 1, the other figures unwritten).
    X = np.column_stack([np.arange(8.0) % 3, np.zeros(8)])
    np.save(tmp_path / "flat.npy", X)
    status, out, err = run(["fit", str(tmp_path / "flat.npy"), *SMALL, "--model", "gaussian",
                            "--test-size", "0", "--plots", str(tmp_path / "f"),
                            "--sample-steps", "5", "-q"], capsys)
    assert status == 0, err
    assert "Wrote 4 figures" in out
    assert not (tmp_path / "f" / "energy_landscape.png").exists()
    assert (tmp_path / "f" / "free_energy.png").is_file()


def test_the_samples_figure_of_a_categorical_fit_has_one_title(tmp_path, capsys,
                                                                monkeypatch):
    # samples.png of --model categorical (a heatmap of category codes) had two
    # titles: "Samples after 5 Gibbs steps" above the heatmap's own "Samples".
    from matplotlib.figure import Figure
    saved = {}
    savefig = Figure.savefig

    def keep(fig, path, *args, **kwargs):
        saved[Path(path).name] = fig
        return savefig(fig, path, *args, **kwargs)
    monkeypatch.setattr(Figure, "savefig", keep)
    (tmp_path / "words.csv").write_text("colour,size\n" + "red,S\nblue,L\ngreen,M\n" * 6)
    status, out, err = run(["fit", str(tmp_path / "words.csv"), "--model", "categorical",
                            *SMALL, "-q", "--sample-steps", "5", "--plots",
                            str(tmp_path / "figures")], capsys)
    assert status == 0, err
    fig = saved["samples.png"]
    titles = [fig._suptitle.get_text()] if fig._suptitle is not None else []
    titles += [ax.get_title() for ax in fig.axes if ax.get_title()]
    assert titles == ["Samples drawn exactly"]  # (a model this small is drawn exactly)
