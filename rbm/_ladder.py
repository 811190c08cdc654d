"""The persistent chains' layout recorded at a fit (``method`` and
``n_temperatures``), and the one message for a warm call after either changed.

The chains (``h_samples_``) are laid out by the fit that made them: one
block of ``n_chains`` for PCD, one block per temperature for parallel
tempering.  A warm fit or ``partial_fit`` goes on with them, so a method or
a temperature count set since that needs another count of chains is
refused; the message says which setting changed and how to continue,
whichever check (the chain count, or the blocks of ``n_temperatures``)
finds the mismatch.
"""

#: The attribute of the training state that holds (method, n_temperatures) of the fit.
RECORD = "ladder_at_fit"


def record_chain_layout(estimator, n_chains):
    """Record the chains a fresh fit made: their count and the settings that laid them out."""
    estimator._training.chains_at_fit = n_chains  # what later settings must still ask for
    setattr(estimator._training, RECORD, (estimator.method, estimator.n_temperatures))


def _fitted_layout(estimator):
    """(method, n_temperatures) of the fit that made the chains, or None (a model
    saved before the record, or a damaged record: the other checks then speak)."""
    record = getattr(estimator._training, RECORD, None)
    if not (isinstance(record, tuple) and len(record) == 2 and record[0] in ("cd", "pcd", "pt")
            and isinstance(record[1], int) and record[1] >= 2):
        return None
    return record


def fitted_n_temperatures(estimator):
    """``n_temperatures`` of the parallel-tempering fit that made the chains, or
    None (another method, or no record: ``_fitted_layout``)."""
    layout = _fitted_layout(estimator)
    return layout[1] if layout is not None and layout[0] == "pt" else None


def blocks_at_fit(estimator, n_chains):
    """The blocks (temperatures) the fit laid its ``n_chains`` chains out in: its
    ``n_temperatures`` for parallel tempering, else 1; None where the chains
    are not the fit's (assigned since: the current settings speak for them)
    or there is no record.

    Calls that do not train read the chains in the fit's layout, so only
    training is concerned with a method or ``n_temperatures`` set since.
    """
    layout = _fitted_layout(estimator)
    if layout is None or n_chains != getattr(estimator._training, "chains_at_fit", None):
        return None
    return layout[1] if layout[0] == "pt" else 1


def _changed_setting(estimator, layout):
    """(what changed, the setting that restores it), or None where the method
    and ``n_temperatures`` lay the chains out as the fit did."""
    method, n_temperatures = layout
    if (method == "pt") != (estimator.method == "pt"):
        return f"method is now {estimator.method!r}", f"method={method!r}"
    if method == "pt" and estimator.n_temperatures != n_temperatures:
        return (f"n_temperatures is now {estimator.n_temperatures}",
                f"n_temperatures={n_temperatures}")
    return None


def layout_change_message(estimator, n_chains):
    """The message for a warm call whose method or ``n_temperatures`` changed since
    the fit that made the ``n_chains`` chains it has, or None where neither did
    (or the chains are not the fit's: assigned since, they are the user's choice)."""
    layout = _fitted_layout(estimator)
    if (layout is None or n_chains != getattr(estimator._training, "chains_at_fit", None)
            or estimator.method == "cd"):
        return None
    change = _changed_setting(estimator, layout)
    if change is None:
        return None
    changed, back = change
    method, n_temperatures = layout
    needs = _chains_needed(estimator)
    if method == "cd":  # (no chains of its own to go on with: say what to assign)
        return cd_chains_message(estimator, n_chains, changed)
    fitted = f"method={method!r}"
    if method == "pt":
        fitted += (f" and n_temperatures={n_temperatures} ({n_chains} persistent chains, "
                   f"{n_chains // n_temperatures} per temperature)")
    else:
        fitted += f" ({n_chains} persistent chains)"
    alternative = ""
    if estimator.method == "pt" and n_chains % estimator.n_temperatures == 0:
        alternative = (f" (or n_chains={n_chains // estimator.n_temperatures}, which goes on "
                       f"with those chains in blocks of n_temperatures="
                       f"{estimator.n_temperatures})")
    return (f"{type(estimator).__name__} was fitted with {fitted}, but {changed}, which "
            f"needs {needs}; the model goes on with the chains of its fit. Set {back} back "
            f"to continue it{alternative}, or fit it anew (warm_start=False) to train with "
            "the new settings.")


def cd_chains_message(estimator, n_chains, changed):
    """The message for a model fitted by CD (whose ``n_chains`` rows of
    ``h_samples_`` are starting states, not persistent chains) whose
    settings (``changed``, in words) now ask for another count of chains."""
    needs = _chains_needed(estimator)
    n_needed = needs.split(" ", 1)[0]
    return (f"{type(estimator).__name__} was fitted with method='cd', which keeps no "
            f"persistent chains (h_samples_ holds {n_chains} starting states), but "
            f"{changed}, which needs {needs}. Assign h_samples_ an array of "
            f"{n_needed} rows (np.zeros(({n_needed}, {estimator.n_components})) starts "
            "them afresh) to continue the model, or fit it anew (warm_start=False).")


def fitted_method(estimator):
    """The ``method`` of the fit that made the chains, or None (no record)."""
    layout = _fitted_layout(estimator)
    return None if layout is None else layout[0]


def _chains_needed(estimator):
    """"N chains (why)": the chains the current settings ask for."""
    asked = estimator.n_chains if estimator.n_chains is not None else estimator.batch_size
    count = (f"n_chains={asked}" if estimator.n_chains is not None
             else f"n_chains=None, so batch_size={asked}")
    if estimator.method == "pt":
        return (f"{asked * estimator.n_temperatures} chains ({count}, times "
                f"n_temperatures={estimator.n_temperatures})")
    return f"{asked} chains ({count})"


def refuse_layout_change(estimator, n_chains):
    """Raise ValueError with ``layout_change_message`` where there is one."""
    message = layout_change_message(estimator, n_chains)
    if message is not None:
        raise ValueError(message)
