"""The command line as a user runs it: ``python -m rbm`` in a subprocess, on files in tmp_path.

Categorical data from a CSV of words (issue 21, points 1 and 2), the
``sample`` and ``transform`` commands (point 4), samples in the data's units
(point 12), the commands' help (point 14), delimiters (issue 22, point 8),
and the README's command-line section, run as written.
"""

import os
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from sklearn.model_selection import train_test_split

import rbm

ROOT = Path(__file__).resolve().parents[1]

#: A CSV of words, as a survey exports it.
SURVEY = """\
colour,size,shape
red,S,round
red,S,round
red,M,round
blue,L,square
blue,L,square
blue,M,square
green,S,round
green,M,square
red,S,round
blue,L,square
green,L,square
red,M,round
"""

CATEGORIES = [{"blue", "green", "red"}, {"L", "M", "S"}, {"round", "square"}]
FAST = ["--n-components", "3", "--n-iter", "5", "-q", "--n-jobs", "1"]


def rbm_command(*args, cwd):
    """``python -m rbm ARGS`` on this checkout; the CompletedProcess."""
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(
        [str(ROOT), *filter(None, [os.environ.get("PYTHONPATH")])])}
    return subprocess.run([sys.executable, "-m", "rbm", *map(str, args)], cwd=cwd, env=env,
                          capture_output=True, text=True, timeout=600)


def succeeded(result):
    assert result.returncode == 0, result.stderr
    assert "Traceback" not in result.stderr
    return result.stdout


def read_rows(text):
    return [line.split(",") for line in text.splitlines()]


@pytest.fixture(scope="module")
def survey(tmp_path_factory):
    """(folder, a categorical Pipeline fitted by the command line on SURVEY and saved)."""
    folder = tmp_path_factory.mktemp("survey")
    (folder / "survey.csv").write_text(SURVEY)
    out = succeeded(rbm_command("fit", "survey.csv", "--model", "categorical", *FAST,
                                "--save", "survey.skops", cwd=folder))
    return folder, out


def test_fit_reads_a_csv_of_words_as_categories(survey):
    # Before: "could not convert string 'red' to float64".
    folder, out = survey
    assert "survey.csv (header row: colour, size, shape): 12 samples x 3 features" in out
    model = rbm.persistence.load(folder / "survey.skops")[-1]
    assert isinstance(model, rbm.CategoricalRBM)
    assert [set(c.tolist()) for c in model.categories_] == CATEGORIES
    assert re.search(r"Held-out log-likelihood: -\d+\.\d+ nats per sample", out)


def test_sample_writes_rows_of_the_model_categories(survey):
    folder, _ = survey
    rows = read_rows(succeeded(rbm_command("sample", "survey.skops", "-n", "7",
                                           "--n-steps", "3", "--seed", "1", cwd=folder)))
    assert len(rows) == 7
    for row in rows:
        assert all(value in allowed for value, allowed in zip(row, CATEGORIES)), row
    again = rbm_command("sample", "survey.skops", "-n", "7", "--n-steps", "3", "--seed", "1",
                        "-o", "again.npy", cwd=folder)
    # (A model this small is sampled exactly, and the message says so.)
    assert "Wrote 7 samples of 3 features drawn exactly" in succeeded(again)
    assert np.load(folder / "again.npy").tolist() == rows  # the seed fixes the samples


def test_sample_runs_the_method_asked_for(survey):
    folder, _ = survey
    tempered = rbm_command("sample", "survey.skops", "-n", "4", "--n-steps", "20",
                           "--method", "tempered", "--temperatures", "3", "--seed", "2",
                           "-o", "tempered.npy", cwd=folder)
    assert ("Wrote 4 samples of 3 features after 20 tempered steps (3 temperatures)"
            in succeeded(tempered))
    rows = np.load(folder / "tempered.npy").tolist()
    assert all(value in allowed for row in rows for value, allowed in zip(row, CATEGORIES))
    model = rbm.persistence.load(folder / "survey.skops")[-1]
    expected = model.sample(4, n_steps=20, method="tempered", n_temperatures=3, random_state=2)
    assert rows == np.asarray(expected).tolist()  # what the library draws, nothing else
    gibbs = rbm_command("sample", "survey.skops", "-n", "2", "--n-steps", "5", "--method",
                        "gibbs", "-o", "gibbs.npy", cwd=folder)
    assert "after 5 Gibbs steps" in succeeded(gibbs)


def test_score_and_transform_read_the_words_back(survey):
    folder, _ = survey
    model = rbm.persistence.load(folder / "survey.skops")[-1]
    X = np.array([line.split(",") for line in SURVEY.splitlines()[1:]], dtype=object)
    out = succeeded(rbm_command("score", "survey.skops", "survey.csv", cwd=folder))
    value = float(re.search(r": (-\d+\.\d+) nats per sample", out).group(1))
    assert value == pytest.approx(model.score(X), abs=1e-4)
    assert "of the data as given, no preprocessing; log Z" in out and "exact" in out

    out = succeeded(rbm_command("transform", "survey.skops", "survey.csv", "-o",
                                "features.csv", cwd=folder))
    assert "Wrote the features of 12 samples (3 hidden units) to features.csv" in out
    features = np.loadtxt(folder / "features.csv", delimiter=",")
    np.testing.assert_allclose(features, model.transform(X), atol=1e-9)


def test_a_value_only_in_the_held_out_rows_is_a_category(tmp_path):
    # Before: training ran, then the held-out rows failed on a value it never saw.
    rows = [[1, 2], [2, 3], [1, 2], [3, 1], [2, 2], [1, 3], [2, 1], [1, 1], [9, 2], [2, 2]]
    _, held_out = train_test_split(np.array(rows), test_size=0.3, random_state=0)
    assert 9 in held_out[:, 0]  # the premise: the split puts the only 9 in the held-out rows
    (tmp_path / "small.csv").write_text("a,b\n" + "".join(f"{a},{b}\n" for a, b in rows))
    out = succeeded(rbm_command("fit", "small.csv", "--model", "categorical", "--test-size",
                                "0.3", "--random-state", "0", *FAST, "--save", "m.skops",
                                cwd=tmp_path))
    assert "only held-out rows hold column 'a': 9." in out
    assert re.search(r"Held-out log-likelihood: -\d+\.\d+ nats per sample", out)
    model = rbm.persistence.load(tmp_path / "m.skops")[-1]
    assert model.categories_[0].tolist() == [1, 2, 3, 9]


def test_a_column_of_measurements_given_as_categories_is_named_in_one_warning_line(tmp_path):
    # Before: a decimal column beside a text one became one category per value
    # in silence, and the held-out values were listed one by one, all 51 of them.
    rng = np.random.default_rng(0)
    lines = [f"{site},{weight:.3f}" for site, weight in
             zip(rng.choice(list("ACGT"), 300), rng.normal(size=300))]
    (tmp_path / "mixed.csv").write_text("site,weight\n" + "\n".join(lines) + "\n")
    result = rbm_command("fit", "mixed.csv", "--model", "categorical", *FAST, cwd=tmp_path)
    succeeded(result)
    warning, = [line for line in result.stderr.splitlines() if "warning" in line]
    assert re.fullmatch(r"python -m rbm fit: warning: column 'weight' has \d+ distinct values "
                        r"in 300 rows .*KBinsDiscretizer.*GaussianBernoulliRBM\.", warning)
    assert re.search(r"only held-out rows hold column 'weight': (-?\d\.\d+, ){9}-?\d\.\d+ "
                     r"and \d+ more\.", result.stdout)


def test_semicolon_csv_is_read_with_its_delimiter(tmp_path):
    # Before: "holds no data" or "could not convert string '1;0'".
    (tmp_path / "semi.csv").write_text("a;b;c\n1;0;1\n0;1;1\n1;1;0\n0;0;1\n1;0;0\n")
    out = succeeded(rbm_command("fit", "semi.csv", *FAST, cwd=tmp_path))
    assert ("semi.csv (fields split at ';'; header row: a, b, c): 5 samples x 3 features, "
            "used as given.") in out


def test_sample_of_a_pipeline_is_in_the_units_of_the_data(tmp_path):
    rng = np.random.default_rng(0)
    X = rng.normal([100.0, -50.0], [10.0, 5.0], size=(60, 2))
    np.save(tmp_path / "real.npy", X)
    succeeded(rbm_command("fit", "real.npy", "--model", "gaussian", *FAST, "--save", "g.skops",
                          cwd=tmp_path))
    common = ["sample", "g.skops", "-n", "20", "--n-steps", "5", "--seed", "3"]
    out = succeeded(rbm_command(*common, "-o", "data_units.npy", cwd=tmp_path))
    assert "in the data's units (through StandardScaler.inverse_transform)" in out
    succeeded(rbm_command(*common, "--model-units", "-o", "model_units.npy", cwd=tmp_path))
    scaler = rbm.persistence.load(tmp_path / "g.skops")[0]
    np.testing.assert_allclose(np.load(tmp_path / "data_units.npy"),
                               scaler.inverse_transform(np.load(tmp_path / "model_units.npy")))


@pytest.mark.parametrize("command", ["sample", "transform"])
def test_new_commands_have_their_own_help_with_an_example(command):
    # Before: 'rbm sample --help' printed the demo's help and exited 0.
    result = rbm_command(command, "--help", cwd=ROOT)
    assert succeeded(result).startswith(f"usage: python -m rbm {command}")
    assert f"examples:\n  python -m rbm {command} model.skops" in result.stdout


def _any_numbers(line):
    """A regular expression for line with each number in it a wildcard."""
    parts = re.split(r"(-?\d+(?:\.\d+)?)", line)
    return "".join(r"-?\d+(?:\.\d+)?" if i % 2 else re.escape(part)
                   for i, part in enumerate(parts))


def test_readme_command_line_section_runs_as_written(tmp_path):
    readme = (ROOT / "README.md").read_text()
    section = readme.split("\n## Command line\n", 1)[1].split("\n## ", 1)[0]
    script, shown = re.search(r"```bash\n(cat > survey\.csv.*?)```\n\n```\n(.*?)```",
                              section, re.DOTALL).groups()
    for command in ("fit", "score", "sample", "transform", "impute"):
        assert f"python -m rbm {command} " in script
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    (bin_dir / "python").write_text(f'#!/bin/sh\nexec "{sys.executable}" "$@"\n')
    (bin_dir / "python").chmod(0o755)
    work = tmp_path / "work"
    work.mkdir()
    env = {**os.environ, "PATH": f"{bin_dir}{os.pathsep}{os.environ['PATH']}",
           "PYTHONPATH": str(ROOT)}
    result = subprocess.run(["bash", "-e", "-c", script], cwd=work, env=env,
                            capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, result.stderr
    # Every line the README shows appears, numbers aside (they depend on the CPU).
    for line in shown.splitlines():
        if " " in line:
            assert re.search(_any_numbers(line), result.stdout), line
    # The sampled rows (words and commas, no space): an exact draw, so the same
    # rows wherever the fit gave the same model (its figures, to the README's
    # last digit, say so); the README showed old Gibbs draws, unchecked.
    shown_rows = [line.split(",") for line in shown.splitlines() if " " not in line]
    rows = [line.split(",") for line in result.stdout.splitlines() if " " not in line]
    assert len(rows) == len(shown_rows) == 5
    assert all(len(row) == 3 and all(value in cats for value, cats in zip(row, CATEGORIES))
               for row in rows), rows
    figures = [line for line in shown.splitlines() if line.startswith(("log Z", "Training log",
                                                                      "Held-out log"))]
    if all(line in result.stdout for line in figures):
        assert rows == shown_rows
    assert (work / "survey.skops").is_file() and (work / "features.csv").is_file()
    assert "" not in sum(read_rows((work / "filled.csv").read_text()), [])


def test_impute_fills_the_empty_cells_of_a_csv_of_words(tmp_path):
    # Issue 21, point 4: 'impute' takes a CSV with empty cells and writes it
    # completed; every given cell is kept, every gap gets a category of its
    # column, and the header row stays.
    rows = [line.split(",") for line in SURVEY.splitlines()]
    header, data = rows[0], rows[1:] * 3
    gaps = [(i, i % 3) for i in range(1, len(data), 4)]
    with_gaps = [list(row) for row in data]
    for i, j in gaps:
        with_gaps[i][j] = ""
    (tmp_path / "gaps.csv").write_text(
        "\n".join(",".join(row) for row in [header, *with_gaps]) + "\n")
    out = succeeded(rbm_command("impute", "gaps.csv", "-o", "filled.csv", "--seed", "1",
                                cwd=tmp_path))
    assert out.startswith(f"Filled {len(gaps)} empty cells of {len(data)} rows x 3 columns")
    filled = read_rows((tmp_path / "filled.csv").read_text())
    assert filled[0] == header and len(filled) == len(data) + 1
    for given, got in zip(with_gaps, filled[1:]):
        for j, value in enumerate(given):
            assert got[j] == value if value else got[j] in CATEGORIES[j]


def test_impute_refuses_infinities_and_shows_its_help(tmp_path):
    (tmp_path / "inf.csv").write_text("a,b\n1.0,\n2.0,inf\n3.0,0.5\n")
    result = rbm_command("impute", "inf.csv", cwd=tmp_path)
    assert result.returncode == 1 and "infinite" in result.stderr
    assert result.stderr.count("\n") == 1 and "Traceback" not in result.stderr
    help_text = succeeded(rbm_command("impute", "--help", cwd=ROOT))
    assert "examples:\n  python -m rbm impute " in help_text


def test_impute_keeps_rows_with_every_cell_empty_and_names_text_for_numeric_models(tmp_path):
    # A row of empty cells (",,") is a row with every entry missing: it must
    # come out filled, in its place, so the output has a row for every input
    # row (it used to be dropped as a blank line).  A numeric --model on a
    # column of text is refused by name.
    (tmp_path / "gaps.csv").write_text("colour,size\nred,s\n,\nblue,m\n\nred,\nblue,m\n")
    out = succeeded(rbm_command("impute", "gaps.csv", "--model", "categorical", "--n-iter",
                                "3", "-o", "filled.csv", cwd=tmp_path))
    assert out.startswith("Filled 3 empty cells of 5 rows x 2 columns")
    filled = read_rows((tmp_path / "filled.csv").read_text())
    assert filled[0] == ["colour", "size"] and len(filled) == 6
    assert filled[1] == ["red", "s"] and filled[3] == ["blue", "m"] and filled[5] == ["blue", "m"]
    assert filled[2][0] in ("red", "blue") and filled[2][1] in ("s", "m")
    assert filled[4][0] == "red" and filled[4][1] in ("s", "m")
    for model in ("bernoulli", "gaussian"):
        result = rbm_command("impute", "gaps.csv", "--model", model, cwd=tmp_path)
        assert result.returncode == 1 and "Traceback" not in result.stderr
        assert (f"--model {model} takes numbers, but column 'colour' holds text such as "
                "'red'; use --model categorical") in result.stderr


def test_an_upper_case_npy_output_is_written_at_the_path_given(survey):
    # Before: -o samples.NPY passed the (case-blind) suffix check, but np.save
    # added ".npy" and wrote samples.NPY.npy, while the report named samples.NPY.
    folder, _ = survey
    out = succeeded(rbm_command("sample", "survey.skops", "-n", "2", "--n-steps", "2",
                                "--seed", "1", "-o", "samples.NPY", cwd=folder))
    assert "to samples.NPY" in out
    assert not (folder / "samples.NPY.npy").exists()
    assert np.load(folder / "samples.NPY").shape == (2, 3)


@pytest.mark.parametrize("rows, extra", [
    ("x,y\n0.1,0.2\n0.3,0.9\n0.5,0.5\n0.7,0.1\n0.2,0.8\n", []),    # 2 binned columns
    ("x,y\na,1\nb,2\na,1\nb,2\nc,1\n", []),                        # 2 columns, text
    (SURVEY, ["--image-shape", "1x3"]),                               # one pixel per feature
])
def test_plots_of_a_categorical_model_are_written(rows, extra, tmp_path):
    # Before: the model trained, then --plots failed: a 2-column categorical
    # model got an energy landscape over a grid of non-categories ("not one of
    # its categories", "could not convert string to float: 'a'"), and
    # --image-shape was applied to filters with a column per category.
    (tmp_path / "data.csv").write_text(rows)
    out = succeeded(rbm_command("fit", "data.csv", "--model", "categorical", *FAST,
                                "--sample-steps", "5", "--plots", "figures", *extra,
                                cwd=tmp_path))
    names = ["filters.png", "samples.png", "free_energy.png", "learning_curves.png"]
    assert f"Wrote 4 figures to figures: {', '.join(names)}" in out
    for name in names:
        assert (tmp_path / "figures" / name).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_a_lone_row_of_the_model_categories_is_scored_as_data(survey):
    # Before: a file of one row was taken for a header whenever it held text,
    # so "red,S,round" alone was "only the header row", though the README says
    # score and transform read a first row that is valid for the model as data.
    folder, _ = survey
    (folder / "one_row.csv").write_text("red,S,round\n")
    out = succeeded(rbm_command("score", "survey.skops", "one_row.csv", cwd=folder))
    assert "Mean log-likelihood of one_row.csv (1 samples) under survey.skops" in out
    out = succeeded(rbm_command("transform", "survey.skops", "one_row.csv", cwd=folder))
    assert len(read_rows(out)) == 1


def test_the_demo_help_has_examples_that_parse():
    # 'python -m rbm demo --help' listed its options with no example.
    from rbm import cli

    parser = cli.build_parser()
    demo_help = parser._subparsers._group_actions[0].choices["demo"].format_help()
    examples = [line.split("  ")[0].split()[3:]
                for line in demo_help.split("examples:\n", 1)[1].splitlines() if line.strip()]
    assert len(examples) >= 2
    for argv in examples:
        args = parser.parse_args(cli._with_default_command(argv))
        assert args.run is cli._demo.run, argv


def test_every_readme_command_line_parses_as_written():
    # Inline commands too ("`python -m rbm fit --n-iter 100`" lacked DATA and
    # stopped with a usage error): each parses, and names its flags as they are.
    import shlex

    from rbm.cli import _with_default_command, build_parser

    readme = (ROOT / "README.md").read_text()
    commands = re.findall(r"`python -m rbm([^`]*)`", readme)
    for block in re.findall(r"```bash\n(.*?)```", readme, re.DOTALL):
        commands += re.findall(r"^python -m rbm(.*)$", block, re.MULTILINE)
    assert len(commands) >= 10
    for command in commands:
        argv = shlex.split(command)
        if "--help" in argv or "-h" in argv:
            continue
        try:
            build_parser("rbm").parse_args(_with_default_command(argv))
        except SystemExit as exit_:
            pytest.fail(f"python -m rbm{command}: exit {exit_.code}")


def test_the_readme_abridged_fit_help_matches_the_real_help():
    # README: 'From `python -m rbm fit --help` (abridged):' then a block; every
    # option it shows is there, with the same words (line wrapping aside).
    from rbm.cli import build_parser

    readme = (ROOT / "README.md").read_text()
    block = readme.split("From `python -m rbm fit --help` (abridged):", 1)[1]
    block = block.split("```\n", 2)[1]
    parser = build_parser("python -m rbm")
    fit = parser._subparsers._group_actions[0].choices["fit"]
    real = " ".join(fit.format_help().split())
    entries = re.split(r"\n(?=  -)", block.split("\n", 1)[1])
    assert len(entries) >= 15
    for entry in entries:
        entry = " ".join(line for line in entry.splitlines()
                         if line.strip() not in ("...", "") and not line.endswith(":"))
        assert " ".join(entry.split()) in real, entry


def test_impute_fills_na_marks_in_a_column_of_numbers(tmp_path):
    # Before: "NA" (R's and pandas' mark of a missing value) made the column
    # text, so impute treated 1.5, NA, 2.5 ... as categories, filled nothing and
    # wrote the file back unchanged.  In a text column "NA" stays a category.
    (tmp_path / "gaps.csv").write_text("a,b,c\n1.5,2.0,x\nNA,3.1,y\n2.5,N/A,x\n3.5,4.1,NA\n"
                                       "1.2,2.2,x\n")
    out = succeeded(rbm_command("impute", "gaps.csv", "-o", "filled.csv", cwd=tmp_path))
    assert "Filled 2 empty cells of 5 rows x 3 columns" in out
    rows = [line.split(",") for line in (tmp_path / "filled.csv").read_text().splitlines()]
    assert rows[0] == ["a", "b", "c"] and rows[4][2] == "NA"
    filled = np.array([[float(v) for v in row[:2]] for row in rows[1:]])
    assert np.all(np.isfinite(filled))
    assert filled[0].tolist() == [1.5, 2.0] and filled[3].tolist() == [3.5, 4.1]


def test_a_saved_imputer_fills_new_data_as_it_filled_its_own(tmp_path):
    # An imputer saved by 'impute --save' could be used by no command: score,
    # sample and transform refused it as "not an RBM", and impute had no way
    # to take it.  'impute DATA --imputer FILE' now fills DATA with it, without
    # training; with the seed it was saved with it fills its own data as the
    # saving command did, draws included.
    rows = [line.split(",") for line in SURVEY.splitlines()]
    header, data = rows[0], [list(row) for row in rows[1:] * 3]
    for i in range(1, len(data), 3):
        data[i][i % 3] = ""
    text = "\n".join(",".join(row) for row in [header, *data]) + "\n"
    (tmp_path / "gaps.csv").write_text(text)
    for options in ([], ["--sample-posterior", "--seed", "4"]):
        saved = succeeded(rbm_command("impute", "gaps.csv", *options, "--save", "imp.skops",
                                      "-o", "first.csv", cwd=tmp_path))
        assert saved.endswith("saved the imputer to imp.skops\n")
        options = options[:1]  # the seed is the saved imputer's
        again = succeeded(rbm_command("impute", "gaps.csv", "--imputer", "imp.skops",
                                      *options, "-o", "again.csv", cwd=tmp_path))
        assert "CategoricalRBM, the imputer of imp.skops) and wrote again.csv" in again
        assert (tmp_path / "again.csv").read_text() == (tmp_path / "first.csv").read_text()
    # New rows without a header, the first with a gap: filled, every row kept.
    (tmp_path / "new.csv").write_text("red,,round\n,L,square\nblue,M,\n")
    out = succeeded(rbm_command("impute", "new.csv", "--imputer", "imp.skops", cwd=tmp_path))
    filled = read_rows(out)
    assert len(filled) == 3 and filled[0][::2] == ["red", "round"]
    assert filled[1][1:] == ["L", "square"] and filled[2][:2] == ["blue", "M"]
    for row in filled:
        assert all(value in CATEGORIES[j] for j, value in enumerate(row)), row


def test_a_saved_imputer_is_refused_where_it_cannot_serve_saying_where_it_can(survey):
    folder, _ = survey
    (folder / "gaps.csv").write_text("colour,size,shape\nred,,round\nblue,L,square\n"
                                     "green,M,\nred,S,round\n")
    succeeded(rbm_command("impute", "gaps.csv", "--model", "categorical", "--n-iter", "2",
                          "--save", "imp.skops", "-o", "filled.csv", cwd=folder))
    (folder / "purple.csv").write_text("colour,size,shape\npurple,,round\n")
    for argv, message in [
        (["score", "imp.skops", "survey.csv"], "'imp.skops' holds an RBMImputer (saved by "
         "'rbm impute --save'), not a density model: it fills gaps (python -m rbm impute DATA "
         "--imputer imp.skops); score, sample and transform take a model saved by 'rbm fit "
         "--save'."),
        (["sample", "imp.skops"], "not a density model: it fills gaps"),
        (["transform", "imp.skops", "survey.csv"], "not a density model: it fills gaps"),
        (["impute", "gaps.csv", "--imputer", "survey.skops"],
         "'survey.skops' holds a Pipeline (a density model: score, sample and transform read "
         "it), not an imputer; --imputer takes a file saved by 'rbm impute --save'."),
        (["impute", "gaps.csv", "--imputer", "imp.skops", "--n-iter", "3", "--save",
          "other.skops"], "--n-iter and --save set how an imputer is fitted, and --imputer "
                          "'imp.skops' is fitted already; leave them out"),
        (["impute", "purple.csv", "--imputer", "imp.skops"],
         "column 'colour' has the value 'purple' (in 1 row), which is not one of the "
         "categories 'imp.skops' knows (['blue', 'green', 'red']); fit an imputer on data "
         "that hold this value (impute without --imputer)."),
    ]:
        result = rbm_command(*argv, cwd=folder)
        assert result.returncode == 1 and result.stdout == "", (argv, result.stderr)
        assert result.stderr == f"python -m rbm {argv[0]}: error: {message}\n" or (
            message in result.stderr and result.stderr.count("\n") == 1), result.stderr
    result = rbm_command("impute", "gaps.csv", "--model", "imp.skops", cwd=folder)
    assert result.returncode == 2
    assert result.stderr.endswith("argument --model: invalid choice: 'imp.skops' (choose from "
                                  "auto, bernoulli, gaussian, categorical); a saved imputer "
                                  "goes to --imputer imp.skops\n")
