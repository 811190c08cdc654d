"""Saved and reloaded models behave exactly like the originals; skops loads them safely."""

import errno
import os
import pickle
import zipfile

import joblib
import numpy as np
import pytest
import skops.io as sio
from sklearn.base import BaseEstimator, TransformerMixin
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import MinMaxScaler

import rbm
from rbm import BernoulliRBM, RBMOutlierDetector
from rbm.cli import available_models
from rbm.persistence import load, save


def _data(model_name, rng):
    """60 x 6 training data in the domain of each model the command line knows."""
    if model_name == "bernoulli":
        return (rng.random((60, 6)) < [0.2, 0.8, 0.5, 0.3, 0.7, 0.1]).astype(np.float64)
    if model_name == "gaussian":
        return rng.standard_normal((60, 6))
    if model_name == "categorical":
        return rng.integers(0, 3, (60, 6)).astype(np.float64)
    raise KeyError(f"add training data for the new model {model_name!r} here")


@pytest.fixture(scope="module")
def X():
    return _data("bernoulli", np.random.default_rng(0))


#: Every model of the library (new ones join when rbm exports them).
MODEL_NAMES = sorted(available_models())


@pytest.fixture(params=MODEL_NAMES)
def model_and_data(request):
    X = _data(request.param, np.random.default_rng(0))
    model = available_models()[request.param](
        n_components=3, n_iter=3, batch_size=10, n_chains=7, learning_rate=0.01,
        random_state=0, n_jobs=1).fit(X)
    model.score(X)  # fills the log Z cache, which must survive the round trip
    model.gibbs(X)  # advances the gibbs streams, whose state must survive too
    return model, X


@pytest.fixture
def fitted(X):
    model = BernoulliRBM(n_components=3, n_iter=3, batch_size=10, n_chains=7,
                         random_state=0, n_jobs=1).fit(X)
    model.score(X)
    model.gibbs(X)
    return model


def _pickle(model, tmp_path):
    return pickle.loads(pickle.dumps(model))


def _joblib(model, tmp_path):
    joblib.dump(model, tmp_path / "model.joblib")
    return joblib.load(tmp_path / "model.joblib")


def _skops(model, tmp_path):
    sio.dump(model, tmp_path / "model.skops")
    return sio.load(tmp_path / "model.skops", trusted=rbm.trusted_types())


ROUND_TRIPS = {"pickle": _pickle, "joblib": _joblib, "skops": _skops}


@pytest.mark.parametrize("round_trip", ROUND_TRIPS.values(), ids=ROUND_TRIPS.keys())
def test_round_trip_gives_identical_results(round_trip, model_and_data, tmp_path):
    fitted, X = model_and_data
    loaded = round_trip(fitted, tmp_path)
    assert type(loaded) is type(fitted)
    assert loaded.get_params() == fitted.get_params()
    for name in ("components_", "intercept_hidden_", "intercept_visible_", "h_samples_"):
        np.testing.assert_array_equal(getattr(loaded, name), getattr(fitted, name))
    np.testing.assert_array_equal(loaded.transform(X), fitted.transform(X))
    np.testing.assert_array_equal(loaded.score_samples(X), fitted.score_samples(X))
    assert loaded.log_partition() == fitted.log_partition()
    np.testing.assert_array_equal(loaded.sample(5, n_steps=20, random_state=1),
                                  fitted.sample(5, n_steps=20, random_state=1))
    # Streams that had advanced before saving continue from the same state.
    np.testing.assert_array_equal(loaded.gibbs(X), fitted.gibbs(X))


@pytest.mark.parametrize("round_trip", ROUND_TRIPS.values(), ids=ROUND_TRIPS.keys())
def test_training_continues_identically_after_a_round_trip(round_trip, model_and_data,
                                                           tmp_path):
    fitted, X = model_and_data
    loaded = round_trip(fitted, tmp_path)
    loaded.partial_fit(X)
    fitted.partial_fit(X)
    np.testing.assert_array_equal(loaded.components_, fitted.components_)
    np.testing.assert_array_equal(loaded.h_samples_, fitted.h_samples_)


def test_every_model_needs_only_trusted_types(model_and_data):
    fitted, _ = model_and_data
    untrusted = sio.get_untrusted_types(data=sio.dumps(fitted))
    assert set(untrusted) <= set(rbm.trusted_types())
    assert f"{type(fitted).__module__}.{type(fitted).__qualname__}" in untrusted


def test_trusted_types_are_exactly_what_a_saved_model_needs(fitted, X):
    detector = RBMOutlierDetector(BernoulliRBM(n_components=2, n_iter=1, random_state=0),
                                  contamination=0.2).fit(X)
    untrusted = set()
    for obj in (fitted, detector, make_pipeline(MinMaxScaler(), fitted)):
        untrusted |= set(sio.get_untrusted_types(data=sio.dumps(obj)))
    assert untrusted <= set(rbm.trusted_types())
    assert untrusted == {"rbm._streams.ChainStreams", "rbm._state.TrainingState",
                         "rbm._units.bernoulli.BernoulliVisible",
                         "rbm._units.bernoulli_hidden.BernoulliHidden",
                         "rbm._bernoulli.BernoulliRBM", "rbm.outlier.RBMOutlierDetector"}
    # Every public estimator class of the package is listed.
    for name in rbm.__all__:
        obj = getattr(rbm, name)
        if isinstance(obj, type) and issubclass(obj, BaseEstimator):
            assert f"{obj.__module__}.{obj.__qualname__}" in rbm.trusted_types()


def test_skops_refuses_the_model_without_trusted_types(fitted, tmp_path):
    sio.dump(fitted, tmp_path / "model.skops")
    with pytest.raises(Exception, match="Untrusted types"):
        sio.load(tmp_path / "model.skops", trusted=[])


def test_outlier_detector_round_trips_through_skops(X, tmp_path):
    detector = RBMOutlierDetector(BernoulliRBM(n_components=2, n_iter=2, random_state=0),
                                  contamination=0.2).fit(X)
    loaded = _skops(detector, tmp_path)
    assert loaded.offset_ == detector.offset_
    np.testing.assert_array_equal(loaded.decision_function(X), detector.decision_function(X))


@pytest.mark.parametrize("suffix", [".skops", ".joblib", ".pkl"])
def test_save_and_load_by_suffix(suffix, fitted, X, tmp_path):
    path = tmp_path / f"model{suffix}"
    save(make_pipeline(MinMaxScaler().fit(X), fitted), path)  # binary X: scaling is the identity
    loaded = load(path)
    np.testing.assert_array_equal(loaded.score_samples(X), fitted.score_samples(X))


class _Custom(TransformerMixin, BaseEstimator):
    """A type skops does not know: a file holding it must not load silently."""

    def fit(self, X, y=None):
        return self

    def transform(self, X):
        return X


def test_load_refuses_types_it_does_not_trust_and_names_them(fitted, tmp_path):
    path = tmp_path / "model.skops"
    save(make_pipeline(_Custom(), fitted), path)
    with pytest.raises(ValueError, match="_Custom"):
        load(path)
    loaded = load(path, trusted=rbm.trusted_types() + [f"{__name__}._Custom"])
    assert isinstance(loaded.steps[0][1], _Custom)


def test_save_and_load_reject_unknown_suffixes_and_missing_files(fitted, tmp_path):
    with pytest.raises(ValueError, match=r"\.skops"):
        save(fitted, tmp_path / "model.txt")
    with pytest.raises(FileNotFoundError, match="no such file"):
        load(tmp_path / "absent.skops")


def test_load_says_a_mistyped_name_is_missing_and_a_wrong_suffix_is_read(fitted, tmp_path):
    # "model.skop" (a typo) was "cannot tell how to store a model in ...":
    # load stores nothing, and the file is not there.
    with pytest.raises(FileNotFoundError, match="no such file: .*model.skop'"):
        load(tmp_path / "model.skop")
    (tmp_path / "data.csv").write_text("1,0\n")
    with pytest.raises(ValueError, match=r"cannot tell how to read a model from .*\.skops"):
        load(tmp_path / "data.csv")


def test_load_says_a_folder_is_a_folder(tmp_path):
    # A folder (a model saved under "models/" and the folder given) read
    # "no such file: 'models'", though it is there.
    (tmp_path / "models.skops").mkdir()
    with pytest.raises(IsADirectoryError, match="'.*models.skops' is a folder, not a saved "
                                                "model; give the model's file"):
        load(tmp_path / "models.skops")


def _schema_bytes(path):
    """Size of the JSON schema inside a .skops file (one node per stored Python object)."""
    with zipfile.ZipFile(path) as archive:
        return archive.getinfo("schema.json").file_size


def test_a_saved_skops_file_does_not_grow_node_by_node_with_the_epochs(X, tmp_path):
    """Issue 21, point 19: history_'s lists were stored one skops node per
    value, so a 300-epoch model's .skops file was 14x its joblib file (and its
    loading parsed every node).  Saved by ``save``, the schema holds the same
    nodes whatever the number of epochs, and compression makes the whole file
    no larger than joblib's."""
    short = BernoulliRBM(n_components=3, n_iter=3, random_state=0, n_jobs=1).fit(X)
    long = BernoulliRBM(n_components=3, n_iter=300, random_state=0, n_jobs=1).fit(X)
    for model, name in ((short, "short"), (long, "long")):
        save(model, tmp_path / f"{name}.skops")
    # Without save's measures, skops' own dump stores each value as a node.
    sio.dump(long, tmp_path / "plain.skops")
    assert _schema_bytes(tmp_path / "plain.skops") > 5 * _schema_bytes(tmp_path / "short.skops")
    # With them, the schema differs only in the digits of a few scalars.
    assert abs(_schema_bytes(tmp_path / "long.skops")
               - _schema_bytes(tmp_path / "short.skops")) < 200
    save(long, tmp_path / "long.joblib")
    assert (tmp_path / "long.skops").stat().st_size <= (tmp_path / "long.joblib").stat().st_size


def test_save_leaves_the_model_alone_and_load_gives_the_history_back(X, tmp_path):
    model = BernoulliRBM(n_components=3, n_iter=4, random_state=0, n_jobs=1).fit(X)
    pipeline = make_pipeline(MinMaxScaler().fit(X), model)
    history = {name: list(values) for name, values in model.history_.items()}
    save(pipeline, tmp_path / "model.skops")
    assert pipeline.steps[1][1] is model and model.history_ == history  # untouched
    loaded = load(tmp_path / "model.skops")[-1]
    assert list(loaded.history_) == list(history)
    for name, values in history.items():
        assert type(loaded.history_[name]) is list
        assert [type(v) for v in loaded.history_[name]] == [type(v) for v in values]
        np.testing.assert_array_equal(loaded.history_[name], values)  # NaN == NaN here


@pytest.mark.parametrize("cut", ["members", "middle"])
def test_a_skops_file_that_lost_bytes_is_called_corrupt_not_an_os_error(fitted, tmp_path, cut):
    # Bytes lost before the archive's directory (a partial copy, a file
    # spliced by hand) make zipfile seek to a negative offset: load raised a
    # bare "OSError: [Errno 22] Invalid argument", naming neither the file
    # nor what is wrong with it, where its docstring promises a ValueError.
    path = tmp_path / "model.skops"
    save(fitted, path)
    data = path.read_bytes()
    with zipfile.ZipFile(path) as archive:
        directory = archive.start_dir
    damaged = tmp_path / "damaged.skops"
    damaged.write_bytes(data[directory:] if cut == "members" else data[:10] + data[40:])
    with pytest.raises(ValueError, match=r"'.*damaged.skops' is not a complete saved model: "
                                         r"the file is truncated, corrupt.*Errno 22") as info:
        load(damaged)
    assert isinstance(info.value.__cause__, OSError)


def test_a_file_that_cannot_be_read_is_the_operating_systems_error(tmp_path):
    # Only EINVAL from inside the decoder means a corrupt file: a read error
    # (a failing disk, a permission) is still the operating system's.
    import errno

    from rbm.persistence import _deserialized

    def failing_read(path):
        raise OSError(errno.EIO, "Input/output error")

    with pytest.raises(OSError, match="Input/output error") as info:
        _deserialized(tmp_path / "model.skops", failing_read)
    assert type(info.value) is OSError


@pytest.mark.parametrize("how", ["partial_fit", "warm_start"])
def test_a_file_save_wrote_trains_on_when_skops_itself_loads_it(X, tmp_path, how):
    # save() stores history_'s columns as arrays (one skops node each) and
    # load() turns them back into lists; a .skops file is meant for others,
    # who load it with skops.io.load(path, trusted=rbm.trusted_types()) as
    # the module says.  The model so loaded transformed and scored, but
    # partial_fit and a warm-started fit refused it: "history_ must be a
    # dict of equally long lists ... refit the model".
    model = BernoulliRBM(n_components=3, n_iter=3, random_state=0, n_jobs=1).fit(X)
    save(model, tmp_path / "model.skops")
    loaded = sio.load(tmp_path / "model.skops", trusted=rbm.trusted_types())
    assert isinstance(loaded.history_["epoch"], np.ndarray)  # the case in question
    for estimator in (model, loaded):
        if how == "partial_fit":
            estimator.partial_fit(X)
        else:
            estimator.set_params(warm_start=True, n_iter=2).fit(X)
    np.testing.assert_array_equal(loaded.components_, model.components_)
    assert loaded.n_iter_ == model.n_iter_
    assert list(loaded.history_) == list(model.history_)
    for name, values in model.history_.items():
        assert type(loaded.history_[name]) is list, name
        assert len(loaded.history_[name]) == len(values), name
        if name != "seconds":  # (timings differ from run to run)
            np.testing.assert_array_equal(loaded.history_[name], values, err_msg=name)


@pytest.mark.parametrize("kind", ["model", "classifier_in_pipeline"])
def test_a_memory_mapped_model_saved_as_skops_loads_again(X, tmp_path, kind):
    # A model that joblib.load(..., mmap_mode="r") mapped holds numpy.memmap
    # arrays, which skops stores with their class: save() wrote a file that
    # load() refused ("holds types that are not trusted: numpy.memmap"), and
    # trusting that type would not help (skops calls numpy.memmap(array)).
    from rbm import RBMClassifier
    if kind == "model":
        fitted = BernoulliRBM(n_components=3, n_iter=2, random_state=0, n_jobs=1).fit(X)
    else:
        y = np.array(["no", "yes"])[(X[:, 0] > 0.5).astype(int)]
        fitted = make_pipeline(MinMaxScaler(), RBMClassifier(
            n_components=3, n_iter=2, random_state=0)).fit(X, y)
    joblib.dump(fitted, tmp_path / "model.joblib")
    mapped = joblib.load(tmp_path / "model.joblib", mmap_mode="r")
    model = mapped[-1] if kind != "model" else mapped
    assert isinstance(model.components_, np.memmap)
    save(mapped, tmp_path / "model.skops")
    assert isinstance(model.components_, np.memmap)  # the caller's model is left alone
    assert "numpy.memmap" not in sio.get_untrusted_types(file=tmp_path / "model.skops")
    loaded = load(tmp_path / "model.skops")
    loaded_model = loaded[-1] if kind != "model" else loaded
    assert type(loaded_model.components_) is np.ndarray
    np.testing.assert_array_equal(loaded.transform(X), fitted.transform(X))
    if kind == "model":
        np.testing.assert_array_equal(loaded.score_samples(X), fitted.score_samples(X))
    else:
        np.testing.assert_array_equal(loaded.predict_proba(X), fitted.predict_proba(X))


@pytest.mark.parametrize("saved_as, renamed_to, hint", [
    (".skops", ".joblib", r"It is a zip archive, as \.skops files are: rename it to end in "
                          r"\.skops\."),
    (".joblib", ".skops", r"It is a pickle, as \.joblib and \.pkl files are"),
    (".pkl", ".skops", r"It is a pickle, as \.joblib and \.pkl files are"),
])
def test_a_model_file_under_another_formats_suffix_is_named_as_what_it_is(
        fitted, tmp_path, saved_as, renamed_to, hint):
    # A sound model file renamed to another format's suffix (a .skops file
    # sent as model.joblib) was "truncated, corrupt or not a model file",
    # which sends the user to save the model again.  A pickle named .skops is
    # still not read as one: loading a pickle runs its code.
    save(fitted, tmp_path / f"model{saved_as}")
    (tmp_path / f"model{saved_as}").rename(tmp_path / f"renamed{renamed_to}")
    with pytest.raises(ValueError, match=hint):
        load(tmp_path / f"renamed{renamed_to}")


def test_a_damaged_file_gets_no_format_hint(fitted, tmp_path):
    save(fitted, tmp_path / "model.joblib")
    (tmp_path / "model.joblib").write_bytes((tmp_path / "model.joblib").read_bytes()[:100])
    with pytest.raises(ValueError, match=r"not a complete saved model") as info:
        load(tmp_path / "model.joblib")
    assert "It is a" not in str(info.value)


_SAVE_OVER_THE_MAPPED_FILE = """
import sys
import joblib
import numpy as np
from rbm import BernoulliRBM
from rbm.persistence import load, save
path, train = sys.argv[1], sys.argv[2] == "train"
X = (np.random.default_rng(0).random((300, 400)) < 0.4).astype(float)
joblib.dump(BernoulliRBM(n_components=200, n_iter=1, random_state=0, n_jobs=1).fit(X), path)
mapped = joblib.load(path, mmap_mode="r")
if train:
    mapped.partial_fit(X)
expected = mapped.transform(X)
save(mapped, path)
np.testing.assert_array_equal(load(path).transform(X), expected)
np.testing.assert_array_equal(mapped.transform(X), expected)  # its mapping is intact
print("saved")
"""


@pytest.mark.parametrize("train", ["train", "as_loaded"])
def test_a_memory_mapped_model_saved_over_its_own_file(tmp_path, train):
    # Loaded with joblib.load(path, mmap_mode="r") and saved back to the same
    # path (after a partial_fit, say), the model's arrays are mapped from the
    # file save truncated and wrote into: the process died of SIGBUS.  save
    # now writes a new file and moves it over the old one.
    import subprocess
    import sys
    from pathlib import Path
    root = Path(__file__).resolve().parents[1]
    run = subprocess.run([sys.executable, "-c", _SAVE_OVER_THE_MAPPED_FILE,
                          str(tmp_path / "model.joblib"), train],
                         capture_output=True, text=True, timeout=300, cwd=root,
                         env={**__import__("os").environ, "PYTHONPATH": str(root)})
    assert run.returncode == 0, (run.returncode, run.stderr[-2000:])
    assert run.stdout.strip() == "saved"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["model.joblib"]  # no leftovers


@pytest.mark.parametrize("suffix", [".pkl", ".joblib", ".skops"])
def test_a_failed_save_leaves_the_file_it_would_replace(fitted, X, tmp_path, suffix):
    # save opened the file for writing first: an object it could not store
    # left the model saved there before truncated or half written.
    path = tmp_path / f"model{suffix}"
    save(fitted, path)
    before = path.read_bytes()
    unstorable = make_pipeline(MinMaxScaler(), fitted)
    unstorable.steps[0][1].clip = (i for i in range(3))  # neither pickle nor skops stores it
    with pytest.raises(Exception):
        save(unstorable, path)
    assert path.read_bytes() == before
    assert sorted(p.name for p in tmp_path.iterdir()) == [path.name]
    np.testing.assert_array_equal(load(path).transform(X), fitted.transform(X))


@pytest.mark.parametrize("trust_memmap", [False, True])
def test_a_skops_file_of_memmaps_says_how_to_save_it_again(X, tmp_path, trust_memmap):
    # skops.io.dump of a model memory-mapped by joblib stores numpy.memmap
    # arrays that skops cannot rebuild: load said to trust the type, and
    # trusted it failed as "truncated, corrupt or not a model file
    # (TypeError: expected str, bytes or os.PathLike object, not ndarray)".
    joblib.dump(BernoulliRBM(n_components=3, n_iter=2, random_state=0, n_jobs=1).fit(X),
                tmp_path / "model.joblib")
    sio.dump(joblib.load(tmp_path / "model.joblib", mmap_mode="r"), tmp_path / "model.skops")
    trusted = rbm.trusted_types() + ["numpy.memmap"] if trust_memmap else None
    with pytest.raises(ValueError, match=r"holds numpy\.memmap arrays, which skops cannot "
                                         r"rebuild.*rbm\.persistence\.save"):
        load(tmp_path / "model.skops", trusted=trusted)


def test_save_writes_in_place_where_the_folder_takes_no_new_files(fitted, X, tmp_path,
                                                                  monkeypatch):
    # save writes a new file beside the old one and moves it over; a folder
    # the user may not add files to, holding a file they may write, is
    # still written as before (in place) rather than refused.
    import builtins

    import rbm.persistence as persistence
    path = tmp_path / "model.pkl"
    save(BernoulliRBM(n_components=2, n_iter=1, random_state=1, n_jobs=1).fit(X), path)

    def no_new_files(name, mode="r", *args, **kwargs):
        if "x" in mode:
            raise PermissionError(13, "Permission denied", name)
        return builtins.open(name, mode, *args, **kwargs)

    monkeypatch.setattr(persistence, "open", no_new_files, raising=False)
    save(fitted, path)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["model.pkl"]
    np.testing.assert_array_equal(load(path).transform(X), fitted.transform(X))
    with pytest.raises(PermissionError, match="other.pkl"):
        save(fitted, tmp_path / "other.pkl")


def test_save_refuses_a_file_the_user_may_not_write(fitted, X, tmp_path, monkeypatch):
    # Written beside and moved over, a model file made read-only to keep it
    # was replaced, where open(path, "wb") had refused.  (The tests may run
    # as root, who may write anything: the permission is asked of os.access.)
    import rbm.persistence as persistence
    path = tmp_path / "kept.pkl"
    save(BernoulliRBM(n_components=2, n_iter=1, random_state=1, n_jobs=1).fit(X), path)
    before = path.read_bytes()
    real_access = os.access
    monkeypatch.setattr(persistence.os, "access", lambda name, mode: (
        False if mode == os.W_OK and os.path.realpath(name) == str(path.resolve())
        else real_access(name, mode)))
    with pytest.raises(PermissionError, match="kept.pkl"):
        save(fitted, path)
    assert path.read_bytes() == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["kept.pkl"]


@pytest.mark.parametrize("code", [errno.EBUSY, errno.EPERM])
def test_save_writes_in_place_where_the_name_cannot_be_moved_onto(fitted, X, tmp_path,
                                                                 monkeypatch, code):
    # A file mounted on its own into a container (EBUSY) or another user's
    # writable file in a sticky folder (EPERM) cannot be replaced by a move;
    # open(path, "wb") wrote it, and save still does.
    import rbm.persistence as persistence
    path = tmp_path / "mounted.joblib"
    save(BernoulliRBM(n_components=2, n_iter=1, random_state=1, n_jobs=1).fit(X), path)

    def refused(source, destination):
        raise OSError(code, os.strerror(code), destination)

    monkeypatch.setattr(persistence.os, "replace", refused)
    save(fitted, path)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["mounted.joblib"]  # no leftovers
    np.testing.assert_array_equal(load(path).transform(X), fitted.transform(X))


@pytest.mark.parametrize("suffix", [".pkl", ".joblib", ".skops"])
def test_save_puts_the_new_file_on_disk_before_moving_it_over_the_old(fitted, tmp_path,
                                                                      monkeypatch, suffix):
    # Moved over the old model before its data reached the disk, a power cut
    # could leave the name holding an empty file on file systems that write
    # metadata first: the new file is synced (fsync) before the move.
    import rbm.persistence as persistence
    events = []
    real_fsync, real_replace = os.fsync, os.replace

    def fsync(descriptor):
        events.append(("fsync", os.fstat(descriptor).st_size))
        real_fsync(descriptor)

    def replace(source, destination):
        events.append(("replace", os.path.getsize(source)))
        real_replace(source, destination)

    monkeypatch.setattr(persistence.os, "fsync", fsync)
    monkeypatch.setattr(persistence.os, "replace", replace)
    save(fitted, tmp_path / f"model{suffix}")
    size = (tmp_path / f"model{suffix}").stat().st_size
    assert events == [("fsync", size), ("replace", size)]


@pytest.mark.parametrize("code", [errno.EINVAL, errno.ENOTSUP, errno.EBADF])
def test_save_goes_on_where_the_file_system_does_not_sync(fitted, X, tmp_path, monkeypatch,
                                                          code):
    # Some FUSE and network mounts answer fsync with EINVAL or ENOTSUP (and
    # Windows a read-only handle with EBADF): saving worked there before
    # save synced, and still does.
    import rbm.persistence as persistence

    def unsupported(descriptor):
        raise OSError(code, os.strerror(code))

    monkeypatch.setattr(persistence.os, "fsync", unsupported)
    save(fitted, tmp_path / "model.pkl")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["model.pkl"]
    np.testing.assert_array_equal(load(tmp_path / "model.pkl").transform(X), fitted.transform(X))


def test_a_save_whose_data_did_not_reach_the_disk_fails_and_keeps_the_old_file(fitted, X,
                                                                              tmp_path,
                                                                              monkeypatch):
    import rbm.persistence as persistence
    path = tmp_path / "model.pkl"
    save(BernoulliRBM(n_components=2, n_iter=1, random_state=1, n_jobs=1).fit(X), path)
    before = path.read_bytes()

    def failed(descriptor):
        raise OSError(errno.EIO, os.strerror(errno.EIO))

    monkeypatch.setattr(persistence.os, "fsync", failed)
    with pytest.raises(OSError, match="Input/output error"):
        save(fitted, path)
    assert path.read_bytes() == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["model.pkl"]


@pytest.mark.parametrize("name, obj", [("dict.pkl", {"components_": [1.0]}),
                                       ("array.joblib", np.arange(3.0)), ("int.pickle", 5),
                                       ("list.skops", [1, 2])])
def test_a_file_of_something_other_than_an_estimator_is_refused(tmp_path, name, obj):
    # load returned the dict, array or number as "the loaded estimator", to
    # fail later far from the file.
    path = tmp_path / name
    with pytest.raises(ValueError, match=rf"save takes a model .*got {'an' if name[0] == 'i' else 'a'} "
                                         rf"{type(obj).__name__}, which load would refuse"):
        save(obj, path)
    assert not path.exists()
    if name.endswith(".skops"):
        sio.dump(obj, path)
    else:
        joblib.dump(obj, path)
    kind = type(obj).__name__
    article = "an" if kind == "int" else "a"
    with pytest.raises(ValueError, match=rf"'.*{name}' holds {article} {kind}, not a saved "
                                         r"model \(an estimator such as BernoulliRBM"):
        load(path)


def test_a_pipeline_and_a_foreign_estimator_still_load(tmp_path, X):
    pipeline = make_pipeline(MinMaxScaler(), BernoulliRBM(n_components=2, n_iter=1,
                                                          random_state=0)).fit(X)
    save(pipeline, tmp_path / "pipeline.pkl")
    assert type(load(tmp_path / "pipeline.pkl")) is type(pipeline)
    save(MinMaxScaler().fit(X), tmp_path / "scaler.joblib")
    assert isinstance(load(tmp_path / "scaler.joblib"), MinMaxScaler)


def test_a_damaged_model_inside_a_frozen_estimator_is_named_on_load(X, tmp_path):
    # load checks the fitted models inside a file; one a FrozenEstimator wraps
    # (inside a detector, as scikit-learn's prefit idiom) went unchecked.
    from sklearn.frozen import FrozenEstimator
    model = BernoulliRBM(n_components=3, n_iter=1, random_state=0).fit(X)
    detector = RBMOutlierDetector(FrozenEstimator(model)).fit(X)
    model.intercept_hidden_ = np.zeros(7)
    save(detector, tmp_path / "detector.joblib")
    with pytest.raises(ValueError, match=r"intercept_hidden_ has shape \(7,\), but this model "
                                         r"needs \(3,\)"):
        load(tmp_path / "detector.joblib")
