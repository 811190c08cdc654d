"""Parameter and attribute documentation shared by every model.

One source for the docstrings: a model's class docstring holds the
placeholders ``%(training_parameters)s`` and ``%(training_attributes)s``,
which ``document_training`` fills in.
"""

#: Parameter documentation shared by every model (see ``document_training``).
TRAINING_PARAMETERS_DOC = """\
    centering : bool, default=False
        Centered gradient (Melchior, Fischer & Wiskott 2016): offsets for
        the visible and hidden units follow moving averages of the data
        (rate 0.01), and the update is written back to the plain parameters.
        It helps short, constant-rate training (tested on digits with
        scikit-learn's settings) but cost 0.1 nats with the default
        long, decayed training (digits, 20 hidden units: mean -17.94
        against -17.83 over seeds 0-4), so it is off by default.
    learning_rate_schedule : {"constant", "linear", "exponential"}, default="linear"
        Learning rate per epoch of ``fit``: constant; decayed linearly to 0;
        or multiplied by a constant factor down to 1% of it.
    early_stopping : bool, default=False
        Hold out ``validation_fraction`` of the rows and stop when the
        validation log-likelihood has not improved by ``tol`` for
        ``n_iter_no_change`` checks; the best parameters are restored.
    validation_fraction : float in (0, 1), default=0.1
        Held-out share of the rows for early stopping.
    n_iter_no_change : int, default=10
        Checks without improvement before early stopping stops.
    tol : float, default=1e-3
        Smallest improvement in nats that counts for early stopping.
    n_temperatures : int, default=10
        Inverse temperatures of parallel tempering (``method="pt"``),
        evenly spaced from 1 to 0.
    l1_weight_decay : float, default=0.0
        L1 penalty on the weights, applied as a soft-thresholding step.
    sparsity_target : float in (0, 1), default=0.1
        Target mean activation of the hidden units (Hinton 2010).
    sparsity_cost : float, default=0.0
        Strength of the sparsity penalty; 0 turns it off.
    momentum_warmup : float in [0, 1), default=0.1
        Fraction of the epochs of ``fit`` that run without momentum before
        ``momentum`` takes over, rounded up to whole epochs (so a fit of
        fewer than 10 epochs starts with one epoch without it; 0 turns the
        warm-up off).  ``partial_fit`` always uses ``momentum``.  Early
        steps are the largest, and with momentum they can throw the model
        into a poor optimum: on the mushrooms data, BernoulliRBM at learning
        rate 0.06 with momentum 0.5 from the start ended 2 nats worse on
        two seeds of six; with this warm-up none of nine seeds did.
"""

#: Attribute documentation shared by every model.
TRAINING_ATTRIBUTES_DOC = """\
    history_ : dict of lists
        Per-epoch figures of the last ``fit``: ``epoch``, ``seconds``,
        ``learning_rate``, ``momentum``, ``reconstruction_error``,
        ``free_energy_data``, ``free_energy_chains``, ``log_likelihood_train``
        and ``log_likelihood_validation`` (NaN where not computed) and
        ``swap_rate`` (parallel tempering).
    n_iter_ : int
        Epochs run by the last ``fit`` (fewer than ``n_iter`` after early
        stopping).
    best_epoch_, best_validation_score_ : int, float
        With early stopping: the epoch whose parameters were kept, and its
        validation log-likelihood.
    swap_rates_ : ndarray of shape (n_temperatures - 1,)
        With ``method="pt"``: acceptance rate of swaps between neighbouring
        temperatures.
"""


def document_training(cls):
    """Fill the shared parameter and attribute sections into a model's docstring."""
    cls.__doc__ = (cls.__doc__
                   .replace("    %(training_parameters)s\n", TRAINING_PARAMETERS_DOC)
                   .replace("    %(training_attributes)s\n", TRAINING_ATTRIBUTES_DOC))
    return cls
