"""Half-Gaussian pieces: the arithmetic of ReLU and dReLU hidden units.

A *piece* is the unnormalised density ``exp(-gamma h**2 / 2 + a h)`` on
``h >= 0``, a Gaussian of mean ``a / gamma`` and variance ``1 / gamma``
truncated to the positive half-line.  A ReLU unit is one piece (gamma = 1,
``a`` the field); a dReLU unit is a positive piece and a mirrored negative
one.  Everything is written with the scaled complementary error function
``erfcx(y) = exp(y**2) erfc(y)`` at ``y = -a / sqrt(2 gamma)``, stable for
fields of any sign and size: no ``exp`` of a large number and no ``log`` of
a tiny one is ever formed.  The compiled kernel (``rbm/_sampling.pyx``)
uses the same formulas for the log-normalisers and moments; it draws the
truncated Gaussians by exact rejection (Robert 1995 in the tails) where
these layers invert the CDF in log space: two exact methods, which the
tests hold to the same distribution.
"""

import math

import numpy as np
from scipy.special import erfc, erfcx, log_ndtr, ndtri_exp

#: Above this y = -a / sqrt(2 gamma), the moments use erfcx's asymptotic
#: series: there t + lambda(t) (the piece's mean in units of its sd) is a
#: difference of two nearly equal numbers.  Ten terms of the series at
#: 2 y**2 = 288 leave a relative error below 1e-15.
SERIES_FROM = 12.0
_SERIES_TERMS = 10
#: log(pi / 2) / 2: the piece's log-normaliser at a = 0, gamma = 1.
HALF_LOG_HALF_PI = 0.5 * math.log(math.pi / 2.0)


def log_erfcx(y):
    """log erfcx(y) for any finite y: erfcx itself for y >= 0, else y**2 + log erfc(y).

    (erfcx overflows below about -26.6; erfc(y) lies in (1, 2) for y < 0.)
    """
    y = np.asarray(y, dtype=np.float64)
    positive = y >= 0
    if positive.all():  # the common case, without the masked copies
        return np.log(erfcx(y))
    out = np.empty_like(y)
    out[positive] = np.log(erfcx(y[positive]))
    negative = ~positive
    with np.errstate(over="ignore"):
        out[negative] = y[negative] ** 2 + np.log(erfc(y[negative]))
    return out


def piece_log_normaliser(a, gamma):
    """log of the integral over h >= 0 of exp(-gamma h**2 / 2 + a h).

    Equal to ``log(pi / (2 gamma)) / 2 + log erfcx(-a / sqrt(2 gamma))``.
    """
    a, gamma = np.broadcast_arrays(np.asarray(a, np.float64), np.asarray(gamma, np.float64))
    y = -a / np.sqrt(2.0 * gamma)
    return HALF_LOG_HALF_PI - 0.5 * np.log(gamma) + log_erfcx(y)


def _series_minus_one(y):
    """S(y) - 1, with erfcx(y) = S(y) / (y sqrt(pi)) (the asymptotic series, large y)."""
    inverse = 1.0 / (2.0 * y * y)
    term, total = np.ones_like(y), np.zeros_like(y)
    for k in range(1, _SERIES_TERMS + 1):
        term = -term * (2 * k - 1) * inverse
        total += term
    return total


def piece_moments(a, gamma):
    """Mean and variance of the piece's normalised density (a truncated Gaussian).

    With t = a / sqrt(gamma) and the inverse Mills ratio
    lambda(t) = phi(t) / Phi(t) = sqrt(2 / pi) / erfcx(-t / sqrt(2)):
    mean = (t + lambda) / sqrt(gamma), variance = (1 - lambda (lambda + t)) / gamma.
    For large y = -t / sqrt(2) both are differences of nearly equal numbers;
    there erfcx's asymptotic series S(y) gives them without cancellation:
    lambda = -t / S, t + lambda = t (S - 1) / S and
    1 - lambda (lambda + t) = ((S - 1)(S + 1) + 2 y**2 (S - 1) + 1) / S**2.
    """
    a, gamma = np.broadcast_arrays(np.asarray(a, np.float64), np.asarray(gamma, np.float64))
    root = np.sqrt(gamma)
    t = a / root
    y = -t / math.sqrt(2.0)
    near = y <= SERIES_FROM
    if near.all():  # no field needs the series: no masked copies (the same numbers)
        lam = math.sqrt(2.0 / math.pi) / erfcx(y)
        return (t + lam) / root, np.maximum((1.0 - lam * (lam + t)) / gamma, 0.0)
    mean, var = np.empty_like(t), np.empty_like(t)
    lam = math.sqrt(2.0 / math.pi) / erfcx(y[near])
    mean[near] = (t[near] + lam) / root[near]
    var[near] = (1.0 - lam * (lam + t[near])) / gamma[near]
    far = ~near
    yf, tf = y[far], t[far]
    s1 = _series_minus_one(yf)
    s = 1.0 + s1
    # 2 y**2 (S - 1) + 1 summed term by term: its leading -1 cancels exactly.
    inverse = 1.0 / (2.0 * yf * yf)
    term, tail = -np.ones_like(yf), np.zeros_like(yf)
    for k in range(1, _SERIES_TERMS + 1):
        term = -term * (2 * k + 1) * inverse
        tail += term
    mean[far] = tf * s1 / s / root[far]
    var[far] = (s1 * (s + 1.0) + tail) / (s * s) / gamma[far]
    return mean, np.maximum(var, 0.0)


def piece_sample(a, gamma, u):
    """Exact draw from the piece by inverting its CDF in log space, given uniforms u in (0, 1].

    Z ~ N(0, 1) restricted to Z >= -t (t = a / sqrt(gamma)) has survival
    function Phi(-z) / Phi(t); z = -ndtri_exp(log u + log Phi(t)) solves
    Phi(-z) = u Phi(t) with every probability kept as a logarithm, so it is
    exact in either tail (deep into the truncated side, where Phi(t) is far
    below the smallest double, too).  Then h = (t + z) / sqrt(gamma).
    """
    a, gamma = np.broadcast_arrays(np.asarray(a, np.float64), np.asarray(gamma, np.float64))
    root = np.sqrt(gamma)
    t = a / root
    z = -ndtri_exp(np.log(u) + log_ndtr(t))
    return np.maximum((t + z) / root, 0.0)


def uniform_open_closed(rng, shape):
    """Uniforms in (0, 1] (log u finite) from a numpy Generator."""
    return 1.0 - rng.random(shape)
