"""Generate the coefficient table of ``rbm_erfcx`` in ``rbm/_fastmath.h``.

For y >= 0, erfcx(y) = t g(t) with t = 4 / (4 + y) in (0, 1]; g is smooth on
[0, 1] (g(0) = 1 / (4 sqrt(pi))), so it is interpolated at Chebyshev nodes on
``N_INTERVALS`` equal intervals of t, degree ``DEGREE`` each, and written as
a polynomial in the interval's local coordinate s in [-1, 1] (Horner form).
The reference values are SciPy's ``erfcx`` (Faddeeva package, S. G. Johnson);
``tests/test_hidden_units.py`` checks the result against it on a dense grid
of y from -26 to 1e300 (about 2e-15 relative at most).

Usage::

    python tools/erfcx_table.py > table.txt   # then paste into _fastmath.h
"""

import numpy as np
from numpy.polynomial import chebyshev
from scipy.special import erfcx

N_INTERVALS = 16
DEGREE = 11


def g_of_t(t):
    """erfcx(y) / t at y = 4 / t - 4."""
    return erfcx(4.0 / t - 4.0) / t


def interval_polynomials():
    """(N_INTERVALS, DEGREE + 1) monomial coefficients in s, lowest degree first."""
    k = np.arange(DEGREE + 1)
    s = np.cos(np.pi * (k + 0.5) / (DEGREE + 1))
    rows = []
    for i in range(N_INTERVALS):
        t = (i + (s + 1.0) / 2.0) / N_INTERVALS
        rows.append(chebyshev.cheb2poly(chebyshev.chebfit(s, g_of_t(t), DEGREE)))
    return np.array(rows)


def main():
    table = interval_polynomials()
    print(f"static const double rbm_erfcx_table[{N_INTERVALS} * {DEGREE + 1}] = {{")
    for row in table:
        print("    " + ", ".join(f"{c:.17e}" for c in row) + ",")
    print("};")


if __name__ == "__main__":
    main()
