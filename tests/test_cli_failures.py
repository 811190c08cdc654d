"""Failures of ``python -m rbm``, run in a subprocess on files in tmp_path.

Each is one line on stderr naming the command, with a nonzero exit status
and no traceback (issue 22, point 8); output paths fail before any training
(issue 21, point 3); model files that are not complete saved models say so
(issue 21, point 7); unknown commands are invalid choices (issue 21, point 14).
"""

import os
import subprocess
import sys
import zipfile
from pathlib import Path

import numpy as np
import pytest
import skops.io as sio

import rbm

ROOT = Path(__file__).resolve().parents[1]
FAST = ["--n-components", "3", "--n-iter", "2", "-q", "--n-jobs", "1"]


def rbm_command(*args, cwd, timeout=600):
    """``python -m rbm ARGS`` on this checkout; the CompletedProcess."""
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(
        [str(ROOT), *filter(None, [os.environ.get("PYTHONPATH")])])}
    return subprocess.run([sys.executable, "-m", "rbm", *map(str, args)], cwd=cwd, env=env,
                          capture_output=True, text=True, timeout=timeout)


def assert_one_line_failure(result, command, message):
    assert result.returncode == 1, (result.stdout, result.stderr)
    assert result.stderr.startswith(f"python -m rbm {command}: error: "), result.stderr
    assert result.stderr.count("\n") == 1, result.stderr
    assert message in result.stderr, result.stderr


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    """A folder with binary.csv and model.skops / model.joblib fitted on it."""
    folder = tmp_path_factory.mktemp("files")
    rows = (np.random.default_rng(0).random((30, 4)) < 0.5).astype(int)
    np.savetxt(folder / "binary.csv", rows, fmt="%d", delimiter=",", header="a,b,c,d",
               comments="")
    model = rbm.BernoulliRBM(n_components=3, n_iter=2, random_state=0).fit(rows)
    rbm.persistence.save(model, folder / "model.skops")
    rbm.persistence.save(model, folder / "model.joblib")
    return folder


def _truncated(folder, name):
    data = (folder / name).read_bytes()
    path = folder / ("truncated" + Path(name).suffix)
    path.write_bytes(data[: len(data) // 2])
    return path.name


def _without_one_array(folder):
    """model.skops with one of its stored arrays left out of the archive."""
    with zipfile.ZipFile(folder / "model.skops") as source, \
            zipfile.ZipFile(folder / "no_array.skops", "w") as target:
        names = source.namelist()
        dropped = next(name for name in names if name.endswith(".npy"))
        for name in names:
            if name != dropped:
                target.writestr(name, source.read(name))
    return "no_array.skops"


def _without_one_attribute(folder):
    model = rbm.persistence.load(folder / "model.skops")
    del model.components_
    sio.dump(model, folder / "no_attribute.skops")
    return "no_attribute.skops"


def _not_a_model(folder):
    sio.dump({"weights": [1, 2, 3]}, folder / "dict.skops")
    return "dict.skops"


def _text_file(folder):
    (folder / "text.pkl").write_text("not a pickle\n")
    return "text.pkl"


@pytest.mark.parametrize("make_file, message", [
    (lambda folder: _truncated(folder, "model.skops"),
     "'truncated.skops' is not a complete saved model: the file is truncated, corrupt or not "
     "a model file (BadZipFile"),
    (lambda folder: _truncated(folder, "model.joblib"),
     "'truncated.joblib' is not a complete saved model"),
    (_without_one_array, "'no_array.skops' is not a complete saved model"),
    (_without_one_attribute, "BernoulliRBM is missing its fitted attribute components_"),
    (_not_a_model, "'dict.skops' holds a dict, not a saved model (an estimator such as "
                   "BernoulliRBM, or a Pipeline)"),
    (_text_file, "'text.pkl' is not a complete saved model"),
])
def test_a_broken_model_file_is_one_line(make_file, message, files):
    # Before: tracebacks (BadZipFile, KeyError, UnpicklingError).
    name = make_file(files)
    assert_one_line_failure(rbm_command("score", name, "binary.csv", cwd=files), "score",
                            message)


def test_a_model_too_large_for_memory_is_one_line(files):
    # Before: a traceback ending in "Unable to allocate 1.46 TiB".  Now refused
    # before allocating, naming the parameter that would make it fit.
    result = rbm_command("fit", "binary.csv", "--n-components", "99999999999", "-q", cwd=files)
    assert_one_line_failure(result, "fit", "needs at least")
    assert "Lower n_components (about" in result.stderr


def test_one_bin_is_refused_with_its_usage(files):
    # Before: accepted; KBinsDiscretizer then refused n_bins=1 without naming the option.
    result = rbm_command("fit", "binary.csv", "--model", "categorical", "--preprocess", "bins",
                         "--n-bins", "1", cwd=files)
    assert result.returncode == 2 and result.stdout == ""
    assert result.stderr.startswith("usage: python -m rbm fit")
    assert ("argument --n-bins: must be an integer from 2 to 2147483647 (one bin would make "
            "every feature constant), got 1") in result.stderr


def _unwritable_folder(tmp_path):
    """A folder in which no file can be created, even by root (who ignores modes)."""
    folder = tmp_path / "locked"
    folder.mkdir()
    folder.chmod(0o555)
    try:
        (folder / "probe").touch()
    except PermissionError:
        return folder
    (folder / "probe").unlink()
    return Path("/sys")  # Linux refuses new files here to everyone


@pytest.mark.parametrize("option, path, message", [
    ("--save", "no/such/dir/model.skops", "the folder 'no/such/dir' does not exist"),
    ("--save", "model.txt", "cannot tell how to write it; use a file name ending in .skops"),
    ("--save", "binary.csv/model.skops", "'binary.csv' is a file, not a folder"),
    ("--save", "{locked}/model.skops", "cannot write in the folder"),
    ("--plots", "binary.csv/figures", "'binary.csv' is a file, not a folder"),
    ("--plots", "{locked}/figures", "cannot write in the folder"),
])
def test_output_paths_fail_before_training(option, path, message, files, tmp_path):
    # Before: the whole model trained, then saving or plotting failed.
    path = path.format(locked=_unwritable_folder(tmp_path))
    result = rbm_command("fit", str(files / "binary.csv"), *FAST, option, path, cwd=files)
    assert_one_line_failure(result, "fit", f"{option} ")
    assert message in result.stderr
    assert result.stdout == ""  # nothing read, nothing trained


@pytest.mark.parametrize("argv, message", [
    (["sample", "model.skops", "-o", "samples.txt"], "use a file name ending in .csv, .npy"),
    (["sample", "absent.skops"], "no such file: 'absent.skops'"),
    (["transform", "model.skops", "words.csv"],
     "column 'a' holds text ('x') but the saved model's first step (BernoulliRBM) needs "
     "numbers"),
    (["transform", "model.skops", "binary.csv", "-o", "no/dir/h.npy"], "does not exist"),
])
def test_sample_and_transform_errors_are_one_line(argv, message, files):
    (files / "words.csv").write_text("a,b,c,d\nx,y,z,w\n")
    assert_one_line_failure(rbm_command(*argv, cwd=files), argv[0], message)


def test_unknown_command_is_an_invalid_choice_listing_the_commands(files):
    result = rbm_command("smaple", "model.skops", cwd=files)
    assert result.returncode == 2
    assert result.stderr.startswith("usage: python -m rbm [-h] [--version] COMMAND")
    assert ("argument COMMAND: invalid choice: 'smaple' (choose from 'demo', 'fit', 'score', "
            "'sample', 'transform', 'impute')") in result.stderr


def test_a_subcommand_usage_error_shows_that_command_usage(files):
    result = rbm_command("sample", "model.skops", "--n-steps", "0", cwd=files)
    assert result.returncode == 2
    assert result.stderr.startswith("usage: python -m rbm sample")
    assert "argument --n-steps: must be an integer from 1" in result.stderr


@pytest.mark.parametrize("method", [[], ["--method", "gibbs"]])
def test_temperatures_without_method_tempered_is_a_usage_error(method, files):
    # --temperatures was silently dropped: the draws ran without a ladder and
    # the command succeeded.
    result = rbm_command("sample", "model.skops", "-n", "2", "--temperatures", "5", *method,
                         cwd=files)
    assert result.returncode == 2 and result.stdout == "", (result.stdout, result.stderr)
    assert result.stderr.startswith("usage: python -m rbm sample")
    assert "--temperatures is for --method tempered" in result.stderr


@pytest.mark.parametrize("value", ["1", "1001"])
def test_temperatures_out_of_the_librarys_range_are_usage_errors(value, files):
    # The range was 2 to 2147483647, so 1001 passed argparse and failed in the
    # library with status 1.
    result = rbm_command("sample", "model.skops", "-n", "2", "--method", "tempered",
                         "--temperatures", value, cwd=files)
    assert result.returncode == 2 and result.stdout == "", (result.stdout, result.stderr)
    assert (f"argument --temperatures: must be an integer from 2 to 1000, got {value}"
            in result.stderr)


def test_a_ragged_csv_names_the_rows_and_the_delimiter_option(files):
    (files / "ragged.csv").write_text("a,b,c\n1,0,1\n0,1\n")
    assert_one_line_failure(rbm_command("fit", "ragged.csv", *FAST, cwd=files), "fit",
                            "row 3 has 2 fields but row 1 has 3 (fields split at ',')")


@pytest.mark.parametrize("value, message", [
    ("inf", "holds 0 NaN and 1 infinite values"),
    ("-inf", "holds 0 NaN and 1 infinite values"),
    ("nan", "holds 1 NaN and 0 infinite values"),
])
def test_non_finite_numbers_beside_a_text_column_are_refused_by_name(value, message, files):
    # Before: a column of numbers in a file that also holds text skipped the
    # finiteness check: "inf" failed with "cannot convert float infinity to
    # integer", "nan" became a gap and failed inside the model ("unexpected
    # TypeError"), and "inf" in a column of fractions became a category.
    (files / "mixed.csv").write_text(f"a,b\n1,x\n{value},y\n2,x\n3,y\n")
    result = rbm_command("fit", "mixed.csv", "--model", "categorical", *FAST, cwd=files)
    assert_one_line_failure(result, "fit", f"'mixed.csv' {message}")
    (files / "fractions.csv").write_text(f"a,b\n1.5,x\n{value},y\n2,x\n3,y\n")
    result = rbm_command("fit", "fractions.csv", "--model", "categorical", *FAST, cwd=files)
    assert_one_line_failure(result, "fit", f"'fractions.csv' {message}")


def test_preprocessing_a_text_file_for_a_categorical_model_does_not_ask_for_one(files):
    # Before: "... but --preprocess bins needs numbers; categories need a model
    # fitted with --model categorical", to a command that gave --model categorical.
    (files / "named.csv").write_text("name,score\nann,0.5\nbob,0.7\ncid,0.1\ndan,0.9\n")
    result = rbm_command("fit", "named.csv", "--model", "categorical", "--preprocess", "bins",
                         *FAST, cwd=files)
    assert_one_line_failure(result, "fit", "column 'name' holds text ('ann', 'bob', 'cid', "
                            "...) but --preprocess bins needs numbers; with a text column, "
                            "--model categorical takes every column as it is")
    assert "fitted with --model categorical" not in result.stderr


def test_a_param_that_has_its_own_flag_is_refused(files):
    # Before: --param n_components=3 silently won over --n-components 2.  Such a
    # parameter is now set by its flag only (review s47: --param random_state and
    # verbose overrode --random-state and -q).
    result = rbm_command("fit", "binary.csv", "--n-iter", "1", "-q", "--n-components", "2",
                         "--param", "n_components=3", cwd=files)
    assert_one_line_failure(result, "fit", "--param n_components=3: n_components has an "
                                           "option of its own, --n-components")


@pytest.mark.parametrize("argv, option, allowed", [
    (["demo", "--feature-components", "-3"], "--feature-components", "from 1 to 2147483647"),
    (["demo", "--seed", "-1"], "--seed", "from 0 to 4294967295"),
    (["demo", "--epochs", "0"], "--epochs", "from 1 to 2147483647, got 0 (or 'auto')"),
    (["fit", "binary.csv", "--n-jobs", "99999999999"], "--n-jobs",
     "from -2147483647 to 2147483647"),
    (["fit", "binary.csv", "--random-state", "-1"], "--random-state", "from 0 to 4294967295"),
    (["sample", "model.skops", "--seed", "4294967296"], "--seed", "from 0 to 4294967295"),
    (["impute", "binary.csv", "--seed", "-1"], "--seed", "from 0 to 4294967295"),
])
def test_seeds_and_demo_sizes_out_of_range_are_usage_errors(argv, option, allowed, files):
    # Before: exit 1 with NumPy's or scikit-learn's words ("Seed must be between
    # 0 and 2**32 - 1", "parameter of train_test_split"), and the demo trained its
    # first model for half a minute before refusing --feature-components -3.
    # --epochs 0 read "invalid _epochs value: '0'", naming a function of the code.
    result = rbm_command(*argv, cwd=files)
    assert result.returncode == 2 and result.stdout == "", (result.stdout, result.stderr)
    assert result.stderr.startswith(f"usage: python -m rbm {argv[0]}")
    assert f"argument {option}: must be an integer {allowed}" in result.stderr


@pytest.mark.parametrize("attribute, value, message", [
    ("mean_", lambda mean: mean[:3], "its StandardScaler step's mean_ is (3,) for a model of "
                                     "4 features"),
    ("scale_", lambda scale: scale * np.nan, "its StandardScaler step's scale_ holds NaN or "
                                             "infinite values"),
])
def test_a_saved_pipeline_with_a_broken_scaler_is_refused(attribute, value, message, files):
    # Before: the RBM's arrays were checked but not the scaler's beside it: a
    # short mean_ failed as NumPy's "operands could not be broadcast", and a NaN
    # scale_ made 'sample' write rows of nan with exit status 0.
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler
    X = np.random.default_rng(0).normal(size=(30, 4))
    pipeline = make_pipeline(StandardScaler(), rbm.GaussianBernoulliRBM(
        n_components=2, n_iter=1, random_state=0)).fit(X)
    scaler = pipeline[0]
    setattr(scaler, attribute, value(getattr(scaler, attribute)))
    rbm.persistence.save(pipeline, files / "broken_scaler.skops")
    np.save(files / "real.npy", X)
    for argv in (["sample", "broken_scaler.skops", "-n", "2", "--n-steps", "2"],
                 ["score", "broken_scaler.skops", "real.npy"]):
        result = rbm_command(*argv, cwd=files)
        assert_one_line_failure(result, argv[0], "'broken_scaler.skops' is not a consistent "
                                f"saved model: {message}")
        assert result.stdout == ""


def test_save_and_plots_at_one_path_fail_before_training(files):
    # Before: the model trained and was saved, then the figures' folder could
    # not be made ("[Errno 17] File exists").
    result = rbm_command("fit", "binary.csv", *FAST, "--save", "both.skops", "--plots",
                         "both.skops", cwd=files)
    assert_one_line_failure(result, "fit", "--save and --plots both name 'both.skops'")
    assert result.stdout == "" and not (files / "both.skops").exists()


def test_a_saved_pipeline_of_an_unfitted_model_says_so(files):
    # The check of a saved pipeline's scaler must not stumble on a model that
    # was never fitted (it raised an unexpected AttributeError).
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler
    rbm.persistence.save(make_pipeline(StandardScaler(), rbm.GaussianBernoulliRBM()),
                         files / "unfitted.skops")
    assert_one_line_failure(rbm_command("sample", "unfitted.skops", cwd=files), "sample",
                            "is not fitted yet")


def test_a_delimiter_that_splits_no_row_is_refused_naming_the_one_that_does(files):
    # --delimiter ';' on a comma file read each line as one text field:
    # impute "filled 0 empty cells" of a 1-column table and wrote it, exit 0.
    result = rbm_command("impute", "binary.csv", "--delimiter", ";", "-o", "out.csv",
                         cwd=files)
    assert_one_line_failure(result, "impute",
                            "--delimiter ';' splits no row of 'binary.csv', but ',' splits "
                            "every row into 4 fields")
    assert not (files / "out.csv").exists()


def test_a_boolean_npy_is_binary_data(files, tmp_path):
    # A .npy of a boolean mask was refused as "must hold real numbers".
    rows = np.loadtxt(files / "binary.csv", delimiter=",", skiprows=1)
    np.save(tmp_path / "mask.npy", rows.astype(bool))
    np.save(tmp_path / "numbers.npy", rows)
    scores = [rbm_command("score", files / "model.skops", tmp_path / name, cwd=tmp_path)
              for name in ("mask.npy", "numbers.npy")]
    assert [s.returncode for s in scores] == [0, 0], [s.stderr for s in scores]
    assert scores[0].stdout.replace("mask.npy", "X") == scores[1].stdout.replace("numbers.npy", "X")


def test_a_bad_model_option_fails_before_the_data_are_read(files):
    # --n-components -3 was refused only after the file was read, split and
    # described ("Data: ...", "Training on ...", "Model: ...").
    result = rbm_command("fit", "binary.csv", "--n-components", "-3", "--n-iter", "2",
                         cwd=files)
    assert_one_line_failure(result, "fit", "'n_components' parameter of BernoulliRBM")
    assert result.stdout == ""


@pytest.mark.parametrize("argv, message", [
    (["fit", "folder"], "'folder' is a folder, not a data file; give a .csv or .npy file"),
    (["score", "model.skops", "folder"], "'folder' is a folder, not a data file"),
    (["score", "folder", "binary.csv"], "'folder' is a folder, not a saved model; give the "
                                        "model's file"),
    (["sample", "folder"], "'folder' is a folder, not a saved model"),
    (["fit", "arrays.npz"], "'arrays.npz' is a .npz archive (arrays: train, test); the "
                            "commands read one 2-D array from a .npy or .csv file: save the "
                            "one you want, e.g. numpy.save('train.npy', "
                            "numpy.load('arrays.npz')['train'])"),
    (["fit", "garbage.npz"], "cannot read 'garbage.npz' as a .npz archive (File is not a zip "
                             "file); give a .csv or .npy file"),
    (["fit", "one_row.csv"], "--test-size 0.2 holds out all 1 samples, leaving none to train "
                             "on; give a smaller --test-size (0 trains on every sample)"),
    (["fit", "latin1.csv"], "cannot read 'latin1.csv' as text: 'utf-8' codec can't decode "
                            "byte 0xe9"),
])
def test_folders_archives_and_tiny_or_undecodable_files_are_named(argv, message, files):
    # Before: a folder as the model read "no such file: 'folder'" (it exists), as
    # the data "neither a .csv or .npy file"; a .npz (the benchmark sets' format)
    # said only that; one row gave scikit-learn's "With n_samples=1, test_size=0.2
    # and train_size=None, ... Adjust any of the aforementioned parameters"; a
    # Latin-1 file gave the codec's words and nothing to do.
    (files / "folder").mkdir(exist_ok=True)
    np.savez(files / "arrays.npz", train=np.zeros((3, 2)), test=np.ones((2, 2)))
    (files / "garbage.npz").write_bytes(b"not an archive")
    (files / "one_row.csv").write_text("1,0,1\n")
    (files / "latin1.csv").write_bytes("caf\u00e9,1\nthe,0\n".encode("latin-1"))
    result = rbm_command(*argv, *(FAST if argv[0] == "fit" else []), cwd=files)
    assert_one_line_failure(result, argv[0], message)
    assert result.stdout == ""
    if "latin1" in argv[1]:
        assert "give a CSV file saved as UTF-8 text" in result.stderr


def test_binning_warnings_are_one_line_each_naming_the_columns(files, tmp_path):
    # Before: KBinsDiscretizer's warnings, one line per feature ("Bins whose width
    # are too small (i.e., <= 1e-8) in feature 7 are removed", 0-based): 65 lines
    # for 'fit digits --model categorical --preprocess bins'.
    rows = (np.random.default_rng(0).random((40, 12)) < 0.5).astype(int)
    rows[:, 0] = 1
    np.savetxt(tmp_path / "flags.csv", rows, fmt="%d", delimiter=",")
    result = rbm_command("fit", "flags.csv", "--model", "categorical", "--preprocess", "bins",
                         *FAST, cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert result.stderr.splitlines() == [
        "python -m rbm fit: warning: --preprocess bins: 1 of 12 columns (column 1) are "
        "constant (one bin each)",
        "python -m rbm fit: warning: --preprocess bins: 11 of 12 columns (column 2, column 3, "
        "column 4, column 5, column 6, column 7, column 8, column 9, column 10, column 11 and "
        "1 more) have too few distinct values for --n-bins 5: their repeated bin edges were "
        "merged, so they get fewer bins"]


@pytest.mark.parametrize("text, column", [("a,b\n1,\n0,\n1,\n", "column 'b'"),
                                          ("1,,3\n2,,\n,,5\n", "column 2")])
def test_impute_names_an_empty_column_as_the_cli_counts_columns(text, column, tmp_path):
    # Before: "RBMImputer: feature 1 has no observed value ...": the imputer counts
    # from 0, so the file's second column read as its first (or its 'a').
    (tmp_path / "gaps.csv").write_text(text)
    (tmp_path / "filled.csv").write_text("kept\n")
    result = rbm_command("impute", "gaps.csv", "-o", "filled.csv", cwd=tmp_path)
    assert_one_line_failure(result, "impute", f"{column} of 'gaps.csv' is empty in every row "
                            "(1 such column(s) of")
    assert "drop it or fill it first" in result.stderr
    assert (tmp_path / "filled.csv").read_text() == "kept\n"


@pytest.mark.parametrize("command", ["score", "transform"])
def test_data_with_the_wrong_number_of_columns_says_what_the_model_needs(command, files,
                                                                         tmp_path):
    # Before: scikit-learn's "X has 2 features, but BernoulliRBM is expecting 4
    # features as input.", which names no file and says nothing to do.
    np.save(tmp_path / "narrow.npy", np.zeros((5, 2)))
    result = rbm_command(command, files / "model.skops", "narrow.npy", cwd=tmp_path)
    assert_one_line_failure(result, command, "'narrow.npy' has 2 columns but ")
    assert ("model.skops' was fitted on 4; give data with the model's columns, in its order"
            in result.stderr)


def test_n_jobs_zero_is_a_usage_error_saying_how_to_ask_for_the_default(files):
    # Before: exit 1 with the library's "use None, -1 or a positive integer",
    # and no --n-jobs value means None.
    result = rbm_command("fit", "binary.csv", "--n-jobs", "0", cwd=files)
    assert result.returncode == 2 and result.stdout == "", result.stderr
    assert result.stderr.startswith("usage: python -m rbm fit")
    assert ("argument --n-jobs: must be a number of threads, or -1 for every core (-2 all but "
            "one, ...); leave --n-jobs out for the cores other processes leave idle, got 0"
            in result.stderr)


@pytest.mark.parametrize("array, message", [
    (np.array([[1, "a"], [2, None]], dtype=object),
     "Object arrays cannot be loaded when allow_pickle=False (it holds Python objects, which "
     "are not loaded: save the array as numbers or strings, e.g. X.astype(float) or "
     "X.astype(str), or as a .csv file)"),
    (np.zeros(5), "must hold a 2-D array of samples x features, got shape (5,) (save "
                  "X.reshape(-1, 1) for one feature, or X.reshape(1, -1) for one sample)"),
])
def test_an_npy_that_cannot_be_used_says_how_to_save_one_that_can(array, message, tmp_path):
    # Before: numpy's "Object arrays cannot be loaded when allow_pickle=False" and
    # "got shape (5,)" alone, with nothing to do.
    np.save(tmp_path / "data.npy", array, allow_pickle=True)
    assert_one_line_failure(rbm_command("fit", "data.npy", *FAST, cwd=tmp_path), "fit",
                            message)


@pytest.mark.parametrize("argv, message", [
    (["score", "binary.csv", "model.skops"],
     "'binary.csv' is data and 'model.skops' a model: the model comes first (score MODEL "
     "DATA); swap them."),
    (["transform", "binary.csv", "model.joblib"],
     "the model comes first (transform MODEL DATA); swap them."),
    # A bundled data set's name too (it said "no such file: 'digits'").
    (["score", "digits", "model.skops"],
     "'digits' is data and 'model.skops' a model: the model comes first (score MODEL "
     "DATA); swap them."),
    (["fit", "model.skops"], "'model.skops' is a saved model, not data; give a .csv or .npy "
                             "file (a saved model is read by score, sample and transform; "
                             "a saved imputer by impute --imputer)."),
])
def test_a_model_where_data_go_says_so(argv, message, files):
    # Before: "cannot tell how to read a model from 'binary.csv': use a file name
    # ending in .skops, ..." for swapped arguments, and "'model.skops' is neither a
    # .csv or .npy file nor a bundled data set" for a model given to fit.
    assert_one_line_failure(rbm_command(*argv, cwd=files), argv[0], message)


@pytest.mark.parametrize("choice, found", [
    ("standardize", "standardised values are negative for rows below a feature's mean"),
    ("none", "from 0.1 to 7.9"),
])
def test_bernoulli_data_outside_the_unit_range_is_refused_before_training(choice, found,
                                                                          files):
    # Before: "Data: ..." and "Model: ..." were printed, then the model refused
    # the data with scikit-learn's advice ("Scale it with sklearn.preprocessing.
    # MinMaxScaler"), not the command line's options.
    result = rbm_command("fit", "iris", "--preprocess", choice, *FAST, cwd=files)
    assert_one_line_failure(result, "fit", f"--preprocess {choice} leaves values outside "
                            f"[0, 1] ({found}), and --model bernoulli expects values in "
                            "[0, 1]; use --preprocess binarize or minmax (or leave "
                            "--preprocess out), or --model gaussian.")
    assert result.stdout == ""


@pytest.mark.parametrize("command", ["score", "transform"])
def test_an_unknown_category_is_named_by_the_cli_column(command, tmp_path):
    # Before: "CategoricalRBM: feature 1 has the value 'XL' ... refit with categories
    # that include it": counted from 0 (the file's column 'size' is its second) and
    # naming a parameter the command line does not have.
    (tmp_path / "words.csv").write_text("colour,size\n" + "red,S\nblue,L\n" * 5)
    (tmp_path / "new.csv").write_text("colour,size\nred,XL\n")
    assert rbm_command("fit", "words.csv", "--model", "categorical", *FAST, "--save",
                       "words.skops", cwd=tmp_path).returncode == 0
    result = rbm_command(command, "words.skops", "new.csv", cwd=tmp_path)
    assert_one_line_failure(result, command, "column 'size' has the value 'XL' (in 1 row), "
                            "which is not one of the categories 'words.skops' knows (['L', "
                            "'S']); fit the model again on data that hold this value.")


@pytest.mark.parametrize("argv, given, what", [
    (["fit", "binary.npy", "--delimiter", ";", *FAST], "--delimiter ';' applies",
     "'binary.npy' is a .npy array"),
    (["fit", "digits", "--header", *FAST], "--header applies",
     "'digits' is a data set bundled with scikit-learn"),
    (["score", "model.skops", "binary.npy", "--no-header"], "--no-header applies",
     "'binary.npy' is a .npy array"),
    (["transform", "model.skops", "binary.npy", "--delimiter", "tab", "--header"],
     "--delimiter tab and --header apply", "'binary.npy' is a .npy array"),
    (["impute", "binary.npy", "--no-header", "-o", "filled.csv"], "--no-header applies",
     "'binary.npy' is a .npy array"),
])
def test_csv_options_for_data_that_are_not_csv_are_refused(argv, given, what, files):
    # Before: --delimiter and --header / --no-header were silently ignored for a
    # .npy file or a bundled data set, and the command ran (exit 0).
    rows = np.loadtxt(files / "binary.csv", delimiter=",", skiprows=1)
    np.save(files / "binary.npy", rows)
    result = rbm_command(*argv, cwd=files)
    assert_one_line_failure(result, argv[0], f"{given} to .csv files only, and {what}")
    assert result.stdout == ""
    assert not (files / "filled.csv").exists()


@pytest.mark.parametrize("argv", [
    ["sample", "model.skops", "-n", "500", "--n-steps", "2"],
    ["transform", "model.skops", "binary.csv"],
    ["impute", "binary.csv"],
    ["score", "model.skops", "binary.csv"],
    ["fit", "binary.csv", *FAST],
    ["demo", "--epochs", "1", "--quiet"],
    ["fit", "--help"],
])
def test_a_closed_standard_output_ends_quietly_as_sigpipe_would(argv, files):
    # ``python -m rbm sample model.skops | head -3`` exited with status 1 once
    # head had gone: a failure to a shell (and to ``set -o pipefail``) with no
    # word of why.  Now the status of a Unix tool that SIGPIPE ended, 141, or 0
    # where argparse itself drops the help, and nothing on stderr.
    read_end, write_end = os.pipe()
    os.close(read_end)  # the reader has gone before the first line is written
    try:
        env = {**os.environ, "PYTHONPATH": str(ROOT)}
        result = subprocess.run([sys.executable, "-m", "rbm", *argv], cwd=files, env=env,
                                stdout=write_end, stderr=subprocess.PIPE, text=True,
                                timeout=600)
    finally:
        os.close(write_end)
    expected = 0 if "--help" in argv else 128 + 13
    assert (result.returncode, result.stderr) == (expected, "")


@pytest.mark.parametrize("argv, message", [
    (["--n-iter", "10000000000"], 'argument --n-iter: must be a number of epochs from 1 to '
                                  "2147483647 or \"auto\", got '10000000000'"),
    (["--n-iter", "0"], "argument --n-iter: must be a number of epochs from 1 to"),
    (["--verbose", "5"], "argument --verbose: invalid choice: 5 (choose from 0, 1, 2)"),
    (["--verbose", "-1"], "argument --verbose: invalid choice: -1 (choose from 0, 1, 2)"),
])
def test_fit_refuses_epochs_and_verbose_levels_beyond_what_they_can_mean(argv, message,
                                                                          files):
    # Before: --n-iter 10000000000 was accepted and trained for ever, silent under
    # -q; --verbose 5 was accepted (the estimators take it as 2) where the help
    # lists levels 0, 1 and 2; --verbose -1 failed as the estimator's parameter.
    result = rbm_command("fit", "binary.csv", "--n-components", "2", "--n-jobs", "1", *argv,
                         cwd=files, timeout=60)
    assert result.returncode == 2 and result.stdout == "", (result.stdout, result.stderr)
    assert result.stderr.startswith("usage: python -m rbm fit")
    assert message in result.stderr


def test_fit_takes_n_iter_auto_as_the_models_plan(files):
    # "auto" is the estimators' own n_iter (the default of the Gaussian and
    # categorical models); --n-iter refused it as "invalid int value".
    result = rbm_command("fit", "binary.csv", "--n-iter", "auto", "--n-components", "2", "-q",
                         "--n-jobs", "1", "--batch-size", "30", "--test-size", "0", "--save",
                         "auto.joblib", cwd=files)
    assert result.returncode == 0, result.stderr
    model = rbm.persistence.load(files / "auto.joblib")[-1]  # a Pipeline of the model alone
    assert model.get_params()["n_iter"] == "auto"
    assert model.n_iter_ == rbm._training.planned_epochs("auto", 30, 30)


@pytest.mark.parametrize("command", ["score", "transform"])
def test_an_unknown_category_of_a_model_fitted_on_named_columns_is_said_in_cli_words(
        command, tmp_path):
    # The command line recognised the library's message by a regex expecting
    # "feature N"; a model fitted on a DataFrame names its columns ("column
    # 'size'"), so the library's own words came through, advising a categories
    # parameter the command line does not have.  Now the error carries the
    # feature, value, count and categories (rbm.UnknownCategoryError).
    pd = pytest.importorskip("pandas")
    frame = pd.DataFrame({"colour": ["red", "blue"] * 5, "size": ["S", "L"] * 5})
    model = rbm.CategoricalRBM(n_components=2, n_iter=2, random_state=0).fit(frame)
    rbm.persistence.save(model, tmp_path / "frame.skops")
    (tmp_path / "new.csv").write_text("colour,size\nred,XL\nblue,XL\nred,S\n")
    result = rbm_command(command, "frame.skops", "new.csv", cwd=tmp_path)
    assert result.returncode == 1 and result.stdout == "", result.stderr
    assert result.stderr.splitlines()[-1] == (
        f"python -m rbm {command}: error: column 'size' has the value 'XL' (in 2 rows), "
        "which is not one of the categories 'frame.skops' knows (['L', 'S']); fit the model "
        "again on data that hold this value.")


@pytest.mark.parametrize("argv", [
    ["transform", "model.skops", "copy.csv", "-o", "copy.csv"],
    ["transform", "model.skops", "copy.csv", "-o", "./copy.csv"],
    ["impute", "copy.csv", "-o", "copy.csv", "--n-iter", "2"],
])
def test_the_output_may_not_be_the_input(argv, files):
    # 'transform -o' wrote the features over the data they were read from.
    data = (files / "binary.csv").read_text()
    (files / "copy.csv").write_text(data)
    result = rbm_command(*argv, cwd=files)
    assert_one_line_failure(result, argv[0], "is the input 'copy.csv': writing it would "
                                             "destroy the input")
    assert (files / "copy.csv").read_text() == data


def test_a_file_named_npy_without_the_header_is_not_called_a_pickle(files):
    (files / "table.npy").write_text((files / "binary.csv").read_text())
    result = rbm_command("score", "model.skops", "table.npy", cwd=files)
    assert_one_line_failure(result, "score", "'table.npy' is not a .npy file (it has no NumPy "
                                             "header); if it holds comma-separated values, "
                                             "name it .csv.")
    assert "pickle" not in result.stderr


def test_a_pipeline_whose_scaler_comes_before_pca_is_scored(files):
    # Each scaler step was held to the RBM's width (10 after PCA(10)), so a
    # valid Pipeline was "not a consistent saved model".
    from sklearn.decomposition import PCA
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    X = np.random.default_rng(0).standard_normal((60, 6))
    pipeline = make_pipeline(StandardScaler(), PCA(3), rbm.GaussianBernoulliRBM(
        n_components=2, n_iter=2, random_state=0)).fit(X)
    rbm.persistence.save(pipeline, files / "pca.skops")
    np.savetxt(files / "reals.csv", X, delimiter=",")
    result = rbm_command("score", "pca.skops", "reals.csv", cwd=files)
    assert result.returncode == 0, result.stderr
    assert f"{pipeline.score(X):.4f}" in result.stdout


@pytest.mark.parametrize("error", [OSError(28, "No space left on device"),
                                   OSError("35940 requested and 7152 written")])
def test_a_failed_write_names_the_file(error, tmp_path):
    # A full disk said "[Errno 28] No space left on device", and NumPy's short
    # write "35940 requested and 7152 written", of no file.
    def failing(target):
        raise error

    path = tmp_path / "out.npy"
    with pytest.raises(OSError, match="out.npy") as raised:
        rbm.persistence._write_then_move(path, failing)
    assert not list(tmp_path.iterdir())  # (the temporary file is gone)
    if error.errno is None:
        assert "is the disk full?" in str(raised.value)


@pytest.mark.parametrize("argv, message", [
    (["fit", "binary.csv", "--test-size", "abc"], "argument --test-size: expected a number, "
                                                  "got 'abc'"),
    (["fit", "binary.csv", "--threshold", "0_5"], "argument --threshold: expected a number, "
                                                  "got '0_5'"),
])
def test_option_numbers_are_refused_in_the_users_words(argv, message, files):
    # argparse named the type function: "invalid _test_size value: 'abc'".
    result = rbm_command(*argv, cwd=files)
    assert result.returncode == 2 and message in result.stderr, result.stderr


def test_a_field_with_an_underscore_is_text_not_a_number(files):
    # Python's float() reads "1_0" as 10.
    (files / "underscore.csv").write_text("a,b\n1_0,1\n0,1\n1,0\n")
    result = rbm_command("fit", "underscore.csv", *FAST, cwd=files)
    assert_one_line_failure(result, "fit", "column 'a' holds text ('1_0')")
