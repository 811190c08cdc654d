"""Log-partition functions: exact enumeration, annealed importance sampling
(AIS) and its reverse, which together bracket log Z.

Written once against the layer verbs (``rbm._units``): the visible layer
and the hidden layer are arguments, and nothing here asks which types they
are.  All arithmetic is in float64 whatever the model's dtype.

Forward AIS anneals chains from the base model (the data marginals, no
coupling) to the model; the mean of its importance weights estimates
Z / Z_base without bias, so by Jensen its log is a stochastic *lower* bound
on log Z (E[log Z_ais] <= log Z).  Reverse AIS (Burda, Grosse &
Salakhutdinov 2015; Grosse, Ghahramani & Adams 2015) anneals samples of the
model back to the base model; its weights estimate Z_base / Z without bias,
so its log Z is a stochastic *upper* bound, provided its chains start at
the model's own distribution.  ``LogPartitionEstimate`` carries both and
the bracket they give.
"""

import hashlib
import math
import warnings

import numpy as np
from scipy.special import logsumexp
from scipy import stats

from . import _gibbs
from ._state import KernelParams
from ._units._layer import user_stacklevel

#: Largest number of states enumerated by ``exact_log_partition``.
MAX_EXACT_STATES = 2 ** 26
#: Elements per enumeration chunk (rows x summed-out units): 1 MiB of float64.
#: Small enough that the few chunk-sized temporaries of a layer verb stay
#: below the memory of a fit's own buffers (exact monitoring runs inside fit);
#: measured no slower than 32 MiB chunks at 20 hidden units x 64 visible.
ENUMERATION_CHUNK_ELEMENTS = 2 ** 17
#: Level of the bracket ``LogPartitionEstimate.lower`` / ``upper``.
DEFAULT_CONFIDENCE = 0.99


#: Why a Gaussian-visible, Gaussian-hidden model can be improper, for messages.
IMPROPER_GAUSSIAN_PAIR = ("its couplings outgrow the visible precision (D - D W.T W D, "
                          "D = diag(1 / sigma**2), is not positive definite)")


def parameter_fingerprint(arrays, layers):
    """Hex digest naming a model's parameters, for log-partition cache keys.

    Covers each array's dtype, shape and contents (contents alone let arrays
    of other shapes or split points read as the same bytes) and each layer's
    type and block structure (a categorical layer's ``groups``).  ``arrays``
    must include every layer's ``learned_arrays()``: a Gaussian layer's
    sigma enters log Z as much as the weights do.
    """
    digest = hashlib.blake2b(digest_size=16)
    for layer in layers:
        groups = getattr(layer, "groups", None)
        groups = [] if groups is None else np.asarray(groups).tolist()
        digest.update(f"{type(layer).__name__}{groups};".encode())
    for array in arrays:
        array = np.ascontiguousarray(array)
        digest.update(f"{array.dtype.str}{array.shape};".encode())
        digest.update(array.tobytes())
    return digest.hexdigest()


def contents_digest(arrays):
    """The log-partition caches' names for parameters before ``parameter_fingerprint``:
    a digest of the arrays' contents alone (read to keep the entries of models
    saved then)."""
    digest = hashlib.blake2b(digest_size=16)
    for array in arrays:
        digest.update(np.ascontiguousarray(array).tobytes())
    return digest.hexdigest()


def is_gaussian_pair(visible, hidden):
    """Whether both layers are Gaussian: the model is then one multivariate
    Gaussian, whose log Z has a closed form (``gaussian_pair_moments``)."""
    return getattr(visible, "gaussian", False) and getattr(hidden, "gaussian", False)


def state_count_as_float(n_states):
    """A number of states as a float: inf beyond float64's range.

    Counts are Python ints (exact, unbounded): 2**1024 states and more, as
    1,024 binary units have, do not convert, and costs reckoned from them
    are only compared with budgets.
    """
    try:
        return float(n_states)
    except OverflowError:
        return math.inf


def exact_cost(n_visible, n_hidden, visible, hidden):
    """(number of states, floating-point work) of the cheapest exact enumeration
    (a closed form counts as one state costing a Cholesky factorisation)."""
    if is_gaussian_pair(visible, hidden):
        return 1, float(n_visible) ** 3 + 2.0 * n_visible * n_visible * n_hidden
    n_states = hidden.n_states(n_hidden)
    if visible.discrete:
        n_states = min(n_states, visible.n_states(n_visible))
    return n_states, 2.0 * state_count_as_float(n_states) * n_visible * n_hidden


def _enumeration(W, b, c, visible, hidden):
    """(layer, chunks): which layer is enumerated ("hidden" or "visible") and an
    iterator of (states, log weights) over all its configurations.

    The cheaper layer is enumerated and the other summed out: a hidden state
    weighs c . h + log_partition_given_hidden(h W), a visible state (when
    discrete and with fewer states) -E_v(v) plus the hidden layer's
    log-partition given v.
    """
    n_hidden, n_visible = W.shape
    n_states, _ = exact_cost(n_visible, n_hidden, visible, hidden)
    if n_states == math.inf:  # both layers real-valued, and not a Gaussian pair
        raise ValueError(
            f"exact log Z enumerates a discrete layer, but both layers of this model are "
            f"real-valued ({type(visible).__name__} visible units, hidden="
            f"{getattr(hidden, 'name', type(hidden).__name__)!r}), so none can be "
            "enumerated whatever the model's size; use method='ais' (what method='auto' "
            "picks here).")
    if n_states > MAX_EXACT_STATES:
        raise ValueError(
            f"exact log Z needs {n_states} states (> {MAX_EXACT_STATES}); "
            "use method='ais' for a model this large."
        )
    chunk_rows = max(1, ENUMERATION_CHUNK_ELEMENTS // max(n_visible, n_hidden))
    if n_states == hidden.n_states(n_hidden):
        return "hidden", ((H, H @ c + visible.log_partition_given_hidden(H @ W, b))
                          for H in hidden.enumerate_states(n_hidden, chunk_rows, np.float64))
    return "visible", ((V, visible.energy_term(V, b)
                        + hidden.log_partition(visible.hidden_input(V) @ W.T + c))
                       for V in visible.enumerate_states(n_visible, chunk_rows, np.float64))


def gaussian_pair_moments(W, b, c, visible):
    """(precision P, mean, log Z) of the visible marginal of a Gaussian-Gaussian model.

    With D = diag(1 / sigma**2), integrating out h ~ N(c + W D v, 1) leaves
    log p*(v) = -v.P v / 2 + q.v + const, P = D - D W.T W D, q = D (b + W.T c),
    const = |c|**2 / 2 - b.D b / 2 + n_hidden log(2 pi) / 2, so
    log Z = const + n_visible log(2 pi) / 2 - log det P / 2 + q.P^-1 q / 2.
    The model is proper only when P is positive definite (the couplings do
    not outgrow the visible precision); otherwise log Z is +inf.
    """
    n_hidden, n_visible = W.shape
    d = 1.0 / np.asarray(visible.sigma, dtype=np.float64) ** 2
    DW = W * d  # W D
    P = np.diag(d) - DW.T @ DW
    q = d * (b + W.T @ c)
    try:
        L = np.linalg.cholesky(P)
    except np.linalg.LinAlgError:
        return P, None, math.inf
    mean = np.linalg.solve(L.T, np.linalg.solve(L, q))
    log_z = (0.5 * float(c @ c) - 0.5 * float(b @ (d * b))
             + 0.5 * (n_hidden + n_visible) * math.log(2.0 * math.pi)
             - float(np.log(np.diag(L)).sum()) + 0.5 * float(q @ mean))
    return P, mean, log_z


def exact_log_partition(W, b, c, visible, hidden):
    """Exact log Z by summing out one layer in closed form and enumerating the other.

    Enumerates the hidden layer, or the visible layer when that has fewer
    states and is discrete; Gaussian visible with Gaussian hidden units is
    one multivariate Gaussian, whose log Z is closed-form
    (``gaussian_pair_moments``; +inf, with a RuntimeWarning, for an
    improper model).

    Parameters
    ----------
    W : ndarray of shape (n_hidden, n_visible)
    b : ndarray of shape (n_visible,)
    c : ndarray of shape (n_hidden,)
    visible, hidden : layers (``rbm._units``)

    Returns
    -------
    log_z : float
    """
    W, b, c = (np.asarray(a, dtype=np.float64) for a in (W, b, c))
    if is_gaussian_pair(visible, hidden):
        log_z = gaussian_pair_moments(W, b, c, visible)[2]
        if math.isinf(log_z):
            warnings.warn(
                f"This Gaussian-visible, Gaussian-hidden RBM is improper: "
                f"{IMPROPER_GAUSSIAN_PAIR}, so log Z is +inf and every log-likelihood -inf. "
                "Train with a lower learning rate or more weight decay, or use ReLU or "
                "binary hidden units.", RuntimeWarning, stacklevel=2)
        return log_z
    _, chunks = _enumeration(W, b, c, visible, hidden)
    return float(logsumexp([logsumexp(terms) for _, terms in chunks]))


def exact_model_samples(W, b, c, visible, hidden, n_samples, rng):
    """Independent exact draws of the model's visible states, as kernel rows s(v).

    Enumerates the layer ``exact_log_partition`` enumerates, twice: once for
    each chunk's total weight, then to draw within the chunks that were
    picked.  A drawn hidden state gets its visible state from p(v | h).

    Parameters
    ----------
    W, b, c : ndarrays
        Model parameters (shapes as in ``exact_log_partition``).
    visible, hidden : layers (``rbm._units``)
    n_samples : int
    rng : numpy.random.Generator

    Returns
    -------
    S : ndarray of shape (n_samples, n_visible), float64, C-ordered
    """
    W, b, c = (np.asarray(a, dtype=np.float64) for a in (W, b, c))
    if is_gaussian_pair(visible, hidden):
        P, mean, log_z = gaussian_pair_moments(W, b, c, visible)
        if math.isinf(log_z):
            raise ValueError("exact samples of an improper Gaussian-Gaussian RBM do not "
                             "exist (its log Z is +inf); refit it with a lower learning rate.")
        V = rng.multivariate_normal(mean, np.linalg.inv(P), size=n_samples)
        return np.ascontiguousarray(visible.to_kernel(V), dtype=np.float64)
    _, chunks = _enumeration(W, b, c, visible, hidden)
    chunk_logs = np.array([logsumexp(terms) for _, terms in chunks])
    counts = rng.multinomial(n_samples, np.exp(chunk_logs - logsumexp(chunk_logs)))
    drawn = []
    layer, chunks = _enumeration(W, b, c, visible, hidden)
    for (states, terms), count in zip(chunks, counts):
        if count:
            p = np.exp(terms - logsumexp(terms))
            drawn.append(states[rng.choice(len(states), size=count, p=p / p.sum())])
    states = np.concatenate(drawn)[rng.permutation(n_samples)]
    V = visible.sample(states @ W + b, rng) if layer == "hidden" else states
    return np.ascontiguousarray(visible.to_kernel(V), dtype=np.float64)


def ais_betas(n_betas):
    """Inverse temperatures from 0 to 1, denser near 1.

    Follows the spacing of Salakhutdinov & Murray (2008): 500 steps on
    [0, 0.5], 4,000 on [0.5, 0.9] and 10,000 on [0.9, 1], scaled to
    ``n_betas`` in total.
    """
    if n_betas < 3:
        raise ValueError(f"n_betas must be at least 3, got {n_betas}.")
    if n_betas == 3:  # too few for a step in each of the three pieces (that gave 4)
        return np.linspace(0.0, 1.0, n_betas)
    shares = np.array([500, 4000, 10000]) / 14500
    counts = np.maximum(1, np.round(shares * (n_betas - 1)).astype(int))
    counts[-1] = max(1, n_betas - 1 - counts[:-1].sum())
    pieces = [
        np.linspace(lo, hi, n, endpoint=False)
        for lo, hi, n in zip((0.0, 0.5, 0.9), (0.5, 0.9, 1.0), counts)
    ]
    return np.concatenate(pieces + [np.array([1.0])])


def base_log_partition(visible, hidden, base_bias, n_hidden):
    """log Z of the base model: visible biases ``base_bias``, no coupling."""
    no_coupling = np.zeros((1, len(base_bias)))
    return (float(visible.log_partition_given_hidden(no_coupling, base_bias)[0])
            + hidden.base_log_partition(n_hidden))


def annealed_log_weights(W, b, c, visible, base_bias, S, betas, rng, n_threads=1, hidden=None):
    """Log importance weights of chains annealed along ``betas``, in either direction.

    The kernel's path (``_gibbs.ais_log_weights``) reads the inverse
    temperatures in the order given: at each one the weights gain
    log p*_k(v) - log p*_{k-1}(v) and the chains take a Gibbs step at beta_k
    (not after the last).  Increasing betas from 0 give forward AIS,
    decreasing betas from 1 reverse AIS, and constant betas of 1 a plain
    Gibbs run at the model (every gain zero).

    Parameters
    ----------
    W, b, c : ndarrays of float64, C-ordered
    visible : visible layer (``rbm._units``)
    base_bias : ndarray of shape (n_visible,), float64
    S : ndarray of shape (n_chains, n_visible), float64, C-ordered
        IN/OUT: s(v) rows of the chains' start states; their end states on return.
    betas : ndarray of float64
    rng : numpy.random.Generator
        Seeds the kernel's random streams.
    n_threads : int, default=1
    hidden : hidden layer (``rbm._units``) or None, default=None
        None: binary hidden units.

    Returns
    -------
    log_w : ndarray of shape (n_chains,)
    """
    # Independent SFC64 streams for the kernel's chunks of chains, drawn from rng.
    seeds = rng.integers(2**63, size=_gibbs.n_streams_for(len(S)))
    streams = [np.random.SFC64(int(seed)) for seed in seeds]
    view = None if hidden is None else hidden.kernel_view(np.float64)
    log_w = _gibbs.ais_log_weights(KernelParams(W, b, c, view), visible.kernel_view(np.float64), S,
                                    base_bias, np.ascontiguousarray(betas, dtype=np.float64),
                                    streams, n_threads)
    # The kernel takes the visible energy terms as linear in s(v); their
    # constant part (nonzero for Gaussian units) is what s(v) = 0 gives,
    # gained in proportion to the net change of beta along the path.
    no_state = np.zeros((1, len(b)))
    constant = float(visible.energy_term(no_state, b)[0]
                     - visible.energy_term(no_state, base_bias)[0])
    return log_w + (betas[-1] - betas[0]) * constant


def _float64_parameters(W, b, c, base_bias):
    return tuple(np.ascontiguousarray(a, dtype=np.float64) for a in (W, b, c, base_bias))


def ais_log_partition(W, b, c, visible, hidden, base_bias, n_chains, n_betas, rng,
                      n_threads=1, return_states=False):
    """Estimate log Z by annealed importance sampling (Salakhutdinov & Murray 2008).

    The base model has the visible biases ``base_bias`` (the data marginals),
    the model's own visible-type parameters (Gaussian sigma, categorical
    blocks) and no couplings, so its log Z and exact samples are known.  The
    intermediate models interpolate the energies linearly in the inverse
    temperature; transitions are block-Gibbs steps.

    Parameters
    ----------
    W, b, c : ndarrays
        Model parameters (shapes as in ``exact_log_partition``).
    visible, hidden : layers (``rbm._units``)
    base_bias : ndarray of shape (n_visible,)
    n_chains : int
        Independent AIS runs.
    n_betas : int
        Number of inverse temperatures including 0 and 1.
    rng : numpy.random.Generator
    n_threads : int, default=1
        Threads for the kernel's sampling (products follow the BLAS's own
        setting); the estimate does not depend on it.
    return_states : bool, default=False
        Also return the chains' end states (kernel rows s(v)) and their log
        importance weights.

    Returns
    -------
    log_z : float
        The estimate log Z_A + log mean(w).
    std_error : float
        Standard error of ``log_z`` by the delta method, std(w) / (sqrt(M) mean(w));
        inf where too few runs carry the weights (``combine_log_weights``).
    S, log_w : ndarrays of shape (n_chains, n_visible) and (n_chains,)
        Only with ``return_states``: the chains' end states and log weights.
    """
    W, b, c, base_bias = _float64_parameters(W, b, c, base_bias)
    n_hidden, n_visible = W.shape
    log_z_base = base_log_partition(visible, hidden, base_bias, n_hidden)
    V = visible.sample(np.array(np.broadcast_to(base_bias, (n_chains, n_visible))), rng)
    S = np.ascontiguousarray(visible.to_kernel(V), dtype=np.float64)
    log_w = annealed_log_weights(W, b, c, visible, base_bias, S, ais_betas(n_betas), rng,
                                 n_threads, hidden)
    log_z, std_error = combine_log_weights(log_w, log_z_base)
    return (log_z, std_error, S, log_w) if return_states else (log_z, std_error)


def reverse_ais_log_partition(W, b, c, visible, hidden, base_bias, S, n_betas, rng,
                              n_threads=1):
    """Estimate log Z by reverse AIS from samples of the model.

    The chains start at ``S`` (kernel rows s(v), which should be draws from
    the model itself) and are annealed along the AIS path backwards, from
    the model to the base model.  The mean of their weights estimates
    Z_base / Z without bias when the start states are exact draws, so the
    estimate log Z_base - log mean(w) is then a stochastic upper bound on
    log Z (E[estimate] >= log Z).  From approximate draws (Gibbs chains
    that have not reached equilibrium) it is an estimate without that
    guarantee.

    Parameters
    ----------
    W, b, c, visible, hidden, base_bias, n_betas, rng, n_threads
        As in ``ais_log_partition``.
    S : ndarray of shape (n_chains, n_visible)
        Start states (not changed).

    Returns
    -------
    log_z : float
        The estimate log Z_A - log mean(w).
    std_error : float
        Its standard error by the delta method, std(w) / (sqrt(M) mean(w)); inf
        where too few runs carry the weights (``combine_log_weights``).
    """
    W, b, c, base_bias = _float64_parameters(W, b, c, base_bias)
    S = np.array(S, dtype=np.float64, order="C")
    log_z_base = base_log_partition(visible, hidden, base_bias, W.shape[0])
    log_w = annealed_log_weights(W, b, c, visible, base_bias, S, ais_betas(n_betas)[::-1], rng,
                                 n_threads, hidden)
    log_ratio, std_error = combine_log_weights(log_w, 0.0)
    return log_z_base - log_ratio, std_error


def gibbs_at_model(W, b, c, visible, base_bias, S, n_sweeps, rng, n_threads=1, hidden=None):
    """S (IN/OUT) after ``n_sweeps`` block-Gibbs sweeps of the model (beta = 1)."""
    W, b, c, base_bias = _float64_parameters(W, b, c, base_bias)
    annealed_log_weights(W, b, c, visible, base_bias, S, np.ones(n_sweeps + 2), rng, n_threads,
                         hidden)
    return S


#: Effective number of AIS runs (``effective_runs``) below which the
#: delta-method standard error is not reported (inf): it is
#: sqrt((M / ESS - 1) / (M - 1)) for M runs, so it can never exceed 1 nat
#: however wrong the estimate, and it reads exactly 1.0 when one run carries
#: all the weight.  Measured on 216 forward runs on random 14 x 8 binary
#: models against exact log Z: below 10 effective runs the 99% interval
#: missed 26% (5 to 10), 49% (2 to 5) and 58% (below 2) of the time, above
#: it about 1% (the error was up to 20 nats where the bar read 0.99).
MIN_EFFECTIVE_RUNS = 10


def effective_runs(log_w):
    """Kish's effective sample size (sum w)**2 / sum(w**2) of importance weights."""
    w = np.exp(np.asarray(log_w, dtype=np.float64) - np.max(log_w))
    return float(w.sum() ** 2 / (w ** 2).sum())


def too_few_effective_runs(log_w):
    """Whether the weights' effective runs are below ``MIN_EFFECTIVE_RUNS``
    (half the runs, for fewer than twice as many): no error bar then."""
    return effective_runs(log_w) < min(MIN_EFFECTIVE_RUNS, len(log_w) / 2)


def combine_log_weights(log_w, log_z_base):
    """(log Z estimate, standard error) from AIS log importance weights.

    The standard error is the delta method's std(w) / (sqrt(M) mean(w)),
    or inf where too few runs carry the weight (``too_few_effective_runs``):
    the spread of the weights then says nothing of the error.
    """
    log_mean = logsumexp(log_w) - math.log(len(log_w))
    ratios = np.exp(log_w - log_mean)
    if len(log_w) < 2 or too_few_effective_runs(log_w):
        return float(log_z_base + log_mean), math.inf
    std_error = float(np.std(ratios, ddof=1) / math.sqrt(len(log_w)))
    return float(log_z_base + log_mean), std_error


def warn_of_few_effective_runs(owner, log_w, n_betas, users=""):
    """RuntimeWarning where an AIS run's weights are carried by too few runs
    (``too_few_effective_runs``): the estimate's error is unknown.  ``users``:
    the owner's calls that take log Z from ``log_partition()``'s defaults, so
    that no setting of theirs improves it (review: the advice to raise
    n_betas reached ``score``, which takes none)."""
    if not too_few_effective_runs(log_w):
        return
    share = float(np.max(np.exp(log_w - logsumexp(log_w))))
    warnings.warn(
        f"{owner}: the AIS estimate of log Z is unreliable: its {len(log_w)} runs' importance "
        f"weights count as {effective_runs(log_w):.3g} effective runs (the largest carries "
        f"{share:.0%} of the total), so their spread says nothing of the error, which may "
        "be many nats (AIS then mostly underestimates log Z); its std_error is inf. Use more "
        f"inverse temperatures (n_betas, now {n_betas}) and more runs (n_chains, now "
        f"{len(log_w)}) in log_partition until this warning goes away"
        + (f"; {users} use log_partition()'s defaults, so with such an estimate log_z "
           "compute their values from it" if users else "") + ".",
        RuntimeWarning, stacklevel=user_stacklevel())


def _margin(tail, n_chains, std_error):
    """One side's margin (``LogPartitionEstimate.interval``): a t quantile
    times the standard error, at most Markov's log(1 / tail)."""
    return min(float(stats.t.isf(tail, n_chains - 1)) * std_error, -math.log(tail))


class LogPartitionEstimate(tuple):
    """log Z, how it was obtained, and (with reverse AIS) a bracket around it.

    Unpacks as ``(log_z, std_error)``, like the plain tuple
    ``log_partition`` returned before, and carries the rest as attributes
    (as SciPy's test results do).

    Attributes
    ----------
    log_z : float
        The estimate in nats: exact, or forward AIS.
    std_error : float
        Its standard error (0.0 when exact).
    method : {"exact", "ais"}
    n_chains, n_betas : int or None
        AIS runs and inverse temperatures (None when exact).
    reverse_log_z, reverse_std_error : float or None
        Reverse AIS's estimate of log Z and its standard error, when a
        bracket was asked for.
    reverse_n_chains : int or None
        Reverse AIS runs (``n_chains``, or the number of samples given).
    reverse_start : {"exact", "chains", "samples"} or None
        Where the reverse chains started: exact draws of the model, the
        forward runs' end states (resampled by their weights) after further
        Gibbs sweeps, or samples the caller gave.  Only "exact" makes the upper side a guaranteed
        stochastic bound.
    confidence : float
        Level of ``lower`` and ``upper`` (0.99 unless given).
    lower, upper : float
        Bounds on log Z (``interval(confidence)``): for exact, ``log_z``
        itself; for AIS, ``log_z - t * std_error`` and (with reverse AIS)
        ``reverse_log_z + t * reverse_std_error``, with ``t`` the quantile
        of ``(1 + confidence) / 2`` of Student's t with one degree of
        freedom fewer than the runs; without reverse AIS ``upper`` is inf,
        since forward AIS errs low and gives no upper bound.
    """

    def __new__(cls, log_z, std_error, method, *, n_chains=None, n_betas=None,
                reverse=None, reverse_n_chains=None, reverse_start=None,
                confidence=DEFAULT_CONFIDENCE):
        self = super().__new__(cls, (float(log_z), float(std_error)))
        self.method = method
        self.n_chains, self.n_betas = n_chains, n_betas
        self.reverse_log_z, self.reverse_std_error = (
            (None, None) if reverse is None else (float(reverse[0]), float(reverse[1])))
        self.reverse_n_chains = reverse_n_chains
        self.reverse_start = reverse_start
        self.confidence = float(confidence)
        self.lower, self.upper = self.interval(confidence)
        return self

    def __reduce__(self):
        reverse = (None if self.reverse_log_z is None
                   else (self.reverse_log_z, self.reverse_std_error))
        return (_rebuild_estimate, (tuple(self), self.method, self.n_chains, self.n_betas,
                                    reverse, self.reverse_n_chains, self.reverse_start,
                                    self.confidence))

    @property
    def log_z(self):
        return self[0]

    @property
    def std_error(self):
        return self[1]

    @property
    def is_exact(self):
        """Whether log Z was enumerated exactly."""
        return self.method == "exact"

    def interval(self, confidence=DEFAULT_CONFIDENCE):
        """(lower, upper) bounds on log Z at a confidence level.

        Each side is a stochastic bound widened by a margin for its sampling
        noise, ``(1 - confidence) / 2`` in each tail (the standard error
        times a Student's t quantile): forward AIS tends to err low and
        reverse AIS high (Jensen), so the margins only have to cover the
        noise, and the bracket misses log Z with probability at most about
        ``1 - confidence``.  The upper side holds only when the reverse
        chains start at the model's distribution (``reverse_start="exact"``,
        or exact samples given).

        No margin exceeds log(1 / tail) nats: each side's mean weight is an
        unbiased estimate of its ratio of partition functions, so by
        Markov's inequality it exceeds e**t times that ratio with
        probability at most e**-t, however few runs carry the weights.  That
        is the margin where the standard error is inf (too few effective
        runs, ``combine_log_weights``), and with few runs (a t quantile of
        few degrees of freedom) where it is the smaller.

        Parameters
        ----------
        confidence : float in (0, 1), default=0.99

        Returns
        -------
        lower, upper : float
        """
        if not 0 < confidence < 1:
            raise ValueError(f"confidence must be in (0, 1), got {confidence!r}.")
        if self.is_exact:
            return self.log_z, self.log_z
        tail = (1 - confidence) / 2
        lower = self.log_z - _margin(tail, self.n_chains, self.std_error)
        if self.reverse_log_z is None:
            return lower, math.inf
        return lower, self.reverse_log_z + _margin(tail, self.reverse_n_chains,
                                                   self.reverse_std_error)

    @property
    def label(self):
        """How log Z was obtained, in a few words (for messages and reports)."""
        if self.is_exact:
            return "exact"
        error = (f"standard error {self.std_error:.2g}" if math.isfinite(self.std_error)
                 else "no standard error (too few effective runs)")
        text = f"AIS, {self.n_chains} runs x {self.n_betas} temperatures, {error}"
        if self.reverse_log_z is not None:
            text += (f"; {self.confidence:.0%} bracket [{self.lower:.4f}, {self.upper:.4f}] "
                     f"with reverse AIS from {_START_WORDS[self.reverse_start]}")
        return text

    def __repr__(self):
        fields = f"log_z={self.log_z!r}, std_error={self.std_error!r}, method={self.method!r}"
        if not self.is_exact:
            fields += f", lower={self.lower!r}, upper={self.upper!r}"
        return f"LogPartitionEstimate({fields})"


_START_WORDS = {"exact": "exact model samples", "chains": "resampled forward chains",
                "samples": "given samples"}


def _rebuild_estimate(values, method, n_chains, n_betas, reverse, reverse_n_chains,
                      reverse_start, confidence):
    return LogPartitionEstimate(*values, method, n_chains=n_chains, n_betas=n_betas,
                                reverse=reverse, reverse_n_chains=reverse_n_chains,
                                reverse_start=reverse_start, confidence=confidence)


#: Ridge added to the data's covariance, as a fraction of each feature's
#: variance, before the Gaussian pair starts at its moments: the default
#: ``reg_covar`` of scikit-learn's GaussianMixture on standardised data, so
#: that rows fewer than features (a singular covariance) still give a
#: proper model.
GAUSSIAN_PAIR_RIDGE = 1e-6
#: Halvings of an exact-gradient step tried before giving up on keeping
#: the Gaussian pair proper (2**-30 of the step is below rounding).
GAUSSIAN_PAIR_MAX_HALVINGS = 30


def weighted_moments(X, sample_weight=None):
    """(mean, second moment E[v v^T]) of the rows of X, weighted, in float64."""
    X = np.asarray(X.toarray() if hasattr(X, "toarray") else X, dtype=np.float64)
    w = (np.ones(X.shape[0]) if sample_weight is None
         else np.asarray(sample_weight, dtype=np.float64))
    w = w / w.sum()
    return w @ X, (X * w[:, None]).T @ X


#: The factor-analysis start's L-BFGS-B tolerances (on the mean
#: log-likelihood in nats per row, and its gradient in log Psi): 20,000 EM
#: iterations from where it stopped gained under 1e-9 nats per row (breast
#: cancer and wine, 2 to 16 factors).
FACTOR_ANALYSIS_TOL = 1e-12
#: At most this many L-BFGS-B iterations per start (one eigendecomposition
#: of the features' covariance each, or a few); breast cancer needed up to
#: 650 evaluations (25 factors), usually 100 to 300.
FACTOR_ANALYSIS_MAX_ITER = 2000


def factor_analysis_loadings(covariance, noise, n_factors):
    """(L, mean log-likelihood, its gradient in log noise) of the
    maximum-likelihood factor analysis with the noise variances ``noise`` held fixed.

    With Psi = diag(noise) and the whitened covariance Psi**(-1/2) S
    Psi**(-1/2) = U diag(lam) U.T, the best L keeps the ``n_factors``
    largest lam above 1: L = Psi**(1/2) U_k diag(sqrt(lam_k - 1)) (Tipping
    and Bishop's PPCA solution in the whitened space).  The model's
    covariance C = L L.T + Psi then has log det = sum log noise + sum_k log
    max(lam_k, 1) and tr(C**-1 S) = sum_k min(lam_k, 1) + the sum of the
    other lam, which give the log-likelihood without another factorisation.
    Its derivative in log Psi_i at the best L (which needs no derivative of
    L: it is optimal) is -Psi_i (C**-1 - C**-1 S C**-1)_ii / 2, which in
    the whitened basis (C**-1 there has eigenvalues 1 / max(lam_k, 1) on
    L's eigenvectors and 1 on the others) is sum_j U_ij**2 (lam_j - 1) / 2
    over the eigenvectors j that L does not take up.

    Parameters
    ----------
    covariance : ndarray of shape (n_features, n_features)
    noise : ndarray of shape (n_features,), positive
    n_factors : int

    Returns
    -------
    L : ndarray of shape (n_features, min(n_factors, n_features))
    log_likelihood : float
    gradient : ndarray of shape (n_features,)
    """
    root = np.sqrt(noise)
    lam, U = np.linalg.eigh(covariance / np.outer(root, root))
    order = np.argsort(lam)[::-1]
    lam, U = lam[order], U[:, order]
    k = min(n_factors, len(noise))
    L = root[:, None] * U[:, :k] * np.sqrt(np.clip(lam[:k] - 1.0, 0.0, None))
    log_det = float(np.log(noise).sum() + np.log(np.maximum(lam[:k], 1.0)).sum())
    trace = float(np.minimum(lam[:k], 1.0).sum() + lam[k:].sum())
    left = np.ones(len(lam), dtype=bool)
    left[:k] = lam[:k] <= 1.0
    gradient = 0.5 * (U[:, left] ** 2) @ (lam[left] - 1.0)
    return L, -0.5 * (log_det + trace + len(noise) * math.log(2.0 * math.pi)), gradient


def factor_analysis(covariance, n_factors, low, high):
    """(noise variances Psi, loadings L, mean log-likelihood) of the
    maximum-likelihood factor analysis S ~ L L.T + diag(Psi), Psi in [low, high].

    The likelihood maximised over L for each Psi (``factor_analysis_loadings``)
    is maximised over log Psi by L-BFGS-B within the bounds.  It has local
    maxima (breast cancer, 4 factors: -17.61 and -18.88 nats per row), so
    two deterministic starts run and the better end is kept: Psi_i = (1 -
    n_factors / (2 n_features)) / (S**-1)_ii (Joreskog's, as R's
    ``factanal``) and Psi = diag(S) (where scikit-learn's ``FactorAnalysis``
    starts on standardised data); on breast cancer and wine with 2 to 25
    factors neither alone always found the better maximum.  Works on the
    covariance, not the rows, so weighted rows weigh in.  (scikit-learn's
    alternation of L given Psi with Psi = diag(S - L L.T) crawls where some
    Psi tends to 0: 5,000 iterations left breast cancer's 16-factor fit 0.02
    nats per row short.)

    Parameters
    ----------
    covariance : ndarray of shape (n_features, n_features), positive definite
    n_factors : int
    low, high : ndarrays of shape (n_features,)
        Bounds on the noise variances (squared sigma floor and ceiling).

    Returns
    -------
    noise : ndarray of shape (n_features,)
    L : ndarray of shape (n_features, min(n_factors, n_features))
    log_likelihood : float
    """
    from scipy.optimize import minimize  # (only the Gaussian pair's start needs it)

    n_features = len(covariance)
    low, high = np.maximum(low, np.finfo(np.float64).tiny), np.asarray(high, dtype=np.float64)
    shrink = max(1.0 - 0.5 * n_factors / n_features, 0.5)
    starts = (shrink / np.diag(np.linalg.inv(covariance)), np.diag(covariance))

    def negative(log_noise):
        _, log_likelihood, gradient = factor_analysis_loadings(
            covariance, np.exp(log_noise), n_factors)
        return -log_likelihood, -gradient

    best = None
    for start in starts:
        found = minimize(negative, np.log(np.clip(start, low, high)), jac=True,
                         method="L-BFGS-B", bounds=list(zip(np.log(low), np.log(high))),
                         options=dict(maxiter=FACTOR_ANALYSIS_MAX_ITER,
                                      ftol=FACTOR_ANALYSIS_TOL, gtol=FACTOR_ANALYSIS_TOL))
        noise = np.clip(np.exp(found.x), low, high)
        L, log_likelihood, _ = factor_analysis_loadings(covariance, noise, n_factors)
        if best is None or log_likelihood > best[2]:
            best = noise, L, log_likelihood
    return best


def gaussian_pair_from_factor_analysis(mean, noise, L, n_hidden):
    """(W, b, c, sigma) of the Gaussian-Gaussian RBM whose visible marginal is
    the factor-analysis model N(mean, L L.T + diag(noise)).

    The RBM's marginal precision is D - D W.T W D (D = diag(1 / sigma**2),
    ``gaussian_pair_moments``); by Woodbury, (L L.T + Psi)**-1 = D - D L M
    L.T D with M = (I + L.T D L)**-1 and D = Psi**-1.  So sigma = sqrt(noise)
    and W = M**(1/2) L.T (any rotation of W's rows would do).  The hidden
    layer is then proper too: W D W.T = G (I + G)**-1, G = L.T D L, has
    eigenvalues below 1.  b = mean and c = -W D mean put the model's mean
    (P**-1 D (b + W.T c)) at ``mean``.  Hidden units beyond L's columns get
    zero weights.

    Parameters
    ----------
    mean, noise : ndarrays of shape (n_features,)
    L : ndarray of shape (n_features, n_factors), n_factors <= n_hidden
    n_hidden : int

    Returns
    -------
    W, b, c, sigma : float64 ndarrays
    """
    d = 1.0 / noise
    g, V = np.linalg.eigh(L.T @ (L * d[:, None]))
    root_M = (V / np.sqrt(1.0 + np.clip(g, 0.0, None))) @ V.T
    W = np.zeros((n_hidden, len(mean)))
    W[:L.shape[1]] = root_M @ L.T
    b = np.array(mean, dtype=np.float64)
    return W, b, -(W * d) @ b, np.sqrt(noise)


def gaussian_pair_from_moments(mean, covariance, n_hidden, sigma=None, bounds=None):
    """(W, b, c, sigma) of the maximum-likelihood Gaussian-Gaussian RBM of data
    with this mean and covariance.

    With ``n_hidden >= n_features`` and sigma learned (``sigma=None``) the
    model can be N(mean, covariance) exactly: its precision P = D - D W.T W
    D is P_data when A = W D**(1/2) satisfies A.T A = I - D**(-1/2) P_data
    D**(-1/2), which needs D >= P_data; D = kappa diag(P_data), kappa the
    largest eigenvalue of the partial correlation matrix diag(P)**(-1/2) P
    diag(P)**(-1/2), is the largest sigma along which it holds, and A's rows
    are that matrix's eigenvectors scaled by the square roots of their
    eigenvalues (rows beyond ``n_features`` zero).

    Otherwise the model is factor analysis with Psi = diag(sigma**2)
    (``gaussian_pair_from_factor_analysis``): its maximum likelihood
    (``factor_analysis``, sigma**2 within ``bounds``), or for a given sigma
    (a fixed one) the best loadings given Psi = sigma**2
    (``factor_analysis_loadings``).  (The start before took D = kappa
    diag(P_data) here too and kept A's leading rows: on breast cancer's
    near-collinear features sigma was then far too small and the fit 6 to
    90 nats per row below factor analysis's, from which the exact gradient
    steps could not climb.)

    Parameters
    ----------
    mean : ndarray of shape (n_features,)
    covariance : ndarray of shape (n_features, n_features), positive definite
    n_hidden : int
    sigma : ndarray of shape (n_features,) or None
    bounds : (low, high) or None
        Bounds on a learned sigma (each an ndarray of shape (n_features,));
        None: (0, inf).

    Returns
    -------
    W, b, c, sigma : float64 ndarrays
    """
    n_features = len(mean)
    if sigma is None and n_hidden >= n_features:
        P = np.linalg.inv(covariance)
        P = 0.5 * (P + P.T)
        root = np.sqrt(np.diag(P))
        kappa = np.linalg.eigvalsh(P / np.outer(root, root))[-1]
        d = kappa * np.diag(P)
        sigma = 1.0 / np.sqrt(d)
        M = np.eye(n_features) - P * np.outer(sigma, sigma)
        eigenvalues, vectors = np.linalg.eigh(0.5 * (M + M.T))
        A = np.zeros((n_hidden, n_features))
        A[:n_features] = (vectors * np.sqrt(np.clip(eigenvalues, 0.0, None))).T
        W = A * sigma
        DW = W * d
        P_model = np.diag(d) - DW.T @ DW
        return W, (P_model @ mean) / d, np.zeros(n_hidden), sigma
    if sigma is None:
        low, high = (np.zeros(n_features), np.full(n_features, np.inf)) if bounds is None \
            else bounds
        noise, L, _ = factor_analysis(covariance, n_hidden, np.asarray(low) ** 2,
                                      np.asarray(high) ** 2)
    else:
        noise = np.asarray(sigma, dtype=np.float64) ** 2
        L = factor_analysis_loadings(covariance, noise, n_hidden)[0]
    return gaussian_pair_from_factor_analysis(mean, noise, L, n_hidden)


def gaussian_pair_gradient(W, b, c, sigma, data_mean, data_second):
    """Exact gradient of the mean log-likelihood of a Gaussian-Gaussian RBM.

    log p(v) is that of N(mu, P**-1) (``gaussian_pair_moments``), and every
    derivative of the energy is linear in v, v v^T and h given v (h | v ~
    N(c + W D v, 1)), so each gradient <-dE/dtheta>_data - <-dE/dtheta>_model
    depends on the data's and the model's first and second moments alone.
    With E1 = E[v], E2 = E[v v^T] and E[h v^T] = c E1^T + W D E2:

    - dW = E[h v^T] D,   dc = E[h] = c + W D E1,   db = D (E1 - b),
    - d log sigma_i = d_i (E2_ii - 2 b_i E1_i + b_i**2) - 2 d_i (W^T E[h v^T])_ii.

    Returns None when the model is improper (no model moments).

    Parameters
    ----------
    W, b, c, sigma : ndarrays (float64)
    data_mean, data_second : ndarrays
        The data's E[v] and E[v v^T] (``weighted_moments``).

    Returns
    -------
    (dW, db, dc, dlog_sigma) or None
    """
    d = 1.0 / sigma ** 2
    visible = SigmaOnly(sigma)
    P, model_mean, log_z = gaussian_pair_moments(W, b, c, visible)
    if math.isinf(log_z):
        return None
    model_second = np.linalg.inv(P) + np.outer(model_mean, model_mean)

    def statistics(first, second):
        hv = np.outer(c, first) + (W * d) @ second
        return (hv * d, d * (first - b), c + W @ (d * first),
                d * (np.diag(second) - 2.0 * b * first + b * b)
                - 2.0 * d * (W * hv).sum(axis=0))

    return tuple(data - model for data, model in zip(
        statistics(data_mean, data_second), statistics(model_mean, model_second)))


def gaussian_pair_log_likelihood(W, b, c, sigma, data_mean, data_second):
    """Mean log-likelihood of rows with moments E[v], E[v v^T] under a Gaussian-Gaussian RBM.

    With the model's precision P and mean mu (``gaussian_pair_moments``):
    log det P / 2 - tr(P E[(v - mu)(v - mu)^T]) / 2 - n log(2 pi) / 2;
    -inf for an improper model.
    """
    P, mu, log_z = gaussian_pair_moments(W, b, c, SigmaOnly(sigma))
    if math.isinf(log_z):
        return -math.inf
    L = np.linalg.cholesky(P)
    spread = (float(np.sum(P * data_second)) - 2.0 * float(mu @ P @ data_mean)
              + float(mu @ P @ mu))
    return (float(np.log(np.diag(L)).sum()) - 0.5 * spread
            - 0.5 * len(mu) * math.log(2.0 * math.pi))


class SigmaOnly:
    """A stand-in Gaussian visible layer: ``sigma``, all ``gaussian_pair_moments`` reads."""

    def __init__(self, sigma):
        self.sigma = sigma
