"""Log-partition functions: exact enumeration and annealed importance sampling.

Written once against the layer verbs (``rbm._units``): the visible layer
and the hidden layer are arguments, and nothing here asks which types they
are.  All
arithmetic is in float64 whatever the model's dtype.
"""

import math

import numpy as np
from scipy.special import logsumexp

from . import _gibbs
from ._state import KernelParams

#: Largest number of states enumerated by ``exact_log_partition``.
MAX_EXACT_STATES = 2 ** 26
#: Elements per enumeration chunk (rows x summed-out units): 32 MiB of float64.
ENUMERATION_CHUNK_ELEMENTS = 2 ** 22


def exact_cost(n_visible, n_hidden, visible, hidden):
    """(number of states, floating-point work) of the cheapest exact enumeration."""
    n_states = hidden.n_states(n_hidden)
    if visible.discrete:
        n_states = min(n_states, visible.n_states(n_visible))
    return n_states, 2.0 * n_states * n_visible * n_hidden


def exact_log_partition(W, b, c, visible, hidden):
    """Exact log Z by summing out one layer in closed form and enumerating the other.

    Enumerates the hidden layer, or the visible layer when that has fewer
    states and is discrete.

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
    n_hidden, n_visible = W.shape
    n_states, _ = exact_cost(n_visible, n_hidden, visible, hidden)
    if n_states > MAX_EXACT_STATES:
        raise ValueError(
            f"exact log Z needs {n_states} states (> {MAX_EXACT_STATES}); "
            "use method='ais' for a model this large."
        )
    chunk_logs = []
    chunk_rows = max(1, ENUMERATION_CHUNK_ELEMENTS // max(n_visible, n_hidden))
    if n_states == hidden.n_states(n_hidden):
        for H in hidden.enumerate_states(n_hidden, chunk_rows, np.float64):
            terms = H @ c + visible.log_partition_given_hidden(H @ W, b)
            chunk_logs.append(logsumexp(terms))
    else:
        for V in visible.enumerate_states(n_visible, chunk_rows, np.float64):
            hidden_field = visible.hidden_input(V) @ W.T + c
            terms = visible.energy_term(V, b) + hidden.log_partition(hidden_field)
            chunk_logs.append(logsumexp(terms))
    return float(logsumexp(chunk_logs))


def ais_betas(n_betas):
    """Inverse temperatures from 0 to 1, denser near 1.

    Follows the spacing of Salakhutdinov & Murray (2008): 500 steps on
    [0, 0.5], 4,000 on [0.5, 0.9] and 10,000 on [0.9, 1], scaled to
    ``n_betas`` in total.
    """
    if n_betas < 3:
        raise ValueError(f"n_betas must be at least 3, got {n_betas}.")
    shares = np.array([500, 4000, 10000]) / 14500
    counts = np.maximum(1, np.round(shares * (n_betas - 1)).astype(int))
    counts[-1] = max(1, n_betas - 1 - counts[:-1].sum())
    pieces = [
        np.linspace(lo, hi, n, endpoint=False)
        for lo, hi, n in zip((0.0, 0.5, 0.9), (0.5, 0.9, 1.0), counts)
    ]
    return np.concatenate(pieces + [np.array([1.0])])


def ais_log_partition(W, b, c, visible, hidden, base_bias, n_chains, n_betas, rng,
                      n_threads=1):
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

    Returns
    -------
    log_z : float
        The estimate log Z_A + log mean(w).
    std_error : float
        Standard error of ``log_z`` by the delta method, std(w) / (sqrt(M) mean(w)).
    """
    W, b, c, base_bias = (np.ascontiguousarray(a, dtype=np.float64) for a in (W, b, c, base_bias))
    n_hidden, n_visible = W.shape
    no_coupling = np.zeros((1, n_visible))
    log_z_base = float(visible.log_partition_given_hidden(no_coupling, base_bias)[0])
    log_z_base += hidden.base_log_partition(n_hidden)
    V = visible.sample(np.array(np.broadcast_to(base_bias, (n_chains, n_visible))), rng)
    S = np.ascontiguousarray(visible.to_kernel(V), dtype=np.float64)
    # Independent SFC64 streams for the kernel's chunks of chains, drawn from rng.
    seeds = rng.integers(2**63, size=_gibbs.n_streams_for(n_chains))
    streams = [np.random.SFC64(int(seed)) for seed in seeds]
    log_w = _gibbs.ais_log_weights(KernelParams(W, b, c), visible.kernel_view(np.float64), S,
                                    base_bias, ais_betas(n_betas), streams, n_threads)
    # The kernel takes the visible energy terms as linear in s(v); their
    # constant part (nonzero for Gaussian units) is what s(v) = 0 gives,
    # gained once over the whole path (the beta steps sum to one).
    no_state = np.zeros((1, n_visible))
    log_w += float(visible.energy_term(no_state, b)[0] - visible.energy_term(no_state, base_bias)[0])
    return combine_log_weights(log_w, log_z_base)


def combine_log_weights(log_w, log_z_base):
    """(log Z estimate, standard error) from AIS log importance weights."""
    log_mean = logsumexp(log_w) - math.log(len(log_w))
    ratios = np.exp(log_w - log_mean)
    if len(log_w) < 2:
        return float(log_z_base + log_mean), math.inf
    std_error = float(np.std(ratios, ddof=1) / math.sqrt(len(log_w)))
    return float(log_z_base + log_mean), std_error
