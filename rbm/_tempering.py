"""Parallel-tempering draws from a fitted model (``sample(method="tempered")``).

Block-Gibbs chains stay in the mode they start in where the model's modes
are far apart (a bimodal 12 x 2 model gave one mode 53% of the draws
against its exact 69%).  Parallel tempering runs a ladder of chains on
flattened versions of the model and swaps states between neighbours, so a
state can cross between modes at the flat end and come back down.

Temperature t has inverse temperature ``beta_t`` (``pt_betas``: 1 down to
0) and the parameters

    W_t = beta_t W,  c_t = beta_t c,  b_t = beta_t b + (1 - beta_t) b_base,

where ``b_base`` is the visible bias of the independent model of the data's
marginals (where training's parallel tempering and AIS start too).  Each
temperature is a model of the same unit types, so the kernel's own Gibbs
step samples it; at beta = 0 the layers are independent, v drawn from the
data marginals for binary and categorical visible units.  Not so for
Gaussian visible units: their own terms (the 1/sigma**2 curvature) are not
scaled either, so every temperature keeps the model's sigma, and the hot
end draws each unit with the model's sigma, not the data's spread.  It is
then not flat: a mode far outside it may never be reached, every swap rate
can stay high, and nothing warns (a model fitted with sigma 0.53 to data of
spread 2.6 put none of its draws in the mode exact draws all fell in).  The
remedy, not done, is to move the visible precision towards the data's
along the ladder, 1/sigma_t**2 = beta/sigma**2 + (1 - beta)/var_data, with
the v**2 term then in the swaps' energy gap.  For binary hidden units this is the ladder of training's
parallel tempering (its energy scaled by beta); for real-valued hidden
units the units' own terms (their curvature) are not scaled, which keeps
every temperature proper where the model is.

Swaps exchange whole states (v, h) between neighbours, by the part of log
p_t(v, h) that beta multiplies, as training's swaps do: one hidden field per
chain and step.  Random numbers: temperature t's chains draw from their own
streams and the swaps from a generator of their own, all from the seed
(the caller draws the starts); the thread count changes nothing.
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


def tempered_params(model, beta, base_bias):
    """The kernel parameters of the model at inverse temperature ``beta``."""
    dtype = model.components_.dtype
    return KernelParams(
        np.ascontiguousarray(beta * model.components_, dtype=dtype),
        np.ascontiguousarray(beta * model.intercept_visible_ + (1.0 - beta) * base_bias,
                             dtype=dtype),
        np.ascontiguousarray(beta * model.intercept_hidden_, dtype=dtype),
        model._hidden_unit.kernel_view())


class TemperedChains:
    """``n_temperatures`` blocks of chains over the ladder ``pt_betas``, each
    started at the kernel rows S (s(v)); block 0 (beta = 1) holds the
    model's chains.  ``clamp`` (kernel columns, nonzero: held) keeps the
    observed entries at their values at every temperature
    (``conditional_sample``)."""

    def __init__(self, model, S, n_temperatures, entropy, call, clamp=None):
        self.model, self.unit = model, model._visible_unit
        self.betas = pt_betas(n_temperatures)
        base_bias = model._base_visible_bias()
        self.params = [tempered_params(model, beta, base_bias) for beta in self.betas]
        # Every block in the kernel's form s(v), with its own hidden rows.
        self.blocks = [np.array(S, order="C") for _ in self.betas]
        # Each block's last hidden samples: a swap exchanges whole states (v, h).
        self.hidden = [np.zeros((len(S), model.n_components), dtype=self.blocks[0].dtype)
                       for _ in self.betas]
        self.means = np.empty_like(self.hidden[0])
        self.clamp = clamp
        swaps, chains = PURPOSES[call]
        self.streams = [ChainStreams(entropy, chains + t) for t in range(n_temperatures)]
        self.rng = generator_for(entropy, swaps)
        self.call = call
        self.accepted = np.zeros(n_temperatures - 1, dtype=np.int64)
        self.proposed = np.zeros(n_temperatures - 1, dtype=np.int64)
        self.W = model.components_.astype(np.float64)
        self.c = model.intercept_hidden_.astype(np.float64)
        self.bias_gap = model.intercept_visible_.astype(np.float64) - base_bias

    def run(self, n_steps):
        """``n_steps`` steps: a Gibbs step at every temperature, then swaps
        between pairs (0, 1), (2, 3), ... on even steps and (1, 2), ... on
        odd ones.  Returns block 0's kernel rows."""
        rows, unit = len(self.blocks[0]), self.unit
        view = unit.kernel_view(self.blocks[0].dtype)
        # The swaps' NumPy products on one BLAS thread, as the kernel's: a
        # threaded product right after each kernel call shared the cores with
        # the thread team still spinning (4.5 ms for a 200 x 64 x 64 product,
        # 400 times the chains' time at 64 x 64).  The products are small.
        with self.model._kernel_threads(rows) as n_threads, single_threaded_blas():
            for step in range(n_steps):
                for S, H, params, streams in zip(self.blocks, self.hidden, self.params,
                                                 self.streams):
                    _gibbs.gibbs_chains(params, view, S, H, self.means, 1,
                                        streams.for_rows(rows), int(n_threads),
                                        clamp=self.clamp)
                self._swap(step % 2)
        return self.blocks[0]

    def _energy_gap(self, t):
        """E_base(v) - E(v, h) of block t's states, the part of log p_beta(v, h)
        that beta multiplies: s(v) . (b - b_base) + h . (c + W s(v)) (the units'
        own terms, the same at every temperature, cancel in a swap)."""
        S = np.asarray(self.blocks[t], dtype=np.float64)
        H = np.asarray(self.hidden[t], dtype=np.float64)
        return S @ self.bias_gap + np.einsum("ij,ij->i", H, S @ self.W.T + self.c)

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
            for arrays in (self.blocks, self.hidden):
                lower, upper = arrays[t], arrays[t + 1]
                lower[swap], upper[swap] = upper[swap], lower[swap]
            self.accepted[t] += int(swap.sum())
            self.proposed[t] += len(swap)

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
