"""Parameter and attribute documentation shared by every model: one source.

A model's class docstring says ``%(parameters)s`` where its Parameters
section goes and ``%(training_attributes)s`` among its attributes;
``document_training`` fills them in.  The Parameters section is built from
the class's ``__init__`` signature, in its order and with its real
defaults: each parameter's text is the model's own (``_parameter_docs``)
where it has one, else the shared text below.
"""

import inspect
import textwrap


#: name -> (type, description) for every parameter the models share.
SHARED_PARAMETERS = {
    "n_components": ("int", "Number of hidden units."),
    "learning_rate": ('float or "auto"', """\
        Step size of the parameter updates.  "auto" is the rate the visible
        and hidden types train stably at: with binary hidden units 0.06 for
        binary visible units and 0.04 for categorical ones (0.01 for
        Gaussian ones), and for other hidden types a tenth of that
        (Gaussian) or a sixth (ReLU, dReLU), the rates at which they trained
        without running away on the benchmarks.  ``learning_rate_`` holds
        the number used."""),
    "batch_size": ("int", """\
        Examples per minibatch.  Batches are split evenly, so sizes differ
        by at most one."""),
    "shuffle": ("bool", """\
        Reshuffle the rows before each epoch of ``fit``.  False visits them
        in the order given, in fixed minibatches, as scikit-learn does."""),
    "visible_bias_init": ('{"marginals", "zero"}', """\
        Starting visible biases: those of the independent model of the data
        marginals (Hinton 2010: the log-odds of each feature's mean for
        binary units), or zero as in scikit-learn."""),
    "n_iter": ('int or "auto"', """\
        Passes (epochs) over the training data in ``fit``.  "auto" plans
        about 300,000 minibatch updates (at least 10 and at most 5,000
        epochs): 4,762 epochs of digits' 1,257 training rows, 100 of 60,000
        rows.  Pass a number for quick feature learning."""),
    "verbose": ("int", """\
        Progress during ``fit``: 1 shows one progress line (epoch of
        planned epochs, updates per second, the latest recorded
        log-likelihood, the time left), rewritten in place on a terminal
        and written as about six plain lines (the first epoch, then every fifth
        of the fit) to a file, a pipe or a notebook; 2 or more
        prints a line every epoch."""),
    "random_state": ("int, RandomState instance or None", """\
        Seed for initialisation, shuffling and sampling.  The same seed gives
        the same model whatever the number of threads."""),
    "method": ('{"pcd", "cd", "pt"}', """\
        Persistent contrastive divergence (chains carried across updates),
        contrastive divergence (chains restarted from each batch) or
        parallel tempering (persistent chains at ``n_temperatures``
        temperatures with replica swaps; Desjardins et al. 2010; towards
        the independent model of the data marginals, with the model's
        sigma at every temperature for Gaussian visible units)."""),
    "k": ("int", "Gibbs steps per update."),
    "n_chains": ("int or None", """\
        Persistent chains for PCD; None uses ``batch_size`` (as
        scikit-learn does).  Independent of ``batch_size`` otherwise."""),
    "momentum": ("float in [0, 1)", "Momentum of the parameter updates."),
    "weight_decay": ('float or "auto"', """\
        L2 penalty on the weights.  "auto" is 5e-4, and ten times that for
        Gaussian and ReLU hidden units: their "auto" learning rate is a
        tenth or a sixth of binary units', and at 5e-4 their weights grew
        slowly until default fits of the mushrooms data ran away.
        ``weight_decay_`` holds the number used."""),
    "n_jobs": ("int or None", """\
        Threads for the matrix products (BLAS).  -1 uses every core
        available; None every one that other processes leave idle (read
        from the machine's load at each epoch and sampling call), at most
        ``OMP_NUM_THREADS`` where that is set, as joblib does for parallel
        fits, and at most a ``threadpoolctl.threadpool_limits`` OpenMP
        limit: a thread that shares its core with another process holds up
        the whole team.  Fits and samplers running at once on threads of
        one process share the idle cores (each its fair share).
        Large layers are sampled on the team too; small ones on one thread,
        where waking the team costs more than it saves.  Results do not
        depend on it."""),
    "centering": ("bool", """\
        Centered gradient (Melchior, Fischer & Wiskott 2016): offsets for
        the visible and hidden units follow moving averages of the data
        (rate 0.01), and the update is written back to the plain parameters.
        It helps short, constant-rate training (tested on digits with
        scikit-learn's settings) but cost 0.1 nats with the default
        long, decayed training (digits, 20 hidden units: mean -17.94
        against -17.83 over seeds 0-4), so it is off by default."""),
    "learning_rate_schedule": ('{"constant", "linear", "exponential"}', """\
        Learning rate per epoch of ``fit``: constant; decayed linearly to 0;
        or multiplied by a constant factor down to 1% of it."""),
    "early_stopping": ("bool", """\
        Hold out ``validation_fraction`` of the rows and stop when the
        validation log-likelihood has not improved by ``tol`` for
        ``n_iter_no_change`` checks: the learning rate then falls linearly
        towards zero over the epochs up to the next check (a twentieth of
        the epochs, or those left; below 40 epochs, one epoch at half the
        rate), training stops at that check, and the parameters of the
        best check are restored.  ``partial_fit`` and ``warm_start`` go on
        at the fall's last rate (at least 1% of ``learning_rate``), as
        after a whole fit at its schedule's last.  The fall matters: persistent chains at a large rate make a much poorer
        density than the same run with its rate brought down (standardised
        breast cancer, defaults, seed 0: -28.6 nats per test row stopping
        without it, -21.3 with it, -21.0 for the full fit; see the
        section on ``early_stopping.py`` in benchmarks/README.md).  A fall
        that diverges ends the fit at the best check."""),
    "validation_fraction": ("float in (0, 1)", "Held-out share of the rows for early stopping."),
    "n_iter_no_change": ("int", """\
        Checks without improvement before early stopping brings the rate
        down and stops."""),
    "tol": ("float", "Smallest improvement in nats that counts for early stopping."),
    "n_temperatures": ("int", """\
        Inverse temperatures of parallel tempering (``method="pt"``),
        evenly spaced from 1 to 0, so at least 2 (one temperature would be
        plain ``method="pcd"``); ignored by the other methods, but checked
        with them too, as every parameter is."""),
    "l1_weight_decay": ("float", "L1 penalty on the weights, applied as a soft-thresholding step."),
    "l1_squared_weight_decay": ("float", """\
        Strength lambda of the L1-squared penalty of Tubiana, Cocco and
        Monasson (eLife 2019, Eq. 8; ``l1b`` in their PGM package):
        lambda / (2 n) sum_j (sum_i |W_ji|)**2, with n the number of
        columns of W (features; one-hot columns for categorical units,
        PGM's mean over sites and categories).  Its gradient,
        lambda sign(W_ji) mean_i |W_ji|, grows with a unit's total weight,
        so it pushes each hidden unit towards few strong couplings (sparse,
        interpretable features) and stops runaway units, which dReLU units
        need (PGM trains its dReLU models with it).  Applied after each
        weight step, outside the momentum; 0 turns it off."""),
    "sparsity_target": ("float in (0, 1)", "Target mean activation of the hidden units (Hinton "
                        "2010): the mean over the rows of each unit's E[h | v]. For units "
                        "that take either sign (hidden='gaussian' or 'drelu') that is a "
                        "target of mean activity, not sparsity, and fit warns."),
    "sparsity_cost": ("float", "Strength of the sparsity penalty; 0 turns it off. A "
                      "Gaussian-visible, Gaussian-hidden model ignores it (fit warns)."),
    "momentum_warmup": ("float in [0, 1)", """\
        Fraction of the epochs of ``fit`` that run without momentum before
        ``momentum`` takes over, rounded up to whole epochs (so a fit of
        fewer than 10 epochs starts with one epoch without it; 0 turns the
        warm-up off).  ``partial_fit`` always uses ``momentum``.  Early
        steps are the largest, and with momentum they can throw the model
        into a poor optimum: on the mushrooms data, BernoulliRBM at learning
        rate 0.06 with momentum 0.5 from the start ended 2 nats worse on
        two seeds of six; with this warm-up none of nine seeds did."""),
    "on_divergence": ('{"raise", "warn"}', """\
        What a finite divergence does (binary and categorical units): the
        model far worse than the independent model of the data's marginals
        that training starts from, an upper bound on its log-likelihood of
        up to 512 training rows more than 1 nat per feature below that
        model's, for 3 passes of ``fit`` in a row, after its last pass, or
        after a ``partial_fit`` call.  "raise" restores the parameters from
        before the first of those passes and raises ``rbm.DivergenceError``;
        "warn" issues one ``rbm.DivergenceWarning`` per call and trains on.
        Parameters that become non-finite or too large for float64
        likelihoods (or, for Gaussian units, beyond 1,000 times the data's
        scale) always raise (a Gaussian-visible model with ReLU or dReLU
        units that keeps itself proper first runs such a pass once more,
        see ``keep_proper``).  Either way the message names the cause (the
        learning rate, the weight decay or the data's scale) and what to
        change."""),
    "warm_start": ("bool", """\
        As in scikit-learn: when True, ``fit`` on a fitted model continues
        training from it (parameters, momentum, persistent chains and
        random streams carry over) instead of starting afresh; X must have
        the fitted features.  It runs ``n_iter`` further epochs whose
        schedule starts at the rate where training stood (where the last
        fit's schedule ended, at least 1% of ``learning_rate``; never back
        at ``learning_rate`` once a schedule has decayed it), with
        ``momentum`` from the first epoch, and ``n_iter_`` and ``history_``
        count on from the earlier epochs.  ``partial_fit`` continues at
        that rate too.  The momentum's velocity carries the earlier steps
        on: a ``learning_rate`` lowered since scales the new steps, not
        those it still holds.  A warm fit that fails leaves the model as it was
        (it keeps a copy of it meanwhile).  The persistent chains
        (``h_samples_``) carry over as they are, so a chain count changed
        since the fit (``n_chains``, ``batch_size`` with ``n_chains=None``,
        ``method`` or ``n_temperatures``) is refused there and by
        ``partial_fit`` unless ``h_samples_`` is assigned chains of another
        count too (``method="cd"`` runs no persistent chains: any count
        goes)."""),
    "hidden": ('{"bernoulli", "gaussian", "relu", "drelu"}', """\
        Type of the hidden units, each with field x = c + W s(v):
        "bernoulli", binary (p(h = 1 | v) = sigmoid(x)); "gaussian",
        h | v ~ N(x, 1) (the model is then a pairwise, Hopfield-type one);
        "relu", a unit-variance Gaussian of mean x truncated to h >= 0
        (rectified Gaussian); "drelu", the double ReLU of Tubiana, Cocco &
        Monasson (2019), potential gamma+ h**2 / 2 + theta+ h for h >= 0
        and gamma- h**2 / 2 + theta- h below, with its four parameters
        learned per unit.  ``transform`` returns E[h | v].  Real-valued
        hidden units need smaller steps than binary ones (their energy
        grows with the square of the weights): ``learning_rate="auto"``
        takes a tenth of the binary units' rate for Gaussian units and a
        sixth for ReLU and dReLU units (``benchmarks/README.md``)."""),
    "normalize_hidden": ("bool", """\
        Normalised hidden units, as in PGM (Tubiana, Cocco & Monasson,
        eLife 2019): after every minibatch update each hidden unit is
        rescaled so that its activity has unit variance over the training
        rows (at most 256 of them, evenly spaced), W and c divided by the
        factor and the unit's curvatures and thresholds adjusted, which
        leaves p(v) exactly as it was.  The weights' scale then means the
        same for every unit (the effect of a unit-variance unit), so the
        learning rate and the weight penalties act alike on all of them.
        Needs hidden units with a learned scale: ``hidden="drelu"``.  Off
        by default: on the benchmarks it made dReLU fits 1.8 to 4 times
        slower and rescued one of three runaway fits (see
        ``benchmarks/README.md``)."""),
    "missing": ('{"error", "impute"}', """\
        Training rows with missing entries (NaN; for labels also None and
        pandas' NA).  "error" refuses them.  "impute" trains on them: the
        missing entries start as draws from the observed entries' marginals
        and, before every pass of ``fit`` (and before a ``partial_fit``
        pass), take ``IMPUTE_STEPS`` = 5 steps of clamped block Gibbs under
        the current model, each row's observed entries held (a persistent
        fill per row, as PCD keeps its chains), so the positive phase sees
        draws of the missing entries from their conditional given the
        observed ones and no row is thrown away.  With ``early_stopping``,
        validation rows with gaps are scored by log p(observed entries), the
        missing entries summed out exactly by enumerating the hidden layer
        (binary hidden units, at most ``MAX_MONITOR_ENUMERATION`` = 2**30
        hidden states x rows x columns per check; beyond that, and for
        real-valued hidden units, by the rows with fills of their own, a
        score that favours confident conditionals).  In sparse input a gap
        is a stored NaN: such input is densified (each missing entry needs a
        fill), sparse input without NaN trains as with "error", sparse.
        ``rbm.RBMImputer`` always trains this way."""),
}

#: Attribute documentation shared by every model.
TRAINING_ATTRIBUTES_DOC = """\
    history_ : dict of lists
        Per-epoch figures of the last ``fit``, followed by a row per later
        ``partial_fit`` pass or warm-started epoch: ``epoch``, ``seconds``,
        ``learning_rate``, ``momentum``, ``reconstruction_error`` and
        ``free_energy_data`` (on at most 512 evenly spaced training rows),
        ``free_energy_chains`` (of states drawn from the persistent chains;
        NaN for CD, which keeps none), ``log_likelihood_train``
        and ``log_likelihood_validation`` (the means over every validation
        row and every training row, or 4,096 evenly spaced training rows
        where there are more; NaN where not computed, as in every
        ``partial_fit`` row), ``log_likelihood_method`` (how their log Z
        was obtained: "exact" or "ais ± " its standard error; "improper"
        where that epoch's model was shown to have none, between two of
        training's properness checks, and its log-likelihoods are -inf;
        "" where not computed) and ``swap_rate`` (parallel tempering; NaN
        otherwise).
    learning_rate_ : float
        The learning rate of the last ``fit`` or ``partial_fit`` pass: the
        ``learning_rate`` given, or the number "auto" stands for.
    weight_decay_ : float
        Likewise the weight decay of the last ``fit`` or ``partial_fit`` pass.
    n_iter_ : int
        Epochs run by the last ``fit`` (up to ``n_iter`` with early
        stopping), plus one per ``partial_fit`` pass and every warm-started
        epoch since.
    best_epoch_, best_validation_score_ : int, float
        With early stopping: the epoch whose parameters were kept, and its
        validation log-likelihood.  Only after a fit that kept them: a
        later fit without early stopping, or a ``partial_fit`` pass,
        removes them.
    swap_rates_ : ndarray of shape (n_temperatures - 1,)
        After a fit with ``method="pt"``: acceptance rate of swaps between
        neighbouring temperatures, of the fit's ladder (a method or
        ``n_temperatures`` set since does not change it).
"""


#: The ``y`` and ``sample_weight`` entries of ``fit`` (every model's, and the
#: outlier detector's, which passes the weights on) and of ``partial_fit``.
FIT_WEIGHTS_DOC = """\
y : Ignored
    Not used, present for API consistency.
sample_weight : array-like of shape (n_samples,) or float, default=None
    Weight of each sample, finite and non-negative, not all zero; a sample
    of weight w counts as w copies of it.  In each minibatch a sample's
    data statistics count w / (the mean weight), so the expected gradient
    is that of the repeated samples, and the model's own data statistics
    (initial biases, centering offsets, Gaussian sigma, the figures in
    ``history_``, early stopping's validation score) are weighted.
    Samples of weight 0 are left out.  An epoch is one pass over the
    samples of positive weight, so only relative weights matter (a
    constant weight changes nothing), and with a fixed ``n_iter`` an
    integer weight k gives its sample k times the share of each minibatch
    it is in, not k passes (``n_iter="auto"`` plans the same number of
    updates either way).  None weighs every sample 1."""

PARTIAL_FIT_WEIGHTS_DOC = """\
y : Ignored
    Not used, present for API consistency.
sample_weight : array-like of shape (n_samples,) or float, default=None
    Weight of each sample, as in ``fit`` (in the minibatch statistics,
    relative to the mean weight of this call's samples); samples of
    weight 0 are left out, and the running data marginals count a sample
    of weight w as w samples (so weights add up across calls)."""


def document_fit_parameters(function, text):
    """Put ``text`` (numpydoc entries, unindented) where ``function``'s docstring
    says ``%(y_and_sample_weight)s``."""
    function.__doc__ = function.__doc__.replace(
        "        %(y_and_sample_weight)s\n", textwrap.indent(text, " " * 8) + "\n")
    return function


def format_default(value):
    """A default as numpydoc writes it: strings quoted, numpy types by name."""
    if isinstance(value, str):
        return f'"{value}"'
    if isinstance(value, type) and value.__module__ == "numpy":
        return f"np.{value.__name__}"
    return repr(value)


def parameter_entry(name, kind, text, default):
    """One numpydoc entry: ``name : kind, default=...`` and its indented text."""
    body = textwrap.indent(textwrap.dedent(text).strip(), " " * 8)
    return f"    {name} : {kind}, default={format_default(default)}\n{body}\n"


def parameters_section(cls):
    """The Parameters entries of ``cls.__init__``, in signature order."""
    own = getattr(cls, "_parameter_docs", {})
    entries = []
    for name, parameter in inspect.signature(cls.__init__).parameters.items():
        if name == "self":
            continue
        kind, text = own.get(name) or SHARED_PARAMETERS[name]
        entries.append(parameter_entry(name, kind, text, parameter.default))
    return "".join(entries)


def document_training(cls):
    """Fill the Parameters section and the shared attributes into a model's docstring."""
    cls.__doc__ = (cls.__doc__
                   .replace("    %(parameters)s\n", parameters_section(cls))
                   .replace("    %(training_attributes)s\n", TRAINING_ATTRIBUTES_DOC))
    return cls
