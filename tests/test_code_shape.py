"""The shape the core keeps (issue 16): small functions, a training entry of a
few argument objects, a thin estimator base, C helpers without templating
macros.  These read the source; they guard the design, not behaviour."""

import ast
import re
from pathlib import Path

import pytest

RBM = Path(__file__).resolve().parent.parent / "rbm"
MAX_FUNCTION_LINES = 100


def python_functions():
    for path in sorted(RBM.rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
                yield f"{path.name}:{node.name}", node.end_lineno - node.lineno + 1


_CYTHON_DEF = re.compile(r"^(\s*)(?:cdef|cpdef|def)\s[^=]*?(\w+)\s*\(")


def cython_functions():
    """(name, lines) of each def/cdef function, by indentation (the body ends at
    the first non-blank line indented no deeper than the header)."""
    for path in sorted(RBM.glob("*.py[xd]")):
        lines = path.read_text().splitlines()
        i = 0
        while i < len(lines):
            match = _CYTHON_DEF.match(lines[i])
            if not match or "struct" in lines[i] or "enum" in lines[i]:
                i += 1
                continue
            indent, start = len(match.group(1)), i
            while not lines[i].rstrip().endswith(":"):
                i += 1
            last = i
            for j in range(i + 1, len(lines)):
                if lines[j].strip():
                    if len(lines[j]) - len(lines[j].lstrip()) <= indent:
                        break
                    last = j
            yield f"{path.name}:{match.group(2)}", last - start + 1
            i += 1


def test_no_function_is_longer_than_100_lines():
    functions = list(python_functions()) + list(cython_functions())
    assert len(functions) > 200  # the scan found the code
    long = [(name, n) for name, n in functions if n > MAX_FUNCTION_LINES]
    assert long == []


def test_the_training_entry_takes_a_handful_of_argument_objects():
    source = (RBM / "_gibbs.pyx").read_text()
    header = re.search(r"^def train_minibatches\(([^)]*)\)", source, flags=re.MULTILINE)
    parameters = [p for p in header.group(1).split(",") if p.strip()]
    assert len(parameters) <= 8


def test_base_estimator_stays_thin():
    tree = ast.parse((RBM / "_base.py").read_text())
    (base,) = [n for n in tree.body if isinstance(n, ast.ClassDef) and n.name == "BaseRBM"]
    assert base.end_lineno - base.lineno + 1 < 400


@pytest.mark.parametrize("header", ["_fastmath.h", "_avx512.h"])
def test_c_helpers_have_no_templating_macros(header):
    # A macro that continues over several lines is a body (a function or a
    # loop written once for several types); only one-line defines remain.
    source = (RBM / header).read_text()
    defines = re.findall(r"^#define .*$", source, flags=re.MULTILINE)
    assert defines and not [d for d in defines if d.rstrip().endswith("\\")]
