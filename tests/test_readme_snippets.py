"""Every Python snippet in the README runs as written, on its own.

A reader copies one snippet, not the README: each must import and build
what it uses (a snippet that used ``X_train`` from an earlier section, or a
``model_2d`` defined nowhere, failed with a NameError when pasted).  The
first test finds such names without running anything; the second runs each
snippet in a fresh namespace, in a scratch folder (some write files).
"""

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
    namespace = {"__name__": "__readme__"}
    try:
        exec(compile(source, where, "exec"), namespace)
    finally:
        if hasattr(namespace.get("client"), "close"):   # the Dask snippet's local cluster
            namespace["client"].close()
    assert os.getcwd() == str(tmp_path)
