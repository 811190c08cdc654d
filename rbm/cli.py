"""The command line: ``python -m rbm`` (or ``rbm``) demo, fit, score, sample, transform, impute.

Every failure a user can cause (a missing or unreadable file, a wrong
format, a bad option, an output path that cannot be written, data outside
the model's domain, a model too large for memory) ends the program with one
line on stderr and a nonzero exit status: 2 for usage errors (with the
command's usage, as argparse does), 1 otherwise.  Output paths are checked
before any work starts, so a typo costs no training.  An unexpected error
is also reported in one line; ``RBM_TRACEBACK=1`` shows its traceback.  A
reader that closes standard output (``| head``) ends a command quietly, with
status 141, as SIGPIPE ends a Unix tool.
"""

import argparse
import ast
import contextlib
import csv
import io
import functools
import itertools
import math
import os
import re
import sys
import tempfile
import time
import warnings
import zipfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from sklearn import datasets
from sklearn.model_selection import train_test_split
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import Binarizer, KBinsDiscretizer, MinMaxScaler, StandardScaler

import rbm

from . import _demo, persistence
from ._conditional import how_drawn
from ._frames import frame_library
from ._state import ModelTooLargeError
from ._tempering import MAX_TEMPERATURES
from ._units._layer import counted
from ._units.categorical import UnknownCategoryError, warn_of_many_categories

#: Models the command line fits: name -> (class name in ``rbm``, automatic
#: preprocessing).  A model missing from the installed ``rbm`` is left out.
MODELS = {
    "bernoulli": ("BernoulliRBM", "binarize"),
    "gaussian": ("GaussianBernoulliRBM", "standardize"),
    "categorical": ("CategoricalRBM", "bins"),
}

#: Data sets bundled with scikit-learn (no download): name -> (loader, image shape).
BUNDLED = {
    "digits": (datasets.load_digits, (8, 8)),
    "breast_cancer": (datasets.load_breast_cancer, None),
    "wine": (datasets.load_wine, None),
    "iris": (datasets.load_iris, None),
    "diabetes": (datasets.load_diabetes, None),
}

PREPROCESSING = ("auto", "none", "minmax", "binarize", "standardize", "bins")

#: Delimiters a CSV file may use, tried in this order when none is given.
DELIMITERS = (",", ";", "\t", "|")

#: Rows read to detect a CSV file's delimiter and header row.
LAYOUT_ROWS = 1000

#: Suffixes of the files ``sample`` and ``transform`` write.
TABLE_SUFFIXES = (".csv", ".npy")

#: Largest count a C int holds: the kernel's loop counters.
C_INT_MAX = 2**31 - 1

#: Largest seed NumPy's RandomState (and so scikit-learn's random_state) takes.
SEED_MAX = _demo.SEED_MAX


def _number_or_auto(text, allow_zero):
    """"auto", or a finite number above zero (at least zero where allow_zero)."""
    kind = "non-negative" if allow_zero else "positive"
    if text == "auto":
        return text
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f'expected a {kind} number or "auto", got {text!r}') \
            from None
    if not (0.0 <= value if allow_zero else 0.0 < value) or not value < math.inf:  # and nan
        raise argparse.ArgumentTypeError(f"must be a {kind} finite number, got {text}")
    return value


def _rate(text):
    """An argparse type: a positive learning rate, or "auto"."""
    return _number_or_auto(text, allow_zero=False)


def _decay(text):
    """An argparse type: a non-negative weight decay, or "auto"."""
    return _number_or_auto(text, allow_zero=True)


def _n_jobs(text):
    """--n-jobs: a thread count, or -1 (-2, ...) for every core (all but one, ...)."""
    value = _count(-C_INT_MAX, C_INT_MAX)(text)
    if value == 0:
        raise argparse.ArgumentTypeError(
            "must be a number of threads, or -1 for every core (-2 all but one, ...); leave "
            "--n-jobs out for the cores other processes leave idle, got 0")
    return value


def _n_iter(text):
    """--n-iter: epochs from 1 to C_INT_MAX (as impute's --n-iter and the demo's --epochs),
    or "auto" (the models' own plan)."""
    if text == "auto":
        return text
    try:
        value = int(text)
    except ValueError:
        value = None
    if value is None or not 1 <= value <= C_INT_MAX:
        raise argparse.ArgumentTypeError(
            f'must be a number of epochs from 1 to {C_INT_MAX} or "auto", got {text!r}')
    return value


#: --verbose levels: those the help describes (the estimators take any higher
#: level as 2, so 5 was accepted and meant nothing more).
VERBOSE_LEVELS = (0, 1, 2)

#: Training options passed to the model when given: name -> (type, metavar, help).
TRAINING_OPTIONS = {
    "n_components": (int, "N", "hidden units"),
    "learning_rate": (_rate, "RATE", 'step size of the updates, or "auto" (the default: '
                                     "the rate the model's unit types train stably at)"),
    "batch_size": (int, "N", "examples per minibatch"),
    "n_iter": (_n_iter, "N", 'epochs (passes over the training data), or "auto" (about '
                             "300,000 minibatch updates)"),
    "method": (str, "{pcd,cd,pt}", "persistent chains (pcd), chains restarted at each batch "
                                   "(cd) or parallel tempering (pt)"),
    "k": (int, "N", "Gibbs steps per update (CD-k, PCD-k)"),
    "n_chains": (int, "N", "persistent chains (the model's default: 100)"),
    "momentum": (float, "M", "momentum of the updates, in [0, 1)"),
    "weight_decay": (_decay, "L2", 'L2 penalty on the weights, or "auto" (the default: 5e-4, '
                                   "more for Gaussian and ReLU hidden units)"),
    "n_jobs": (_n_jobs, "N", "threads for the matrix products (the model's default: the idle "
                             "cores)"),
}

EPILOG = """\
examples:
  python -m rbm                                  the digits demo (also: python -m rbm demo)
  python -m rbm fit digits --n-components 20 --n-iter 100 --save model.skops --plots figures
  python -m rbm fit survey.csv --model categorical --save survey.skops
  python -m rbm score model.skops data.npy
  python -m rbm sample model.skops -n 10 -o samples.csv
  python -m rbm transform model.skops data.csv -o features.npy
  python -m rbm impute survey_with_gaps.csv -o survey_filled.csv

bundled data sets: {bundled}
models: {models}
"""

FIT_EXAMPLES = EPILOG

DEMO_EXAMPLES = """\
examples:
  python -m rbm                                        the whole demo (about a minute)
  python -m rbm demo --epochs 50 --quiet               a quick look: shorter training, no progress
  python -m rbm demo --feature-components 64 --seed 1  a smaller feature model, another seed
"""

SCORE_EXAMPLES = """\
examples:
  python -m rbm score model.skops data.csv
  python -m rbm score survey.skops survey.csv --delimiter ';'
"""

SAMPLE_EXAMPLES = """\
examples:
  python -m rbm sample model.skops -n 10                       CSV on stdout
  python -m rbm sample model.skops -n 1000 --n-steps 5000 --seed 1 -o samples.npy
"""

TRANSFORM_EXAMPLES = """\
examples:
  python -m rbm transform model.skops data.csv                 CSV on stdout
  python -m rbm transform model.skops data.csv -o features.npy
"""


IMPUTE_EXAMPLES = """\
examples:
  python -m rbm impute survey_with_gaps.csv -o survey_filled.csv
  python -m rbm impute measurements.csv --sample-posterior --seed 3 -o draw3.csv
  python -m rbm impute survey_with_gaps.csv --save imputer.skops -o survey_filled.csv
  python -m rbm impute new_survey.csv --imputer imputer.skops -o new_filled.csv
"""


class UsageError(Exception):
    """A mistake on the command line or in the input: reported in one line."""


def available_models():
    """The models of ``MODELS`` this installation of rbm has.

    Returns
    -------
    models : dict of str -> type
        Command-line name (``--model``) to estimator class.
    """
    found = {name: getattr(rbm, cls_name, None) for name, (cls_name, _) in MODELS.items()}
    return {name: cls for name, cls in found.items() if cls is not None}


# ----------------------------------------------------------------------
# Arguments
# ----------------------------------------------------------------------


def _image_shape(text):
    parts = text.lower().split("x")
    if len(parts) != 2 or not all(p.isdigit() and int(p) > 0 for p in parts):
        raise argparse.ArgumentTypeError(f"expected HEIGHTxWIDTH such as 28x28, got {text!r}")
    return int(parts[0]), int(parts[1])


def _option_number(text):
    """float(text), or argparse's usage error naming the text (a ValueError
    there named the type function: "invalid _test_size value: 'abc'")."""
    try:
        return float(text.replace("_", "x"))  # (float() reads "1_0" as 10)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number, got {text!r}") from None


def _test_size(text):
    value = _option_number(text)
    if not 0.0 <= value < 1.0:
        raise argparse.ArgumentTypeError(f"must be in [0, 1), got {text}")
    return value


def _threshold(text):
    value = _option_number(text)
    if not 0.0 <= value < 1.0:  # also refuses nan: the data are scaled to [0, 1] first
        raise argparse.ArgumentTypeError(
            f"must be in [0, 1) (the data are scaled to [0, 1] before thresholding), got {text}")
    return value


def _count(minimum, maximum=C_INT_MAX, why=""):
    """An argparse type: an integer in [minimum, maximum] (``_demo.integer_in``)."""
    return _demo.integer_in(minimum, maximum, why)


def _delimiter(text):
    value = {"tab": "\t", "\\t": "\t"}.get(text, text)
    if len(value) != 1 or value in "\"\r\n":
        raise argparse.ArgumentTypeError(
            f"expected one character such as ';' (or 'tab'), got {text!r}")
    return value


def _param(text):
    """NAME=VALUE: a Python literal (0.5, True, None), true/false in any case
    (as shells and other tools write booleans), or else a bare word (a string
    option such as method=cd)."""
    name, sep, value = text.partition("=")
    if not sep or not name:
        raise argparse.ArgumentTypeError(f"expected NAME=VALUE, got {text!r}")
    if value.strip().lower() in ("true", "false"):
        return name.strip(), value.strip().lower() == "true"
    try:
        return name.strip(), ast.literal_eval(value)
    except (ValueError, SyntaxError, MemoryError, RecursionError):
        return name.strip(), value  # a bare word: a string option such as method=cd


def _add_data_argument(parser):
    parser.add_argument(
        "data", metavar="DATA",
        help=f"a .csv file (one row per sample, optional header row; numbers stay "
             f"numbers, other values are categories), a .npy file holding a 2-D array, "
             f"or a bundled data set: {', '.join(BUNDLED)}",
    )
    csv_options = parser.add_argument_group(
        "CSV input", "for a .csv file only (refused for a .npy file or a bundled data set)")
    csv_options.add_argument(
        "--delimiter", type=_delimiter, metavar="CHAR",
        help="field delimiter of a .csv file (default: detected among "
             "',' ';' tab '|': the one that splits every row into the same number of fields)")
    header = csv_options.add_mutually_exclusive_group()
    header.add_argument("--header", action="store_true", default=None,
                        help="the first row of a .csv file names the columns")
    header.add_argument("--no-header", action="store_false", dest="header",
                        help="the first row of a .csv file is data (default: detected)")


def _add_model_argument(parser):
    parser.add_argument("model", metavar="MODEL",
                        help="a model saved by 'fit --save' (or any saved RBM or Pipeline "
                             "ending in one): a .skops, .joblib or .pkl file")


def _add_output_argument(parser, what, header="no header"):
    parser.add_argument(
        "-o", "--output", metavar="PATH",
        help=f"write {what} to PATH: .csv (one row per sample, {header}) or .npy "
             "(default: CSV on standard output)")


def _add_ais_argument(parser):
    parser.add_argument(
        "--ais-betas", type=_count(3), metavar="N",
        help="AIS temperatures for log Z when it cannot be enumerated exactly (the "
             "library's default: 10000; fewer is faster, with a larger standard error)",
    )


def _add_command(commands, name, run, **kwargs):
    """A subcommand parser whose runtime errors carry its own name (``rbm fit: error: ...``)."""
    parser = commands.add_parser(name, formatter_class=argparse.RawDescriptionHelpFormatter,
                                 **kwargs)
    parser.set_defaults(run=run, command_prog=parser.prog)
    return parser


def _add_fit_parser(commands):
    models = available_models()
    fit = _add_command(
        commands, "fit", _run_fit, help="fit a model to a file or a bundled data set",
        description="Fit an RBM, report its held-out log-likelihood, and optionally\n"
                    "save it and write figures. The preprocessing is fitted on the\n"
                    "training split only and saved with the model as a Pipeline.\n"
                    "A categorical model takes its categories from the whole file, so a\n"
                    "value seen only in the held-out rows is still a category.\n"
                    "Output paths are checked before training starts.",
        epilog=FIT_EXAMPLES.format(bundled=", ".join(BUNDLED), models=", ".join(models)),
    )
    _add_data_argument(fit)
    data = fit.add_argument_group("data")
    data.add_argument("--test-size", type=_test_size, default=0.2, metavar="F",
                      help="held-out fraction, in [0, 1) (default: 0.2)")
    data.add_argument(
        "--preprocess", choices=PREPROCESSING, default="auto",
        help="auto (default): bernoulli binarizes unless the data already lie in "
             "[0, 1], gaussian standardizes, categorical bins non-integer numbers "
             "(text stays as it is); minmax scales to [0, 1]; binarize scales then "
             "thresholds; bins makes quantile bins",
    )
    data.add_argument("--threshold", type=_threshold, default=0.5, metavar="T",
                      help="binarize threshold, in [0, 1), after scaling to [0, 1] "
                           "(default: 0.5)")
    data.add_argument("--n-bins", type=_count(2, why=" (one bin would make every feature "
                                                    "constant)"),
                      default=5, metavar="N",
                      help="quantile bins per feature for --preprocess bins, at least 2 "
                           "(default: 5)")
    data.add_argument("--image-shape", type=_image_shape, metavar="HxW",
                      help="draw rows as HxW images in figures (digits: 8x8)")
    model = fit.add_argument_group("model (unset options keep the model's defaults)")
    model.add_argument("--model", choices=list(models), default="bernoulli",
                       help="visible unit type (default: bernoulli)")
    for name, (kind, metavar, text) in TRAINING_OPTIONS.items():
        choices = ("pcd", "cd", "pt") if name == "method" else None
        model.add_argument("--" + name.replace("_", "-"), type=kind, metavar=metavar,
                           choices=choices, help=text)
    model.add_argument("--random-state", type=_count(0, SEED_MAX), default=0, metavar="SEED",
                       help="seed of the split, the model and the samples (default: 0)")
    model.add_argument("--param", type=_param, action="append", default=[],
                       metavar="NAME=VALUE",
                       help="any other model parameter, e.g. --param learn_sigma=True "
                            "(repeatable)")
    output = fit.add_argument_group("output")
    output.add_argument("--save", metavar="PATH",
                        help="save the fitted Pipeline: .skops (safe to share), "
                             ".joblib or .pkl")
    output.add_argument("--plots", metavar="DIR",
                        help="write PNG figures (filters, samples, free energies, and "
                             "learning curves or the energy landscape when available)")
    _add_ais_argument(output)
    output.add_argument("--sample-steps", type=_count(1), default=1000, metavar="N",
                        help="Gibbs steps per sample drawn for figures (default: 1000)")
    output.add_argument("--verbose", type=int, choices=VERBOSE_LEVELS, default=1,
                        metavar="LEVEL",
                        help="progress: 0 none, 1 one line (rewritten on a terminal, about 6 "
                             "lines elsewhere), 2 every epoch (default: 1)")
    output.add_argument("-q", "--quiet", action="store_const", const=0, dest="verbose",
                        help="no progress lines (--verbose 0)")


def _add_score_parser(commands):
    score = _add_command(
        commands, "score", _run_score, help="mean log-likelihood of data under a saved model",
        description="Print the mean log-likelihood of DATA under a model saved by\n"
                    "'fit --save' (or any saved RBM, or Pipeline ending in one), in nats\n"
                    "per sample of the data after the saved preprocessing. A .skops file\n"
                    "is loaded trusting only this library's types beyond skops' own.",
        epilog=SCORE_EXAMPLES,
    )
    _add_model_argument(score)
    _add_data_argument(score)
    _add_ais_argument(score)


def _add_sample_parser(commands):
    sample = _add_command(
        commands, "sample", _run_sample, help="draw samples from a saved model",
        description="Draw N samples from a saved model: exactly where it has at most 14\n"
                    "binary hidden units, else by block-Gibbs sampling (each from its own\n"
                    "chain, started from the data marginals); --method tempered runs\n"
                    "parallel tempering, for models whose modes the chains do not cross. A saved\n"
                    "Pipeline gives them in the units of the original data: back through\n"
                    "each preprocessing step that has an inverse_transform.",
        epilog=SAMPLE_EXAMPLES,
    )
    _add_model_argument(sample)
    sample.add_argument("-n", "--n-samples", type=_count(1), default=10, metavar="N",
                        help="samples to draw (default: 10)")
    sample.add_argument("--n-steps", type=_count(1), default=1000, metavar="N",
                        help="Gibbs steps per chain (default: 1000; none where drawn "
                             "exactly)")
    sample.add_argument("--method", choices=("auto", "exact", "gibbs", "tempered"),
                        default="auto",
                        help="exact draws (up to 14 binary hidden units), Gibbs chains, or "
                             "tempered chains (default: auto, exact where it can be)")
    sample.add_argument("--temperatures", type=_count(2, MAX_TEMPERATURES),
                        metavar="T",
                        help="temperatures of --method tempered, from 2 to "
                             f"{MAX_TEMPERATURES} (default: 10)")
    sample.set_defaults(check_usage=functools.partial(_check_sample_usage, sample))
    sample.add_argument("--seed", type=_count(0, SEED_MAX), metavar="SEED",
                        help="seed of the chains (default: the model's random_state)")
    sample.add_argument("--model-units", action="store_true",
                        help="write the samples as the model sees them, without undoing "
                             "the preprocessing")
    _add_output_argument(sample, "the samples")


def _add_transform_parser(commands):
    transform = _add_command(
        commands, "transform", _run_transform,
        help="hidden features of data under a saved model",
        description="Write the hidden features of DATA (p(h_j = 1 | x) for each hidden\n"
                    "unit j, after the saved preprocessing): one row per sample, one\n"
                    "column per hidden unit.",
        epilog=TRANSFORM_EXAMPLES,
    )
    _add_model_argument(transform)
    _add_data_argument(transform)
    _add_output_argument(transform, "the features")


#: --model of ``impute``: the RBM behind the imputer.
IMPUTER_MODELS = ("auto", "bernoulli", "gaussian", "categorical")


def _imputer_model(text):
    """impute's --model: one of IMPUTER_MODELS (a saved imputer goes to --imputer)."""
    if text in IMPUTER_MODELS:
        return text
    hint = (f"; a saved imputer goes to --imputer {text}"
            if Path(text).suffix.lower() in persistence.SUFFIXES else "")
    raise argparse.ArgumentTypeError(
        f"invalid choice: {text!r} (choose from {', '.join(IMPUTER_MODELS)}){hint}")


def _add_impute_parser(commands):
    impute = _add_command(
        commands, "impute", _run_impute,
        help="fill in the empty cells of a CSV file",
        description="Fit an RBMImputer to DATA, rows with empty cells included, and write\n"
                    "DATA with every empty cell filled in from p(missing | observed) under\n"
                    "the fitted model: the most probable value of a category or 0/1\n"
                    "column, the conditional mean of a real-valued one (or, with\n"
                    "--sample-posterior, one draw, for multiple imputation). With\n"
                    "--imputer, an imputer saved by 'impute --save' fills DATA instead,\n"
                    "without training. Empty cells are missing, and so are nan, NA, N/A,\n"
                    "NULL and the like in a column of numbers, and NaN in a .npy file.",
        epilog=IMPUTE_EXAMPLES,
    )
    _add_data_argument(impute)
    impute.add_argument(
        "--model", type=_imputer_model, default="auto",
        metavar="{" + ",".join(IMPUTER_MODELS) + "}",
        help="the RBM behind the imputer (default: auto, chosen from the data: bernoulli "
             "when every value is 0 or 1, gaussian for other numbers, categorical when "
             "any column holds text)")
    impute.add_argument(
        "--imputer", metavar="PATH",
        help="fill DATA's gaps with a fitted imputer saved by 'impute --save' (.skops, "
             ".joblib or .pkl), without training: DATA needs the columns it was fitted on; "
             "--model, --n-components, --n-iter and --save do not apply")
    impute.add_argument("--n-components", type=_count(1), metavar="N",
                        help="hidden units, with a --model named (default: the "
                             "imputer's, one per column or category, 64 to 512)")
    impute.add_argument("--n-iter", type=_count(1), metavar="N",
                        help="training epochs, with a --model named (default: the "
                             "imputer's plan, about 40,000 minibatch updates)")
    impute.add_argument("--sample-posterior", action="store_true",
                        help="fill each cell with a draw from its conditional distribution "
                             "instead of its most probable value or mean")
    impute.add_argument("--seed", type=_count(0, SEED_MAX), metavar="SEED",
                        help="seed of the model and the draws (default: 0; with --imputer, "
                             "the saved imputer's, so that it fills as when it was saved)")
    impute.add_argument("--save", metavar="PATH",
                        help="also save the fitted imputer (.skops, .joblib or .pkl)")
    _add_output_argument(impute, "the completed table",
                         header="after DATA's header row, if it has one")


#: The commands, in the order ``--help`` lists them.
COMMANDS = ("demo", "fit", "score", "sample", "transform", "impute")


def build_parser(prog=None):
    """The argument parser of the command line.

    Parameters
    ----------
    prog : str or None, default=None
        Program name shown in usage and messages; None uses ``sys.argv[0]``'s.

    Returns
    -------
    parser : argparse.ArgumentParser
        Parsed arguments carry ``run``, the function that runs the command,
        and ``command_prog``, the command's name in messages.
    """
    parser = argparse.ArgumentParser(
        prog=prog,
        description="Restricted Boltzmann machines from the command line.\n"
                    "With no command, runs the digits demo.",
        epilog=EPILOG.format(bundled=", ".join(BUNDLED),
                             models=", ".join(available_models())),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {rbm.__version__}")
    commands = parser.add_subparsers(title="commands", metavar="COMMAND")
    demo = _add_command(
        commands, "demo", _demo.run,
        help="train on the bundled digits and compare with baselines (default)",
        description=_demo.DESCRIPTION, epilog=DEMO_EXAMPLES,
    )
    _demo.add_arguments(demo)
    _add_fit_parser(commands)
    _add_score_parser(commands)
    _add_sample_parser(commands)
    _add_transform_parser(commands)
    _add_impute_parser(commands)
    return parser


# ----------------------------------------------------------------------
# Reading data
# ----------------------------------------------------------------------


@dataclass
class Table:
    """Data read for a command.

    Attributes
    ----------
    X : ndarray of shape (n_samples, n_features)
        float64 when every column holds numbers; otherwise an object array
        whose number columns hold numbers (ints where every value is whole)
        and whose other columns hold strings.
    names : list of str or None
        Column names from the header row; None without one.
    description : str
        What was read, for the report.
    image_shape : tuple of int or None
        The rows' image shape, for a bundled image data set.
    fields : list of list of str or None
        The data rows of a CSV file read for ``impute``, as the file wrote
        them (one list of field strings per row of ``X``): the cells that
        are not gaps are written back as they stand; None otherwise.
    """

    X: np.ndarray
    names: list
    description: str
    image_shape: tuple = None
    fields: list = None

    def label(self, j):
        """Column j as messages name it: ``column 'size'`` or ``column 3``."""
        return f"column {self.names[j]!r}" if self.names else f"column {j + 1}"

    @property
    def text_columns(self):
        """Indices of the columns that hold text."""
        if self.X.dtype != object:
            return []
        return [j for j in range(self.X.shape[1])
                if any(isinstance(value, str) for value in self.X[:, j])]


def _number(field):
    """float(field), or None when the field is not a number (Python's float()
    reads "1_0" as 10: a field with an underscore is text)."""
    if "_" in field:
        return None
    try:
        return float(field)
    except ValueError:
        return None


def _csv_rows(text, delimiter, keep_gap_rows=False):
    """The non-blank rows of CSV text split at delimiter.

    With ``keep_gap_rows`` (``impute``), a row of empty fields (",,") is a
    row with every entry missing, kept so that the output has a row for
    every input row; only lines without a field are blank.  In a table of
    one column such a row is one empty field (``""``, as pandas and the csv
    module write a missing value there), kept too.
    """
    rows = [row for row in csv.reader(io.StringIO(text), delimiter=delimiter,
                                      skipinitialspace=True) if row]
    if not keep_gap_rows:
        return [row for row in rows if any(field.strip() for field in row)]
    given = [len(row) for row in rows if any(field.strip() for field in row)]
    one_column = bool(given) and given[0] == 1
    return [row for row in rows
            if any(field.strip() for field in row) or len(row) > 1 or one_column]


def _detect_delimiter(text):
    """The first of DELIMITERS that splits every row into the same number (> 1) of fields.

    None when none does: a one-column file, or rows of different lengths.
    """
    for delimiter in DELIMITERS:
        widths = {len(row) for row in _csv_rows(text, delimiter)}
        if len(widths) == 1 and widths.pop() > 1:
            return delimiter
    return None


def _check_given_delimiter(given, detected, head, source):
    """UsageError where --delimiter splits no row while another delimiter splits
    every row evenly: each line would be read as one text field (and, for
    ``impute``, nothing filled), silently."""
    if given is None or detected is None or given == detected:
        return
    if all(len(row) == 1 for row in _csv_rows(head, given)):
        width = len(_csv_rows(head, detected)[0])
        raise UsageError(
            f"--delimiter {_shown(given)} splits no row of {source!r}, but {_shown(detected)} "
            f"splits every row into {width} fields; pass --delimiter {_shown(detected)} "
            "(or leave it out: it is detected).")


def _shown(delimiter):
    return "tab" if delimiter == "\t" else repr(delimiter)


def _check_widths(rows, source, delimiter):
    """UsageError unless every row has as many fields as the first."""
    width = len(rows[0])
    for number, row in enumerate(rows, start=1):
        if len(row) != width:
            others = [d for d in DELIMITERS if d != delimiter]
            raise UsageError(
                f"{source!r}: row {number} has {len(row)} fields but row 1 has {width} "
                f"(fields split at {_shown(delimiter)}); make every row the same length, "
                f"or name the delimiter with --delimiter (e.g. "
                f"{' or '.join(_shown(d) for d in others[:2])}).")


def _first_row_is_header(rows, header, row_is_data):
    """Whether rows[0] names the columns.

    The first row is a header when the command line says so; otherwise
    when it holds text in a column that holds only numbers below it.  When
    every column holds text, it is data if ``row_is_data`` (the saved
    model's categories) accepts it, a header otherwise (the usual CSV
    layout; ``--no-header`` says it is data).
    """
    if header is not None:
        return header
    if len(rows) < 2:  # a lone row of the saved model's categories is data, as below
        if row_is_data is not None and row_is_data(rows[0]):
            return False
        return any(_is_text(field) for field in rows[0])
    # Gaps (empty cells, NA and the other MISSING_MARKS: what ``impute`` fills)
    # say nothing either way, in the first row or below it: a gap in row 1
    # made it the header, and an NA below made a number column text.
    number_columns = [j for j in range(len(rows[0]))
                      if any(not _is_gap(row[j]) for row in rows[1:])
                      and not any(_is_text(row[j]) for row in rows[1:])]
    if number_columns:
        return any(_is_text(rows[0][j]) for j in number_columns)
    return not (row_is_data is not None and row_is_data(rows[0]))


def _is_gap(field):
    """Whether a CSV field marks a missing value: empty, or one of MISSING_MARKS."""
    field = field.strip()
    return not field or field in MISSING_MARKS


def _is_text(field):
    """Whether a CSV field is text: neither a number nor a gap."""
    return not _is_gap(field) and _number(field.strip()) is None


#: Marks of a missing value (pandas' defaults that float() does not read as NaN): in a
#: column of numbers they are gaps, as "nan" and empty cells are, not text.
MISSING_MARKS = frozenset(["#N/A", "#N/A N/A", "#NA", "-1.#IND", "-1.#QNAN", "1.#IND",
                           "1.#QNAN", "<NA>", "N/A", "NA", "NULL", "None", "n/a", "null"])


def _typed_column(fields):
    """A column of strings as float64 numbers, or as an object array of strings.

    Empty fields (gaps, which only ``impute`` accepts) become NaN in a
    number column and None in a text column; so do the ``MISSING_MARKS``
    in a column whose other fields are numbers.
    """
    given = [field.strip() for field in fields]
    numbers = [_number(field) if field and field not in MISSING_MARKS else math.nan
               for field in given]
    if any(number is None for number in numbers) or all(
            field in MISSING_MARKS for field in given if field):
        # text: the marks are categories as they stand (a column of only "NA" is text)
        numbers = [_number(field) if field else math.nan for field in given]
    if all(number is not None for number in numbers):
        return np.array(numbers, dtype=np.float64)
    return np.array([field or None for field in given], dtype=object)


def _as_table(columns):
    """Typed columns as one array: float64 if all are numbers, else object."""
    if all(column.dtype == np.float64 for column in columns):
        return np.column_stack(columns)
    table = np.empty((len(columns[0]), len(columns)), dtype=object)
    for j, column in enumerate(columns):
        if column.dtype == np.float64:
            given = ~np.isnan(column)
            finite = np.isfinite(column[given])  # inf is no whole number: refused later
            whole = np.all(finite) and np.all(column[given] == np.round(column[given]))
            # whole numbers stay whole: labels 1, 2, 3; a gap is None, like a text gap
            column = np.array([(int(v) if whole else v) if ok else None
                               for v, ok in zip(column.tolist(), given)], dtype=object)
        table[:, j] = list(column.tolist())
    return table


def _check_no_empty_cells(table_rows, source, label):
    for number, row in enumerate(table_rows, start=1):
        for j, field in enumerate(row):
            if not field.strip():
                raise UsageError(f"{source!r}: row {number} of {label(j)} is empty; fill "
                                 "in the gaps first (python -m rbm impute DATA -o "
                                 "FILLED.csv does, with an RBM) or remove those rows.")


def _all_numbers(text, delimiter, has_header):
    """The data rows as float64 by NumPy's C reader; None where that reader fails.

    The fast path for numeric files; anything else (text, empty cells,
    ragged rows) goes to the careful reader, which types each column and
    says what is wrong.
    """
    lines = io.StringIO(text)
    if has_header:
        for line in lines:  # skip up to and including the first non-blank line
            if line.strip():
                break
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # "input contained no data": reported below
            X = np.loadtxt(lines, delimiter=delimiter, ndmin=2, dtype=np.float64,
                           comments=None, quotechar='"')
    except ValueError:
        return None
    return X if X.size else None


def _read_csv(path, source, delimiter=None, header=None, row_is_data=None,
              allow_missing=False):
    """Table of a CSV file: delimiter and header detected (on its first rows) unless given.

    Empty cells are an error unless ``allow_missing`` (then NaN or None).
    """
    try:
        text = path.read_text(encoding="utf-8-sig")
    except UnicodeDecodeError as error:
        raise UsageError(f"cannot read {source!r} as text: {error}; give a CSV file "
                         "saved as UTF-8 text (or a .npy file).") from error
    except OSError as error:
        raise UsageError(f"cannot read {source!r}: {error}") from error
    head = "".join(itertools.islice(io.StringIO(text), LAYOUT_ROWS))
    detected = _detect_delimiter(head)
    _check_given_delimiter(delimiter, detected, head, source)
    delimiter = delimiter or detected or ","
    head_rows = _csv_rows(head, delimiter)
    if not head_rows:
        raise UsageError(f"{source!r} holds no data.")
    _check_widths(head_rows, source, delimiter)
    has_header = _first_row_is_header(head_rows, header, row_is_data)
    names = [field.strip() for field in head_rows[0]] if has_header else None
    # impute reads every row itself: it writes the cells it was given back as
    # they were written (the fast reader keeps numbers only, and "00501" is 501)
    table = Table(None if allow_missing else _all_numbers(text, delimiter, has_header),
                  names, source)
    if table.X is None:
        table.X, data_rows = _typed_rows(text, delimiter, has_header, table, allow_missing)
        table.fields = data_rows if allow_missing else None
    how = [f"fields split at {_shown(delimiter)}"] if delimiter != "," else []
    how.append(f"header row: {', '.join(names)}" if has_header else "no header row")
    table.description = f"{source} ({'; '.join(how)})"
    return table


def _typed_rows(text, delimiter, has_header, table, allow_missing=False):
    """The careful reader: every row checked, each column typed on its own.

    Returns the typed table and its rows of fields as read.
    """
    rows = _csv_rows(text, delimiter, keep_gap_rows=allow_missing)
    _check_widths(rows, table.description, delimiter)
    data_rows = rows[1:] if has_header else rows
    if not data_rows:
        raise UsageError(f"{table.description!r} holds no data: only the header row "
                         f"{delimiter.join(rows[0])!r} (--no-header if that row is data).")
    if not allow_missing:
        _check_no_empty_cells(data_rows, table.description, table.label)
    return _as_table([_typed_column(fields) for fields in zip(*data_rows)]), data_rows


def _read_npy(path, source):
    try:
        with open(path, "rb") as f:
            magic = f.read(6)
    except OSError as error:
        raise UsageError(f"cannot read {source!r}: {error}") from error
    if magic != b"\x93NUMPY":
        # np.load takes a file without the header for a pickle, and told the
        # user to trust one that is not there.
        raise UsageError(f"{source!r} is not a .npy file (it has no NumPy header); if it "
                         "holds comma-separated values, name it .csv.")
    try:
        X = np.load(path, allow_pickle=False)
    except (ValueError, OSError, EOFError) as error:
        hint = (" (it holds Python objects, which are not loaded: save the array as numbers "
                "or strings, e.g. X.astype(float) or X.astype(str), or as a .csv file)"
                if "allow_pickle" in str(error) else "")
        raise UsageError(f"cannot read {source!r} as a .npy array: {error}{hint}") from error
    if X.ndim == 2 and X.dtype.kind in "US":  # labels saved by 'sample': type each column
        X = _as_table([_typed_column(_labels_text(column, source)) for column in X.T])
    return Table(X, None, source)


def _labels_text(column, source):
    """A .npy column of labels as str: byte strings decoded as UTF-8 (str() of
    b'red' is "b'red'", which became the category's name)."""
    if column.dtype.kind != "S":
        return [str(v) for v in column]
    try:
        return [v.decode("utf-8") for v in column]
    except UnicodeDecodeError as error:
        raise UsageError(f"{source!r} holds byte strings that are not UTF-8 text ({error}); "
                         "save the labels as str, e.g. X.astype(str) after decoding them.") \
            from error


def _npz_hint(path, source):
    """What to do with a .npz archive, which may hold several arrays (train, test, ...)."""
    try:
        with zipfile.ZipFile(path) as archive:  # np.load would try a non-zip as a pickle
            names = [name[:-4] for name in archive.namelist() if name.endswith(".npy")]
    except (zipfile.BadZipFile, OSError) as error:
        return (f"cannot read {source!r} as a .npz archive ({error}); give a .csv or .npy "
                "file.")
    name = names[0] if names else "X"
    return (f"{source!r} is a .npz archive (arrays: {', '.join(names) or 'none'}); the "
            "commands read one 2-D array from a .npy or .csv file: save the one you want, "
            f"e.g. numpy.save({name + '.npy'!r}, numpy.load({source!r})[{name!r}]).")


def _check_values(table, source, allow_missing=False):
    """UsageError for a table that is empty, not 2-D, or holds non-finite numbers
    (NaN, a gap, is allowed with ``allow_missing``)."""
    X = table.X
    if X.size == 0:
        raise UsageError(f"{source!r} holds no data.")
    if X.ndim != 2:
        hint = (" (save X.reshape(-1, 1) for one feature, or X.reshape(1, -1) for one sample)"
                if X.ndim == 1 else "")
        if X.dtype.names:  # a record per row: its fields are the columns, not a reshape
            hint = (f" (a structured array with the fields {', '.join(X.dtype.names)}: save "
                    "numpy.lib.recfunctions.structured_to_unstructured(X) for a column per "
                    "field)")
        raise UsageError(f"{source!r} must hold a 2-D array of samples x features, "
                         f"got shape {X.shape}{hint}.")
    if X.dtype == object:  # text columns beside number columns, where NaN (a gap) is None
        values = X.ravel().tolist()
        n_nan = sum(v is None or (isinstance(v, float) and math.isnan(v)) for v in values)
        n_inf = sum(isinstance(v, float) and math.isinf(v) for v in values)
    else:
        # True / False are the 1 / 0 of binary data (a .npy of a boolean mask).
        if X.dtype != bool and (not np.issubdtype(X.dtype, np.number)
                                or np.issubdtype(X.dtype, np.complexfloating)):
            raise UsageError(f"{source!r} must hold real numbers, got dtype {X.dtype}.")
        table.X = X = X.astype(np.float64)
        n_nan, n_inf = int(np.isnan(X).sum()), int(np.isinf(X).sum())
    if allow_missing and n_inf:
        raise UsageError(f"{source!r} holds {n_inf} infinite values; an imputer fills "
                         "gaps (empty cells, NaN), not infinities: replace them first.")
    if (n_nan or n_inf) and not allow_missing:
        raise UsageError(f"{source!r} holds {n_nan} NaN and {n_inf} infinite values; "
                         "remove them or impute them first (python -m rbm impute DATA -o "
                         "FILLED.csv fills NaN with an RBM).")
    return table


def _refuse_csv_options(args, what):
    """UsageError for --delimiter, --header or --no-header given for data that are
    not a CSV file (a .npy array, a bundled data set), which they would not change."""
    given = ([f"--delimiter {_shown(args.delimiter)}"] if args.delimiter is not None else []) \
        + ([{True: "--header", False: "--no-header"}[args.header]]
           if args.header is not None else [])
    if given:
        one = len(given) == 1
        raise UsageError(f"{' and '.join(given)} {'applies' if one else 'apply'} to .csv "
                         f"files only, and {what}; leave {'it' if one else 'them'} out.")


def _load_data(args, row_is_data=None, allow_missing=False):
    """The Table of ``args.data``: a bundled data set name or a .csv / .npy path.

    Gaps (empty cells, NaN) are an error unless ``allow_missing``.
    """
    source = args.data
    if source in BUNDLED:
        _refuse_csv_options(args, f"{source!r} is a data set bundled with scikit-learn")
        loader, image_shape = BUNDLED[source]
        X = loader(return_X_y=True)[0].astype(np.float64)
        return Table(X, None, f"{source} (bundled with scikit-learn)", image_shape)
    path = Path(source)
    if path.is_dir():
        raise UsageError(f"{source!r} is a folder, not a data file; give a .csv or .npy "
                         f"file (or a bundled data set: {', '.join(BUNDLED)}).")
    if path.suffix.lower() == ".npz" and path.is_file():
        raise UsageError(_npz_hint(path, source))
    if path.suffix.lower() in persistence.SUFFIXES and path.is_file():
        raise UsageError(f"{source!r} is a saved model, not data; give a .csv or .npy file "
                         "(a saved model is read by score, sample and transform; a saved "
                         "imputer by impute --imputer).")
    if path.suffix.lower() not in (".csv", ".npy"):
        raise UsageError(
            f"{source!r} is neither a .csv nor a .npy file nor a bundled data set "
            f"({', '.join(BUNDLED)})."
        )
    if not path.is_file():
        raise UsageError(f"no such file: {source!r}")
    if path.suffix.lower() == ".npy":
        _refuse_csv_options(args, f"{source!r} is a .npy array, whose columns need no "
                                  "splitting and which has no header row")
        table = _read_npy(path, source)
    else:
        table = _read_csv(path, source, args.delimiter, args.header, row_is_data,
                          allow_missing)
    return _check_values(table, source, allow_missing)


#: What to do about text where numbers are needed.
_TEXT_HINT = ("categories need a model fitted with --model categorical; otherwise check "
              "the delimiter (--delimiter) and the header (--header, --no-header).")


def _refuse_text(table, what, hint=_TEXT_HINT):
    """UsageError naming the first text column, for a step that needs numbers."""
    text = table.text_columns
    if text:
        j = text[0]
        values = sorted({v for v in table.X[:, j] if isinstance(v, str) and _number(v) is None})
        raise UsageError(
            f"{table.label(j)} holds text ({', '.join(map(repr, values[:3]))}"
            f"{', ...' if len(values) > 3 else ''}) but {what} needs numbers; "
            f"{hint}")


def _resolve_preprocessing(choice, model_name, X):
    """The preprocessing ``auto`` means for this model and data."""
    if choice != "auto":
        return choice
    automatic = MODELS[model_name][1]
    if X.dtype == object:  # text columns: categories as they are (other models refuse text)
        return "none" if automatic == "bins" else automatic
    if automatic == "binarize" and _in_unit_range(X):
        return "none"
    if automatic == "bins" and _is_integer_valued(X):
        return "none"
    return automatic


def _in_unit_range(X):
    return bool(np.all((X >= 0) & (X <= 1)))


def _is_integer_valued(X):
    return bool(np.all(np.isfinite(X)) and np.all(X == np.round(X)))


def _preprocessing_steps(choice, args):
    """Pipeline steps for a resolved preprocessing choice."""
    if choice == "none":
        return []
    if choice == "minmax":
        return [("minmax", MinMaxScaler(clip=True))]
    if choice == "binarize":
        return [("minmax", MinMaxScaler(clip=True)),
                ("binarize", Binarizer(threshold=args.threshold))]
    if choice == "standardize":
        return [("standardize", StandardScaler())]
    return [("bins", KBinsDiscretizer(n_bins=args.n_bins, encode="ordinal",
                                      strategy="quantile"))]


def _describe_preprocessing(choice, args):
    return {
        "none": "used as given",
        "minmax": "scaled to [0, 1]",
        "binarize": f"scaled to [0, 1] and binarized at {args.threshold}",
        "standardize": "standardized",
        "bins": f"cut into {args.n_bins} quantile bins per feature",
    }[choice]


# ----------------------------------------------------------------------
# Output paths, checked before any work
# ----------------------------------------------------------------------


def _check_can_create_files_in(directory, option, path):
    """UsageError unless a file can be created in directory (tried, not guessed from modes)."""
    try:
        with tempfile.TemporaryFile(dir=directory):
            pass
    except OSError as error:
        reason = error.strerror or type(error).__name__
        raise UsageError(f"{option} {str(path)!r}: cannot write in the folder "
                         f"{str(directory)!r} ({reason}); choose a folder you can write "
                         "to.") from error


def _check_output_file(path, option, suffixes):
    """UsageError unless path names a file, with one of suffixes, that can be written."""
    path = Path(path)
    if path.suffix.lower() not in suffixes and path.name.lower() in suffixes:
        # ".csv" alone is a hidden file's whole name, which has no suffix
        stem = "model" if option == "--save" else "out"
        raise UsageError(f"{option} {str(path)!r}: {path.name!r} is a suffix without a name "
                         f"before it; name the file, e.g. {stem}{path.name}.")
    if path.suffix.lower() not in suffixes:
        raise UsageError(f"{option} {str(path)!r}: cannot tell how to write it; use a file "
                         f"name ending in {', '.join(suffixes)}.")
    if path.is_dir():
        raise UsageError(f"{option} {str(path)!r} is a folder; give a file name.")
    parent = path.parent
    if not parent.exists():
        raise UsageError(f"{option} {str(path)!r}: the folder {str(parent)!r} does not "
                         "exist; create it first or choose another path.")
    if not parent.is_dir():
        raise UsageError(f"{option} {str(path)!r}: {str(parent)!r} is a file, not a folder.")
    _check_can_create_files_in(parent, option, path)
    if path.exists() and not os.access(path, os.W_OK):
        raise UsageError(f"{option} {str(path)!r} exists and cannot be overwritten; "
                         "choose another path.")


def _check_output_folder(path, option):
    """UsageError unless path is, or can be created as, a folder that can be written."""
    path = Path(path)
    existing = path
    while not existing.exists() and existing != existing.parent:
        existing = existing.parent
    if not existing.is_dir():
        raise UsageError(f"{option} {str(path)!r}: {str(existing)!r} is a file, not a "
                         "folder.")
    _check_can_create_files_in(existing, option, path)


def _check_fit_outputs(args):
    """Check --save and --plots (paths and the libraries they need) before any training."""
    args.plots = getattr(args, "plots", None)  # impute has --save only
    if args.save:
        _check_output_file(args.save, "--save", persistence.SUFFIXES)
        if Path(args.save).suffix.lower() == ".skops":
            persistence._skops_io()  # ImportError naming the install command
    if args.plots:
        _check_output_folder(args.plots, "--plots")
        if args.save and Path(args.save).resolve() == Path(args.plots).resolve():
            raise UsageError(f"--save and --plots both name {args.save!r}; the model is a "
                             "file and the figures a folder: give them different paths.")
        try:
            from . import plot  # noqa: F401  (matplotlib is optional)
        except ImportError as error:
            raise ImportError(f"--plots needs matplotlib: pip install rbm[plot] "
                              f"({error})") from error


# ----------------------------------------------------------------------
# Saved models and written tables
# ----------------------------------------------------------------------


def _load_pipeline(path):
    """(preprocessing steps, model) of a saved RBM or Pipeline ending in one."""
    saved = persistence.load(path)
    steps = saved.steps if isinstance(saved, Pipeline) else [("rbm", saved)]
    model = steps[-1][1]
    needed = ("free_energy", "log_partition", "sample", "transform")
    if type(saved).__name__ == "RBMImputer":
        raise UsageError(f"{path!r} holds an RBMImputer (saved by 'rbm impute --save'), not "
                         "a density model: it fills gaps (python -m rbm impute DATA --imputer "
                         f"{path}); score, sample and transform take a model saved by "
                         "'rbm fit --save'.")
    if not all(hasattr(model, name) for name in needed):
        raise UsageError(f"{path!r} holds {_a(type(saved).__name__)}, not an RBM or a "
                         "Pipeline ending in one; give a file saved by 'rbm fit --save'.")
    preprocessing = [step for _, step in steps[:-1]]
    n_features = getattr(model, "n_features_in_", None)  # None: not fitted, refused on use
    # The feature-wise steps right before the model see its width; before a
    # step that may change the width (PCA, one-hot bins) nothing is known of
    # theirs (a StandardScaler before PCA(10) was held to 10 features).
    for step in reversed(preprocessing) if n_features is not None else []:
        if not _keeps_width(step):
            break
        _check_preprocessing_step(step, n_features, path)
    return preprocessing, model


def _keeps_width(step):
    """Whether a fitted step's output has as many features as its input, each
    from its own: the feature-wise steps 'fit' saves (bins coded as ordinals)."""
    return (type(step) in _FEATURE_WISE_STEPS
            and getattr(step, "encode", "ordinal") == "ordinal")


#: Preprocessing steps 'fit' saves: each of their fitted arrays holds one entry per feature.
_FEATURE_WISE_STEPS = (MinMaxScaler, StandardScaler, KBinsDiscretizer, Binarizer)


def _check_preprocessing_step(step, n_features, path):
    """UsageError for a saved step of 'fit' whose fitted arrays do not fit the model.

    persistence.load checks the RBM's own arrays; a scaler's come from the
    same file, and an edited or corrupt one would otherwise fail as NumPy's
    broadcasting error, or write NaN samples without a word.
    """
    name = type(step).__name__
    arrays = {attr: value for attr, value in vars(step).items()
              if attr.endswith("_") and isinstance(value, np.ndarray)}
    for attr, value in [("n_features_in_", getattr(step, "n_features_in_", n_features)),
                        *arrays.items()]:
        size = value.shape[0] if isinstance(value, np.ndarray) and value.ndim else value
        if isinstance(value, np.ndarray) and value.ndim != 1 or size != n_features:
            shape = value.shape if isinstance(value, np.ndarray) else value
            raise UsageError(f"{path!r} is not a consistent saved model: its {name} step's "
                             f"{attr} is {shape} for a model of {n_features} features; save "
                             "the model again ('rbm fit --save').")
    for attr, value in arrays.items():
        parts = value.tolist() if value.dtype == object else [value]
        if not all(np.all(np.isfinite(np.asarray(part, dtype=np.float64))) for part in parts):
            raise UsageError(f"{path!r} is not a consistent saved model: its {name} step's "
                             f"{attr} holds NaN or infinite values; save the model again "
                             "('rbm fit --save').")


def _row_checker(preprocessing, model, allow_gaps=False):
    """For a model that reads labels directly: whether a row of CSV fields is one of its rows
    (empty fields, gaps, allowed where ``allow_gaps``: an imputer's rows).

    Used to tell a header row from data in a file of words; None for other models.
    """
    categories = getattr(model, "categories_", None)
    if preprocessing or categories is None:
        return None
    allowed = [{str(c) for c in cats} | {_format_value(c) for c in cats} for cats in categories]

    def row_is_data(fields):
        return len(fields) == len(allowed) and all(
            field.strip() in labels or allow_gaps and not field.strip()
            for field, labels in zip(fields, allowed))
    return row_is_data


def _load_data_for(args, preprocessing, model):
    """The Table of ``args.data`` for a saved model; text only where the model reads labels."""
    row_is_data = _row_checker(preprocessing, model)
    table = _load_data(args, row_is_data)
    expected = getattr((preprocessing or [model])[0], "n_features_in_", None)
    if expected is not None and table.X.shape[1] != expected:
        raise UsageError(f"{args.data!r} has {table.X.shape[1]} columns but {args.model!r} "
                         f"was fitted on {expected}; give data with the model's columns, in "
                         "its order (check --delimiter and --header / --no-header).")
    if preprocessing or not hasattr(model, "categories_"):
        first = type(preprocessing[0] if preprocessing else model).__name__
        _refuse_text(table, f"the saved model's first step ({first})")
    return table


def _preprocess(preprocessing, X):
    """X through every preprocessing step (fitted), in order."""
    for step in preprocessing:
        X = step.transform(X)
    return X


def _describe_steps(preprocessing):
    names = [type(step).__name__ for step in preprocessing]
    return f"after {' -> '.join(names)}" if names else "as given, no preprocessing"


def _format_value(value):
    """A table entry as CSV text: numbers to 10 significant digits, labels as they are."""
    if isinstance(value, (float, np.floating)):
        return format(float(value), ".10g")
    return str(value)


def _exact_value(value):
    """A table entry as CSV text that reads back as the same value: a float as the
    shortest string that does (``repr``), not cut to 10 significant digits."""
    if isinstance(value, (float, np.floating)):
        return repr(float(value))
    if isinstance(value, np.integer):
        return str(int(value))
    return str(value)


def _saveable(X):
    """X as an array np.save stores without pickle: float64 if it is all numbers, else
    text (every number written in full: a .npy file loses nothing)."""
    if X.dtype != object:
        return X
    try:
        return X.astype(np.float64)
    except (TypeError, ValueError):
        return np.vectorize(_exact_value, otypes=[str])(X)


def _write_table(X, path, names=None):
    """Write X to a .csv or .npy file, or as CSV to standard output when path is None.

    ``names``, when given, is a CSV's header row (a .npy file has none).  A
    data frame (what ``sample`` and ``transform`` return for a model fitted
    on one, or set to give one by ``set_output``) is written as its values,
    its column names the header row unless ``names`` is given: iterating over
    the frame itself gave its column names, not its rows.
    """
    if frame_library(X) is not None:
        names = [str(name) for name in X.columns] if names is None else names
        X = X.to_numpy()
    if path is not None and Path(path).suffix.lower() == ".npy":
        array = _saveable(X)  # before opening: a failure leaves no empty file

        def write(target):
            with open(target, "wb") as f:  # np.save(path) would add ".npy" to "X.NPY"
                np.save(f, array, allow_pickle=False)
        # A new file moved into place: a write that fails leaves the old file whole.
        persistence._write_then_move(path, write)
        return
    rows = ([_format_value(value) for value in row] for row in X)
    if names is not None:
        rows = itertools.chain([names], rows)
    if path is None:
        csv.writer(sys.stdout, lineterminator="\n").writerows(rows)
        sys.stdout.flush()
        return

    def write_csv(target):
        with open(target, "w", newline="", encoding="utf-8") as f:
            csv.writer(f, lineterminator="\n").writerows(rows)
    persistence._write_then_move(path, write_csv)


def _save_or_say(model, path, what):
    """persistence.save, saying where it fails that the work is not saved (a
    full disk after a long fit lost the model with a bare "No space left")."""
    try:
        persistence.save(model, path)
    except OSError as error:
        raise OSError(f"{_one_line(error)}: the {what} was NOT saved; free space or choose "
                      "another --save path and run again.") from error


def _check_table_output(path, *inputs):
    """UsageError unless --output ``path`` can be written, and is none of the
    command's ``inputs`` (paths, or names of bundled data): 'transform -o'
    wrote the features over the data file they were read from."""
    if path is None:
        return
    _check_output_file(path, "--output", TABLE_SUFFIXES)
    for given in inputs:
        if given is not None and Path(path).exists() and Path(given).exists() \
                and os.path.samefile(path, given):
            raise UsageError(f"--output {str(path)!r} is the input {str(given)!r}: writing it "
                             "would destroy the input; write to another file.")


# ----------------------------------------------------------------------
# Commands
# ----------------------------------------------------------------------


#: Model parameters ``fit`` sets through options of its own, beyond TRAINING_OPTIONS:
#: name -> the option that sets it.
OWN_OPTIONS = {"random_state": "--random-state", "verbose": "--verbose (0, 1 or 2; -q for 0)"}


def _model_params(args):
    """The model's parameters from fit's options and its --param NAME=VALUE pairs.

    A parameter with an option of its own is set by that option only:
    through --param it silently overrode the option (--param random_state=5
    beside --random-state 3 seeded the model apart from the split and the
    samples) and escaped the option's checks (--param verbose=10 beside -q,
    --param n_iter beyond a C int).
    """
    params = {name: getattr(args, name) for name in TRAINING_OPTIONS
              if getattr(args, name) is not None}
    params.update(random_state=args.random_state, verbose=args.verbose)
    for name, value in args.param:
        flag = OWN_OPTIONS.get(name, "--" + name.replace("_", "-")
                               if name in TRAINING_OPTIONS else None)
        if flag is not None:
            raise UsageError(f"--param {name}={value!r}: {name} has an option of its own, "
                             f"{flag}; give it there (--param is for the parameters "
                             "without one).")
        params[name] = value
    return params


def _log_partition(model, args):
    """(log Z, standard error), with --ais-betas temperatures if AIS is used."""
    if args.ais_betas is None:
        return model.log_partition()
    return model.log_partition(n_betas=args.ais_betas)


def _describe_log_z(estimate):
    """How log Z was obtained, in the library's words ("exact" or "AIS, ... standard error x")."""
    return estimate.label


def _mean_log_likelihood(model, X, log_z):
    """Mean of log p(x) = -F(x) - log Z over the rows of X."""
    return float(np.mean(-model.free_energy(X))) - log_z


def _report_early_stop(model):
    """With early stopping, which epoch's parameters the fit kept: the
    progress lines end where the plan did not."""
    best = getattr(model, "best_epoch_", None)
    if best is not None:
        print(f"Early stopping kept epoch {best} of the {model.n_iter_} trained "
              f"(validation log-likelihood {model.best_validation_score_:.3f}).")


def _report_likelihood(model, X_train, X_test, args):
    estimate = _log_partition(model, args)
    log_z = estimate.log_z
    print(f"log Z = {log_z:.4f} ({_describe_log_z(estimate)})")
    print(f"Training log-likelihood: {_mean_log_likelihood(model, X_train, log_z):.4f} "
          "nats per sample")
    if X_test is not None:
        print(f"Held-out log-likelihood: {_mean_log_likelihood(model, X_test, log_z):.4f} "
              "nats per sample")


def _category_codes(model, X):
    """Rows of labels as the index of each label among its feature's categories.

    Image figures draw numbers; a categorical model's samples may be words.
    """
    categories = getattr(model, "categories_", None)
    if categories is None:
        return X
    index = [{label: code for code, label in enumerate(cats.tolist())} for cats in categories]
    return np.array([[index[j][value] for j, value in enumerate(row)] for row in X.tolist()],
                    dtype=np.float64)


def _samples_figure(plot, model, samples, image_shape, names, title):
    """The figure of a few samples: images, a heatmap of numbers, or, for a
    categorical model without an image shape, the library's table of labels
    (columns named, each cell its category: a heatmap of the category codes
    showed neither)."""
    categories = getattr(model, "categories_", None)
    if categories is None or image_shape is not None:
        return plot.plot_images(_category_codes(model, samples), image_shape, title=title)
    labels = np.asarray(samples, dtype=object)
    return plot._category_table(plot._table_figure(*labels.shape, None), labels, names,
                                categories, title)


def _write_plots(model, X_train, X_eval, directory, image_shape, args, names=None):
    """Write the figures that apply to this model; return their file names.

    ``names``: the data's column names (the header row), or None.
    """
    from . import plot  # matplotlib is optional: import it only when asked for figures

    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    n_samples = min(len(X_eval), 500)
    samples = model.sample(n_samples, n_steps=args.sample_steps, random_state=args.random_state)
    # a categorical model's weights have a column per category, not per pixel, and its
    # inputs are categories, not points of a plane: its filters are a heatmap and it
    # has no energy landscape (its samples are a table of labels, or, as category
    # codes, images)
    categorical = hasattr(model, "categories_")
    figures = {
        "filters.png": plot.plot_filters(model,
                                         image_shape=None if categorical else image_shape),
        "samples.png": _samples_figure(plot, model, samples[:25], image_shape, names,
                                       "Samples " + how_drawn(model, args.sample_steps)),
        "free_energy.png": plot.plot_free_energy(model, X_eval, samples=samples),
    }
    if hasattr(model, "history_"):
        figures["learning_curves.png"] = plot.plot_learning_curves(model)
    # (over the training rows' range: none where a feature is constant there)
    if model.n_features_in_ == 2 and not categorical and np.all(np.ptp(X_train, axis=0) > 0):
        figures["energy_landscape.png"] = plot.plot_energy_landscape(model, X_train)
    for name, fig in figures.items():
        fig.savefig(directory / name, dpi=100)
    return list(figures)


def _split(X, args):
    """(training rows, held-out rows or None) as --test-size says."""
    if args.test_size == 0:
        return X, None
    if math.ceil(args.test_size * len(X)) >= len(X):  # as train_test_split rounds it
        raise UsageError(f"--test-size {args.test_size} holds out all {len(X)} samples, "
                         "leaving none to train on; give a smaller --test-size (0 trains "
                         "on every sample) or more samples.")
    X_train, X_test = train_test_split(X, test_size=args.test_size,
                                       random_state=args.random_state)
    return X_train, X_test


def _takes_categories(model):
    return isinstance(model.get_params().get("categories"), str)  # "auto": not given


def _categories_of(X):
    return [np.unique(X[:, j]) for j in range(X.shape[1])]


#: Values a line of output lists before "and N more".
SHOWN_VALUES = 10


def _only_held_out(categories, X_train, table):
    """'column: values' for the categories that no training row holds (the
    first ``SHOWN_VALUES`` of each column, then how many more)."""
    found = []
    for j, (cats, seen) in enumerate(zip(categories, _categories_of(X_train))):
        seen = set(seen.tolist())
        missing = [_format_value(c) for c in cats if c not in seen]
        if missing:
            more = len(missing) - SHOWN_VALUES
            found.append(f"{table.label(j)}: {', '.join(missing[:SHOWN_VALUES])}"
                         + (f" and {more} more" if more > 0 else ""))
    return found


#: KBinsDiscretizer's warnings, one per feature: (pattern, what the summary says of them).
_BIN_WARNINGS = (
    (re.compile(r"Feature (\d+) is constant"), "are constant (one bin each)"),
    (re.compile(r"too small .* in feature (\d+) are removed"),
     "have too few distinct values for --n-bins {n_bins}: their repeated bin edges were "
     "merged, so they get fewer bins"),
)


def _fit_step(step, X, table):
    """``step.fit_transform(X)``, its per-feature binning warnings said once, by column."""
    if not isinstance(step, KBinsDiscretizer):
        return step.fit_transform(X)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        Xt = step.fit_transform(X)
    columns = [[] for _ in _BIN_WARNINGS]
    for warning in caught:
        found = [(i, pattern.search(str(warning.message)))
                 for i, (pattern, _) in enumerate(_BIN_WARNINGS)]
        found = [(i, match) for i, match in found if match]
        if not found:
            warnings.warn(warning.message, warning.category, stacklevel=2)
        for i, match in found:
            columns[i].append(table.label(int(match.group(1))))
    for (_, said), labels in zip(_BIN_WARNINGS, columns):
        if labels:
            shown = ", ".join(labels[:SHOWN_VALUES]) + (
                f" and {len(labels) - SHOWN_VALUES} more" if len(labels) > SHOWN_VALUES else "")
            warnings.warn(f"--preprocess bins: {len(labels)} of {X.shape[1]} columns ({shown}) "
                          + said.format(n_bins=step.n_bins), UserWarning, stacklevel=2)
    return Xt


def _fit_pipeline(steps, model, X_train, table):
    """Fit the preprocessing on the training rows, then the model; return the Pipeline.

    A categorical model's categories are part of the data's description,
    not of what is learnt: they come from every row of the file (after the
    preprocessing), so a value that only the held-out rows hold is a
    category, not an error after training.
    """
    preprocessing = [step for _, step in steps]
    Xt_train = X_train
    for step in preprocessing:
        Xt_train = _fit_step(step, Xt_train, table)
    if _takes_categories(model):
        categories = _categories_of(_preprocess(preprocessing, table.X))
        model.set_params(categories=categories)
        # The model sees given categories and so cannot warn of a column of
        # about one row per value (a measurement or an identifier) itself.
        warn_of_many_categories(categories, len(table.X), None, table.label)
        only_held_out = _only_held_out(categories, Xt_train, table)
        if only_held_out:
            print(f"Categories from all rows; only held-out rows hold "
                  f"{'; '.join(only_held_out)}.", flush=True)
    model.fit(Xt_train)
    return Pipeline(steps + [("rbm", model)])


def _check_bernoulli_range(args, choice, X):
    """UsageError, before training, for a Bernoulli model given data outside [0, 1]
    by --preprocess none (data as they are) or standardize."""
    if args.model != "bernoulli" or choice not in ("none", "standardize"):
        return
    if choice == "none" and _in_unit_range(X):
        return
    if choice == "standardize" and not np.any(np.ptp(X, axis=0) > 0):
        return  # every feature constant: standardised to 0
    found = (f"from {X.min():.4g} to {X.max():.4g}" if choice == "none"
             else "standardised values are negative for rows below a feature's mean")
    raise UsageError(f"--preprocess {choice} leaves values outside [0, 1] ({found}), and "
                     "--model bernoulli expects values in [0, 1]; use --preprocess binarize "
                     "or minmax (or leave --preprocess out), or --model gaussian.")


def _run_fit(args):
    """``fit``: check outputs, read, preprocess, split, fit, report, save, plot."""
    _check_fit_outputs(args)
    model = available_models()[args.model]().set_params(**_model_params(args))
    model._validate_params()  # a bad option fails before the data are read
    table = _load_data(args)
    X = table.X
    image_shape = args.image_shape or table.image_shape
    if image_shape is not None and math.prod(image_shape) != X.shape[1]:
        raise UsageError(f"--image-shape {image_shape[0]}x{image_shape[1]} has "
                         f"{math.prod(image_shape)} pixels but the data have "
                         f"{X.shape[1]} features.")
    choice = _resolve_preprocessing(args.preprocess, args.model, X)
    if args.model != "categorical":
        _refuse_text(table, f"--model {args.model}")
    elif choice != "none":
        # The model is categorical already: the usual hint would ask for it.
        _refuse_text(table, f"--preprocess {choice}",
                     "with a text column, --model categorical takes every column as it "
                     "is (--preprocess none): bin the numbers before, or leave them out.")
    _check_bernoulli_range(args, choice, X)
    X_train, X_test = _split(X, args)
    steps = _preprocessing_steps(choice, args)
    print(f"Data: {table.description}: {X.shape[0]} samples x {X.shape[1]} features, "
          f"{_describe_preprocessing(choice, args)}.")
    held_out = f", {len(X_test)} held out" if X_test is not None else ", none held out"
    print(f"Training on {len(X_train)} samples{held_out}.")
    print(f"Model: {model!r}", flush=True)
    start = time.perf_counter()
    # (given categories that miss a value: named by column, as score and impute name it)
    with _categories_in_cli_words(table, args.data, "add it to that column's list in --param "
                                  "categories, or leave categories out (then every value in "
                                  "the file is one)", known="--param categories gives it",
                                  rows="training row"):
        pipeline = _fit_pipeline(steps, model, X_train, table)
    print(f"Trained in {time.perf_counter() - start:.1f} s.")
    _report_early_stop(model)
    preprocessing = [step for _, step in steps]
    Xt_train = _preprocess(preprocessing, X_train)
    Xt_test = None if X_test is None else _preprocess(preprocessing, X_test)
    _report_likelihood(model, Xt_train, Xt_test, args)
    if args.save:
        _save_or_say(pipeline, args.save, "trained model")
        steps = " -> ".join(type(step).__name__ for _, step in pipeline.steps)
        print(f"Saved the fitted Pipeline ({steps}) to {args.save}")
    if args.plots:
        names = _write_plots(model, Xt_train, Xt_test if Xt_test is not None else Xt_train,
                             args.plots, image_shape, args, table.names)
        print(f"Wrote {len(names)} figures to {args.plots}: {', '.join(names)}")
    return 0


@contextlib.contextmanager
def _categories_in_cli_words(table, model_path,
                             advice="fit the model again on data that hold this value",
                             known=None, rows="row"):
    """Say a saved model's unknown category as the command line counts columns (from 1,
    or by name), where the model counts features from 0.

    ``known`` says whose categories these are (default: "'MODEL_PATH' knows");
    ``rows`` what the rows counted are ("training row" in ``fit``)."""
    try:
        yield
    except UnknownCategoryError as error:
        known = known or f"{model_path!r} knows"
        raise UsageError(f"{table.label(error.feature)} has the value {error.value!r} (in "
                         f"{counted(error.n_rows, rows)}), which is not one of the "
                         f"categories {known} ({error.shown_categories}); {advice}.") \
            from error


def _check_not_swapped(args):
    """UsageError for ``MODEL DATA`` given as ``DATA MODEL`` (by their suffixes, or a
    bundled data set's name where the model goes)."""
    data, model = Path(args.data).suffix.lower(), Path(args.model).suffix.lower()
    data_first = model in TABLE_SUFFIXES or (args.model in BUNDLED
                                             and not Path(args.model).exists())
    if data_first and data in persistence.SUFFIXES:
        raise UsageError(f"{args.model!r} is data and {args.data!r} a model: the model comes "
                         f"first ({args.command_prog.split()[-1]} MODEL DATA); swap them.")


def _run_score(args):
    """``score``: mean log-likelihood of data under a saved model."""
    _check_not_swapped(args)
    preprocessing, model = _load_pipeline(args.model)
    table = _load_data_for(args, preprocessing, model)
    X = _preprocess(preprocessing, table.X)
    estimate = _log_partition(model, args)
    log_z = estimate.log_z
    with _categories_in_cli_words(table, args.model):
        mean = _mean_log_likelihood(model, X, log_z)
    print(f"Mean log-likelihood of {args.data} ({X.shape[0]} samples) under "
          f"{args.model}: {mean:.4f} nats per sample")
    print(f"(of the data {_describe_steps(preprocessing)}; log Z {log_z:.4f}, "
          f"{_describe_log_z(estimate)})")
    return 0


def _check_sample_usage(parser, args):
    """A usage error (status 2) for --temperatures without --method tempered:
    the draws would use no ladder, and the option was silently dropped."""
    if args.temperatures is not None and args.method != "tempered":
        parser.error(f"--temperatures is for --method tempered, but --method is "
                     f"{args.method!r}; add --method tempered or leave --temperatures out")


def _run_sample(args):
    """``sample``: rows drawn from a saved model, in the data's units where invertible."""
    _check_table_output(args.output, args.model)
    preprocessing, model = _load_pipeline(args.model)
    temperatures = 10 if args.temperatures is None else args.temperatures  # (the library's)
    X = model.sample(args.n_samples, n_steps=args.n_steps, method=args.method,
                     n_temperatures=temperatures, random_state=args.seed)
    undone = []
    if not args.model_units:
        for step in reversed(preprocessing):
            if hasattr(step, "inverse_transform"):  # a Binarizer has none: 0/1 stay 0/1
                X = step.inverse_transform(X)
                undone.append(type(step).__name__)
    _write_table(X, args.output)
    if args.output is not None:
        units = (f"in the data's units (through {', '.join(undone)}.inverse_transform)"
                 if undone else "as the model sees them")
        print(f"Wrote {X.shape[0]} samples of {X.shape[1]} features "
              f"{how_drawn(model, args.n_steps, args.method, temperatures)}, {units}, "
              f"to {args.output}")
    return 0


def _run_transform(args):
    """``transform``: hidden features of data under a saved model."""
    _check_table_output(args.output, args.data, args.model)
    _check_not_swapped(args)
    preprocessing, model = _load_pipeline(args.model)
    table = _load_data_for(args, preprocessing, model)
    with _categories_in_cli_words(table, args.model):
        H = model.transform(_preprocess(preprocessing, table.X))
    _write_table(H, args.output)
    if args.output is not None:
        print(f"Wrote the features of {H.shape[0]} samples ({H.shape[1]} hidden units) "
              f"to {args.output}")
    return 0


def _check_numbers_for_model(model, X, names=None):
    """UsageError for --model bernoulli or gaussian on a table with text."""
    if model == "categorical" or X.dtype != object:
        return
    for j in range(X.shape[1]):
        text = [v for v in X[:, j] if isinstance(v, str)]
        if text:
            column = f"column {names[j]!r}" if names else f"column {j + 1}"
            raise UsageError(f"--model {model} takes numbers, but {column} holds text such "
                             f"as {text[0]!r}; use --model categorical (or auto, which "
                             "picks it for text).")


def _check_unit_range_for_impute(X, names=None):
    """UsageError for --model bernoulli on numbers outside [0, 1], before training.

    The model's own message advised scikit-learn's scalers, which impute has
    no option for; the gaussian model takes such numbers as they are.
    """
    X = np.asarray(X, dtype=np.float64)
    with np.errstate(invalid="ignore"):
        outside = np.flatnonzero(np.any((X < 0) | (X > 1), axis=0))
    if outside.size:
        j = outside[0]
        column = f"column {names[j]!r}" if names else f"column {j + 1}"
        raise UsageError(f"--model bernoulli takes values in [0, 1] (0/1 data or "
                         f"probabilities), but {column} holds values from "
                         f"{float(np.nanmin(X[:, j]))!r} to {float(np.nanmax(X[:, j]))!r}; "
                         "use --model gaussian (or auto, which picks it for such numbers).")


def _imputer_estimator(args, X, table_names=None):
    """The RBM ``--model`` names, or None for the imputer's own choice.

    A named model is built by the imputer's own rule for X
    (``rbm.impute.default_estimator``: hidden units, chains, weight decay,
    updates), so it trains as ``RBMImputer`` would train that class;
    --n-components and --n-iter override the rule."""
    if args.model == "auto":
        if args.n_components is not None or args.n_iter is not None:
            raise UsageError("--n-components and --n-iter set the model --model names; "
                             "name one (bernoulli, gaussian or categorical) or leave them "
                             "to the imputer's defaults.")
        return None
    from ._units.categorical import missing_mask
    from .impute import default_estimator
    _check_numbers_for_model(args.model, X, table_names)
    if args.model == "bernoulli":
        _check_unit_range_for_impute(X, table_names)
    model = default_estimator(X, missing_mask(X), args.seed,
                              kind=getattr(rbm, MODELS[args.model][0]))
    if args.n_components is not None:
        model.set_params(n_components=args.n_components)
    if args.n_iter is not None:
        model.set_params(n_iter=args.n_iter)
    return model


def _check_every_column_observed(table, source):
    """UsageError naming the first column with no value in any row (the imputer's
    own message counts features from 0, where the CLI counts columns from 1)."""
    from ._units.categorical import missing_mask
    empty = np.flatnonzero(missing_mask(table.X).all(axis=0))
    if empty.size:
        raise UsageError(f"{table.label(empty[0])} of {source!r} is empty in every row "
                         f"({empty.size} such column(s) of {table.X.shape[1]}), so nothing "
                         "can be learned about it; drop it or fill it first.")


def _count_gaps(X):
    """Missing entries of a table: NaN, or None (and NaN) in an object table."""
    if X.dtype == object:
        return int(sum(value is None or (isinstance(value, float) and math.isnan(value))
                       for value in X.ravel()))
    return int(np.isnan(X).sum())


def _load_imputer(path):
    """The RBMImputer saved at path by 'impute --save'; UsageError for anything else."""
    from .impute import RBMImputer
    saved = persistence.load(path)
    if not isinstance(saved, RBMImputer):
        steps = saved.steps if isinstance(saved, Pipeline) else [(None, saved)]
        model = (" (a density model: score, sample and transform read it)"
                 if hasattr(steps[-1][1], "log_partition") else "")
        raise UsageError(f"{path!r} holds {_a(type(saved).__name__)}{model}, not an imputer; "
                         "--imputer takes a file saved by 'rbm impute --save'.")
    return saved


def _a(name):
    """A class name with its article: "a Pipeline", "an RBMImputer" (said "ar-bee-em")."""
    return f"{'an' if name[:1] in 'AEIOU' or name.startswith('RBM') else 'a'} {name}"


def _saved_imputer_and_data(args):
    """(the imputer of --imputer, ready to fill, the Table of DATA for it).

    The imputer fills with --seed, or the seed it was fitted with, from the
    start of its draws: as the command that saved it filled its own data."""
    given = [option for option, value in [("--model", args.model != "auto"),
                                          ("--n-components", args.n_components is not None),
                                          ("--n-iter", args.n_iter is not None),
                                          ("--save", args.save is not None)] if value]
    if given:
        one = len(given) == 1
        raise UsageError(f"{' and '.join(given)} {'sets' if one else 'set'} how an imputer is "
                         f"fitted, and --imputer {args.imputer!r} is fitted already; leave "
                         f"{'it' if one else 'them'} out (or leave out --imputer to fit a new "
                         "imputer on DATA).")
    imputer = _load_imputer(args.imputer)
    table = _load_data(args, _row_checker([], getattr(imputer, "estimator_", None),
                                          allow_gaps=True), allow_missing=True)
    expected = getattr(imputer, "n_features_in_", None)
    if expected is not None and table.X.shape[1] != expected:
        raise UsageError(f"{args.data!r} has {table.X.shape[1]} columns but {args.imputer!r} "
                         f"was fitted on {expected}; give data with the imputer's columns, in "
                         "its order (check --delimiter and --header / --no-header).")
    seed = args.seed if args.seed is not None else imputer.random_state
    imputer.set_params(sample_posterior=args.sample_posterior)
    if isinstance(seed, int):
        imputer.set_params(random_state=seed)
        imputer.random_state_ = np.random.RandomState(seed)
    return imputer, table


def _fitted_imputer_and_data(args):
    """(an RBMImputer fitted to DATA, the Table of DATA)."""
    from .impute import RBMImputer
    _check_fit_outputs(args)
    args.seed = 0 if args.seed is None else args.seed
    table = _load_data(args, allow_missing=True)
    _check_every_column_observed(table, args.data)
    imputer = RBMImputer(estimator=_imputer_estimator(args, table.X, table.names),
                         sample_posterior=args.sample_posterior, random_state=args.seed)
    return imputer.fit(table.X), table


def _filled_text(table, filled):
    """impute's output as CSV text: every cell DATA gave exactly as it was written,
    only the gaps filled.

    Formatting the numbers read gave the ids 12345678901 and 12345678902 the
    same text and "00501" lost its zeros.  A filled value that some observed
    cell of its column holds (a category, a 0 or 1) is written as that cell
    was; any other value in full (``repr``).
    """
    from ._units.categorical import missing_mask
    values = np.asarray(filled, dtype=object)
    fields = table.fields
    if fields is None or values.shape != table.X.shape:  # a .npy file; added columns
        return np.vectorize(_exact_value, otypes=[object])(values) if values.size else values
    gaps = missing_mask(table.X)
    written = [{} for _ in range(values.shape[1])]  # per column: value -> its first text
    for row, row_fields, row_gaps in zip(table.X.tolist(), fields, gaps):
        for j, (value, field, gap) in enumerate(zip(row, row_fields, row_gaps)):
            if not gap:
                written[j].setdefault(value, field)
    text = np.empty(values.shape, dtype=object)
    for i, (row, row_fields, row_gaps) in enumerate(zip(values.tolist(), fields, gaps)):
        text[i] = [_exact_value(written[j].get(value, value)) if gap else field
                   for j, (value, field, gap) in enumerate(zip(row, row_fields, row_gaps))]
    return text


def _run_impute(args):
    """``impute``: DATA with its gaps filled in by an RBMImputer fitted to it, or by the
    one saved at --imputer."""
    _check_table_output(args.output, args.data, args.imputer)
    if args.imputer is not None:
        imputer, table = _saved_imputer_and_data(args)
    else:
        imputer, table = _fitted_imputer_and_data(args)
    gaps = _count_gaps(table.X)
    with _categories_in_cli_words(table, args.imputer or args.data,
                                  "fit an imputer on data that hold this value (impute "
                                  "without --imputer)"):
        filled = imputer.transform(table.X)
    if frame_library(filled) is not None:
        filled = filled.to_numpy()
    names = table.names
    if names is not None and filled.shape[1] != len(names):  # add_indicator's columns
        names = [str(name) for name in imputer.get_feature_names_out(names)]
    if args.output is None or Path(args.output).suffix.lower() != ".npy":
        filled = _filled_text(table, filled)
    _write_table(filled, args.output, names)
    if args.save is not None:
        _save_or_say(imputer, args.save, "fitted imputer")
    if args.output is not None:
        model = type(imputer.estimator_).__name__
        how = "one draw each" if args.sample_posterior else "most probable values and means"
        by = f", the imputer of {args.imputer}" if args.imputer else ""
        print(f"Filled {gaps} empty cells of {table.X.shape[0]} rows x "
              f"{table.X.shape[1]} columns ({how}, {model}{by}) and wrote {args.output}"
              + (f"; saved the imputer to {args.save}" if args.save else ""))
    return 0


# ----------------------------------------------------------------------
# Entry point
# ----------------------------------------------------------------------


def _with_default_command(argv):
    """Run the demo when no command is named (``python -m rbm [demo options]``).

    Only an empty command line or one that starts with a demo option gets
    ``demo`` put in front; any other first word goes to argparse as the
    command, so an unknown one is reported as an invalid choice.
    """
    if not argv or (argv[0].startswith("-") and argv[0] not in ("-h", "--help", "--version")):
        return ["demo", *argv]
    return argv


def _one_line(error):
    return " ".join(str(error).split()) or type(error).__name__


#: The library's advice for a model too large for memory, which the command line
#: cannot follow: it reads every file as float64.
_FLOAT32_ADVICE = " Float32 input halves all of it."


def _memory_advice_in_cli_words(error, run):
    """A ModelTooLargeError's message with its advice as the command line follows
    it: the option that lowers the parameter it names, not float32 input."""
    message = _one_line(error).replace(_FLOAT32_ADVICE, "")
    found = re.search(r"Lower (n_components|n_chains|batch_size)\b", message)
    if found is None:
        return message
    name = found.group(1)
    flag = "--" + name.replace("_", "-")
    if run is _run_impute:
        how = (f"give a smaller {flag} (with a --model named)" if name == "n_components"
               else f"impute sets {name} itself; give fewer columns or categories")
    else:
        how = f"set it with {flag}"
    return f"{message.rstrip('.')}: {how}."


def _report(where, message):
    print(f"{where}: error: {message}", file=sys.stderr)
    return 1


#: Exit status when the reader of standard output has gone (``rbm sample ... | head``):
#: 128 + SIGPIPE, the status a shell reports for a Unix tool that SIGPIPE ended.
BROKEN_PIPE_STATUS = 128 + 13


def _quiet_broken_pipe():
    """Standard output was closed (``rbm sample ... | head``): drop what is left unsaid
    (the interpreter's own flush at exit would fail again, and say so), quietly."""
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, sys.stdout.fileno())
    return BROKEN_PIPE_STATUS


@contextlib.contextmanager
def _warnings_as_lines(where):
    """Show warnings as one line each, "where: warning: ...", like the errors.

    Python's own format names a line of the library (or "<frozen runpy>"),
    which means nothing to someone at the command line.
    """
    def one_line(message, category, filename, lineno, line=None):
        return f"{where}: warning: {_one_line(message)}\n"

    # The format, not showwarning: catch_warnings(record=True) (pytest.warns,
    # a caller's own) still records the warnings themselves.
    formatted, warnings.formatwarning = warnings.formatwarning, one_line
    try:
        yield
    finally:
        warnings.formatwarning = formatted


def main(argv=None, prog=None):
    """Run the command line; return the exit status.

    Parameters
    ----------
    argv : list of str or None, default=None
        Arguments without the program name; None reads ``sys.argv[1:]``.
    prog : str or None, default=None
        Program name in messages; None uses ``sys.argv[0]``'s name.

    Returns
    -------
    status : int
        0 on success, 1 for any failure (one line on stderr), 2 for a usage
        error (argparse exits with 2 by itself), 130 when interrupted, 141
        (``BROKEN_PIPE_STATUS``), without a word, when the reader of standard
        output closed it (``python -m rbm sample MODEL | head -3``), as a
        Unix tool ended by SIGPIPE.
    """
    argv = sys.argv[1:] if argv is None else list(argv)
    parser = build_parser(prog)
    try:
        args = parser.parse_args(_with_default_command(argv))  # --help, --version print
        # Options that argparse cannot check one at a time (status 2, as its own).
        getattr(args, "check_usage", lambda args: None)(args)
    except BrokenPipeError:
        return _quiet_broken_pipe()
    where = getattr(args, "command_prog", parser.prog)
    try:
        with _warnings_as_lines(where):
            status = args.run(args) or 0
            sys.stdout.flush()  # a closed pipe is found here, not in the exit's flush
            return status
    except BrokenPipeError:
        return _quiet_broken_pipe()
    except ModelTooLargeError as error:
        return _report(where, _memory_advice_in_cli_words(error, getattr(args, "run", None)))
    except (UsageError, ValueError, OSError, ImportError, OverflowError) as error:
        # ValueError covers bad data and bad model parameters (scikit-learn's
        # InvalidParameterError, rbm.DivergenceError), and model files that
        # are not complete saved models; OSError missing or unwritable files.
        return _report(where, _one_line(error))
    except MemoryError as error:
        return _report(where, f"not enough memory ({_one_line(error)}); lower the sizes "
                              "that set it: --n-components, --n-chains, --batch-size, or "
                              "the number of samples.")
    except KeyboardInterrupt:
        print(f"{where}: interrupted", file=sys.stderr)
        return 130
    except Exception as error:  # a bug: still one line; the traceback on request
        if os.environ.get("RBM_TRACEBACK"):
            raise
        return _report(where, f"unexpected {type(error).__name__}: {_one_line(error)} "
                              "(set RBM_TRACEBACK=1 to see where; please report it)")
