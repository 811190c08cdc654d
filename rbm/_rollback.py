"""One mechanism for "a call that raises leaves the estimator as it was"."""

import contextlib
import copy


@contextlib.contextmanager
def unchanged_on_error(estimator, *, deep=False, when=True):
    """Put every attribute of ``estimator`` back as it was if the block raises.

    Parameters
    ----------
    estimator : object
        The estimator whose ``__dict__`` the block may change.
    deep : bool, default=False
        Copy the attributes deeply, for a block that changes arrays in place
        (a warm start, ``partial_fit``); a shallow copy suffices for one that
        only assigns new objects (a fresh ``fit``).  ``history_``'s lists,
        which only grow, are never copied but cut back to their lengths: a
        deep copy of them in every call made a stream of ``partial_fit``
        calls quadratic in its length.
    when : bool, default=True
        False leaves the estimator as the block left it (for example a first
        fit that diverges, which keeps its last sound parameters).
    """
    if not when:
        yield
        return
    history = estimator.__dict__.get("history_")
    if not (isinstance(history, dict) and all(isinstance(rows, list)
                                              for rows in history.values())):
        history = None  # not a history of growing lists (none yet, or a damaged one)
    lengths = {name: len(rows) for name, rows in history.items()} if history else {}
    attributes = {name: value for name, value in estimator.__dict__.items()
                  if name != "history_" or history is None}
    previous = copy.deepcopy(attributes) if deep else attributes
    try:
        yield
    except BaseException:
        estimator.__dict__.clear()
        estimator.__dict__.update(previous)
        if history is not None:
            for name, length in lengths.items():
                del history[name][length:]
            estimator.history_ = history
        raise
