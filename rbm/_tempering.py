"""Parallel-tempering draws from a fitted model (``sample(method="tempered")``).

Block-Gibbs chains stay in the mode they start in where the model's modes
are far apart (a bimodal 12 x 2 model gave one mode 53% of the draws
against its exact 69%).  Parallel tempering runs a ladder of chains on
flattened versions of the model and swaps states between neighbours, so a
state can cross between modes at the flat end and come back down.

Temperature t has inverse temperature ``beta_t`` (``pt_betas``: 1 down to
0) and the model of the geometric path

    p_t(v, h) ~ p_base(v)**(1 - beta_t) * p(v, h)**beta_t,

the hidden units' own terms (their curvature, for real-valued hidden
units) kept whole, which keeps every temperature proper where the model
is.  ``p_base`` is the independent model of the data's marginals (where
training's parallel tempering and AIS start too), so the hot end draws v
from the data marginals whatever the model.  Each temperature is a model of
the same unit types (the visible layer's ``tempered``), so the kernel's
own Gibbs step samples it:

    W_t = beta_t W,  c_t = beta_t c,  b_t = beta_t b + (1 - beta_t) b_base

for binary and categorical visible units; for Gaussian ones the precision
moves too, 1 / sigma_t**2 = beta_t / sigma**2 + (1 - beta_t) / sd**2 (sd the
data's spread, ``GaussianVisible.ladder_base``), the mean
b_t = sigma_t**2 (beta_t b / sigma**2 + (1 - beta_t) b_base / sd**2), and
W_t = beta_t W sigma_t**2 / sigma**2 per column (the kernel couples s(v) =
v / sigma**2); each block's rows are in its own temperature's s_t(v) and
are rescaled when swapped.  (Keeping the model's sigma at every
temperature left the hot end as narrow as the model: a model fitted with
sigma 0.53 to data of spread 2.6 put none of its tempered draws in the
mode that held all its exact ones, with every swap rate above 10%.)  With
binary units on both sides this is the ladder of training's parallel
tempering (its energy scaled by beta).

Swaps exchange whole states (v, h) between neighbours, by the part of log
p_t(v, h) that beta multiplies (the Gaussian units' quadratic terms
included), as training's swaps do: one hidden field per chain and step.
Random numbers: temperature t's chains draw from their own streams and the
swaps from a generator of their own, all from the seed (the caller draws
the starts); the thread count changes nothing.
"""

import warnings

import numpy as np

from . import _gibbs
from ._blas import single_threaded_blas
from ._units._layer import user_stacklevel
from ._state import KernelParams, pt_betas
from ._streams import ChainStreams, generator_for

#: Purposes of the tempered draws' streams (``rbm._streams``) for each
#: call: (the swaps', the chains' of temperature 0), temperature t's chains
#: at the latter + t.  Apart for the two calls: chains that share random
#: numbers coalesce, and conditional_sample of rows with nothing observed
#: would repeat sample's draws.
PURPOSES = {"sample": (21, 1000), "conditional_sample": (22, 2000)}
#: Most temperatures of a call: the chains' purposes of the two calls stay apart.
MAX_TEMPERATURES = 1000
#: Below this acceptance rate of a neighbouring pair's swaps the ladder is
#: broken there (states hardly pass), and the call warns.
LOW_SWAP_RATE = 0.02


class Temperature:
    """The ladder's model at inverse temperature ``beta``: its kernel
    parameters and visible view, and what its swaps need.

    ``ratio`` (per column, the model's s(v) over this temperature's; None
    where they are the same: every type but Gaussian, and beta = 1) turns
    the model's kernel rows into this temperature's.  The swaps' energy gap
    of a state in this temperature's rows S is
    ``S . gap_linear + S**2 . gap_quadratic + h . (c + S @ gap_weights.T)``.
    """

    def __init__(self, model, beta, base, base_bias):
        unit, dtype = model._visible_unit, model.components_.dtype
        self.unit, bias, self.ratio = unit.tempered(beta, model.intercept_visible_, base,
                                                    base_bias)
        weights = beta * model.components_
        if self.ratio is not None:  # beta W s(v) = W_beta s_beta(v)
            weights = beta * model.components_.astype(np.float64) * self.ratio
        self.params = KernelParams(
            np.ascontiguousarray(weights, dtype=dtype), np.ascontiguousarray(bias, dtype=dtype),
            np.ascontiguousarray(beta * model.intercept_hidden_, dtype=dtype),
            model._hidden_unit.kernel_view())
        self.view = self.unit.kernel_view(dtype)
        # The gap's terms in v, then in this temperature's rows: v = S * value.
        linear, quadratic = unit.tempering_gap_terms(model.intercept_visible_, base, base_bias)
        value = self.unit.from_kernel(np.ones(len(linear)))
        self.gap_linear = linear * value
        self.gap_quadratic = None if quadratic is None else quadratic * value**2
        self.gap_weights = model.components_.astype(np.float64)
        if self.ratio is not None:
            self.gap_weights = self.gap_weights * self.ratio

    def rows_from_model(self, S):
        """The model's kernel rows S as this temperature's (a new array)."""
        return np.array(S if self.ratio is None else S / self.ratio.astype(S.dtype), order="C")

    def factor_from(self, other, dtype):
        """Per column, what turns temperature ``other``'s rows into this
        one's (in ``dtype``), or None where nothing does."""
        if self.ratio is None and other.ratio is None:
            return None
        factor = (1.0 if other.ratio is None else other.ratio) / (
            1.0 if self.ratio is None else self.ratio)
        return np.asarray(factor, dtype=dtype)


class TemperedChains:
    """``n_temperatures`` blocks of chains over the ladder ``pt_betas``, each
    started at the kernel rows S (s(v)); block 0 (beta = 1) holds the
    model's chains.  ``clamp`` (kernel columns, nonzero: held) keeps the
    observed entries at their values at every temperature
    (``conditional_sample``)."""

    def __init__(self, model, S, n_temperatures, entropy, call, clamp=None):
        self.model, self.unit = model, model._visible_unit
        self.betas = pt_betas(n_temperatures)
        self.base_bias = model._base_visible_bias()
        self.base = self.unit.ladder_base()
        self.temperatures = [Temperature(model, beta, self.base, self.base_bias)
                             for beta in self.betas]
        # Every block in its temperature's kernel form s_beta(v), with its own
        # hidden rows.  The observed entries' values at each temperature are
        # kept, to put them back after swaps rescale the rows.
        self.blocks = [t.rows_from_model(S) for t in self.temperatures]
        self.clamp = clamp
        self.held = None if clamp is None else clamp.astype(bool)
        rescaled = any(t.ratio is not None for t in self.temperatures)
        self.clamped = ([block.copy() for block in self.blocks]
                        if clamp is not None and rescaled else None)
        # Per neighbouring pair: the factors that carry rows down and up.
        dtype = self.blocks[0].dtype
        self.carry = [(lower.factor_from(upper, dtype), upper.factor_from(lower, dtype))
                      for lower, upper in zip(self.temperatures, self.temperatures[1:])]
        self.hidden = [np.zeros((len(S), model.n_components), dtype=self.blocks[0].dtype)
                       for _ in self.betas]
        self.means = np.empty_like(self.hidden[0])
        swaps, chains = PURPOSES[call]
        self.streams = [ChainStreams(entropy, chains + t) for t in range(n_temperatures)]
        self.rng = generator_for(entropy, swaps)
        self.call = call
        self.accepted = np.zeros(n_temperatures - 1, dtype=np.int64)
        self.proposed = np.zeros(n_temperatures - 1, dtype=np.int64)
        self.c = model.intercept_hidden_.astype(np.float64)

    def run(self, n_steps):
        """``n_steps`` steps: a Gibbs step at every temperature, then swaps
        between pairs (0, 1), (2, 3), ... on even steps and (1, 2), ... on
        odd ones.  Returns block 0's kernel rows."""
        rows = len(self.blocks[0])
        # The swaps' NumPy products on one BLAS thread, as the kernel's: a
        # threaded product right after each kernel call shared the cores with
        # the thread team still spinning (4.5 ms for a 200 x 64 x 64 product,
        # 400 times the chains' time at 64 x 64).  The products are small.
        with self.model._kernel_threads(rows) as n_threads, single_threaded_blas():
            for step in range(n_steps):
                for S, H, t, streams in zip(self.blocks, self.hidden, self.temperatures,
                                            self.streams):
                    _gibbs.gibbs_chains(t.params, t.view, S, H, self.means, 1,
                                        streams.for_rows(rows), int(n_threads),
                                        clamp=self.clamp)
                self._swap(step % 2)
        return self.blocks[0]

    def _energy_gap(self, t):
        """E_base(v) - E(v, h) of block t's states, the part of log p_beta(v, h)
        that beta multiplies, up to a constant: the visible layer's own gap
        (``tempering_gap_terms``; for binary and categorical units
        (b - b_base) . v) plus h . (c + W s(v)) (the hidden units' own terms,
        the same at every temperature, cancel in a swap)."""
        temperature = self.temperatures[t]
        S = np.asarray(self.blocks[t], dtype=np.float64)
        H = np.asarray(self.hidden[t], dtype=np.float64)
        gap = S @ temperature.gap_linear
        if temperature.gap_quadratic is not None:
            gap += (S * S) @ temperature.gap_quadratic
        return gap + np.einsum("ij,ij->i", H, S @ temperature.gap_weights.T + self.c)

    def _swap(self, parity):
        """Metropolis swaps of chain i's states between temperatures t and t + 1
        (t = parity, parity + 2, ...), accepted with probability
        min(1, exp((beta_t - beta_t+1) (D_t+1 - D_t))), D the energy gap."""
        for t in range(parity, len(self.blocks) - 1, 2):
            with np.errstate(invalid="ignore", over="ignore"):
                log_ratio = (self.betas[t] - self.betas[t + 1]) * (
                    self._energy_gap(t + 1) - self._energy_gap(t))
            u = self.rng.random(len(log_ratio))
            swap = (log_ratio >= 0) | (u < np.exp(np.minimum(log_ratio, 0.0)))
            self._exchange(t, swap)
            self.accepted[t] += int(swap.sum())
            self.proposed[t] += len(swap)

    def _exchange(self, t, swap):
        """Exchange the states of the chains ``swap`` between blocks t and
        t + 1, each visible row in its new temperature's kernel form, the
        observed entries at their values there."""
        from_lower, from_upper = self.blocks[t][swap], self.blocks[t + 1][swap]
        down, up = self.carry[t]
        if down is not None:
            from_lower *= up
            from_upper *= down
        if down is not None and self.clamped is not None:
            # (Rescaling rounds the observed entries: they are put back.)
            held = self.held[swap]
            from_upper = np.where(held, self.clamped[t][swap], from_upper)
            from_lower = np.where(held, self.clamped[t + 1][swap], from_lower)
        self.blocks[t][swap], self.blocks[t + 1][swap] = from_upper, from_lower
        hidden_lower, hidden_upper = self.hidden[t], self.hidden[t + 1]
        hidden_lower[swap], hidden_upper[swap] = hidden_upper[swap], hidden_lower[swap]

    def swap_rates(self):
        """Accepted share of the proposed swaps of each neighbouring pair."""
        return self.accepted / np.maximum(self.proposed, 1)

    def warn_of_a_broken_ladder(self):
        """RuntimeWarning where a neighbouring pair accepted fewer than
        ``LOW_SWAP_RATE`` of its swaps: states hardly cross there, so the
        draws may still miss modes."""
        # (Pairs never proposed, as (1, 2) in a call of one step, say nothing.)
        rates = np.where(self.proposed > 0, self.swap_rates(), np.inf)
        if len(rates) and rates.min() < LOW_SWAP_RATE:
            warnings.warn(
                f"{type(self.model).__name__}.{self.call}: the swaps between temperatures "
                f"{int(rates.argmin())} and {int(rates.argmin()) + 1} of "
                f"{len(self.blocks)} were accepted {rates.min():.2%} of the time, so states "
                "hardly pass between them and the draws may miss modes of the model; "
                "use more temperatures (n_temperatures).",
                RuntimeWarning, stacklevel=user_stacklevel())
