"""The test extra installs what the tests import, and nothing heavier.

Issue 21, point 19: ``pip install ".[test]"`` pulled in dask, distributed
and dask-ml (and with them numba and pyarrow) for one module of tests.  The
test extra now lists what the tests import unconditionally; the tests of
optional integrations import theirs through ``pytest.importorskip`` and skip
where they are missing.
"""

import ast
import re
import subprocess
import sys
from pathlib import Path

import pytest

tomllib = pytest.importorskip("tomllib")  # Python 3.11+

ROOT = Path(__file__).resolve().parents[1]
TESTS = ROOT / "tests"

#: Import names that are not their distribution's name, or that come with one.
DISTRIBUTION_OF = {"sklearn": "scikit-learn", "joblib": "scikit-learn",
                   "dask_ml": "dask-ml"}


def _project():
    return tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]


def _names(requirements):
    """Distribution names of requirement strings, normalised (``dask[distributed]>=1`` -> dask)."""
    return {re.match(r"[A-Za-z0-9_.-]+", r).group(0).lower().replace("_", "-")
            for r in requirements}


def _imports(path):
    """(top-level packages imported, packages imported through importorskip) by a test file."""
    tree = ast.parse(path.read_text())
    imported, optional = set(), set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            imported |= {alias.name.split(".")[0] for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            imported.add(node.module.split(".")[0])
        elif (isinstance(node, ast.Call) and getattr(node.func, "attr", None) == "importorskip"
              and node.args and isinstance(node.args[0], ast.Constant)):
            optional.add(node.args[0].value.split(".")[0])
    return imported - optional, optional


def _third_party(packages):
    local = {p.stem for p in TESTS.glob("*.py")} | {"rbm"}
    return {DISTRIBUTION_OF.get(p, p).lower() for p in packages
            if p not in sys.stdlib_module_names and p not in local}


def test_the_test_extra_is_exactly_what_the_tests_import_unconditionally():
    project = _project()
    required, optional = set(), set()
    for path in TESTS.glob("*.py"):
        imported, skippable = _imports(path)
        required |= _third_party(imported)
        optional |= _third_party(skippable)
    provided = _names(project["dependencies"])
    test_extra = _names(project["optional-dependencies"]["test"])
    # Complete: the README's test command installs every unconditional import.
    assert required <= provided | test_extra, required - provided - test_extra
    # Lean: nothing in it that only an optional, skippable test needs.
    assert test_extra <= required, test_extra - required
    assert not test_extra & {"dask", "dask-ml", "distributed", "numba", "pyarrow"}
    # The optional integrations keep an extra of their own.
    extras = project["optional-dependencies"]
    assert {"dask", "dask-ml"} <= _names(extras["dask"])
    assert optional - test_extra - provided <= {name for extra in extras.values()
                                                for name in _names(extra)}


def test_dask_tests_skip_cleanly_without_dask():
    """Run the Dask tests in a Python where importing dask fails, as it does
    where the dask extra is not installed: they skip, and nothing fails."""
    blocked = "; ".join(f"sys.modules[{name!r}] = None"
                        for name in ("dask", "dask.array", "dask.distributed", "distributed",
                                     "dask_ml", "dask_ml.wrappers"))
    code = (f"import sys; {blocked}; import pytest; sys.exit(pytest.main(["
            "'-q', '-rs', '-p', 'no:cacheprovider', 'tests/test_dask.py', "
            "'tests/test_examples.py::test_example_runs_in_fast_mode[dask_incremental.py]']))")
    result = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True,
                            text=True, timeout=600)
    assert result.returncode == 0, result.stdout + result.stderr
    assert re.search(r"\b2 skipped\b", result.stdout), result.stdout
    assert "failed" not in result.stdout and "error" not in result.stdout.lower()


def test_every_subpackage_is_packaged():
    # tool.setuptools.packages named "rbm" alone: a wheel (pip install ., or
    # rbm[plot] from an index) left out rbm/_units and could not import rbm.
    listed = set(tomllib.loads((ROOT / "pyproject.toml").read_text())
                 ["tool"]["setuptools"]["packages"])
    packages = {".".join(init.parent.relative_to(ROOT).parts)
                for init in (ROOT / "rbm").rglob("__init__.py")}
    assert packages == listed
