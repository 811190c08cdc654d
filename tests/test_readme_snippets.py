"""Every Python snippet in the README runs as written, on its own.

A reader copies one snippet, not the README: each must import and build
what it uses (a snippet that used ``X_train`` from an earlier section, or a
``model_2d`` defined nowhere, failed with a NameError when pasted).  The
first test finds such names without running anything; the second runs each
snippet in a fresh namespace, in a scratch folder (some write files), and
checks the figures its comments quote ("# accuracy: 0.926 here",
"# nats per image (-17.82)") to the digits shown: results do not depend on
the machine or its threads.
"""

import ast
import builtins
import importlib.util
import os
import re
import symtable
from pathlib import Path

import pytest

README = (Path(__file__).resolve().parents[1] / "README.md").read_text()


def _snippets():
    """{"README line N": source} of the fenced Python blocks, N their first line."""
    snippets = {}
    for match in re.finditer(r"^```python\n(.*?)^```", README, flags=re.M | re.S):
        line = README.count("\n", 0, match.start()) + 2
        snippets[f"README line {line}"] = match.group(1)
    return snippets


SNIPPETS = _snippets()


def _undefined_names(source):
    """Names the snippet reads that it neither assigns nor imports (nor are builtins)."""
    top = symtable.symtable(source, "<snippet>", "exec")
    defined = {s.get_name() for s in top.get_symbols() if s.is_assigned() or s.is_imported()}
    undefined, tables = set(), [top]
    while tables:  # comprehensions and lambdas read module names too
        table = tables.pop()
        tables.extend(table.get_children())
        for symbol in table.get_symbols():
            name = symbol.get_name()
            if (symbol.is_referenced() and (table is top or symbol.is_global())
                    and name not in defined and not hasattr(builtins, name)):
                undefined.add(name)
    return undefined


def test_the_readme_has_snippets_to_check():
    assert len(SNIPPETS) >= 10


def test_the_undefined_name_finder_finds_one():
    assert _undefined_names("import numpy as np\nmodel.fit(np.ones(3))\n") == {"model"}
    assert _undefined_names("[x + y for x in range(3)]\n") == {"y"}
    assert _undefined_names("y = 1\nf = lambda x: x + y\n") == set()


@pytest.mark.parametrize("where", sorted(SNIPPETS))
def test_every_name_a_snippet_uses_is_defined_in_it(where):
    assert _undefined_names(SNIPPETS[where]) == set(), where


#: A comment that ends by quoting the result of its line: "... 0.926 here" or "... (-17.82)".
QUOTED_FIGURE = re.compile(r"#.*?(-?\d+\.\d+)(?:\)| here)\s*$")


def _with_quoted_figures_kept(source):
    """(code, {name: quoted figure}): the snippet with each top-level expression
    whose comment quotes a figure assigned to a name, to compare after the run."""
    tree, lines, quoted = ast.parse(source), source.splitlines(), {}
    for i, node in enumerate(tree.body):
        match = QUOTED_FIGURE.search(lines[node.end_lineno - 1])
        if isinstance(node, ast.Expr) and match:
            name = f"_quoted_figure_{node.lineno}"
            tree.body[i] = ast.Assign([ast.Name(name, ast.Store())], node.value)
            quoted[name] = match.group(1)
    return ast.fix_missing_locations(tree), quoted


def test_quoted_figures_are_found():
    _, quoted = _with_quoted_figures_kept("a = 1\nround(2.0)  # two (2.0)\nround(0.5)  # 0.25 here\n"
                                         "round(7)  # about 7 s\n")
    assert quoted == {"_quoted_figure_2": "2.0", "_quoted_figure_3": "0.25"}
    assert sum(len(_with_quoted_figures_kept(s)[1]) for s in SNIPPETS.values()) >= 3


def _imported_modules(source):
    return re.findall(r"^(?:from|import) ([\w.]+)", source, flags=re.M)


@pytest.mark.parametrize("where", sorted(SNIPPETS))
def test_every_snippet_runs(where, tmp_path, monkeypatch):
    source = SNIPPETS[where]
    for module in _imported_modules(source):
        if importlib.util.find_spec(module.split(".")[0]) is None:
            pytest.skip(f"{module} is not installed (an optional extra)")
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("MPLBACKEND", "Agg")
    code, quoted = _with_quoted_figures_kept(source)
    namespace = {"__name__": "__readme__"}
    try:
        exec(compile(code, where, "exec"), namespace)
    finally:
        if hasattr(namespace.get("client"), "close"):   # the Dask snippet's local cluster
            namespace["client"].close()
    assert os.getcwd() == str(tmp_path)
    for name, figure in quoted.items():
        decimals = len(figure.split(".")[1])
        assert f"{namespace[name]:.{decimals}f}" == figure, (where, name)


def test_the_hidden_type_example_learns_more_than_independent_features():
    # Its ReLU model at n_iter=100 and the units' small default rate stayed
    # at the independent model (-18.43 nats per row against -18.45); users
    # copy examples.
    import math

    source = next(s for s in SNIPPETS.values() if 'hidden="relu"' in s)
    namespace = {"__name__": "__readme__"}
    exec(compile(source, "hidden-type example", "exec"), namespace)
    real, X = namespace["real"], namespace["X_standardised"]
    independent = -X.shape[1] * 0.5 * (math.log(2 * math.pi) + 1)  # (each column: N(0, 1))
    assert real.score(X) > independent + 2
