"""Saving and loading models: pickle and joblib for yourself, skops for others.

A pickle (or joblib) file runs arbitrary code when it is loaded, so load only
files you made.  To exchange models, save them with ``skops.io.dump`` and load
them with ``skops.io.load(path, trusted=rbm.trusted_types())``: skops rebuilds
only the types it is told to trust, and :func:`trusted_types` names the few
this library adds to the numpy and scikit-learn types skops already trusts.

>>> import skops.io                                   # doctest: +SKIP
>>> skops.io.dump(model, "model.skops")               # doctest: +SKIP
>>> model = skops.io.load("model.skops", trusted=rbm.trusted_types())  # doctest: +SKIP
"""

import contextlib
import copy
import errno
import io
import os
import pickle
import shutil
import types
import uuid
import zipfile
from pathlib import Path

import joblib
import numpy as np

from ._base import BaseRBM
from ._state import TrainingState, check_fitted_state
from ._streams import ChainStreams
from ._training import history_with_lists
from ._units import HIDDEN_TYPES, BernoulliVisible, CategoricalVisible, GaussianVisible
from .classifier import JointChains, RBMClassifier
from .impute import RBMImputer
from .outlier import RBMOutlierDetector

#: File suffixes :func:`save` and :func:`load` understand.
SUFFIXES = (".skops", ".pkl", ".pickle", ".joblib")

#: How :func:`save` compresses a .skops file (a zip archive): skops stores
#: it uncompressed by default (its JSON schema compresses about 15-fold).
SKOPS_COMPRESSION = {"compression": zipfile.ZIP_DEFLATED, "compresslevel": 6}


def _rbm_subclasses(cls):
    """Every subclass of cls, recursively, defined inside this package."""
    found = []
    for sub in cls.__subclasses__():
        if sub.__module__.split(".")[0] == "rbm":
            found.append(sub)
        found.extend(_rbm_subclasses(sub))
    return found


def _qualified_name(cls):
    return f"{cls.__module__}.{cls.__qualname__}"


def trusted_types():
    """Names of this library's types, for ``skops.io.load(..., trusted=...)``.

    skops trusts numpy and scikit-learn types by default; a saved model of
    this library also holds its estimator class, its layer objects
    (``rbm._units``), its training state (``rbm._state.TrainingState``) and
    the random streams of its chains (``rbm._streams.ChainStreams``, stored
    as plain integers and arrays; ``rbm.classifier.JointChains`` for
    ``RBMClassifier``).  Those, every model, the outlier detector and the
    imputer are listed, and nothing else.

    Returns
    -------
    names : list of str
        Fully qualified type names, sorted.

    Examples
    --------
    >>> import rbm
    >>> "rbm._bernoulli.BernoulliRBM" in rbm.trusted_types()
    True
    """
    types = [ChainStreams, TrainingState, BernoulliVisible, GaussianVisible,
             CategoricalVisible, *HIDDEN_TYPES.values(), RBMOutlierDetector, RBMClassifier,
             JointChains, RBMImputer, *_rbm_subclasses(BaseRBM)]
    return sorted({_qualified_name(t) for t in types})


def check_suffix(path, action="store a model in"):
    """The lower-case suffix of path; ValueError unless save and load know it.

    ``action`` completes "cannot tell how to ..." in the message (``load``
    reads, it does not store)."""
    suffix = Path(path).suffix.lower()
    if suffix not in SUFFIXES and Path(path).name.lower() in SUFFIXES:
        # (".skops" is a hidden file's whole name, without a suffix)
        raise ValueError(
            f"cannot tell how to {action} {str(path)!r}: {Path(path).name!r} is a suffix "
            f"without a name before it; name the file, e.g. model{Path(path).name}."
        )
    if suffix not in SUFFIXES:
        raise ValueError(
            f"cannot tell how to {action} {str(path)!r}: use a file name "
            f"ending in {', '.join(SUFFIXES)}."
        )
    return suffix


def _skops_io():
    try:
        import skops.io
    except ImportError as error:
        raise ImportError(
            "saving and loading .skops files needs skops: pip install rbm[skops]"
        ) from error
    return skops.io


def save(model, path):
    """Save a model (or any estimator, e.g. a Pipeline) in the format its suffix names.

    Parameters
    ----------
    model : object
        The fitted estimator.
    path : str or path-like
        Ends in ``.skops`` (safe to share), ``.joblib``, ``.pkl`` or ``.pickle``.

    Notes
    -----
    A .skops file is compressed (``SKOPS_COMPRESSION``), and each density
    model's ``history_``, at any depth of ``model``, is stored as one array
    per column, which :func:`load`
    turns back into lists.  skops writes every list element as a node of
    its schema: with lists, a 300-epoch model's file is 1,007 KB and
    took 0.017-0.039 s to load, against 43 KB and 0.008-0.009 s (digits,
    20 hidden units; the joblib file is 69 KB; 2026-12-06, shared 2-core
    machine).  A model memory-mapped by
    ``joblib.load(path, mmap_mode=...)`` is stored with plain arrays
    (``_without_memmaps``): skops cannot load ``numpy.memmap`` back.

    Raises ValueError for anything but an estimator (an object with
    ``fit`` and ``get_params``), which :func:`load` would refuse.
    """
    if not _is_estimator(model):
        name = type(model).__name__
        raise ValueError(
            f"save takes a model (an estimator such as BernoulliRBM, or a Pipeline), got "
            f"{_article(name)} {name}, which load would refuse; save other objects with "
            "pickle or joblib themselves.")
    suffix = check_suffix(path)
    if suffix == ".skops":
        sio = _skops_io()
        _write_then_move(path, lambda target: sio.dump(
            _with_compact_history(_without_memmaps(model)), target, **SKOPS_COMPRESSION))
    elif suffix == ".joblib":
        _write_then_move(path, lambda target: joblib.dump(model, target))
    else:
        def write(target):
            with open(target, "wb") as f:
                pickle.dump(model, f, protocol=pickle.HIGHEST_PROTOCOL)
        _write_then_move(path, write)


def _write_then_move(path, write):
    """``write(name)`` of a new file beside ``path``, then that file moved to ``path``.

    Writing ``path`` in place truncates it first: a model memory-mapped
    from it (``joblib.load(path, mmap_mode="r")``, then saved back) lost
    the pages under its arrays and killed the process with SIGBUS, and a
    save that failed halfway left neither the old model nor the new one.
    ``os.replace`` swaps the names at once; the old file lives on for as
    long as a mapping of it does.  The new file gets the old one's
    permissions (or the default ones); a link at ``path`` is followed.  A
    file the user may not write is refused, as ``open(path, "wb")`` refused
    it (the move would replace it all the same).  Where the folder takes no
    new files, or the name cannot be moved onto (a file mounted on its own
    into a container, another user's file in a sticky folder), a writable
    file is written in place, as before.
    """
    target = os.path.realpath(path)
    if os.path.isdir(target):  # (os.replace would name the new file's temporary name)
        raise IsADirectoryError(errno.EISDIR, "Is a directory", str(path))
    if os.path.exists(target) and not os.access(target, os.W_OK):
        raise PermissionError(errno.EACCES, "Permission denied", str(path))
    folder, suffix = os.path.dirname(target), Path(target).suffix
    # Short: a name near the file system's limit must not overflow it.
    temporary = os.path.join(folder, f".rbm-{uuid.uuid4().hex[:12]}{suffix}")
    try:
        open(temporary, "xb").close()  # the default permissions, as open(path) gives
    except PermissionError:
        _write_in_place(path, target, write)  # a folder closed to new files
        return
    except OSError as error:  # no such folder, ...: say it of the path asked
        raise type(error)(error.errno, error.strerror, str(path)) from None
    try:
        write(temporary)
        _flush_to_disk(temporary)
        if os.path.exists(target):
            shutil.copymode(target, temporary)
        os.replace(temporary, target)
    except OSError as error:
        with contextlib.suppress(OSError):
            os.remove(temporary)
        if error.errno not in (errno.EBUSY, errno.EPERM, errno.EXDEV):
            raise _naming_the_file(error, path) from error
        _write_in_place(path, target, write)  # the name cannot be moved onto
    except BaseException:
        with contextlib.suppress(OSError):
            os.remove(temporary)
        raise


#: What ``fsync`` says where a file system or platform does not sync (some
#: FUSE and network mounts; a descriptor without write access on Windows):
#: the save goes on without it, as it did before it synced.
_SYNC_UNSUPPORTED = {errno.EINVAL, errno.ENOTSUP, errno.EOPNOTSUPP, errno.EBADF}


def _flush_to_disk(name):
    """Wait until the file's contents are on disk, before it is moved over the
    old one: otherwise a power cut soon after the move can leave the name
    holding an empty or partial file on file systems that write data after
    metadata, where the old model would have survived.  Where syncing is
    not supported, nothing; a failed sync (EIO: the data did not reach the
    disk) fails the save, and the old file is kept."""
    with open(name, "rb+") as f:  # (write access: Windows syncs no read-only handle)
        try:
            os.fsync(f.fileno())
        except OSError as error:
            if error.errno not in _SYNC_UNSUPPORTED:
                raise


def _naming_the_file(error, path):
    """A write's OSError that names the file it was writing: a full disk said
    "[Errno 28] No space left on device" of no file, and NumPy's short write
    only "35940 requested and 7152 written"."""
    if error.errno is None:
        return OSError(f"could not write {str(path)!r}: {error} (a short write: is the disk "
                       "full?)")
    return type(error)(error.errno, error.strerror, str(path))


def _write_in_place(path, target, write):
    """``write(target)`` where ``target`` is a writable file (else PermissionError)."""
    if not (os.path.isfile(target) and os.access(target, os.W_OK)):
        raise PermissionError(errno.EACCES, "Permission denied", str(path))
    write(target)


class _MemmapsAsArrays(pickle.Pickler):
    """Pickles each ``numpy.memmap`` as the plain ndarray viewing its memory;
    ``found`` says whether it met one."""

    found = False

    def reducer_override(self, obj):
        if isinstance(obj, np.memmap):
            self.found = True
            return _same, (obj.view(np.ndarray),)
        return NotImplemented


def _same(value):
    return value


def _without_memmaps(obj):
    """obj, or, where it holds ``numpy.memmap`` arrays, a copy holding plain
    ndarrays that view the same memory.

    A model that ``joblib.load(path, mmap_mode="r")`` mapped holds memmaps,
    and skops stores each array with its class: ``numpy.memmap`` is not a
    type it trusts, and trusted it would be rebuilt as ``numpy.memmap(array)``,
    which takes the array for a file name.  The copy is a pickle round trip
    with the arrays' data out of band, so it copies no parameters; a model
    without memmaps costs one such pickling pass (no data copied) and is
    returned as it is.
    """
    stream, buffers = io.BytesIO(), []
    pickler = _MemmapsAsArrays(stream, protocol=5, buffer_callback=buffers.append)
    try:
        pickler.dump(obj)
    except Exception:  # not picklable (skops may still store it, or say why not)
        return obj
    if not pickler.found:
        return obj
    return pickle.loads(stream.getvalue(), buffers=buffers)


def _with_compact_history(obj):
    """obj, or a copy whose fitted density models, at any depth, hold
    ``history_`` as arrays.

    The models are found along the walk :func:`load` checks them on
    (``_parts``: a pipeline's steps, an imputer's or a detector's model, a
    ColumnTransformer's, a search's ``best_estimator_``, ...); only the
    containers and objects on the way to such a model are copied (shallow),
    so the caller's objects are left as they are and the parameters are
    shared.  A structure too deep to walk, or an object that cannot be
    copied, is stored as it is: its histories are then lists, which load
    all the same (only larger and slower).
    """
    try:
        return _compacted(obj, {})
    except (RecursionError, TypeError, copy.Error):
        return obj


def _compacted(item, memo):
    """``_with_compact_history`` of item; ``memo`` maps the id of each item met
    to its result, so that a shared model gets one copy and a structure that
    refers back to itself ends."""
    if id(item) in memo:
        return memo[id(item)]
    memo[id(item)] = item
    if isinstance(item, BaseRBM):
        result = _rbm_with_compact_history(item)
    elif isinstance(item, RBMClassifier):  # its history_ is saved as it is (see _checked)
        result = item
    else:
        result = _with_changed_parts(item, memo)
    memo[id(item)] = result
    return result


def _rbm_with_compact_history(model):
    if not isinstance(getattr(model, "history_", None), dict):
        return model
    twin = copy.copy(model)
    twin.history_ = {name: _numeric_array_or(values) for name, values in
                     model.history_.items()}
    return twin


def _with_changed_parts(item, memo):
    """item, or a shallow copy of it in which each of its ``_parts`` is replaced
    by its ``_compacted`` result, where any differs."""
    changed = {key: new for key, value in _parts(item)
               for new in [_compacted(value, memo)] if new is not value}
    if not changed:
        return item
    if isinstance(item, tuple):
        values = [changed.get(i, value) for i, value in enumerate(item)]
        return type(item)(*values) if hasattr(item, "_fields") else type(item)(values)
    twin = copy.copy(item)
    target = twin if isinstance(twin, (dict, list)) else vars(twin)
    for key, value in changed.items():
        target[key] = value
    return twin


def _numeric_array_or(values):
    """values as a numeric or text array (one skops node), or as they are otherwise."""
    array = np.asarray(values)
    return array if array.ndim == 1 and array.dtype.kind in "biufU" else values


def _history_as_lists(model):
    """Undo :func:`_with_compact_history` on a loaded model: columns back to lists."""
    history = getattr(model, "history_", None)
    if isinstance(history, dict):
        model.history_ = history_with_lists(history)


def load(path, *, trusted=None):
    """Load a model saved by :func:`save` (or by skops, joblib or pickle).

    Parameters
    ----------
    path : str or path-like
        File ending in ``.skops``, ``.joblib``, ``.pkl`` or ``.pickle``.
        Pickle and joblib files can run code when loaded: load only your own.
    trusted : list of str or None, default=None
        For ``.skops`` files: the types to trust beyond skops' defaults;
        None trusts :func:`trusted_types`.  A file that holds any other type
        is refused with a ValueError naming it.

    Returns
    -------
    model : object
        The loaded estimator.

    Raises
    ------
    FileNotFoundError
        No file at path.
    IsADirectoryError
        Path is a folder.
    ValueError
        The file is not a complete saved model (truncated, corrupt, not
        a model file, or one of the other format under this suffix, said
        so: the decoder's error is chained), holds something other than an
        estimator (an object with ``fit`` and ``get_params``), holds untrusted
        types, or holds a fitted RBM whose arrays do not make one
        consistent model (named; anywhere in it: a pipeline's step, a
        ColumnTransformer's, a search's ``best_estimator_``, ...).
    TypeError
        ``trusted`` is not None or a list of type names (e.g. True, or one
        name as a string).
    ImportError
        The file refers to code this installation lacks.
    """
    if trusted is not None:  # (checked for every suffix: a wrong call is wrong for all)
        trusted = _type_names(trusted)
    # A missing file first: a typo in the name ("model.skop") is a missing
    # file, not a question of formats.
    if Path(path).is_dir():
        raise IsADirectoryError(f"{str(path)!r} is a folder, not a saved model; give the "
                                "model's file (.skops, .joblib or .pkl).")
    if not Path(path).is_file():
        raise FileNotFoundError(f"no such file: {str(path)!r}")
    suffix = check_suffix(path, "read a model from")
    if suffix != ".skops":
        return _checked(_an_estimator(_deserialized(path, joblib.load), path))  # and pickles
    sio = _skops_io()
    trusted = trusted_types() if trusted is None else trusted
    found = _deserialized(path, lambda p: sio.get_untrusted_types(file=p))
    if "numpy.memmap" in found:  # skops would call numpy.memmap(array), trusted or not
        raise ValueError(
            f"{str(path)!r} holds numpy.memmap arrays, which skops cannot rebuild: "
            "skops.io.dump wrote it from a model that joblib.load(..., mmap_mode=...) "
            "memory-mapped. Save that model with rbm.persistence.save, which stores "
            "plain arrays.")
    untrusted = [name for name in found if name not in trusted]
    if untrusted:
        raise ValueError(
            f"{str(path)!r} holds types that are not trusted: {', '.join(untrusted)}. "
            "Inspect the file (skops.io.get_untrusted_types) and pass the types you "
            "trust as trusted=[...]."
        )
    return _checked(_an_estimator(_deserialized(path, lambda p: sio.load(p, trusted=trusted)),
                                  path))


def _type_names(trusted):
    """``trusted`` as a list of type names, else TypeError.

    ``trusted=True`` (which older skops took) failed as "'bool' object is not
    iterable", and a single name was split into characters, so that the
    very type passed was called untrusted.
    """
    expected = "trusted must be a list of type names (or None for rbm.trusted_types())"
    if isinstance(trusted, (str, bytes)):
        raise TypeError(f"{expected}, got the {type(trusted).__name__} {trusted!r:.80}; "
                        f"pass a list, e.g. trusted=rbm.trusted_types() + [{trusted!r:.80}].")
    if not hasattr(trusted, "__iter__"):
        raise TypeError(f"{expected}, got {type(trusted).__name__} {trusted!r:.80}; leave "
                        "trusted out to trust this library's types.")
    names = list(trusted)
    odd = [name for name in names if not isinstance(name, str)]
    if odd:
        raise TypeError(f"{expected}, but it holds {type(odd[0]).__name__} {odd[0]!r:.80}; "
                        "give each type by its full name, e.g. 'rbm._bernoulli.BernoulliRBM'.")
    return names


def _is_estimator(obj):
    return callable(getattr(obj, "fit", None)) and callable(getattr(obj, "get_params", None))


def _article(name):
    return "an" if name[:1] in "aeiouAEIOU" else "a"


def _an_estimator(obj, path):
    """``obj`` where it is an estimator (``fit`` and ``get_params``, as every
    scikit-learn estimator and Pipeline has), else ValueError: a pickle of a
    dict, an array or a number loaded without a word and failed later."""
    if _is_estimator(obj):
        return obj
    name = type(obj).__name__
    raise ValueError(
        f"{str(path)!r} holds {_article(name)} {name}, not a saved "
        "model (an estimator such as BernoulliRBM, or a Pipeline): give a file written by "
        "rbm.persistence.save (or skops or joblib) from a model.")


def _deserialized(path, read):
    """``read(path)``, with a failure to decode the file said as what it means.

    A truncated, corrupt or foreign file fails deep inside zipfile, pickle
    or skops (BadZipFile, UnpicklingError, EOFError, KeyError for a missing
    array, ...): whatever the decoder raised, the file is not a complete
    saved model, and the error says so (ValueError, the decoder's error
    chained); a sound file of the other format (a .skops archive named
    .joblib, a pickle named .skops) is said to be one (``_format_hint``).
    A file that names code this installation lacks (a pickle of
    another version or library) is an ImportError that says that instead.
    An OSError is the operating system's word that the file cannot be read
    and is raised as it is, but for EINVAL: a .skops archive that lost
    bytes before its directory points zipfile at negative offsets, whose
    seek fails with ``[Errno 22] Invalid argument``, a corrupt file.
    """
    try:
        return read(path)
    except OSError as error:
        if error.errno != errno.EINVAL:
            raise  # the file cannot be read at all: the operating system says why
        failure = error
    except (ImportError, AttributeError) as error:
        raise ImportError(
            f"{str(path)!r} refers to code this installation lacks ({type(error).__name__}: "
            f"{error}); it was saved with another version of rbm or with other "
            "libraries. Load it where it was saved, or save the model again here."
        ) from error
    except Exception as error:  # any decoder failure: see the docstring
        failure = error
    hint = _format_hint(path)
    if hint:
        raise ValueError(f"{str(path)!r} cannot be read as a {Path(path).suffix} file "
                         f"({type(failure).__name__}: {failure}).{hint}") from failure
    raise ValueError(
        f"{str(path)!r} is not a complete saved model: the file is truncated, corrupt "
        f"or not a model file ({type(failure).__name__}: {failure}). Save the model again "
        "(rbm.persistence.save or 'rbm fit --save')."
    ) from failure


def _format_hint(path):
    """A sentence where the file's first bytes show the other format's file
    (a .skops zip archive named .joblib, a pickle named .skops), else "".

    Such a file is sound under its own suffix; a pickle named .skops is
    still never read as one, as loading a pickle runs its code.
    """
    try:
        with open(path, "rb") as file:
            head = file.read(4)
    except OSError:
        return ""
    skops = Path(path).suffix.lower() == ".skops"
    if not skops and head == b"PK\x03\x04":
        return " It is a zip archive, as .skops files are: rename it to end in .skops."
    if skops and head[:1] == b"\x80":  # the PROTO opcode that starts a pickle
        return (" It is a pickle, as .joblib and .pkl files are: rename it so if you made "
                "it yourself (loading a pickle runs code it holds).")
    return ""


def _fitted_models_inside(obj):
    """The fitted RBM estimators and classifiers anywhere in ``obj``, in order:
    itself, and those any estimator in it holds, at any depth.

    An estimator's attributes (its parameters and fitted attributes: a
    detector's ``estimator_``, a pipeline's steps, a ColumnTransformer's
    ``transformers_``, a FeatureUnion's ``transformer_list``, a search's
    ``best_estimator_``, a FrozenEstimator's model, a voting ensemble's
    ``estimators_``), and those of other objects it holds (CalibratedClassifierCV's
    calibrated classifiers), are looked into, through lists, tuples and dicts; each
    object once (a structure that refers back to itself ends).  Only the
    named types were looked into: a damaged RBM in a ColumnTransformer
    loaded without a word.  Arrays, strings and other values are not.
    """
    found, seen, stack = [], set(), [obj]
    while stack:
        item = stack.pop()
        if id(item) in seen:
            continue
        seen.add(id(item))
        if isinstance(item, (BaseRBM, RBMClassifier)):
            if hasattr(item, "components_"):
                found.append(item)
            continue
        held = [value for _, value in _parts(item)]
        stack.extend(reversed(held))  # (reversed: the first held is looked at first)
    return found


def _parts(item):
    """(key, value) of each part of ``item`` that may hold an estimator: of a
    container's items (by key or index), or of an object's attributes (an
    estimator's, or a helper's such as CalibratedClassifierCV's calibrated
    classifiers, by name), those that may hold one: containers and objects
    with attributes, not arrays, strings, numbers or types (a vectoriser's
    vocabulary of a million words made the walk take twice as long as the
    load).

    The one walk of both ``_fitted_models_inside`` (the models ``load``
    checks) and ``_with_changed_parts`` (the models ``save`` compacts), so
    that the two reach the same models by construction.
    """
    if isinstance(item, dict):
        parts = item.items()
    elif isinstance(item, (list, tuple)):
        parts = enumerate(item)
    elif hasattr(item, "__dict__") and not isinstance(item, type):
        parts = vars(item).items()
    else:
        return
    for key, value in parts:
        if _may_hold_a_model(value):
            yield key, value


def _may_hold_a_model(value):
    """Whether ``_parts`` yields ``value`` (the walk looks into it)."""
    if isinstance(value, (dict, list, tuple)):
        return True
    return (hasattr(value, "__dict__")
            and not isinstance(value, (type, types.ModuleType, np.ndarray, np.generic))
            and not callable(value) or _is_estimator(value))


def _checked(obj):
    """``obj``, once every fitted RBM in it has passed the fitted-state check.

    A model file is data from outside: its arrays must describe one
    consistent model before anything uses them (the same check every call
    that reaches the kernel runs), so a tampered file fails here, by name.
    """
    for model in _fitted_models_inside(obj):
        if isinstance(model, RBMClassifier):
            model._check_fitted_state(training=True)
            continue  # its history_ is saved as it is (see _with_compact_history)
        check_fitted_state(model)
        _history_as_lists(model)
    return obj
