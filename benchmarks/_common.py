"""Small helpers the benchmark scripts share: argument types and where the
imported ``rbm`` came from (a table is only meaningful with the commit it
was measured on).

Scripts run as ``python benchmarks/x.py`` find this module on ``sys.path``
already; one loaded by file path puts its own folder there first.
"""

import argparse
import subprocess
from pathlib import Path

import rbm


def positive_int(text):
    """An integer >= 1 (argparse type)."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected an integer, not {text!r}")
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, not {value}")
    return value


def _git(*command):
    """A git command's output in the imported rbm package's folder."""
    package = Path(rbm.__file__).resolve().parent
    return subprocess.run(["git", "-C", str(package), *command], capture_output=True,
                          text=True, check=True, timeout=10).stdout.strip()


def _dirty():
    """'+dirty' where rbm/ has uncommitted changes, else ''."""
    return "+dirty" if _git("status", "--porcelain", "--", ".") else ""


def rbm_source():
    """Where rbm was imported from and, in a git checkout, its commit
    ('+dirty': rbm/ had uncommitted changes)."""
    package = Path(rbm.__file__).resolve().parent
    try:
        return f"{package} (git {_git('rev-parse', '--short', 'HEAD')}{_dirty()})"
    except (OSError, subprocess.SubprocessError):
        return f"{package} (not a git checkout)"


def rbm_commit():
    """The last git commit that changed the imported rbm package ('+dirty' if
    rbm/ has changes), or 'unknown' outside a git checkout: commits that touch
    only the benchmarks keep a cache keyed by it."""
    try:
        return _git("log", "-1", "--format=%H", "--", ".") + _dirty()
    except (OSError, subprocess.SubprocessError):
        return "unknown"
