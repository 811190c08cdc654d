"""Compare two builds of rbm: bit-identical parameters, and throughput side by side.

Issue 16 (the core redesign) must leave every fitted parameter bit-identical
for the same ``random_state`` and every throughput figure within 5%.  This
script checks both on one machine, against two source trees, each with its
extension built in place::

    git worktree add --detach ../rbm-base <commit before the redesign>
    (cd ../rbm-base && python setup.py build_ext --inplace)

    python benchmarks/compare_builds.py params --old ../rbm-base --new .
    python benchmarks/compare_builds.py throughput --old ../rbm-base --new . --rounds 3
    python benchmarks/compare_builds.py throughput --old ../rbm-base --new . -- --repeats 3

Each measurement runs in a subprocess of the same interpreter with
``cwd=TREE`` and ``PYTHONPATH=TREE``, so ``import rbm`` takes that tree
(the child checks that it did).

Subcommands
-----------
params
    Fits the same fixed matrix of models (``CASES``: every estimator, every
    method, float32 and float64, dense and CSR, and the variants listed
    there) through the public API only, in each tree, and saves per tree
    one ``.npz`` of the fitted parameters (``components_``,
    ``intercept_visible_``, ``intercept_hidden_``, ``h_samples_``,
    ``sigma_``) and of what the model computes (``transform``, ``sample``,
    ``gibbs``, ``free_energy``, ``log_partition``, ``score``,
    ``swap_rates_``).  Then compares them array by array (same dtype, same
    shape, ``np.array_equal``) and prints, per case, the arrays identical
    out of the total and the largest absolute difference of the others.
    A fit that raises is reported with its error text.  Exit status 1 if
    any array differs or any case raised.

    ``--setup-old CODE`` / ``--setup-new CODE`` run Python code in that
    tree's child after ``import rbm`` (names ``rbm`` and ``np`` are
    defined) and before the fits, for example to pick the same BLAS in both
    (``rbm._gibbs.use_numpy_blas(False)`` in the old build; in the
    redesigned one the context manager, kept referenced so that it is not
    collected and closed at once:
    ``rbm._keep = rbm._gibbs.kernel_settings(numpy_blas=True); rbm._keep.__enter__()``).
    ``-k PATTERN`` keeps the cases whose name matches the ``fnmatch``
    pattern.

throughput
    Runs ``throughput.py`` (the copy beside this script, or ``--script``)
    in the old and the new tree in turn for ``--rounds`` rounds (the order
    alternates: old-new, new-old, ...; so drift of the machine's speed
    falls on both alike), reads the figures it writes with ``--json`` and
    prints old against new: the best of the rounds for each figure (the
    fastest time, the highest throughput), the ratio new / old, and that
    ratio divided by the same ratio of the row's BLAS floor ("÷ floor":
    what is left once a slow spell of a shared machine, which hits both
    alike, is taken out).  Each run's line gives the load average at its
    start: other busy processes distort the figures far beyond 5%.  Options
    after ``--`` go to ``throughput.py`` (default ``--quick``, a smoke
    test; its noise is 5-10%, so judge the 5% criterion on a default or
    ``--repeats`` run).  Exit status 1 if a figure of rbm ("ours") is worse
    than ``--tolerance`` (default 5%); sklearn and BLAS-floor figures are
    shown for the machine's drift only.

Both write their files to ``--workdir`` (default: a new temporary folder,
kept and printed).

Notes
-----
BLAS results differ between CPUs, so the comparison holds on one machine;
this is not a stored-hash test.  Where the redesign changes the default
BLAS, compare like with like through the setup hooks.  Seen on a 2-core
AMD EPYC at aac9a4c, one build against itself: NumPy's OpenBLAS and
SciPy's gave the same bits on one thread but not in the 64 x 1100,
``n_jobs=2`` case (about 1e-16); forcing BLAS for small models changed 28
cases (1e-7 in float32, 1e-15 in float64).  That build had
``use_numpy_blas`` and ``set_small_model_threshold``; today's kernel has
neither, and the same switches are knobs of ``rbm._gibbs.kernel_settings``,
entered for the whole child process and kept referenced (as above), e.g.
``--setup-new "rbm._keep = rbm._gibbs.kernel_settings(numpy_blas=False);
rbm._keep.__enter__()"``, or ``kernel_settings(small_model_weights=0)`` to
force BLAS for small models.  Timing both trees while other processes ran
(load average 2-6 on 2 cores) gave new/old from 0.1 to 30 for the same
build: run ``throughput`` only on an idle machine.
"""

import argparse
import fnmatch
import json
import math
import os
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve()
THROUGHPUT = HERE.parent / "throughput.py"
FIT_ERROR = "__fit_error__"
ERROR_PREFIX = "ERROR: "

# ----------------------------------------------------------------------
# The case matrix
# ----------------------------------------------------------------------

ESTIMATORS = {
    "bernoulli": "BernoulliRBM",
    "gaussian": "GaussianBernoulliRBM",
    "categorical": "CategoricalRBM",
}
#: Settings of every fit unless a case overrides them.
COMMON = dict(n_components=16, n_iter=3, random_state=0, n_jobs=1)
#: log_partition options of models too large for the exact sum (AIS, cut down).
SMALL_AIS = dict(method="ais", n_chains=10, n_betas=100)
#: Rows of load_digits used for training.
N_ROWS = 300


@dataclass(frozen=True)
class Case:
    """One fit: estimator kind, method, dtype, layout, extra parameters."""

    kind: str
    method: str
    dtype: str
    sparse: bool = False
    params: dict = field(default_factory=dict)
    tag: str = ""
    partial_fits: int = 0  # 0: fit; n: partial_fit n times
    log_partition: dict = field(default_factory=dict)  # {}: "auto", and score

    @property
    def name(self):
        layout = "csr" if self.sparse else "dense"
        base = f"{self.kind}-{self.method}-{self.dtype[-2:]}-{layout}"
        return f"{base}-{self.tag}" if self.tag else base


def base_cases():
    """Every estimator x method x dtype, dense, and CSR for Bernoulli and Gaussian."""
    cases = []
    for kind in ESTIMATORS:
        layouts = (False,) if kind == "categorical" else (False, True)
        for method in ("cd", "pcd", "pt"):
            for dtype in ("float32", "float64"):
                cases += [Case(kind, method, dtype, sparse) for sparse in layouts]
    return cases


def penalty_cases():
    """Centering, L1, sparsity: Bernoulli PCD in both dtypes and CSR, each kind once."""
    variants = {"centering": dict(centering=True), "l1": dict(l1_weight_decay=1e-3),
                "sparsity": dict(sparsity_cost=0.1)}
    cases = []
    for tag, params in variants.items():
        cases += [Case("bernoulli", "pcd", "float32", params=params, tag=tag),
                  Case("bernoulli", "pcd", "float64", params=params, tag=tag),
                  Case("bernoulli", "pcd", "float64", True, params=params, tag=tag),
                  Case("gaussian", "pcd", "float64", params=params, tag=tag),
                  Case("categorical", "pcd", "float32", params=params, tag=tag)]
    everything = dict(centering=True, l1_weight_decay=1e-3, sparsity_cost=0.1)
    cases += [Case("bernoulli", "pt", "float64", params=everything, tag="all3"),
              Case("gaussian", "cd", "float32", True, params=everything, tag="all3"),
              Case("categorical", "pt", "float64", params=everything, tag="all3")]
    return cases


def other_cases():
    """BLAS-sized models, k=2, partial_fit, fixed sigma, threads and other options."""
    large = dict(n_components=1100)
    return [
        Case("bernoulli", "pcd", "float64", params=dict(batch_size=200), tag="batch200"),
        Case("bernoulli", "pcd", "float32", True, params=dict(batch_size=200), tag="batch200"),
        Case("categorical", "pcd", "float64", params=dict(batch_size=200), tag="batch200"),
        Case("bernoulli", "pcd", "float32", params=large, tag="h1100",
             log_partition=SMALL_AIS),
        Case("bernoulli", "cd", "float64", params=large, tag="h1100", log_partition=SMALL_AIS),
        Case("categorical", "pcd", "float32", params=large, tag="h1100",
             log_partition=SMALL_AIS),
        Case("bernoulli", "pcd", "float64", params=dict(large, n_jobs=2), tag="h1100-jobs2",
             log_partition=SMALL_AIS),
        Case("bernoulli", "pcd", "float64", params=dict(n_jobs=2), tag="jobs2"),
        Case("gaussian", "pt", "float32", params=dict(n_jobs=2), tag="jobs2"),
        Case("bernoulli", "cd", "float64", params=dict(k=2), tag="k2"),
        Case("gaussian", "pcd", "float32", params=dict(k=2), tag="k2"),
        Case("bernoulli", "pcd", "float64", partial_fits=2, tag="partial2"),
        Case("categorical", "pcd", "float32", partial_fits=2, tag="partial2"),
        Case("gaussian", "pcd", "float64", params=dict(learn_sigma=False), tag="fixed-sigma"),
        Case("gaussian", "pt", "float32", True, params=dict(learn_sigma=False),
             tag="fixed-sigma"),
        Case("bernoulli", "pcd", "float64", params=dict(n_chains=None), tag="chains-none"),
        Case("bernoulli", "pcd", "float32",
             params=dict(learning_rate_schedule="exponential", momentum=0.9), tag="schedule"),
        Case("bernoulli", "pcd", "float64",
             params=dict(early_stopping=True, n_iter_no_change=1), tag="early-stop"),
    ]


CASES = base_cases() + penalty_cases() + other_cases()

# ----------------------------------------------------------------------
# Child: fit the cases in one tree, save one npz
# ----------------------------------------------------------------------


def digits_data():
    """{kind: dense training data} from load_digits' first N_ROWS rows (float64 / codes)."""
    from sklearn.datasets import load_digits

    X = load_digits().data[:N_ROWS]
    std = X.std(axis=0)
    return {
        "bernoulli": (X > 7).astype(np.float64),
        "gaussian": (X - X.mean(axis=0)) / np.where(std > 0, std, 1.0),
        "categorical": np.minimum(X // 4, 3).astype(np.int64),
    }


def case_input(case, data):
    """The case's training input: dtype and layout applied (categorical: codes)."""
    import scipy.sparse as sp

    X = data[case.kind]
    if case.kind != "categorical":
        X = X.astype(case.dtype)
    return sp.csr_matrix(X) if case.sparse else X


def make_model(rbm, case):
    params = dict(COMMON, method=case.method, **case.params)
    if case.kind == "categorical":
        params["dtype"] = case.dtype
    return getattr(rbm, ESTIMATORS[case.kind])(**params)


def fit_model(rbm, case, X):
    model = make_model(rbm, case)
    if not case.partial_fits:
        return model.fit(X)
    for _ in range(case.partial_fits):
        model.partial_fit(X)
    return model


def model_outputs(model, case, X):
    """{name: callable} of what is saved; order matters (gibbs advances streams)."""
    outputs = {name: (lambda name=name: getattr(model, name)) for name in
               ("components_", "intercept_visible_", "intercept_hidden_", "h_samples_")}
    if case.kind == "gaussian":
        outputs["sigma_"] = lambda: model.sigma_
    if case.method == "pt":
        outputs["swap_rates_"] = lambda: model.swap_rates_
    outputs.update({
        "transform": lambda: model.transform(X[:20]),
        "sample": lambda: model.sample(5, n_steps=20, random_state=1),
        "gibbs": lambda: model.gibbs(X[:5]),
        "free_energy": lambda: model.free_energy(X[:20]),
        "log_partition": lambda: np.array(model.log_partition(**case.log_partition)),
    })
    if not case.log_partition:
        outputs["score"] = lambda: np.array(model.score(X[:50]))
    return outputs


def error_text(error):
    lines = str(error).strip().splitlines() or [""]
    return f"{ERROR_PREFIX}{type(error).__name__}: {lines[0][:300]}"


def run_case(rbm, case, data):
    """{key: array} of one case; errors are stored as strings, never raised."""
    X = case_input(case, data)
    try:
        model = fit_model(rbm, case, X)
    except Exception as error:  # noqa: BLE001 - reported in the table
        return {f"{case.name}/{FIT_ERROR}": np.array(error_text(error))}
    saved = {}
    for name, compute in model_outputs(model, case, X).items():
        try:
            array = np.asarray(compute())
            # Object arrays (categories) would need pickle to load: keep their text.
            saved[f"{case.name}/{name}"] = array.astype(str) if array.dtype == object else array
        except Exception as error:  # noqa: BLE001
            saved[f"{case.name}/{name}"] = np.array(error_text(error))
    return saved


def child_main(args):
    """Fit the selected cases in this interpreter's rbm; save them to args.out."""
    import rbm

    tree = Path(args.tree).resolve()
    if tree not in Path(rbm.__file__).resolve().parents:
        sys.exit(f"rbm imported from {rbm.__file__}, not from {tree}")
    exec(args.setup or "", {"rbm": rbm, "np": np})
    data = digits_data()
    saved = {}
    start = time.perf_counter()
    for case in selected_cases(args.k):
        saved.update(run_case(rbm, case, data))
    np.savez(args.out, **saved)
    print(f"  {len(saved)} arrays from {rbm.__file__} in "
          f"{time.perf_counter() - start:.1f} s -> {args.out}", file=sys.stderr)


def selected_cases(pattern):
    return [case for case in CASES if fnmatch.fnmatch(case.name, pattern or "*")]


# ----------------------------------------------------------------------
# Parent: run children, compare
# ----------------------------------------------------------------------


def run_in_tree(tree, command, **kwargs):
    """Run ``[python, *command]`` with cwd and PYTHONPATH set to ``tree``."""
    env = dict(os.environ, PYTHONPATH=str(tree))
    return subprocess.run([sys.executable, *command], cwd=tree, env=env, **kwargs)


def fit_in_tree(label, tree, setup, pattern, workdir):
    """Fit the cases in ``tree`` in a child; the path of its npz."""
    out = Path(workdir) / f"params-{label}.npz"
    print(f"{label}: {tree}" + (f" (setup: {setup})" if setup else ""), file=sys.stderr)
    command = [str(HERE), "_fit", "--tree", str(tree), "--out", str(out)]
    command += ["--setup", setup or "", "-k", pattern or "*"]
    if run_in_tree(tree, command).returncode != 0:
        sys.exit(f"the {label} tree's child failed (its error is above)")
    return out


def is_error(array):
    return array.dtype.kind == "U" and str(array).startswith(ERROR_PREFIX)


def max_abs_difference(a, b):
    """Largest |a - b| (NaN-aware: NaN on one side only is inf), or None if not comparable."""
    if a.shape != b.shape or a.dtype.kind not in "fiub" or b.dtype.kind not in "fiub":
        return None
    a, b = a.astype(np.float64), b.astype(np.float64)
    same_nan = np.isnan(a) & np.isnan(b)
    diff = np.where(same_nan, 0.0, np.abs(a - b))
    return float(np.nan_to_num(diff, nan=np.inf).max(initial=0.0))


def identical(a, b):
    """Same dtype, same shape and the same values (NaN equal to NaN)."""
    if a.dtype != b.dtype or a.shape != b.shape:
        return False
    return bool(np.array_equal(a, b, equal_nan=a.dtype.kind in "fc"))


def compare_case(name, old, new):
    """(status, identical, total, max difference, note) of one case."""
    errors = [f"{label}: {str(arrays[f'{name}/{FIT_ERROR}'])[len(ERROR_PREFIX):]}"
              for label, arrays in (("old", old), ("new", new))
              if f"{name}/{FIT_ERROR}" in arrays]
    if errors:
        return "ERROR", 0, 0, None, "; ".join(errors)
    keys = sorted({k for arrays in (old, new) for k in arrays if k.startswith(name + "/")})
    same, worst, notes = 0, 0.0, []
    for key in keys:
        short = key[len(name) + 1:]
        if key not in old or key not in new:
            notes.append(f"{short}: only in {'old' if key in old else 'new'}")
            continue
        a, b = old[key], new[key]
        if identical(a, b):
            same += 1
            notes += [f"{short}: both {str(a)[len(ERROR_PREFIX):]}"] if is_error(a) else []
            continue
        diff = max_abs_difference(a, b)
        worst = max(worst, math.inf if diff is None else diff)
        notes.append(f"{short}: {describe_difference(a, b, diff)}")
    status = "same" if same == len(keys) else "DIFF"
    return status, same, len(keys), (None if same == len(keys) else worst), "; ".join(notes)


def describe_difference(a, b, diff):
    for label, array in (("old", a), ("new", b)):
        if is_error(array):
            return f"{label} {str(array)[len(ERROR_PREFIX):]}"
    if a.dtype != b.dtype or a.shape != b.shape:
        return f"{a.dtype}{list(a.shape)} vs {b.dtype}{list(b.shape)}"
    return f"max |diff| {diff:.3g}"


def print_params_table(rows):
    width = max(len(row[0]) for row in rows)
    print(f"{'case':<{width}}  status  identical  max |diff|  note")
    for name, status, same, total, worst, note in rows:
        shown = "" if worst is None else f"{worst:.3g}"
        print(f"{name:<{width}}  {status:<6}  {same:>4}/{total:<4}  {shown:>10}  {note}")


def make_workdir(path):
    """The absolute results folder: ``path`` (created) or a new temporary one."""
    if path is None:
        return Path(tempfile.mkdtemp(prefix="compare_builds-"))
    path = Path(path).resolve()
    path.mkdir(parents=True, exist_ok=True)
    return path


def params_main(args):
    workdir = make_workdir(args.workdir)
    start = time.perf_counter()
    paths = {label: fit_in_tree(label, tree, setup, args.k, workdir)
             for label, tree, setup in (("old", args.old, args.setup_old),
                                        ("new", args.new, args.setup_new))}
    with np.load(paths["old"]) as old_file, np.load(paths["new"]) as new_file:
        old, new = dict(old_file), dict(new_file)
    rows = [(case.name, *compare_case(case.name, old, new)) for case in selected_cases(args.k)]
    print_params_table(rows)
    bad = [row for row in rows if row[1] != "same"]
    arrays = sum(row[3] for row in rows)
    print(f"\n{len(rows) - len(bad)} of {len(rows)} cases identical "
          f"({sum(row[2] for row in rows)} of {arrays} arrays); "
          f"{time.perf_counter() - start:.0f} s; files in {workdir}")
    return 1 if bad else 0


# ----------------------------------------------------------------------
# Throughput
# ----------------------------------------------------------------------


def throughput_run(label, tree, round_, script, extra, workdir):
    """Run throughput.py once in ``tree``; its figures dict."""
    out = Path(workdir) / f"throughput-{label}-{round_}"
    command = [str(script), *extra, "--output", f"{out}.md", "--json", f"{out}.json"]
    start, load = time.perf_counter(), os.getloadavg()[0]
    with open(f"{out}.log", "w") as log:
        done = run_in_tree(tree, command, stdout=log, stderr=subprocess.STDOUT)
    print(f"round {round_} {label}: {time.perf_counter() - start:.0f} s, exit {done.returncode},"
          f" load average at start {load:.1f} (log {out}.log)", file=sys.stderr, flush=True)
    if done.returncode != 0:
        return {}
    return json.loads(Path(f"{out}.json").read_text())["figures"]


def best_of(runs):
    """{name: figure} with the best value over the runs (max or min by its 'better')."""
    best = {}
    for figures in runs:
        for name, figure in figures.items():
            pick = max if figure["better"] == "higher" else min
            if name in best:
                figure = dict(figure, value=pick(best[name]["value"], figure["value"]))
            best[name] = figure
    return best


def worse_by(figure, ratio):
    """How much worse new is than old (0.07: 7% worse), from new / old."""
    return 1 - ratio if figure["better"] == "higher" else ratio - 1


def format_value(value, unit):
    if unit == "bytes":
        return f"{value / 2**20:,.2f} MiB"
    if unit == "s" or unit.startswith("s/"):
        return f"{value * 1e3:,.3f} ms" + unit[1:]
    return f"{value:,.0f} {unit}"


def drift_corrected(name, old, new):
    """new/old of an rbm figure divided by new/old of its row's BLAS floor, or None.

    On a shared machine a slow spell hits ours and the floor alike; this
    ratio of ratios is what is left of the difference once that is removed.
    """
    floor = name.rsplit(" | ", 1)[0] + " | floor"
    if not old[name]["ours"] or floor not in old or floor not in new:
        return None
    ours = new[name]["value"] / old[name]["value"]
    return ours / (new[floor]["value"] / old[floor]["value"])


def print_throughput_table(old, new, tolerance):
    """Old vs new per figure; the number of rbm figures worse than tolerance."""
    names = list(dict.fromkeys([*old, *new]))
    width = max(map(len, names), default=10)
    print(f"{'figure':<{width}}  {'old':>24}  {'new':>24}  new/old  ÷ floor  verdict")
    failures = 0
    for name in names:
        if name not in old or name not in new:
            print(f"{name:<{width}}  only in {'old' if name in old else 'new'}")
            failures += (old.get(name) or new.get(name))["ours"]
            continue
        a, b = old[name], new[name]
        ratio = b["value"] / a["value"] if a["value"] else math.nan
        worse = worse_by(a, ratio) > tolerance
        verdict = ("WORSE" if worse else "ok") if a["ours"] else "(reference)"
        failures += bool(worse and a["ours"])
        corrected = drift_corrected(name, old, new)
        shown = "" if corrected is None else f"{corrected:.3f}"
        print(f"{name:<{width}}  {format_value(a['value'], a['unit']):>24}  "
              f"{format_value(b['value'], b['unit']):>24}  {ratio:7.3f}  {shown:>7}  {verdict}")
    return failures


def throughput_main(args):
    workdir = make_workdir(args.workdir)
    extra = args.extra or ["--quick"]
    trees = [("old", args.old), ("new", args.new)]
    runs = {"old": [], "new": []}
    start = time.perf_counter()
    for round_ in range(args.rounds):
        for label, tree in trees if round_ % 2 == 0 else trees[::-1]:
            runs[label].append(throughput_run(label, tree, round_, args.script, extra, workdir))
    print(f"throughput.py {' '.join(extra)}; best of {args.rounds} rounds "
          "(max throughput, min time and bytes)\n")
    failures = print_throughput_table(best_of(runs["old"]), best_of(runs["new"]),
                                      args.tolerance)
    print(f"\n{failures} rbm figures worse than {args.tolerance:.0%}; "
          f"{time.perf_counter() - start:.0f} s; files in {workdir}")
    return 1 if failures else 0


# ----------------------------------------------------------------------
# Command line
# ----------------------------------------------------------------------


def tree_path(text):
    path = Path(text).resolve()
    if not (path / "rbm" / "__init__.py").is_file():
        raise argparse.ArgumentTypeError(f"{path} has no rbm/__init__.py")
    return path


def parse_args(argv):
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    sub = parser.add_subparsers(dest="command", required=True)
    for name in ("params", "throughput"):
        p = sub.add_parser(name)
        p.add_argument("--old", type=tree_path, required=True, help="tree before the change")
        p.add_argument("--new", type=tree_path, required=True, help="tree after the change")
        p.add_argument("--workdir", help="where to write results (default: a new temp folder)")
    params = sub.choices["params"]
    params.add_argument("--setup-old", help="Python code run in the old tree before the fits")
    params.add_argument("--setup-new", help="Python code run in the new tree before the fits")
    params.add_argument("-k", help="fnmatch pattern: only the cases whose name matches")
    throughput = sub.choices["throughput"]
    throughput.add_argument("--rounds", type=int, default=3)
    throughput.add_argument("--tolerance", type=float, default=0.05)
    throughput.add_argument("--script", type=lambda text: Path(text).resolve(),
                            default=THROUGHPUT,
                            help="the throughput.py to run in both trees (default: beside this)")
    child = sub.add_parser("_fit")  # internal: the child process of params
    child.add_argument("--tree", required=True)
    child.add_argument("--out", required=True)
    child.add_argument("--setup", default="")
    child.add_argument("-k", default="*")
    if "--" in argv:
        cut = argv.index("--")
        args = parser.parse_args(argv[:cut])
        args.extra = argv[cut + 1:]
    else:
        args = parser.parse_args(argv)
        args.extra = []
    return args


def main(argv=None):
    args = parse_args(sys.argv[1:] if argv is None else argv)
    if args.command == "_fit":
        return child_main(args)
    return params_main(args) if args.command == "params" else throughput_main(args)


if __name__ == "__main__":
    sys.exit(main())
