"""Properness of models with unbounded visible and hidden units.

With Gaussian visible units, v | h ~ N(b + W.T h, sigma**2), so integrating v
out leaves the hidden states the unnormalised density

    p*(h) = exp(-sum_j U_j(h_j) + (c + W D b).h + h.K h / 2),   K = W D W.T,

D = diag(1 / sigma**2).  Where the potentials grow like gamma_j h_j**2 / 2
(Gaussian, ReLU and dReLU units, ``HiddenLayer.potential_curvatures``), the
model has a distribution only if h.K h < sum_j gamma_j(h_j) h_j**2 for every
direction h the units can take (h >= 0 for ReLU units; either sign for
Gaussian and dReLU units, with dReLU's curvature that of h_j's side).  Along a
direction where h.K h is larger, p*(t h) grows like exp(c t**2): log Z is
+inf, chains run off to infinity, and score and sample mean nothing.

For Gaussian hidden units the condition is that K's largest eigenvalue is
below 1 (``rbm._partition.gaussian_pair_moments`` checks it exactly); with
ReLU units it asks K to be copositive-dominated by the curvatures, which no
closed form decides.  ``improper_direction`` therefore searches for a
violating direction: finding one proves the model improper; finding none
proves nothing, so nothing is refused on a guess.
"""

import numpy as np

#: Starting directions of the search: the units with the largest coupling
#: against their curvature, one at a time, and fixed pseudo-random ones.
SEARCH_UNIT_STARTS = 8
SEARCH_RANDOM_STARTS = 8
#: Steps of the search before it gives up, and the relative gain per step
#: below which a start has stopped climbing (the method converges linearly;
#: a start still gaining that little is not about to cross 1 by much).
SEARCH_STEPS = 100
SEARCH_CONVERGED = 1e-6
#: Multiply-adds of a search per pair of hidden units at most, for budgets:
#: its starts times its steps, each a product with K.  (Where it proves a
#: model improper it mostly stops within a step or two; a proper model's
#: ReLU search took 0.3-0.9 s at 500 x 784 on a loaded 2-core machine.)
SEARCH_MULTIPLY_ADDS_PER_PAIR = (2 * SEARCH_UNIT_STARTS + SEARCH_RANDOM_STARTS + 1) * SEARCH_STEPS
#: A direction proves the model improper where h.K h exceeds the curvature
#: sum by more than this share: far beyond float64 rounding in K.
IMPROPER_MARGIN = 1e-9


def coupling_gram(W, d):
    """K = W diag(d) W.T in float64 (n_hidden x n_hidden)."""
    W = np.asarray(W, dtype=np.float64)
    return (W * d) @ W.T


def _curvature_sums(H, gamma_plus, gamma_minus):
    """sum_j gamma_j(h_j) h_j**2 for each column h of H."""
    if gamma_minus is None:
        return (gamma_plus[:, None] * np.maximum(H, 0.0) ** 2).sum(axis=0)
    gamma = np.where(H > 0, gamma_plus[:, None], gamma_minus[:, None])
    return (gamma * H ** 2).sum(axis=0)


def _best_response(G, gamma_plus, gamma_minus):
    """For each column g of G, the direction y maximising g.y on the set
    sum_j gamma_j(y_j) y_j**2 <= 1 (y >= 0 without a negative side), unscaled."""
    if gamma_minus is None:
        return np.maximum(G, 0.0) / gamma_plus[:, None]
    return np.where(G > 0, G / gamma_plus[:, None], G / gamma_minus[:, None])


def _unit_length(H, gamma_plus, gamma_minus):
    """The columns of H scaled to curvature sum 1, and which of them are not 0."""
    sums = _curvature_sums(H, gamma_plus, gamma_minus)
    alive = sums > 0
    return H / np.sqrt(np.where(alive, sums, 1.0)), alive


def _starts(K, gamma_plus, gamma_minus):
    """Starting directions (columns): the units of largest K_jj / gamma_j on
    each side they have, and fixed pseudo-random directions."""
    n = K.shape[0]
    diagonal = np.diag(K)
    sides = [(diagonal / gamma_plus, 1.0)]
    if gamma_minus is not None:
        sides.append((diagonal / gamma_minus, -1.0))
    columns = []
    for ratio, sign in sides:
        for j in np.argsort(-ratio, kind="stable")[:SEARCH_UNIT_STARTS]:
            column = np.zeros(n)
            column[j] = sign
            columns.append(column)
    random = np.random.RandomState(0).standard_normal((n, SEARCH_RANDOM_STARTS))
    return np.column_stack(columns + [random, np.ones(n)])


def rounding_margin(n_hidden, n_visible):
    """The share by which h.K h must exceed the curvature sum to prove anything:
    ``IMPROPER_MARGIN``, or more where K's rounding could reach it (each entry
    of K a sum of n_visible products, h.K h a sum of n_hidden**2 of them: a
    relative error of at most about n_hidden n_visible float64 epsilons in
    the direction found, where every single unit is held back)."""
    return max(IMPROPER_MARGIN, 4.0 * n_hidden * n_visible * np.finfo(np.float64).eps)


def _times(ratio):
    """A ratio just above 1 as "1 + 2.3e-07 times", others as "1.0625 times"."""
    return f"1 + {ratio - 1.0:.2g} times" if ratio < 1.001 else f"{ratio:.6g} times"


def improper_direction(K, gamma_plus, gamma_minus=None, margin=IMPROPER_MARGIN):
    """A direction along which the hidden units' marginal grows without bound.

    Maximises the ratio h.K h / sum_j gamma_j(h_j) h_j**2 from several
    starts by the conditional gradient method: with the sum fixed at 1,
    each step moves to the direction y that maximises the linearisation
    (K h).y on that set.  As h.K h is convex (K is positive semi-definite)
    the ratio never decreases, so each start climbs to a local maximum.

    Parameters
    ----------
    K : ndarray of shape (n_hidden, n_hidden)
        ``coupling_gram`` of the model (float64, positive semi-definite).
    gamma_plus : ndarray of shape (n_hidden,)
        Curvatures of the potentials for h > 0 (all positive).
    gamma_minus : ndarray of shape (n_hidden,) or None
        Curvatures for h < 0, or None for units with h >= 0 only.
    margin : float
        The share by which the ratio must exceed 1 (``rounding_margin``).

    Returns
    -------
    (ratio, h) or None
        The first direction h found whose ratio exceeds 1 (by more than
        ``margin``), with that ratio: a proof that the model is
        improper.  None where the search found none, which proves nothing.
    """
    starts = _starts(K, gamma_plus, gamma_minus)
    if gamma_minus is None:  # (units with h >= 0 only: the starts' parts there)
        starts = np.maximum(starts, 0.0)
    H, alive = _unit_length(starts, gamma_plus, gamma_minus)
    ratios = np.full(H.shape[1], -np.inf)
    for _ in range(SEARCH_STEPS):
        KH = K @ H
        new = np.where(alive, np.einsum("ij,ij->j", H, KH), -np.inf)
        best = int(np.argmax(new))
        if new[best] > 1.0 + margin:
            return float(new[best]), H[:, best]
        gain_needed = SEARCH_CONVERGED * np.abs(np.where(alive, new, 0.0))
        climbing = alive & (new > ratios + gain_needed)
        if not climbing.any():
            return None
        ratios = new
        H, alive = _unit_length(_best_response(KH, gamma_plus, gamma_minus),
                                gamma_plus, gamma_minus)
        alive &= climbing
    return None


def improper_description(W, visible, hidden, free=None):
    """Why the model with weights W and these layers has no distribution (a
    clause: "along a direction of hidden units ..."), or None where it is
    proper or not shown improper (see the module docstring).

    Only for unbounded visible units (``VisibleLayer.coupling_precision``)
    with unbounded hidden units (``HiddenLayer.potential_curvatures``):
    binary or categorical units on either side bound every state's energy.
    ``free`` (a boolean mask of the visible units) asks about the
    conditional distribution of those units given the others instead, whose
    couplings are W's columns of the free units alone: a clamped unit adds
    only a linear term to the hidden units' exponent.
    """
    d = visible.coupling_precision()
    curvatures = hidden.potential_curvatures(W.shape[0])
    if d is None or curvatures is None:
        return None
    if free is not None:
        W, d = np.asarray(W)[:, free], d[free]
    found = improper_direction(coupling_gram(W, d), *curvatures,
                               margin=rounding_margin(*np.shape(W)))
    if found is None:
        return None
    ratio, h = found
    units = np.flatnonzero(np.abs(h) > 1e-3 * np.max(np.abs(h)))
    shown = ", ".join(str(j) for j in units[:8]) + (", ..." if units.size > 8 else "")
    return (f"along a direction of hidden units {shown} the "
            f"couplings' pull, h.(W diag(1 / sigma**2) W.T) h, is {_times(ratio)} what "
            "the units' own potentials hold back (sum_j gamma_j h_j**2), so its density "
            "grows without bound there and log Z is +inf")
