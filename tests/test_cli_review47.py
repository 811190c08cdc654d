"""The command line after review s47 (/work/notes/review_s47_cli.md): impute writes
back what it was given, gaps in a header-less first row and one-column gap rows are
data, categorical sample figures are labelled tables, byte-string labels are text,
--param leaves the options with flags to their flags, and messages give advice the
command line can follow.
"""

import numpy as np
import pytest

from rbm import cli, persistence

NUMBERS = """\
id,x,y
12345678901,0.123456789012345,1.5
12345678902,0.2,
12345678903,,2.5
12345678904,0.4,3.5
12345678905,0.5,4.5
12345678906,0.6,5.5
"""

SURVEY = "colour,size,shape\n" + "red,S,round\nred,M,round\nblue,L,square\ngreen,M,square\n" * 3


def run(argv, capsys):
    status = cli.main([str(arg) for arg in argv], prog="rbm")
    out, err = capsys.readouterr()
    return status, out, err


def lines(path):
    return [line.split(",") for line in path.read_text().splitlines()]


def assert_given_cells_kept(given_text, written_path):
    """Every non-empty cell of given_text is in written_path unchanged; no cell is empty."""
    given = [line.split(",") for line in given_text.splitlines()]
    written = lines(written_path)
    assert len(written) == len(given)
    for given_row, row in zip(given, written):
        assert len(row) == len(given_row)
        for value, got in zip(given_row, row):
            assert got == value if value else got != ""
    return written


def test_impute_writes_every_given_number_as_it_was_written(tmp_path, capsys):
    # Before: 10 significant digits: five ids became 1.23456789e+10, and
    # 0.123456789012345 became 0.123456789.
    (tmp_path / "num.csv").write_text(NUMBERS)
    status, out, err = run(["impute", tmp_path / "num.csv", "-o", tmp_path / "f.csv",
                            "--model", "gaussian", "--n-iter", "5"], capsys)
    assert status == 0, err
    written = assert_given_cells_kept(NUMBERS, tmp_path / "f.csv")
    assert len({row[0] for row in written[1:]}) == 6
    float(written[2][2]), float(written[3][1])  # the filled cells are numbers


def test_impute_keeps_leading_zeros_and_writes_a_filled_category_as_written(tmp_path, capsys):
    # Before: the zip codes 00501 and 02134 came out as 501 and 2134.
    text = ("zip,colour,v\n00501,red,0.123456789012345\n02134,blue,\n10001,,0.25\n"
            "94105,red,0.5\n60601,blue,0.75\n")
    (tmp_path / "mixed.csv").write_text(text)
    status, _, err = run(["impute", tmp_path / "mixed.csv", "-o", tmp_path / "f.csv",
                          "--model", "categorical", "--n-iter", "3"], capsys)
    assert status == 0, err
    written = assert_given_cells_kept(text, tmp_path / "f.csv")
    assert written[2][2] in ("0.123456789012345", "0.25", "0.5", "0.75")
    assert written[3][1] in ("red", "blue")


def test_impute_of_a_npy_writes_its_numbers_in_full(tmp_path, capsys):
    X = np.array([[0.123456789012345, 1.0], [0.2, np.nan], [np.nan, 2.0], [0.4, 3.0],
                  [0.5, 4.0], [0.6, 5.0]])
    np.save(tmp_path / "x.npy", X)
    status, out, err = run(["impute", tmp_path / "x.npy", "--model", "gaussian",
                            "--n-iter", "3"], capsys)
    assert status == 0, err
    rows = [line.split(",") for line in out.splitlines()]
    assert rows[0][0] == "0.123456789012345"
    np.testing.assert_array_equal(np.array(rows, dtype=float)[~np.isnan(X)], X[~np.isnan(X)])


@pytest.mark.parametrize("text, n_rows, n_gaps", [
    (",0.5,1.5\n0.2,0.4,2.5\n0.3,,3.5\n0.4,0.6,4.5\n0.5,0.7,5.5\n0.6,0.8,6.5\n", 6, 2),
    ("NA,0.5,1.5\n0.2,0.4,2.5\n0.3,,3.5\n0.4,0.6,4.5\n0.5,0.7,5.5\n0.6,0.8,6.5\n", 6, 2),
    ("1.5,2.5\nNA,3.5\n4.5,NA\n5.5,6.5\n7.5,8.5\n9.5,10.5\n", 6, 2),
])
def test_a_gap_in_the_first_row_of_a_headerless_file_is_a_gap_not_a_header(text, n_rows,
                                                                           n_gaps, tmp_path,
                                                                           capsys):
    # Before: the first row was taken for the header (5 rows, 1 gap), and its
    # gap written back empty.
    (tmp_path / "d.csv").write_text(text)
    status, out, err = run(["impute", tmp_path / "d.csv", "-o", tmp_path / "f.csv",
                            "--model", "gaussian", "--n-iter", "5"], capsys)
    assert status == 0, err
    assert out.startswith(f"Filled {n_gaps} empty cells of {n_rows} rows x ")
    written = lines(tmp_path / "f.csv")
    assert len(written) == n_rows
    assert all(value not in ("", "NA") for row in written for value in row)


def test_a_one_column_csv_keeps_and_fills_its_gap_rows(tmp_path, capsys):
    # Before: the rows "" (pandas' to_csv of a NaN) were dropped: 6 rows, 0 filled.
    (tmp_path / "one.csv").write_text('x\n1.0\n""\n3.0\n4.0\n""\n6.0\n7.0\n8.0\n')
    status, out, err = run(["impute", tmp_path / "one.csv", "-o", tmp_path / "f.csv",
                            "--model", "gaussian", "--n-iter", "5"], capsys)
    assert status == 0, err
    assert out.startswith("Filled 2 empty cells of 8 rows x 1 columns")
    written = [row[0] for row in lines(tmp_path / "f.csv")]
    assert written[0] == "x" and len(written) == 9
    assert [written[i] for i in (1, 3, 4, 6, 7, 8)] == ["1.0", "3.0", "4.0", "6.0", "7.0",
                                                       "8.0"]
    assert all(float(written[i]) > 0 for i in (2, 5))


def test_the_samples_figure_of_a_categorical_fit_is_a_labelled_table(tmp_path, capsys,
                                                                     monkeypatch):
    # Before: a grey heatmap of category codes, its columns unnamed.
    from matplotlib.figure import Figure
    saved = {}
    monkeypatch.setattr(Figure, "savefig", lambda fig, path, *a, **k: saved.update(
        {path.name: fig}))
    (tmp_path / "survey.csv").write_text(SURVEY)
    status, _, err = run(["fit", tmp_path / "survey.csv", "--model", "categorical",
                          "--n-iter", "3", "-q", "--n-jobs", "1", "--sample-steps", "5",
                          "--plots", tmp_path / "figures"], capsys)
    assert status == 0, err
    (ax,) = saved["samples.png"].axes
    assert [label.get_text() for label in ax.get_xticklabels()] == ["colour", "size", "shape"]
    cells = {text.get_text() for text in ax.texts}
    assert cells and cells <= {"red", "blue", "green", "S", "M", "L", "round", "square"}


def test_a_npy_of_byte_strings_gives_categories_named_as_text(tmp_path, capsys):
    # Before: categories named "b'red'".
    np.save(tmp_path / "bytes.npy", np.array([[b"red", b"S"], [b"blue", b"M"], [b"red", b"M"],
                                              [b"blue", b"S"], [b"red", b"S"]]))
    status, _, err = run(["fit", tmp_path / "bytes.npy", "-q", "--n-iter", "2", "--model",
                          "categorical", "--test-size", "0", "--save", tmp_path / "b.skops"],
                         capsys)
    assert status == 0, err
    status, out, err = run(["sample", tmp_path / "b.skops", "-n", "5"], capsys)
    assert status == 0, err
    for row in out.splitlines():
        colour, size = row.split(",")
        assert colour in ("red", "blue") and size in ("S", "M")


@pytest.mark.parametrize("flags, param, option", [
    (["--random-state", "3"], "random_state=5", "--random-state"),
    (["-q"], "verbose=10", "--verbose (0, 1 or 2; -q for 0)"),
    ([], "verbose=1", "--verbose"),
    ([], "n_iter=3000000000", "--n-iter"),
    (["--n-components", "3"], "n_components=3", "--n-components"),
])
def test_a_param_with_an_option_of_its_own_is_refused_naming_the_option(flags, param, option,
                                                                        tmp_path, capsys):
    # Before: --param random_state=5 seeded the model apart from the split and
    # the samples; --param verbose=10 overrode -q and passed the 0-2 limit.
    status, out, err = run(["fit", "iris", "--n-iter", "1", *flags, "--param", param,
                            "--save", tmp_path / "m.pkl"], capsys)
    name, value = param.split("=")
    assert status == 1 and out == "" and not (tmp_path / "m.pkl").exists()
    assert f"--param {name}={int(value)!r}: {name} has an option of its own, {option}" in err


def test_the_out_of_memory_advice_is_what_the_command_line_can_do(tmp_path, capsys):
    # Before: "Float32 input halves all of it", which no option gives.
    np.save(tmp_path / "x32.npy", (np.arange(40).reshape(10, 4) % 2).astype(np.float32))
    status, _, err = run(["fit", tmp_path / "x32.npy", "-q", "--n-iter", "2",
                          "--n-components", "2000000000"], capsys)
    assert status == 1 and "needs at least" in err
    assert "Float32" not in err and "Lower n_components (about" in err
    assert err.rstrip().endswith(": set it with --n-components.")


@pytest.mark.parametrize("argv, option, name, example", [
    (["sample", "{model}", "-o", ".csv"], "--output", ".csv", "out.csv"),
    (["sample", "{model}", "-o", ".NPY"], "--output", ".NPY", "out.NPY"),
    (["fit", "iris", "--save", ".skops"], "--save", ".skops", "model.skops"),
])
def test_an_output_named_only_by_its_suffix_is_told_to_name_the_file(argv, option, name,
                                                                     example, tmp_path,
                                                                     capsys, monkeypatch):
    # Before: "cannot tell how to write it; use a file name ending in .csv, .npy".
    monkeypatch.chdir(tmp_path)
    from rbm import BernoulliRBM
    persistence.save(BernoulliRBM(n_components=2, n_iter=1).fit(np.eye(4)), "m.pkl")
    status, _, err = run([arg.format(model="m.pkl") for arg in argv], capsys)
    assert status == 1
    assert (f"{option} '{name}': '{name}' is a suffix without a name before it; name the "
            f"file, e.g. {example}.") in err
    with pytest.raises(ValueError, match="'.pkl' is a suffix without a name before it; name "
                                         "the file, e.g. model.pkl"):
        persistence.save(BernoulliRBM(), ".pkl")


def test_fit_names_a_value_missing_from_given_categories_by_its_column(tmp_path, capsys):
    # Before: "CategoricalRBM: feature 0 has the value 'green'".
    (tmp_path / "survey.csv").write_text(SURVEY)
    status, _, err = run(["fit", tmp_path / "survey.csv", "--model", "categorical", "-q",
                          "--n-iter", "2", "--test-size", "0", "--param",
                          'categories=[["red","blue"],["S","M","L"],["round","square"]]'],
                         capsys)
    assert status == 1
    assert "column 'colour' has the value 'green'" in err and "feature 0" not in err
    assert "--param categories" in err


def test_impute_bernoulli_on_numbers_outside_0_1_advises_an_impute_option(tmp_path, capsys):
    # Before: the model's advice, sklearn.preprocessing.MinMaxScaler.
    (tmp_path / "num.csv").write_text(NUMBERS)
    status, _, err = run(["impute", tmp_path / "num.csv", "--model", "bernoulli",
                          "--n-iter", "2", "-o", tmp_path / "f.csv"], capsys)
    assert status == 1 and not (tmp_path / "f.csv").exists()
    assert ("column 'id' holds values from 12345678901.0 to 12345678906.0; use --model "
            "gaussian") in err
    assert "MinMaxScaler" not in err


def test_a_structured_npy_is_told_how_to_make_columns_of_its_fields(tmp_path, capsys):
    # Before: "save X.reshape(-1, 1) for one feature", which a record array is not.
    np.save(tmp_path / "s.npy", np.zeros(10, dtype=[("a", "f8"), ("b", "f8")]))
    status, _, err = run(["fit", tmp_path / "s.npy", "-q", "--n-iter", "1"], capsys)
    assert status == 1
    assert ("a structured array with the fields a, b: save "
            "numpy.lib.recfunctions.structured_to_unstructured(X)") in err
    assert "reshape" not in err
