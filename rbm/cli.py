"""The command line: ``python -m rbm`` (or ``rbm``) demo, fit and score.

Errors a user can cause (a missing file, a wrong format, a bad option, data
outside the model's domain) end the program with one line on stderr and exit
status 1 (2 for usage errors, as argparse does); bugs keep their traceback.
"""

import argparse
import ast
import math
import sys
import time
import warnings
from pathlib import Path

import numpy as np
from sklearn import datasets
from sklearn.model_selection import train_test_split
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import Binarizer, KBinsDiscretizer, MinMaxScaler, StandardScaler

import rbm

from . import _demo, persistence

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

#: Training options passed to the model when given: name -> (type, metavar, help).
TRAINING_OPTIONS = {
    "n_components": (int, "N", "hidden units"),
    "learning_rate": (float, "RATE", "step size of the updates"),
    "batch_size": (int, "N", "examples per minibatch"),
    "n_iter": (int, "N", "epochs (passes over the training data)"),
    "method": (str, "{pcd,cd,pt}", "persistent chains (pcd), chains restarted at each batch "
                                   "(cd) or parallel tempering (pt)"),
    "k": (int, "N", "Gibbs steps per update (CD-k, PCD-k)"),
    "n_chains": (int, "N", "persistent chains (the model's default: 100)"),
    "momentum": (float, "M", "momentum of the updates, in [0, 1)"),
    "weight_decay": (float, "L2", "L2 penalty on the weights"),
    "n_jobs": (int, "N", "threads for the matrix products (the model's default: all cores)"),
}

EPILOG = """\
examples:
  python -m rbm                                  the digits demo (also: python -m rbm demo)
  python -m rbm fit digits --n-components 20 --n-iter 100 --save model.skops --plots figures
  python -m rbm fit data.csv --preprocess minmax --n-components 64
  python -m rbm score model.skops data.npy

bundled data sets: {bundled}
models: {models}
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


def _test_size(text):
    value = float(text)
    if not 0.0 <= value < 1.0:
        raise argparse.ArgumentTypeError(f"must be in [0, 1), got {text}")
    return value


def _param(text):
    name, sep, value = text.partition("=")
    if not sep or not name:
        raise argparse.ArgumentTypeError(f"expected NAME=VALUE, got {text!r}")
    try:
        return name.strip(), ast.literal_eval(value)
    except (ValueError, SyntaxError):
        return name.strip(), value  # a bare word: a string option such as method=cd


def _add_data_argument(parser):
    parser.add_argument(
        "data", metavar="DATA",
        help=f"a .csv file (comma-separated numbers, optional header row), a .npy file "
             f"holding a 2-D array, or a bundled data set: {', '.join(BUNDLED)}",
    )


def _add_ais_argument(parser):
    parser.add_argument(
        "--ais-betas", type=int, metavar="N",
        help="AIS temperatures for log Z when it cannot be enumerated exactly (the "
             "library's default: 10000; fewer is faster, with a larger standard error)",
    )


def _add_fit_parser(commands):
    models = available_models()
    fit = commands.add_parser(
        "fit", help="fit a model to a file or a bundled data set",
        description="Fit an RBM, report its held-out log-likelihood, and optionally\n"
                    "save it and write figures. The preprocessing is fitted on the\n"
                    "training split only and saved with the model as a Pipeline.",
        epilog=EPILOG.format(bundled=", ".join(BUNDLED), models=", ".join(models)),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    _add_data_argument(fit)
    data = fit.add_argument_group("data")
    data.add_argument("--test-size", type=_test_size, default=0.2, metavar="F",
                      help="held-out fraction, in [0, 1) (default: 0.2)")
    data.add_argument(
        "--preprocess", choices=PREPROCESSING, default="auto",
        help="auto (default): bernoulli binarizes unless the data already lie in "
             "[0, 1], gaussian standardizes, categorical bins non-integer data; "
             "minmax scales to [0, 1]; binarize scales then thresholds; bins makes "
             "quantile bins",
    )
    data.add_argument("--threshold", type=float, default=0.5, metavar="T",
                      help="binarize threshold, after scaling to [0, 1] (default: 0.5)")
    data.add_argument("--n-bins", type=int, default=5, metavar="N",
                      help="bins per feature for --preprocess bins (default: 5)")
    data.add_argument("--image-shape", type=_image_shape, metavar="HxW",
                      help="draw rows as HxW images in figures (digits: 8x8)")
    model = fit.add_argument_group("model (unset options keep the model's defaults)")
    model.add_argument("--model", choices=list(models), default="bernoulli",
                       help="visible unit type (default: bernoulli)")
    for name, (kind, metavar, text) in TRAINING_OPTIONS.items():
        choices = ("pcd", "cd", "pt") if name == "method" else None
        model.add_argument("--" + name.replace("_", "-"), type=kind, metavar=metavar,
                           choices=choices, help=text)
    model.add_argument("--random-state", type=int, default=0, metavar="SEED",
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
    output.add_argument("--sample-steps", type=int, default=1000, metavar="N",
                        help="Gibbs steps per sample drawn for figures (default: 1000)")
    output.add_argument("--verbose", type=int, default=1, metavar="LEVEL",
                        help="progress lines: 0 none, 1 about 20, 2 every epoch (default: 1)")
    output.add_argument("-q", "--quiet", action="store_const", const=0, dest="verbose",
                        help="no progress lines (--verbose 0)")
    fit.set_defaults(run=_run_fit)


def _add_score_parser(commands):
    score = commands.add_parser(
        "score", help="mean log-likelihood of data under a saved model",
        description="Print the mean log-likelihood of DATA under a model saved by\n"
                    "'fit --save' (or any saved RBM, or Pipeline ending in one). A .skops\n"
                    "file is loaded trusting only this library's types beyond skops' own.",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    score.add_argument("model", metavar="MODEL", help="a .skops, .joblib or .pkl file")
    _add_data_argument(score)
    _add_ais_argument(score)
    score.set_defaults(run=_run_score)


def build_parser(prog=None):
    """The argument parser of the command line.

    Parameters
    ----------
    prog : str or None, default=None
        Program name shown in usage and messages; None uses ``sys.argv[0]``'s.

    Returns
    -------
    parser : argparse.ArgumentParser
        Parsed arguments carry ``run``, the function that runs the command.
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
    demo = commands.add_parser(
        "demo", help="train on the bundled digits and compare with baselines (default)",
        description=_demo.DESCRIPTION, formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    _demo.add_arguments(demo)
    demo.set_defaults(run=_demo.run)
    _add_fit_parser(commands)
    _add_score_parser(commands)
    return parser


# ----------------------------------------------------------------------
# Data
# ----------------------------------------------------------------------


def _has_header(path):
    with open(path, encoding="utf-8") as f:
        first = f.readline()
    try:
        [float(field) for field in first.split(",") if field.strip()]
    except ValueError:
        return True
    return False


def _load_data(source):
    """(X, image_shape, description) for a bundled data set name or a .csv / .npy path."""
    if source in BUNDLED:
        loader, image_shape = BUNDLED[source]
        X = loader(return_X_y=True)[0].astype(np.float64)
        return X, image_shape, f"{source} (bundled with scikit-learn)"
    path = Path(source)
    if path.suffix.lower() not in (".csv", ".npy"):
        raise UsageError(
            f"{source!r} is neither a .csv or .npy file nor a bundled data set "
            f"({', '.join(BUNDLED)})."
        )
    if not path.is_file():
        raise UsageError(f"no such file: {source!r}")
    try:
        with warnings.catch_warnings():
            # An empty file is reported below, as an error rather than a warning.
            warnings.filterwarnings("ignore", "loadtxt: input contained no data")
            if path.suffix.lower() == ".npy":
                X = np.load(path, allow_pickle=False)
            else:
                X = np.loadtxt(path, delimiter=",", skiprows=int(_has_header(path)), ndmin=2)
    except (ValueError, OSError, UnicodeDecodeError) as error:
        raise UsageError(f"cannot read {source!r}: {error}") from error
    if X.size == 0:
        raise UsageError(f"{source!r} holds no data.")
    if X.ndim != 2:
        raise UsageError(f"{source!r} must hold a 2-D array of samples x features, "
                         f"got shape {X.shape}.")
    if not np.issubdtype(X.dtype, np.number) or np.issubdtype(X.dtype, np.complexfloating):
        raise UsageError(f"{source!r} must hold real numbers, got dtype {X.dtype}.")
    X = X.astype(np.float64)
    n_nan, n_inf = int(np.isnan(X).sum()), int(np.isinf(X).sum())
    if n_nan or n_inf:
        raise UsageError(f"{source!r} holds {n_nan} NaN and {n_inf} infinite values; "
                         "remove or impute them first.")
    return X, None, source


def _in_unit_range(X):
    return bool(np.all((X >= 0) & (X <= 1)))


def _is_integer_valued(X):
    return bool(np.all(np.isfinite(X)) and np.all(X == np.round(X)))


def _resolve_preprocessing(choice, model_name, X):
    """The preprocessing ``auto`` means for this model and data."""
    if choice != "auto":
        return choice
    automatic = MODELS[model_name][1]
    if automatic == "binarize" and _in_unit_range(X):
        return "none"
    if automatic == "bins" and _is_integer_valued(X):
        return "none"
    return automatic


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
# Commands
# ----------------------------------------------------------------------


def _preprocess(pipeline, X):
    """X through every step of the fitted pipeline but the model."""
    for _, step in pipeline.steps[:-1]:
        X = step.transform(X)
    return X


def _model_params(args):
    params = {name: getattr(args, name) for name in TRAINING_OPTIONS
              if getattr(args, name) is not None}
    params.update(random_state=args.random_state, verbose=args.verbose)
    params.update(dict(args.param))
    return params


def _log_partition(model, args):
    """(log Z, standard error), with --ais-betas temperatures if AIS is used."""
    if args.ais_betas is None:
        return model.log_partition()
    return model.log_partition(n_betas=args.ais_betas)


def _mean_log_likelihood(model, X, log_z):
    """Mean of log p(x) = -F(x) - log Z over the rows of X."""
    return float(np.mean(-model.free_energy(X))) - log_z


def _report_likelihood(model, X_train, X_test, args):
    log_z, std_error = _log_partition(model, args)
    how = "exact" if std_error == 0 else f"AIS estimate, standard error {std_error:.2g}"
    print(f"log Z = {log_z:.4f} ({how})")
    print(f"Training log-likelihood: {_mean_log_likelihood(model, X_train, log_z):.4f} "
          "nats per sample")
    if X_test is not None:
        print(f"Held-out log-likelihood: {_mean_log_likelihood(model, X_test, log_z):.4f} "
              "nats per sample")


def _write_plots(model, X_train, X_eval, directory, image_shape, args):
    """Write the figures that apply to this model; return their file names."""
    from . import plot  # matplotlib is optional: import it only when asked for figures

    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    n_samples = min(len(X_eval), 500)
    samples = model.sample(n_samples, n_steps=args.sample_steps, random_state=args.random_state)
    figures = {
        "filters.png": plot.plot_filters(model, image_shape=image_shape),
        "samples.png": plot.plot_images(samples[:25], image_shape),
        "free_energy.png": plot.plot_free_energy(model, X_eval, samples=samples),
    }
    figures["samples.png"].suptitle(f"Samples after {args.sample_steps} Gibbs steps")
    if hasattr(model, "history_"):
        figures["learning_curves.png"] = plot.plot_learning_curves(model)
    if model.n_features_in_ == 2:
        figures["energy_landscape.png"] = plot.plot_energy_landscape(model, X_train)
    for name, fig in figures.items():
        fig.savefig(directory / name, dpi=100)
    return list(figures)


def _run_fit(args):
    """``fit``: preprocess, split, fit, report, save, plot."""
    models = available_models()
    X, bundled_shape, description = _load_data(args.data)
    image_shape = args.image_shape or bundled_shape
    if image_shape is not None and math.prod(image_shape) != X.shape[1]:
        raise UsageError(f"--image-shape {image_shape[0]}x{image_shape[1]} has "
                         f"{math.prod(image_shape)} pixels but the data have "
                         f"{X.shape[1]} features.")
    if args.save:
        persistence.check_suffix(args.save)  # before training, not after
    choice = _resolve_preprocessing(args.preprocess, args.model, X)
    if args.test_size > 0:
        X_train, X_test = train_test_split(X, test_size=args.test_size,
                                           random_state=args.random_state)
        if len(X_test) == 0 or len(X_train) == 0:
            raise UsageError(f"--test-size {args.test_size} leaves an empty split of "
                             f"{len(X)} samples.")
    else:
        X_train, X_test = X, None
    model = models[args.model]().set_params(**_model_params(args))
    pipeline = Pipeline(_preprocessing_steps(choice, args) + [("rbm", model)])
    print(f"Data: {description}: {X.shape[0]} samples x {X.shape[1]} features, "
          f"{_describe_preprocessing(choice, args)}.")
    held_out = f", {len(X_test)} held out" if X_test is not None else ", none held out"
    print(f"Training on {len(X_train)} samples{held_out}.")
    print(f"Model: {model!r}", flush=True)
    start = time.perf_counter()
    pipeline.fit(X_train)
    print(f"Trained in {time.perf_counter() - start:.1f} s.")
    Xt_train = _preprocess(pipeline, X_train)
    Xt_test = None if X_test is None else _preprocess(pipeline, X_test)
    _report_likelihood(model, Xt_train, Xt_test, args)
    if args.save:
        persistence.save(pipeline, args.save)
        steps = " -> ".join(type(step).__name__ for _, step in pipeline.steps)
        print(f"Saved the fitted Pipeline ({steps}) to {args.save}")
    if args.plots:
        names = _write_plots(model, Xt_train, Xt_test if Xt_test is not None else Xt_train,
                            args.plots, image_shape, args)
        print(f"Wrote {len(names)} figures to {args.plots}: {', '.join(names)}")
    return 0


def _run_score(args):
    """``score``: mean log-likelihood of data under a saved model."""
    saved = persistence.load(args.model)
    steps = saved.steps if isinstance(saved, Pipeline) else [("rbm", saved)]
    model = steps[-1][1]
    if not all(hasattr(model, a) for a in ("free_energy", "log_partition")):
        raise UsageError(f"{args.model!r} holds a {type(saved).__name__}, not an RBM "
                         "or a Pipeline ending in one.")
    X, _, _ = _load_data(args.data)
    X = _preprocess(Pipeline(steps), X)
    log_z, _ = _log_partition(model, args)
    print(f"Mean log-likelihood of {args.data} ({X.shape[0]} samples) under "
          f"{args.model}: {_mean_log_likelihood(model, X, log_z):.4f} nats per sample")
    return 0


# ----------------------------------------------------------------------
# Entry point
# ----------------------------------------------------------------------


def _with_default_command(argv):
    """Run the demo when no command is named (``python -m rbm [demo options]``)."""
    commands = {"demo", "fit", "score"}
    if not argv or (argv[0] not in commands and argv[0] not in ("-h", "--help", "--version")):
        return ["demo", *argv]
    return argv


def _one_line(error):
    return " ".join(str(error).split()) or type(error).__name__


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
        0 on success, 1 for a bad input or option, 2 for a usage error
        (argparse exits with 2 by itself).
    """
    argv = sys.argv[1:] if argv is None else list(argv)
    parser = build_parser(prog)
    args = parser.parse_args(_with_default_command(argv))
    try:
        return args.run(args) or 0
    except (UsageError, ValueError, OSError, ImportError) as error:
        # ValueError covers bad data and bad model parameters (scikit-learn's
        # InvalidParameterError, rbm.DivergenceError); OSError missing files.
        print(f"{parser.prog}: error: {_one_line(error)}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print(f"{parser.prog}: interrupted", file=sys.stderr)
        return 130
