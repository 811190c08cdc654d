"""Double-ReLU (dReLU) hidden units (Tubiana, Cocco & Monasson, eLife 2019).

Each unit has the potential

    U(h) = gamma+ h**2 / 2 + theta+ h   for h >= 0,
           gamma- h**2 / 2 + theta- h   for h < 0,

so p(h | v) is proportional to exp(-U(h) + x h), x = c + W s(v): two
half-Gaussians joined at 0, a positive piece with linear coefficient
x - theta+ and a mirrored negative one with x - theta-.  Its cumulant
generating function is the logaddexp of the two pieces' log-normalisers
(``_half_gaussian``, written with erfcx).  The hidden bias c and the two
thresholds overlap (adding d to c, theta+ and theta- changes nothing); the
likelihood's gradient along that direction is exactly zero, so it does not
drift.  The gammas are learned as log gamma and kept in
[``GAMMA_MIN``, ``GAMMA_MAX``]: never non-positive, never a silent NaN.
"""

import numpy as np

from ._half_gaussian import piece_log_normaliser, piece_sample, uniform_open_closed
from .. import _gibbs, _sampling
from ._layer import IDLE_STANDARD_FIELD, HiddenLayer, KernelHidden, check_array_attribute

#: Rows of ``DReLUHidden.state``: the four parameters, then their velocities.
GAMMA_PLUS, GAMMA_MINUS, THETA_PLUS, THETA_MINUS = range(4)
N_PARAMETER_ROWS = 4
STATE_ROWS = 8
#: Bounds of the gammas, the kernel's (PGM keeps gamma >= 0.05 too): below,
#: a unit's variance 1 / gamma would let a single unit carry an unbounded field.
GAMMA_MIN, GAMMA_MAX = _gibbs.DRELU_GAMMA_MIN, _gibbs.DRELU_GAMMA_MAX


class DReLUHidden(HiddenLayer):
    """dReLU hidden units with learned gamma+, gamma-, theta+, theta- per unit.

    Parameters
    ----------
    state : ndarray of shape (8, n_hidden) or None
        Rows gamma+, gamma-, theta+, theta- and their velocities; None
        until ``initialize``.
    """

    kernel_kind = _gibbs.HIDDEN_KIND_DRELU
    name = "drelu"
    #: h -> a h is absorbed by gamma+- / a**2 and theta+- / a (with W / a and
    #: c / a): the scale freedom that ``normalize_hidden`` fixes.
    scalable = True
    #: At binary units' rate dReLU training ran away on plants, jester and
    #: mushrooms (benchmarks/README.md, learning_rate="auto").
    learning_rate_divisor = 6
    #: Not the divisor: dReLU units train stably at 5e-4, and six times the
    #: decay cost mushrooms 48 nats on validation (-12.6 -> -60.6,
    #: benchmarks/README.md, learning_rate="auto").
    weight_decay_multiplier = 1

    def __init__(self, state=None):
        self.state = state

    def initialize(self, n_hidden, dtype):
        """gamma+ = gamma- = 1, theta+ = theta- = 0: a unit-variance Gaussian to start."""
        self.state = np.zeros((STATE_ROWS, n_hidden), dtype=dtype)
        self.state[GAMMA_PLUS] = self.state[GAMMA_MINUS] = 1.0

    @property
    def gamma_plus(self):
        return self.state[GAMMA_PLUS]

    @property
    def gamma_minus(self):
        return self.state[GAMMA_MINUS]

    def potential_curvatures(self, n_hidden):
        """gamma+ for h > 0 and gamma- for h < 0, the learned curvatures."""
        return (np.asarray(self.gamma_plus, dtype=np.float64),
                np.asarray(self.gamma_minus, dtype=np.float64))

    @property
    def theta_plus(self):
        return self.state[THETA_PLUS]

    @property
    def theta_minus(self):
        return self.state[THETA_MINUS]

    def _pieces(self, field):
        """(log weight of the positive piece, of the negative one, their logaddexp)."""
        x = np.asarray(field, dtype=np.float64)
        p = self.state[:N_PARAMETER_ROWS].astype(np.float64)
        positive = piece_log_normaliser(x - p[THETA_PLUS], p[GAMMA_PLUS])
        negative = piece_log_normaliser(p[THETA_MINUS] - x, p[GAMMA_MINUS])
        return positive, negative, np.logaddexp(positive, negative)

    def _compiled(self, function, field):
        """``function`` (a compiled dReLU row evaluation of ``_sampling``) at the
        fields, any shape, in float64."""
        x = np.asarray(field, dtype=np.float64)
        rows = np.ascontiguousarray(x.reshape(-1, x.shape[-1]))
        out = function(rows, np.ascontiguousarray(self.state, dtype=np.float64))
        return out.reshape(out.shape[:-2] + x.shape)

    def unit_log_partition(self, field):
        """log of the integral of exp(-U(h) + x h) dh per unit: the logaddexp of
        the pieces' log-normalisers, by the kernel's compiled row evaluation
        (the formulas of ``_pieces``, to about 1e-15)."""
        return self._compiled(_sampling.drelu_log_partition, field)

    def piece_statistics(self, field):
        """(P(h >= 0 | v), E[h+ | v], E[h+**2 | v], E[h- | v], E[h-**2 | v]) per unit,
        with h+ = max(h, 0) and h- = min(h, 0): the sufficient statistics of U.

        By the kernel's compiled row evaluation, the numbers training uses (SciPy's
        erfcx per piece, as in ``_pieces``, cost an epoch of training per call on
        small models; the two agree to about 1e-11 relative where the pieces'
        moments cancel, 1e-15 elsewhere).
        """
        (weight_plus, weight_minus, mean_plus, second_plus, mean_minus,
         second_minus) = self._compiled(_sampling.drelu_statistics, field)
        return (weight_plus, weight_plus * mean_plus, weight_plus * second_plus,
                -weight_minus * mean_minus, weight_minus * second_minus)

    def idle_units(self, field):
        """Per unit, whether both pieces are switched off on every row: the
        positive one's standardised mean (x - theta+) / sqrt(gamma+) below
        -``IDLE_STANDARD_FIELD``, and the negative one's mirror image likewise."""
        x = np.asarray(field, dtype=np.float64)
        p = self.state[:N_PARAMETER_ROWS].astype(np.float64)
        plus = (x - p[THETA_PLUS]) / np.sqrt(p[GAMMA_PLUS])
        minus = (p[THETA_MINUS] - x) / np.sqrt(p[GAMMA_MINUS])
        return np.maximum(plus, minus).max(axis=0) < -IDLE_STANDARD_FIELD

    def mean(self, field):
        """E[h | v] = E[h+] + E[h-]."""
        _, h_plus, _, h_minus, _ = self.piece_statistics(field)
        return (h_plus + h_minus).astype(np.result_type(field, np.float32))

    def variance(self, field):
        """Var[h | v] = E[h+**2] + E[h-**2] - E[h]**2."""
        _, h_plus, sq_plus, h_minus, sq_minus = self.piece_statistics(field)
        mean = h_plus + h_minus
        var = np.maximum(sq_plus + sq_minus - mean * mean, 0.0)
        return var.astype(np.result_type(field, np.float32))

    def potential_gradient(self, field):
        """d log-partition / d (gamma+, gamma-, theta+, theta-) per row and unit,
        shape (4, rows, n_hidden): -E[h+**2] / 2, -E[h-**2] / 2, -E[h+], -E[h-]."""
        _, h_plus, sq_plus, h_minus, sq_minus = self.piece_statistics(field)
        return np.stack([-0.5 * sq_plus, -0.5 * sq_minus, -h_plus, -h_minus])

    def sample(self, field, rng):
        """Exact draw: the piece by its probability (log space), then its truncated Gaussian."""
        x = np.asarray(field, dtype=np.float64)
        p = self.state[:N_PARAMETER_ROWS].astype(np.float64)
        positive, _, total = self._pieces(x)
        side = uniform_open_closed(rng, x.shape)
        u = uniform_open_closed(rng, x.shape)
        up = np.log(side) <= positive - total
        h = np.where(up, piece_sample(x - p[THETA_PLUS], p[GAMMA_PLUS], u),
                     -piece_sample(p[THETA_MINUS] - x, p[GAMMA_MINUS], u))
        return h.astype(np.result_type(field, np.float32))

    def activity_variance(self, field, weights=None):
        """Per unit, the variance of h over the rows of ``field`` (weighted):
        E_rows[E[h**2 | v]] - E_rows[E[h | v]]**2, by the kernel's compiled
        piece statistics (its dReLU gradient): ``normalize_hidden`` asks for
        it at every update, where ``piece_statistics`` in NumPy cost more
        than the update itself.
        """
        field = np.ascontiguousarray(field, dtype=np.float64)
        n_rows, n_hidden = field.shape
        weights = (np.full(n_rows, 1.0 / n_rows) if weights is None
                   else np.asarray(weights, dtype=np.float64) / np.sum(weights))
        gradient = _gibbs.drelu_parameter_gradient(
            field, np.zeros(n_hidden), np.ascontiguousarray(self.state, dtype=np.float64),
            np.ascontiguousarray(weights))
        # Rows: -E[h+**2] / 2, -E[h-**2] / 2, -E[h+], -E[h-] (h- = min(h, 0)).
        second = -2.0 * (gradient[GAMMA_PLUS] + gradient[GAMMA_MINUS])
        mean = -(gradient[THETA_PLUS] + gradient[THETA_MINUS])
        return second - mean * mean

    def normalizing_scale(self, field, weights=None):
        """Per unit, a = 1 / (standard deviation of h over the rows), the
        rescaling that gives each unit unit variance over the data, as PGM's
        batch normalisation does (Tubiana, Cocco & Monasson 2019, Methods).

        Limited so that the rescaled gammas (gamma / a**2) stay inside
        [``GAMMA_MIN``, ``GAMMA_MAX``], the range training keeps them in:
        a unit at a bound is normalised as far as the bound allows, and the
        reparametrisation stays exact.  A unit whose variance is not a
        positive finite number, or whose gammas span the whole range (one at
        each bound), keeps its scale (a = 1).
        """
        variance = self.activity_variance(field, weights)
        sound = np.isfinite(variance) & (variance > 0)
        scale = np.where(sound, 1.0 / np.sqrt(np.where(sound, variance, 1.0)), 1.0)
        gammas = self.state[[GAMMA_PLUS, GAMMA_MINUS]].astype(np.float64)
        # gamma / a**2 inside the bounds, with a relative margin for the
        # rounding of the division in float32.
        lowest = np.sqrt(gammas.max(axis=0) / GAMMA_MAX) * (1 + 1e-5)
        highest = np.sqrt(gammas.min(axis=0) / GAMMA_MIN) * (1 - 1e-5)
        # A unit whose gammas span the whole range (within the margins: one
        # at each bound) has no room: it keeps its scale.  Clipping to
        # ``lowest`` there took the small gamma below GAMMA_MIN, a state the
        # model then refused in every later call.
        room = lowest <= highest
        return np.where(room, np.clip(scale, lowest, np.where(room, highest, lowest)), 1.0)

    def rescale(self, scale):
        """gamma+- / a**2, theta+- / a and the thetas' velocities / a, in place.

        The gammas' velocities are steps of log gamma (see the kernel's
        ``_drelu_potential_step``), which a rescaling only shifts: they stay.
        """
        scale = np.asarray(scale, dtype=np.float64)
        state = self.state
        for row, power in ((GAMMA_PLUS, 2), (GAMMA_MINUS, 2), (THETA_PLUS, 1),
                           (THETA_MINUS, 1), (N_PARAMETER_ROWS + THETA_PLUS, 1),
                           (N_PARAMETER_ROWS + THETA_MINUS, 1)):
            state[row] = (state[row] / scale ** power).astype(state.dtype)

    def learned_arrays(self):
        return (self.state,)

    def kernel_view(self, dtype=None):
        """Kind and the (8, n_hidden) state (a converted copy when ``dtype`` differs)."""
        state = self.state if dtype is None else np.ascontiguousarray(self.state, dtype=dtype)
        return KernelHidden(self.kernel_kind, state)

    def check_fitted(self, estimator, n_hidden, dtype):
        """The (8, n_hidden) state must match the model, its gammas in range.

        Named as the estimator's ``_hidden_unit.state``, and read with
        getattr: a layer without it (an edited file) raised a bare
        AttributeError.
        """
        check_array_attribute(estimator, "_hidden_unit.state", getattr(self, "state", None),
                              (STATE_ROWS, n_hidden), dtype)
        gammas = self.state[[GAMMA_PLUS, GAMMA_MINUS]]
        if gammas.size and not (gammas.min() >= GAMMA_MIN * (1 - 1e-6)):
            raise ValueError(
                f"{type(estimator).__name__}'s dReLU gammas must be at least {GAMMA_MIN}, "
                f"got a minimum of {float(gammas.min()):.6g} (rows 0 and 1 of "
                "_hidden_unit.state); refit the model or assign gammas in range (they are "
                "curvatures: a non-positive one makes p(h | v) improper).")
