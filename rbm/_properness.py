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
#: Columns of a search's products with K, at most: its starts.
SEARCH_COLUMNS = 2 * SEARCH_UNIT_STARTS + SEARCH_RANDOM_STARTS + 1
#: A direction proves the model improper where h.K h exceeds the curvature
#: sum by more than this share: far beyond float64 rounding in K.
IMPROPER_MARGIN = 1e-9


#: What a search step costs at least, in multiply-adds, for budgets: about
#: 20 us of NumPy calls per step, at 5 GFlop/s, where K is small.  (At 16
#: hidden units a fit's searches, counted by their products alone, took
#: 48% of its time when budgeted at 100% of its flops.)
SEARCH_STEP_OVERHEAD = 1e5


def check_cost_bound(n_hidden, n_visible):
    """The most multiply-adds one check can cost, for budgets: K and every
    step of the search (``SearchWork`` counts what a check did cost; where
    it proves a model improper it mostly stops within a step or two, and a
    proper model's ReLU search took 0.3-0.9 s at 500 x 784 on a loaded
    2-core machine)."""
    step = max(Coupling.product_cost(n_hidden, n_visible) * SEARCH_COLUMNS,
               SEARCH_STEP_OVERHEAD)
    return Coupling.forming_cost(n_hidden, n_visible) + SEARCH_STEPS * step


class SearchWork:
    """The multiply-adds spent by properness checks (K and the search's
    steps), counted so that training can budget its checks by what they
    cost rather than by the most they could (``properness_due``)."""

    __slots__ = ("multiply_adds",)

    def __init__(self):
        self.multiply_adds = 0.0


def coupling_gram(W, d):
    """K = W diag(d) W.T in float64 (n_hidden x n_hidden)."""
    W = np.asarray(W, dtype=np.float64)
    return (W * d) @ W.T


class Coupling:
    """K = W diag(d) W.T as the search uses it: products K @ H, its diagonal,
    and its update after a shrink of W.

    Held as K itself, or, where W has fewer columns than half its rows, as
    the factor F = W diag(sqrt d) (K = F F.T): then K @ H = F (F.T H) costs
    2 n_hidden n_visible multiply-adds a column instead of n_hidden**2, and
    K is never formed.  (Standardised breast cancer, 256 ReLU units over
    30 features: a step's product 4 times cheaper.)  Either way float64.
    """

    __slots__ = ("K", "F")

    def __init__(self, K=None, F=None):
        self.K, self.F = K, F

    @staticmethod
    def factored(n_hidden, n_visible):
        """Whether the factor is the cheaper form for weights of this shape."""
        return 2 * n_visible < n_hidden

    @classmethod
    def of(cls, W, d):
        """The coupling of weights W (n_hidden x n_visible) and precisions d."""
        if cls.factored(*np.shape(W)):
            return cls(F=np.asarray(W, dtype=np.float64) * np.sqrt(d))
        return cls(K=coupling_gram(W, d))

    @classmethod
    def forming_cost(cls, n_hidden, n_visible):
        """Multiply-adds of ``of``."""
        if cls.factored(n_hidden, n_visible):
            return float(n_hidden) * n_visible
        return float(n_hidden) ** 2 * n_visible

    @classmethod
    def product_cost(cls, n_hidden, n_visible):
        """Multiply-adds of ``times`` per column."""
        if cls.factored(n_hidden, n_visible):
            return 2.0 * n_hidden * n_visible
        return float(n_hidden) ** 2

    @property
    def n_hidden(self):
        return (self.K if self.F is None else self.F).shape[0]

    @property
    def cost(self):
        """``product_cost`` of this coupling's shape."""
        if self.F is None:
            return float(self.K.shape[0]) ** 2
        return 2.0 * self.F.size

    @property
    def shrink_cost(self):
        """Multiply-adds of ``after_shrink``."""
        if self.F is None:
            return 4.0 * float(self.K.shape[0]) ** 2
        return float(self.F.size)

    def times(self, H):
        """K @ H."""
        if self.F is None:
            return self.K @ H
        return self.F @ (self.F.T @ H)

    def diagonal(self):
        """K's diagonal."""
        if self.F is None:
            return np.diag(self.K)
        return np.einsum("ij,ij->i", self.F, self.F)

    def quadratic(self, h):
        """h.K h."""
        if self.F is None:
            return float(h @ self.K @ h)
        pulled = self.F.T @ h
        return float(pulled @ pulled)

    def after_shrink(self, W, d, u, shrink):
        """(the coupling of W after ``_shrink_along`` changed it to P W, P = I -
        shrink u u.T; whether it was formed afresh from W).

        K follows as P K P, in n_hidden**2 operations instead of forming it
        anew, up to the rounding of W's change to its dtype.  The factor is
        formed afresh from W, which costs what following it would: its
        verdicts are then those of W itself at once."""
        if self.F is not None:
            return Coupling.of(W, d), True
        return Coupling(K=_shrunk_gram(self.K, u, shrink)), False


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


def _starts(coupling, gamma_plus, gamma_minus):
    """Starting directions (columns): the units of largest K_jj / gamma_j on
    each side they have, and fixed pseudo-random directions."""
    n = coupling.n_hidden
    diagonal = coupling.diagonal()
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
    """A ratio just above 1 as "1 + 2.3e-07 times", others as "1.0625 times",
    one past float64 as "more than 1.8e+308 times"."""
    if not np.isfinite(ratio):
        return f"more than {np.finfo(np.float64).max:.2g} times"
    return f"1 + {ratio - 1.0:.2g} times" if ratio < 1.001 else f"{ratio:.6g} times"


#: A unit whose own coupling K_jj is more than this many times its curvature
#: proves the model improper alone (along h = e_j), and the search is not
#: run: with assigned weights of 1e200, K overflowed to inf, its products to
#: inf - inf = NaN, and the search found nothing, so ``sample`` drew inf
#: with NumPy's overflow warnings instead of refusing.
SINGLE_UNIT_PROOF = 1e100


def _searched(W, d, curvatures, work):
    """``improper_direction`` of the model with weights W, counting K's
    multiply-adds into ``work`` too; a single unit's direction where that
    alone is ``SINGLE_UNIT_PROOF`` (K may then overflow float64)."""
    if work is not None:
        work.multiply_adds += Coupling.forming_cost(*np.shape(W))
    with np.errstate(over="ignore", invalid="ignore"):
        coupling = Coupling.of(W, d)
        single = coupling.diagonal() / curvatures[0]  # (h_j > 0: every type's side)
    overwhelmed = ~(single <= SINGLE_UNIT_PROOF)  # (inf where K_jj overflowed)
    if overwhelmed.any():
        j = int(np.argmax(overwhelmed))
        h = np.zeros(single.shape[0])
        h[j] = 1.0 / np.sqrt(curvatures[0][j])
        return float(single[j]), h
    return improper_direction(coupling, *curvatures,
                              margin=rounding_margin(*np.shape(W)), work=work)


def improper_direction(K, gamma_plus, gamma_minus=None, margin=IMPROPER_MARGIN, work=None,
                       every=False):
    """A direction along which the hidden units' marginal grows without bound.

    Maximises the ratio h.K h / sum_j gamma_j(h_j) h_j**2 from several
    starts by the conditional gradient method: with the sum fixed at 1,
    each step moves to the direction y that maximises the linearisation
    (K h).y on that set.  As h.K h is convex (K is positive semi-definite)
    the ratio never decreases, so each start climbs to a local maximum.

    Parameters
    ----------
    K : ndarray of shape (n_hidden, n_hidden) or Coupling
        ``coupling_gram`` of the model (float64, positive semi-definite), or
        the ``Coupling`` that stands for it.
    gamma_plus : ndarray of shape (n_hidden,)
        Curvatures of the potentials for h > 0 (all positive).
    gamma_minus : ndarray of shape (n_hidden,) or None
        Curvatures for h < 0, or None for units with h >= 0 only.
    margin : float
        The share by which the ratio must exceed 1 (``rounding_margin``).
    work : SearchWork or None
        Where given, the search's multiply-adds are added to it.
    every : bool
        Return every direction of the step that found one, not only the
        best (``ProperKeeper.shrink_searched`` shrinks along each).

    Returns
    -------
    (ratio, h) or None
        The first direction h found whose ratio exceeds 1 (by more than
        ``margin``), with that ratio: a proof that the model is
        improper.  None where the search found none, which proves nothing.
        With ``every``, a list of them, the largest ratio first.
    """
    coupling = K if isinstance(K, Coupling) else Coupling(K=np.asarray(K, dtype=np.float64))
    starts = _starts(coupling, gamma_plus, gamma_minus)
    if gamma_minus is None:  # (units with h >= 0 only: the starts' parts there)
        starts = np.maximum(starts, 0.0)
    H, alive = _unit_length(starts, gamma_plus, gamma_minus)
    # Only the starts still climbing are carried (a start that is 0 on the
    # units' sides, or has stopped gaining, never climbs again): later steps
    # cost what the few slow starts need, not what all of them did.
    H = H[:, alive]
    ratios = np.full(H.shape[1], -np.inf)
    for _ in range(SEARCH_STEPS):
        if not H.shape[1]:
            return None
        KH = coupling.times(H)
        if work is not None:
            work.multiply_adds += max(coupling.cost * H.shape[1], SEARCH_STEP_OVERHEAD)
        new = np.einsum("ij,ij->j", H, KH)
        best = int(np.argmax(new))
        if new[best] > 1.0 + margin:
            if every:
                found = np.argsort(-new, kind="stable")[:np.count_nonzero(new > 1.0 + margin)]
                return [(float(new[j]), H[:, j]) for j in found]
            return float(new[best]), H[:, best]
        climbing = new > ratios + SEARCH_CONVERGED * np.abs(new)
        H, alive = _unit_length(_best_response(KH[:, climbing], gamma_plus, gamma_minus),
                                gamma_plus, gamma_minus)
        H, ratios = H[:, alive], new[climbing][alive]
    return None


def improper_description(W, visible, hidden, free=None, work=None):
    """Why the model with weights W and these layers has no distribution (a
    clause: "along a direction of hidden units ..."), or None where it is
    proper or not shown improper (see the module docstring).

    Only for unbounded visible units (``VisibleLayer.coupling_precision``)
    with unbounded hidden units (``HiddenLayer.potential_curvatures``):
    binary or categorical units on either side bound every state's energy.
    ``free`` (a boolean mask of the visible units) asks about the
    conditional distribution of those units given the others instead, whose
    couplings are W's columns of the free units alone: a clamped unit adds
    only a linear term to the hidden units' exponent.  ``work`` (a
    ``SearchWork``), where given, counts the check's multiply-adds.
    """
    d = visible.coupling_precision()
    curvatures = hidden.potential_curvatures(W.shape[0])
    if d is None or curvatures is None:
        return None
    if free is not None:
        W, d = np.asarray(W)[:, free], d[free]
    found = _searched(W, d, curvatures, work)
    if found is None:
        return None
    ratio, h = found
    units = np.flatnonzero(np.abs(h) > 1e-3 * np.max(np.abs(h)))
    shown = ", ".join(str(j) for j in units[:8]) + (", ..." if units.size > 8 else "")
    return (f"along a direction of hidden units {shown} the "
            f"couplings' pull, h.(W diag(1 / sigma**2) W.T) h, is {_times(ratio)} what "
            "the units' own potentials hold back (sum_j gamma_j h_j**2), so its density "
            "grows without bound there and log Z is +inf")


#: The ratio h.K h / sum_j gamma_j h_j**2 a shrink leaves along the direction
#: it was found in: 1% inside the bound, so that the next steps of training
#: do not cross it again at once.
SHRINK_TARGET = 0.99
#: Shrinks along single directions in one ``shrink_searched`` call before the
#: weights are scaled as a whole instead: projecting onto the proper set's
#: constraints one at a time converges, but can take many turns where
#: several bind together; scaling by s lowers every direction's ratio by
#: s**2 and so ends the loop.  (Standardised breast cancer, 256 ReLU units:
#: at most 41 shrinks per call.)
SHRINK_DIRECTIONS = 200
#: Directions a ``ProperKeeper`` remembers and re-checks at every pass.
KNOWN_DIRECTIONS = 64
#: Shrinks along the known directions per pass, at most: a shrink along one
#: direction can push another across the bound.
KNOWN_SHRINKS = 4 * KNOWN_DIRECTIONS


def _shrink_along(W, h, ratio):
    """Move W's rows by the least change that brings the ratio along h to
    ``SHRINK_TARGET``: with u = h / |h|, W <- W - (1 - s) u (u.W) and
    s = sqrt(target / ratio), which scales the couplings W.T u by s and
    leaves every direction orthogonal to u alone.  The set of proper weights
    is convex (for each h, the norm of diag(1 / sigma) W.T h is at most h's
    curvature norm), and this is the projection onto one of its constraints
    in the norm |dW diag(1 / sigma)|_F (the Frobenius norm where the sigmas
    are equal).  The weights' momentum is left alone: where the chains have
    run off along u, it carries the pull back that their statistics gave
    (shrunk with W, fits at 6 times the default rate on breast cancer ran
    away on 3 seeds of 4, against 1 of 4).  Returns u, 1 - s and the
    change's row, (1 - s) u.W (float64), for the callers' updates."""
    shrink = 1.0 - np.sqrt(SHRINK_TARGET / ratio)
    u = h / np.linalg.norm(h)
    row = shrink * np.asarray(u @ W, dtype=np.float64)
    W -= np.outer(u, row).astype(W.dtype, copy=False)
    return u, shrink, row


def _shrunk_gram(K, u, shrink):
    """K = W D W.T after ``_shrink_along`` changed W to P W, P = I - shrink u u.T:
    P K P, in n_hidden**2 operations instead of K's n_hidden**2 n_visible
    (up to the rounding of W's change to its dtype)."""
    k = K @ u
    return (K - shrink * (np.outer(u, k) + np.outer(k, u))
            + shrink ** 2 * float(u @ k) * np.outer(u, u))


class ProperKeeper:
    """Keeps a model's weights proper during training (``keep_proper``).

    ``shrink_searched`` runs ``improper_direction`` until it finds no
    direction, shrinking W along each one found (``_shrink_along``): the
    full check, as often as a fit's budget allows.  The directions found are
    remembered (the last ``KNOWN_DIRECTIONS``), and ``shrink_known``
    re-checks them at every pass for the price of a product with W: the
    directions that bind are mostly the data's strongest correlations, and
    training pushes the model back across them pass after pass.  (Standardised
    breast cancer, 256 ReLU units, 1,000 epochs: full checks at every pass
    scored -19.2 nats per test row, at 4 budgeted passes -27.1.)
    """

    def __init__(self, known=None):
        self.known = known  # (n_hidden, m) directions, most recent last
        self.work = SearchWork()

    def _remember(self, h):
        h = h[:, None]
        self.known = h if self.known is None else np.hstack([self.known, h])[:, -KNOWN_DIRECTIONS:]

    def shrink_searched(self, W, visible, hidden):
        """Shrink W in place until the search finds no improper direction;
        returns the number of shrinks.  Models whose layers bound every state
        (see ``improper_description``) are left alone.

        Between shrinks the coupling follows W (``Coupling.after_shrink``);
        a search that finds nothing on a coupling that followed W is repeated
        on one formed afresh from W, so the verdict is that of W as it is
        (float32 rounding included)."""
        d = visible.coupling_precision()
        curvatures = hidden.potential_curvatures(W.shape[0])
        if d is None or curvatures is None:
            return 0
        margin = rounding_margin(*W.shape)
        shrinks, coupling = 0, None
        while True:
            if coupling is None:
                self.work.multiply_adds += Coupling.forming_cost(*W.shape)
                coupling, fresh = Coupling.of(W, d), True
            found = improper_direction(coupling, *curvatures, margin=margin, work=self.work,
                                       every=True)
            if found is None:
                if fresh:
                    return shrinks
                coupling = None  # (the verdict of W itself)
                continue
            if shrinks >= SHRINK_DIRECTIONS:
                W *= W.dtype.type(np.sqrt(SHRINK_TARGET / found[0][0]))
                coupling, shrinks = None, shrinks + 1
                continue
            for index, (found_ratio, h) in enumerate(found):
                # Each still past the bound after the shrinks before it; the
                # first always (its ratio as found: recomputed, it may round
                # to the bound, and the loop would search again for ever).
                ratio = (found_ratio if index == 0 else coupling.quadratic(h)
                         / float(_curvature_sums(h[:, None], *curvatures)[0]))
                if ratio > 1.0 + margin:
                    u, shrink, _ = _shrink_along(W, h, ratio)
                    self._remember(h)
                    self.work.multiply_adds += coupling.shrink_cost
                    coupling, fresh = coupling.after_shrink(W, d, u, shrink)
                    shrinks += 1

    def shrink_known(self, W, visible, hidden):
        """Shrink W in place along the remembered directions that have crossed
        the bound again, the furthest first, until none has (at most
        ``KNOWN_SHRINKS`` times); returns the number of shrinks.  Proves
        nothing about the other directions (``shrink_searched`` does what
        can be done).  The directions' couplings, known.T W, are formed once
        and follow each shrink by a rank-one update."""
        if self.known is None or self.known.shape[0] != W.shape[0]:
            return 0
        d = visible.coupling_precision()
        curvatures = hidden.potential_curvatures(W.shape[0])
        margin = rounding_margin(*W.shape)
        held_back = _curvature_sums(self.known, *curvatures)
        self.work.multiply_adds += float(W.size) * self.known.shape[1]
        pull = np.asarray(self.known.T @ W, dtype=np.float64)
        for shrinks in range(KNOWN_SHRINKS):
            ratios = (pull ** 2 @ d) / held_back
            worst = int(np.argmax(ratios))
            if not ratios[worst] > 1.0 + margin:
                return shrinks
            u, _, row = _shrink_along(W, self.known[:, worst], float(ratios[worst]))
            pull -= np.outer(self.known.T @ u, row)
            self.work.multiply_adds += float(self.known.size + pull.size)
        return KNOWN_SHRINKS
