"""The kernel's standard normals: Box-Muller on 53-bit uniforms, vectorised (rbm/_normal.h).

``normal_fill`` takes two 64-bit draws per pair of normals and turns them into
sqrt(-2 log u1) cos(2 pi u2) and sqrt(-2 log u1) sin(2 pi u2), computed in
double and stored as float32.  Its log, sin and cos are fdlibm's polynomials
(under 1 ulp of double), so the stored floats are those of libm's functions
except where a value lies within an ulp of double of a float rounding
boundary.  ``_random.box_muller`` runs the same transform on given draws.

The truncated-Gaussian sampler of ReLU and dReLU units takes its normals
from a 256-layer ziggurat instead (also rbm/_normal.h, in double):
``_sampling.ziggurat_normals`` hands them out as the sampler does, and the
tests at the end check them against the normal distribution.
"""

import numpy as np
import pytest

from rbm import _random

TWO_POW_53 = 2.0 ** 53


def reference_normals(draws, n):
    """NumPy's libm-based Box-Muller on the same draws, as float32."""
    radius_draws, angle_draws = draws[0::2], draws[1::2]
    u1 = ((radius_draws >> np.uint64(11)) + np.uint64(1)).astype(np.float64) / TWO_POW_53
    u2 = (angle_draws >> np.uint64(11)).astype(np.float64) / TWO_POW_53
    radius = np.sqrt(-2.0 * np.log(u1))
    out = np.empty(2 * radius.size, dtype=np.float32)
    out[0::2] = radius * np.cos(2.0 * np.pi * u2)
    out[1::2] = radius * np.sin(2.0 * np.pi * u2)
    return out[:n]


def float_ulps_apart(a, b):
    return np.abs(a.view(np.int32).astype(np.int64) - b.view(np.int32).astype(np.int64))


def assert_within_a_float_ulp_or_double_rounding(got, expected):
    """Each value within one float ulp of libm's; near zero (sin(pi) and such), within
    1e-14, the absolute error of an angle rounded in double (libm rounds 2 pi u2
    itself, 4e-16 at 2 pi, times a radius of up to 8.6)."""
    allowed = np.maximum(np.spacing(np.abs(expected)), np.float32(1e-14))
    assert np.all(np.abs(got.astype(np.float64) - expected) <= allowed)


def test_random_draws_give_libms_floats():
    # Two values in 10^6 may round differently (a double within 1e-16 of a
    # float boundary is that rare: about 2 ulp of double / ulp of float, 4e-9
    # per value); none may be more than one float ulp away.
    draws = np.random.default_rng(0).integers(0, 2 ** 64, size=1_000_000, dtype=np.uint64)
    got = _random.box_muller(draws, draws.size)
    expected = reference_normals(draws, draws.size)
    assert got.dtype == np.float32 and got.shape == expected.shape
    apart = float_ulps_apart(got, expected)
    assert apart.max() <= 1
    assert np.count_nonzero(apart) <= 2


def test_extreme_draws_and_every_quadrant_boundary():
    # Radius draws: the smallest u1 = 2**-53 (the 8.57-sigma tail), u1 = 1
    # (radius 0), and u1 near the log's sqrt(2) split; angle draws put 2 pi u2
    # on and next to every multiple of pi / 4, where the reduction changes
    # quadrant.
    top = np.uint64(2 ** 64 - 1)
    radius_draws = [np.uint64(0), top, np.uint64(int(0.7071067811865476 * 2 ** 53) << 11),
                    np.uint64(int(0.7071067811865475 * 2 ** 53) << 11), np.uint64(12345 << 11)]
    angle_fractions = np.arange(9) / 8.0
    angle_draws = []
    for fraction in angle_fractions:
        centre = min(int(fraction * 2 ** 53), 2 ** 53 - 1)
        for offset in (-1, 0, 1):
            value = min(max(centre + offset, 0), 2 ** 53 - 1)
            angle_draws.append(np.uint64(value << 11))
    pairs = [(r, a) for r in radius_draws for a in angle_draws]
    draws = np.array([x for pair in pairs for x in pair], dtype=np.uint64)
    got = _random.box_muller(draws, draws.size)
    expected = reference_normals(draws, draws.size)
    assert_within_a_float_ulp_or_double_rounding(got, expected)
    assert np.all(np.isfinite(got))
    # u1 = 2**-53: radius sqrt(106 ln 2); u1 = 1: both normals exactly 0.
    np.testing.assert_allclose(np.hypot(got[0], got[1]), np.sqrt(106 * np.log(2.0)), rtol=1e-6)
    n_angles = len(angle_draws)
    assert np.all(got[2 * n_angles:4 * n_angles] == 0.0)


def test_an_odd_count_takes_a_whole_pair_and_keeps_its_cosine():
    draws = np.random.default_rng(1).integers(0, 2 ** 64, size=8, dtype=np.uint64)
    seven = _random.box_muller(draws, 7)
    eight = _random.box_muller(draws, 8)
    np.testing.assert_array_equal(seven, eight[:7])
    with pytest.raises(ValueError, match="7 normals need 8 draws, got 7"):
        _random.box_muller(draws[:7], 7)
    assert _random.box_muller(draws, 0).shape == (0,)


def test_normals_are_standard_normal():
    # The transform's output, not just agreement with libm: mean, variance
    # and a Kolmogorov-Smirnov test against N(0, 1) at a fixed seed.
    from scipy import stats
    draws = np.random.default_rng(2).integers(0, 2 ** 64, size=200_000, dtype=np.uint64)
    normals = _random.box_muller(draws, draws.size).astype(np.float64)
    assert stats.kstest(normals, "norm").pvalue > 1e-3
    n = normals.size
    assert abs(normals.mean()) < 5 / np.sqrt(n)
    assert abs(normals.var() - 1.0) < 5 * np.sqrt(2.0 / n)


# --------------------------------------------------------------------------
# The ziggurat of the truncated-Gaussian sampler (ReLU and dReLU units)
# --------------------------------------------------------------------------

#: Where the ziggurat's base layer hands over to its tail (rbm/_normal.h).
ZIGGURAT_R = 3.6541528853610088
ZIGGURAT_ALPHA = 1e-3


def ziggurat_draws(n, seed):
    from rbm import _sampling
    return _sampling.ziggurat_normals(np.random.SFC64(seed), n)


def equiprobable_chi_square_p(values, n_bins):
    """p-value of Pearson's chi-square test of ``values`` against N(0, 1) on
    ``n_bins`` bins of equal probability."""
    from scipy import stats
    edges = stats.norm.ppf(np.linspace(0.0, 1.0, n_bins + 1)[1:-1])
    counts = np.bincount(np.searchsorted(edges, values), minlength=n_bins)
    return stats.chisquare(counts).pvalue


def test_ziggurat_normals_fit_the_normal_distribution_bin_by_bin():
    # 1000 equiprobable bins, 4000 draws expected in each: a wedge or layer
    # whose density were off by 5% (the wedges hold 1.5% of the mass, a
    # layer 0.4%) would move its bins by 3 standard errors or more.  Power:
    # the same test rejects the same draws scaled by 1.005, half a percent.
    n, bins = 4_000_000, 1000
    z = ziggurat_draws(n, seed=3)
    assert z.shape == (n,) and np.all(np.isfinite(z))
    assert equiprobable_chi_square_p(z, bins) > ZIGGURAT_ALPHA
    assert equiprobable_chi_square_p(1.005 * z, bins) < ZIGGURAT_ALPHA
    assert abs(z.mean()) < 4 / np.sqrt(n)
    assert abs(z.var() - 1.0) < 4 * np.sqrt(2.0 / n)
    # Both signs, symmetric: the sign bit is independent of the magnitude.
    positive = np.count_nonzero(z > 0)
    assert abs(positive - n / 2) < 4 * np.sqrt(n / 4)


def test_ziggurat_tail_beyond_the_base_layer_is_exact():
    # The draws beyond R come from the tail sampler (Marsaglia's exponential
    # method), the rest from the layers: the tail's mass is 2 P(z > R), its
    # count binomial, and |z| - R given |z| > R has the normal's tail law.
    from scipy import stats
    n = 8_000_000
    z = ziggurat_draws(n, seed=4)
    beyond = np.abs(z[np.abs(z) > ZIGGURAT_R])
    p_tail = 2 * stats.norm.sf(ZIGGURAT_R)
    assert abs(beyond.size - n * p_tail) < 4 * np.sqrt(n * p_tail * (1 - p_tail))
    tail = stats.truncnorm(ZIGGURAT_R, np.inf)
    assert stats.kstest(beyond, tail.cdf).pvalue > ZIGGURAT_ALPHA
    assert np.count_nonzero(z > ZIGGURAT_R) > 0 and np.count_nonzero(z < -ZIGGURAT_R) > 0


def test_ziggurat_draws_depend_only_on_the_stream():
    # SFC64 stepped inline on a copy of the state or through NumPy's
    # next_uint64: the same normals, and the stream left in the same state.
    from rbm import _gibbs, _sampling
    inline_stream, numpy_stream = np.random.SFC64(5), np.random.SFC64(5)
    inline = _sampling.ziggurat_normals(inline_stream, 100_000)
    with _gibbs.kernel_settings(inline_sfc64=False) as settings:
        assert not settings["inline_sfc64"]
        stepped = _sampling.ziggurat_normals(numpy_stream, 100_000)
    np.testing.assert_array_equal(inline, stepped)
    assert inline_stream.random_raw() == numpy_stream.random_raw()
    assert not np.array_equal(inline, ziggurat_draws(100_000, seed=6))
