"""Fuzz the fitted state: no attribute value, assigned or loaded from a file,
makes a public method crash the process; each call works or raises a clear
Python exception.

For each estimator (the density models, binary ones with dReLU hidden units
too, the outlier detector, the classifier and the imputer) the worker below
fits a tiny model and enumerates every fitted attribute programmatically
(``vars()`` of the model and of the library's objects inside it, and the
arrays inside their lists), so a new attribute is fuzzed without touching
this file.  Each attribute gets every
mutation that applies to its kind of value (wrong shape, length or dtype,
NaN and inf, a non-contiguous or read-only array, a deleted attribute, None,
bad integers, a hollow object, ...), twice: assigned in the process
("assigned"), and written to a skops file that ``rbm.persistence.load``
reads back ("skops").  Then every public method is called on a fresh copy
of the mutated model.

What counts as clear: a ``ValueError``, ``TypeError`` or ``AttributeError``
(their subclasses included: ``NotFittedError``, scikit-learn's
``InvalidParameterError``) whose message names the mutated attribute or one
of the objects holding it (leading and trailing underscores aside:
"categories" names ``categories_``).  A ``DivergenceError`` is clear too: a
finite but huge parameter, velocity or sigma is a sound state from which
training diverges, which the error says, leaving the model as it was (the
classifier's says "the steps diverged").
``get_params``, ``clone`` and ``pickle`` copy the model as it is and
validate nothing: any exception of those types is clear there.  Anything
else (an IndexError, KeyError or ZeroDivisionError from deep inside, or a
message that does not say what is wrong) is reported as unclear and fails
the test; a signal, a sanitizer report or a hang fails it too.

Not fuzzed: the constructor parameters (other tests cover them); in skops
files, non-contiguous and read-only arrays (a file stores arrays contiguous
and loads them writeable); the outlier detector's own ``estimator_`` and
``offset_`` (tests/test_classifier_hostile.py checks them), only the model inside it;
read-only properties (``sigma_``, ``categories_``, ``swap_rates_``).

The cases run in one subprocess per estimator and source (as many at once
as there are cores), which prints a line before each case and after it, so
a crash names the case it was in; the parent checks the exit status, stderr
and that every case finished.  ``.ci/asan`` runs this file under
AddressSanitizer.
"""

import copy
import os
import pickle
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
import pytest

ROOT = Path(__file__).resolve().parents[1]
ESTIMATORS = ("bernoulli_pcd", "bernoulli_pt", "bernoulli_drelu", "gaussian", "categorical",
              "outlier", "classifier", "imputer")
SOURCES = ("assigned", "skops")
#: Exception types that count as clear when their message names the attribute.
CLEAR = (ValueError, TypeError, AttributeError)
#: Calls that copy the model as it is, validating nothing: the object's own
#: error (``'ChainStreams' object has no attribute 'entropy'``) is clear there.
COPIES = ("get_params", "clone", "pickle")
#: A subprocess taking longer than this has hung (several times the ASan time).
TIMEOUT_S = 900


# ----------------------------------------------------------------------
# The parent: one subprocess per estimator and source
# ----------------------------------------------------------------------

@pytest.fixture(scope="module")
def worker_runs():
    """Every worker's result, by (estimator, source): run on all cores at once."""
    env = dict(os.environ, PYTHONPATH=str(ROOT))

    def run(key):
        command = [sys.executable, __file__, *key]
        try:
            return subprocess.run(command, env=env, capture_output=True, text=True,
                                  timeout=TIMEOUT_S, cwd=ROOT)
        except subprocess.TimeoutExpired as error:
            return error

    keys = [(estimator, source) for estimator in ESTIMATORS for source in SOURCES]
    with ThreadPoolExecutor(max_workers=len(os.sched_getaffinity(0))) as pool:
        return dict(zip(keys, pool.map(run, keys)))


@pytest.mark.parametrize("source", SOURCES)
@pytest.mark.parametrize("estimator", ESTIMATORS)
def test_no_fitted_state_crashes_a_public_method(worker_runs, estimator, source,
                                                 record_property):
    run = worker_runs[estimator, source]
    if isinstance(run, subprocess.TimeoutExpired):
        output = run.stdout.decode() if isinstance(run.stdout, bytes) else run.stdout or ""
        started = [line for line in output.splitlines() if line.startswith("CASE ")]
        pytest.fail(f"hung after {TIMEOUT_S} s in {started[-1] if started else 'setup'}")
    lines = run.stdout.splitlines()
    started = [line[5:] for line in lines if line.startswith("CASE ")]
    finished = [line[5:] for line in lines if line.startswith("DONE ")]
    last = started[-1] if started else "setup"
    assert "Sanitizer" not in run.stderr, f"sanitizer report in {last}:\n{run.stderr[-4000:]}"
    assert run.returncode == 0, (f"exit status {run.returncode} in {last}:\n"
                                 f"{run.stderr[-4000:]}")
    assert started and started == finished, f"not every case finished; last: {last}"
    unclear = [line for line in lines if line.startswith("UNCLEAR ")]
    assert not unclear, f"{len(unclear)} unclear errors:\n" + "\n".join(unclear[:40])
    summary = next(line for line in lines if line.startswith("SUMMARY "))
    counts = dict(item.split("=") for item in summary.split()[1:])
    # Every estimator has at least its four parameter arrays, mutated many ways.
    assert int(counts["cases"]) >= 60 and int(counts["calls"]) > int(counts["cases"])
    record_property("fuzz_cases", counts["cases"])
    record_property("fuzz_calls", counts["calls"])
    print(f"{estimator}/{source}: {counts['cases']} cases, {counts['calls']} method calls, "
          f"{counts['refused']} refused clearly, {counts['worked']} worked, "
          f"{counts['unsaveable']} mutated models skops cannot save")


# ----------------------------------------------------------------------
# The worker: models, attributes, mutations, calls
# ----------------------------------------------------------------------

def fitted_model(estimator):
    """A tiny fitted model of the named kind and data it accepts."""
    from rbm import (BernoulliRBM, CategoricalRBM, GaussianBernoulliRBM, RBMClassifier,
                     RBMImputer, RBMOutlierDetector)
    rng = np.random.default_rng(0)
    small = dict(n_components=2, n_iter=1, batch_size=10, n_chains=2, random_state=0,
                 n_jobs=1)
    binary = (rng.random((20, 4)) < 0.5).astype(float)
    if estimator == "bernoulli_pcd":
        return BernoulliRBM(**small).fit(binary), binary
    if estimator == "bernoulli_pt":
        return BernoulliRBM(method="pt", n_temperatures=3, **small).fit(binary), binary
    if estimator == "bernoulli_drelu":
        return BernoulliRBM(hidden="drelu", **small).fit(binary), binary
    if estimator == "classifier":
        return RBMClassifier(n_components=2, n_iter=1, batch_size=10, random_state=0).fit(
            binary, labels_of(binary)), binary
    if estimator == "imputer":
        gappy = binary.copy()
        gappy[0, 1] = gappy[3, 2] = np.nan
        return RBMImputer(BernoulliRBM(**small), add_indicator=True,
                          random_state=0).fit(gappy), gappy
    if estimator == "gaussian":
        X = rng.standard_normal((20, 3)).astype(np.float32)
        return GaussianBernoulliRBM(**small).fit(X), X
    if estimator == "categorical":
        X = rng.integers(0, 3, (20, 3))
        return CategoricalRBM(**small).fit(X), X
    return RBMOutlierDetector(BernoulliRBM(**small)).fit(binary), binary


def labels_of(X):
    """The classifier's labels of rows X: two classes."""
    return (X[:, 0] > 0.5).astype(int)


def with_gaps(X):
    """Three rows of X with a missing entry (NaN, or None among labels)."""
    gaps = X[:3].astype(object if X.dtype.kind in "iu" else X.dtype)
    gaps[0, 1] = None if gaps.dtype == object else np.nan
    return gaps


def is_ours(value):
    """Whether value is one of this library's objects (walked into)."""
    return hasattr(value, "__dict__") and type(value).__module__.split(".")[0] == "rbm"


def fitted_attributes(obj, depth):
    """Paths (tuples of attribute names and container keys) of every fitted
    attribute of obj and of the library's objects inside it.

    An estimator's constructor parameters are not fitted state (other tests
    cover them); scikit-learn objects inside (the categorical encoder)
    contribute their fitted attributes (``name_``), not their internals.
    """
    if hasattr(obj, "get_params") and is_ours(obj):
        names = [n for n in vars(obj) if n not in obj.get_params(deep=False)]
    elif hasattr(obj, "get_params"):
        names = [n for n in vars(obj) if n.endswith("_") and not n.startswith("_")]
    else:
        names = list(vars(obj))
    for name in sorted(names):
        value = getattr(obj, name)
        yield (name,)
        if depth > 1 and (is_ours(value) or hasattr(value, "get_params")):
            for inner in fitted_attributes(value, depth - 1):
                yield (name, *inner)
        elif isinstance(value, (list, tuple)):
            for i, item in enumerate(value):
                if isinstance(item, np.ndarray):
                    yield (name, i)


def mutations(value):
    """(name, function of the value giving the mutated value) for its kind.

    ``DELETE`` as the result deletes the attribute.
    """
    common = [("delete", lambda v: DELETE), ("none", lambda v: None)]
    if isinstance(value, np.ndarray):
        return common + array_mutations(value)
    if isinstance(value, (bool, np.bool_)):
        return common + [("int_2", lambda v: 2), ("str", lambda v: "yes")]
    if isinstance(value, (int, np.integer)):
        return common + [
            ("negative", lambda v: -1), ("zero", lambda v: 0), ("huge", lambda v: 2 ** 62),
            ("beyond_int64", lambda v: 10 ** 30), ("bool", lambda v: True),
            ("float", lambda v: v + 0.5), ("str", lambda v: str(v)),
            ("numpy_int", lambda v: np.int32(v)),
        ]
    if isinstance(value, float):
        return common + [("nan", lambda v: np.nan), ("inf", lambda v: np.inf),
                         ("str", lambda v: str(v))]
    if isinstance(value, (list, tuple)):
        return common + list_mutations(value)
    if isinstance(value, dict):
        return common + [
            ("empty", lambda v: {}), ("list", lambda v: list(v)),
            ("values_str", lambda v: {k: "x" for k in v}),
            ("values_none", lambda v: {k: None for k in v}),
        ]
    out = common + [("int", lambda v: 0), ("str", lambda v: "x")]
    if is_ours(value):  # an object of ours without any of its attributes
        out.append(("hollow", lambda v: object.__new__(type(v))))
    return out


class _Delete:
    def __repr__(self):
        return "DELETE"


DELETE = _Delete()


def array_mutations(a):
    """Shape, length, dtype, value and layout mutations of an array."""
    out = [
        ("extra_dim", lambda v: v[..., None]),
        ("missing_dim", lambda v: v.reshape(-1) if v.ndim > 1
         else np.asarray(v.reshape(-1)[0] if v.size else 0, v.dtype)),
        ("longer", lambda v: np.concatenate([v, np.zeros((1,) + v.shape[1:], v.dtype)])),
        ("list", lambda v: v.tolist()),
        ("noncontiguous", lambda v: np.repeat(v, 2, axis=-1)[..., ::2]),
        ("readonly", read_only),
    ]
    if a.ndim >= 1 and len(a):
        out += [("shorter", lambda v: v[:-1]), ("empty", lambda v: v[:0])]
    if a.ndim >= 2 and a.shape[0] != a.shape[-1]:
        out += [("transposed", lambda v: v.T)]
    for dtype in ("int64", "float16", "float32", "float64", "complex128", "object", "U5",
                  "bool"):
        if a.dtype != np.dtype(dtype):
            out.append((f"dtype_{dtype}", lambda v, d=dtype: v.astype(d)))
    if a.dtype.kind == "f" and a.size:
        out += [("nan", lambda v: filled_first(v, np.nan)),
                ("inf", lambda v: filled_first(v, -np.inf)),
                ("huge", lambda v: np.full_like(v, np.finfo(v.dtype).max / 4)),
                ("negative", lambda v: -np.abs(v))]
    if a.dtype.kind in "iu" and a.size:
        out += [("negative", lambda v: filled_first(v, -1)),
                ("huge", lambda v: np.full_like(v, np.iinfo(v.dtype).max))]
    return out


def list_mutations(value):
    """Length and element-type mutations of a list (or tuple)."""
    kind = type(value)
    out = [("empty", lambda v: kind()), ("str", lambda v: "x"),
           ("elements_str", lambda v: kind(["x"] * len(v)))]
    if len(value):
        out += [("shorter", lambda v: v[:-1]), ("longer", lambda v: v + v[:1]),
                ("first_none", lambda v: kind([None, *v[1:]]))]
    if value and all(isinstance(x, (int, np.integer)) for x in value):
        out += [("negative", lambda v: kind([-1, *v[1:]])),
                ("beyond_64_bits", lambda v: kind([2 ** 70, *v[1:]]))]
    if value and all(isinstance(x, np.random.BitGenerator) for x in value):
        out += [("other_generator", lambda v: kind(np.random.PCG64(0) for _ in v))]
    if value and all(isinstance(x, np.ndarray) for x in value):
        out += [("elements_2d", lambda v: kind(x[:, None] for x in v))]
    return out


def read_only(v):
    v = v.copy()
    v.flags.writeable = False
    return v


def filled_first(v, fill):
    v = v.copy()
    v.reshape(-1)[0] = fill
    return v


def get_path(obj, path):
    for step in path:
        obj = obj[step] if isinstance(step, int) else getattr(obj, step)
    return obj


def mutate(model_bytes, path, mutation):
    """A copy of the pickled model with ``mutation`` applied at ``path`` (None if
    it does not apply)."""
    model = pickle.loads(model_bytes)
    parent = get_path(model, path[:-1])
    new = mutation(get_path(model, path))
    step = path[-1]
    if isinstance(step, int):
        if isinstance(parent, tuple):
            return None  # tuples of arrays are immutable: not stored state
        parent[step] = None if new is DELETE else new
    elif new is DELETE:
        delattr(parent, step)
    else:
        setattr(parent, step, new)
    return model


def public_calls(model, X):
    """(name, function) for every public method of the model, on valid arguments."""
    from sklearn.base import clone
    calls = [
        ("get_params", lambda m: m.get_params()),
        ("clone", lambda m: clone(m)),
        ("pickle", lambda m: pickle.loads(pickle.dumps(m))),
        ("fit", lambda m: m.fit(X)),
    ]
    if hasattr(model, "predict_proba"):  # the classifier
        y = labels_of(X)
        return calls[:3] + [
            ("fit", lambda m: m.fit(X, y)),
            ("partial_fit", lambda m: m.partial_fit(X, y, classes=[0, 1])),
            *[(name, lambda m, n=name: getattr(m, n)(X)) for name in
              ("predict", "predict_proba", "decision_function", "transform")],
            ("log_likelihood", lambda m: m.log_likelihood(X, y)),
            ("log_partition", lambda m: m.log_partition("exact")),
            ("sample", lambda m: m.sample(2, n_steps=2)),
            ("get_feature_names_out", lambda m: m.get_feature_names_out()),
        ]
    if hasattr(model, "predict"):  # the outlier detector
        return calls + [(name, lambda m, n=name: getattr(m, n)(X)) for name in
                        ("score_samples", "decision_function", "predict", "fit_predict")]
    if type(model).__name__ == "RBMImputer":
        return calls + [("transform", lambda m: m.transform(X)),
                        ("fit_transform", lambda m: m.fit_transform(X)),
                        ("get_feature_names_out", lambda m: m.get_feature_names_out())]
    calls += [(name, lambda m, n=name: getattr(m, n)(X)) for name in
              ("partial_fit", "transform", "fit_transform", "score", "score_samples",
               "free_energy", "reconstruction_error")]
    gaps = with_gaps(X)
    calls += [
        ("warm_fit", lambda m: m.set_params(warm_start=True).fit(X)),
        ("gibbs", lambda m: m.gibbs(X[:3])),
        ("sample", lambda m: m.sample(2, n_steps=2)),
        ("log_partition_exact", lambda m: m.log_partition("exact")),
        ("log_partition_ais", lambda m: m.log_partition("ais", n_chains=2, n_betas=5)),
        ("log_partition_", lambda m: m.log_partition_),
        ("get_feature_names_out", lambda m: m.get_feature_names_out()),
        ("conditional_sample", lambda m: m.conditional_sample(gaps, n_steps=2)),
        ("conditional_marginals", lambda m: m.conditional_marginals(
            gaps, method="gibbs", n_chains=2, burn_in=1, n_sweeps=2)),
        ("observed_log_likelihood", lambda m: m.observed_log_likelihood(
            gaps, n_chains=2, n_betas=5)),
    ]
    return calls


def path_name(path):
    return ".".join(f"[{p}]" if isinstance(p, int) else p for p in path).replace(".[", "[")


def is_clear(error, path, call):
    """A clear exception type whose message names the attribute or an owner."""
    if not isinstance(error, CLEAR):
        return False
    if call in COPIES or type(error).__name__ == "DivergenceError":
        return True
    if "the steps diverged" in str(error):  # the classifier's divergence error
        return True
    message = str(error)
    return any(isinstance(step, str) and step.strip("_") and step.strip("_") in message
               for step in path)


class Worker:
    """Runs every case of one estimator and source, printing as it goes."""

    def __init__(self, estimator, source):
        import warnings

        warnings.simplefilter("ignore")  # divergence and convergence warnings are fine
        self.source = source
        self.model, self.X = fitted_model(estimator)
        self.model_bytes = pickle.dumps(self.model)  # copies: loads is the fastest
        # The detector: the fitted model inside it (its own attributes,
        # estimator_ and offset_, are checked elsewhere: see the module docstring).
        self.depth = 2 if estimator == "outlier" else 4
        self.nested_only = estimator == "outlier"
        self.counts = dict(cases=0, calls=0, refused=0, worked=0, unsaveable=0)
        self.directory = None

    def run(self):
        with tempfile.TemporaryDirectory() as self.directory:
            self.run_cases()

    def run_cases(self):
        for path in fitted_attributes(self.model, self.depth):
            if self.nested_only and len(path) == 1:
                continue
            for name, mutation in mutations(get_path(self.model, path)):
                if self.source == "skops" and name in ("noncontiguous", "readonly"):
                    continue  # a file stores arrays contiguous and loads them writeable
                self.case(path, name, mutation)
        print("SUMMARY " + " ".join(f"{k}={v}" for k, v in self.counts.items()), flush=True)

    def case(self, path, name, mutation):
        label = f"{path_name(path)}:{name}:{self.source}"
        print(f"CASE {label}", flush=True)
        model = mutate(self.model_bytes, path, mutation)
        if model is not None:
            self.counts["cases"] += 1
            loaded = self.from_source(model, path, label)
            if loaded is not None:
                for call_name, call in public_calls(loaded, self.X):
                    # Each call on its own copy of the mutated model.
                    fresh = (mutate(self.model_bytes, path, mutation)
                             if self.source == "assigned" else copy.deepcopy(loaded))
                    self.call(f"{label}:{call_name}", path, call, fresh)
        print(f"DONE {label}", flush=True)

    def from_source(self, model, path, label):
        """The mutated model as assigned, or saved to skops and loaded (None if refused)."""
        if self.source == "assigned":
            return model
        import skops.io as sio

        from rbm.persistence import load
        file = os.path.join(self.directory, "model.skops")
        try:
            sio.dump(model, file)
        except Exception:  # not representable in a skops file: nothing to load
            self.counts["unsaveable"] += 1
            return None
        loaded = []
        self.call(f"{label}:load", path, lambda _: loaded.append(load(file)), None)
        return loaded[0] if loaded else None

    def call(self, label, path, function, model):
        self.counts["calls"] += 1
        try:
            function(model)
        except Exception as error:  # noqa: BLE001 - the point is to see every one
            if is_clear(error, path, label.rsplit(":", 1)[1]):
                self.counts["refused"] += 1
            else:
                message = str(error).replace("\n", " ")[:300]
                print(f"UNCLEAR {label}: {type(error).__name__}: {message}", flush=True)
        else:
            self.counts["worked"] += 1


if __name__ == "__main__":
    started = time.perf_counter()
    Worker(*sys.argv[1:3]).run()
    print(f"seconds={time.perf_counter() - started:.1f}", file=sys.stderr)
