"""Generate the 256-layer ziggurat tables of ``rbm_ziggurat_try`` in ``rbm/_normal.h``.

Marsaglia and Tsang's (2000) construction for the standard normal with 256
layers of equal area ``V`` (the base strip holds the tail beyond ``R``), for
52-bit magnitudes as in NumPy's ``random_standard_normal``: a draw's low 8
bits pick the layer i, the next its sign, the 52 above it the magnitude
``m``; x = m w[i] is accepted at once where m < k[i] (inside the layer's
rectangle under the one above it), and f[i] = exp(-x_i**2 / 2) at the
layers' edges decides the wedges.  ``R`` is the paper's constant for 256
layers (the root, to double precision, of the condition that the top layer
closes at x = 0); ``V`` is the area it implies, R f(R) plus the tail's
integral, to all digits (the paper's 4.92867323399e-3 is 12 of them).  ``tests/test_samplers.py`` checks the normals these tables
give against the normal distribution.

Usage::

    python tools/ziggurat_table.py > table.txt   # then paste into _normal.h
"""

import math

R = 3.6541528853610088
#: The area of each layer: the base rectangle R f(R) plus the tail beyond R.
V = R * math.exp(-0.5 * R * R) + math.sqrt(math.pi / 2) * math.erfc(R / math.sqrt(2))
M = 2.0 ** 52


def tables():
    """(k, w, f): 256 integer thresholds, widths per unit magnitude, densities."""
    k, w, f = [0] * 256, [0.0] * 256, [0.0] * 256
    dn = tn = R
    q = V / math.exp(-0.5 * dn * dn)
    k[0], k[1] = int((dn / q) * M), 0
    w[0], w[255] = q / M, dn / M
    f[0], f[255] = 1.0, math.exp(-0.5 * dn * dn)
    for i in range(254, 0, -1):
        dn = math.sqrt(-2.0 * math.log(V / dn + math.exp(-0.5 * dn * dn)))
        k[i + 1] = int((dn / tn) * M)
        tn = dn
        f[i] = math.exp(-0.5 * dn * dn)
        w[i] = dn / M
    return k, w, f


def c_array(ctype, name, values, per_line):
    rows = [", ".join(values[i:i + per_line]) for i in range(0, len(values), per_line)]
    return f"static const {ctype} {name}[256] = {{\n    " + ",\n    ".join(rows) + ",\n};"


def main():
    k, w, f = tables()
    print(c_array("uint64_t", "rbm_ziggurat_k", [f"UINT64_C({v})" for v in k], 4))
    print(c_array("double", "rbm_ziggurat_w", [repr(v) for v in w], 4))
    print(c_array("double", "rbm_ziggurat_f", [repr(v) for v in f], 4))


if __name__ == "__main__":
    main()
