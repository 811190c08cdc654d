"""The README tells a scikit-learn user, first thing after the quickstart, what the defaults do.

Issue 21, points 5 and 15: the defaults ran a different, much longer
algorithm than scikit-learn's without a word.  The README's opening points
to its "Coming from scikit-learn" section, the first after the two-command
quickstart (which the README must start with); it lists the defaults that differ (checked here against the real defaults of
both libraries), names the switch to scikit-learn's algorithm, and the first
example says how long the defaults train and how to shorten them.
"""

import re
from pathlib import Path

import pytest
from sklearn.neural_network import BernoulliRBM as SklearnRBM

from rbm import BernoulliRBM

README = (Path(__file__).resolve().parents[1] / "README.md").read_text()


def _opening():
    """The "Coming from scikit-learn" section, which must follow the quickstart
    and which the lines above the quickstart name."""
    headings = re.findall(r"^## (.+)$", README, flags=re.M)
    assert headings[:2] == ["Quickstart", "Coming from scikit-learn"], headings[:3]
    assert "(#coming-from-scikit-learn)" in README[: README.index("\n## ")]
    start = README.index("\n## Coming from scikit-learn")
    return README[start: README.index("\n## ", start + 1)]


def _table_rows(text):
    """{first cell: [cells]} of the markdown table rows in text."""
    rows = {}
    for line in text.splitlines():
        if line.startswith("| ") and not line.startswith("|---"):
            cells = [cell.strip() for cell in line.strip("|").split("|")]
            rows[cells[0].strip("`")] = cells
    return rows


@pytest.mark.parametrize("name", ["n_iter", "learning_rate", "batch_size", "n_chains",
                                  "momentum", "weight_decay"])
def test_the_opening_lists_each_default_that_differs_with_both_values(name):
    row = _table_rows(_opening())[name]
    ours, theirs = BernoulliRBM().get_params()[name], SklearnRBM().get_params().get(name)
    assert _mentions(row[2], ours), row
    if theirs is not None:  # scikit-learn has no n_chains or momentum
        assert _mentions(row[1], theirs), row
    assert ours != theirs


def _mentions(cell, value):
    """Whether a table cell states value (a string, or a number in any notation)."""
    if isinstance(value, str):
        return f'"{value}"' in cell
    numbers = re.findall(r"\d+(?:\.\d+)?(?:e-?\d+)?", cell.replace(",", ""))
    return float(value) in [float(n) for n in numbers]


def test_the_opening_names_the_switch_and_it_exists():
    opening = _opening()
    assert "BernoulliRBM.sklearn_compatible(" in opening
    assert callable(BernoulliRBM.sklearn_compatible)
    for parameter in ("visible_bias_init", "shuffle"):
        assert f"`{parameter}`" in opening and parameter in BernoulliRBM().get_params()


def test_the_first_example_says_how_long_the_defaults_train_and_how_to_shorten_them():
    usage = README[README.index("## Usage"):]
    first_example_end = usage.index("```\n", usage.index("```python") + 9) + 4
    after = usage[first_example_end:usage.index("```", first_example_end)]
    assert after.lstrip().startswith("**How long the defaults train.**")
    assert re.search(r"\d+ s\b", after)  # a measured time
    assert "n_iter=" in after and "sklearn_compatible" in after


def test_the_parameters_table_states_the_real_defaults():
    start = README.index("\n### Parameters\n")
    section = README[start: README.index("\n### ", start + 1)]
    params = BernoulliRBM().get_params()
    rows = [line.strip("|").split("|") for line in section.splitlines()
            if line.startswith("| `")]
    assert len(rows) >= 15
    for names, default, _ in rows:
        names = re.findall(r"`(\w+)`", names)
        cells = default.split("(")[0].split(",")
        assert len(names) == len(cells), (names, default)
        for name, cell in zip(names, cells):
            cell = cell.strip().strip("`")
            value = params[name]
            if isinstance(value, str):
                assert cell == f'"{value}"', (name, cell, value)
            elif value is None or isinstance(value, bool):
                assert cell == repr(value), (name, cell, value)
            else:
                assert float(cell) == value, (name, cell, value)


def test_scikit_learn_accepts_any_finite_input_and_refuses_nan():
    # "What differs": scikit-learn silently accepts any finite values, and
    # refuses only NaN and inf, as its validate_data does.
    import numpy as np

    X = np.full((20, 3), 5.0)
    SklearnRBM(n_iter=1).fit(X)
    X[0, 0] = np.nan
    with pytest.raises(ValueError):
        SklearnRBM(n_iter=1).fit(X)
    assert SklearnRBM(n_iter=1).partial_fit(X[1:]) is None  # "returns None"


def test_every_file_the_docs_name_exists():
    # README.md and docs/architecture.md cite files as evidence or as the
    # place a thing lives ("tests/test_sample_weight.py", "rbm/_state.py"):
    # each must be there (a glob such as docs/*.png must match something).
    root = Path(__file__).resolve().parents[1]
    for doc in ("README.md", "docs/architecture.md"):
        text = (root / doc).read_text()
        paths = set(re.findall(r"\b(?:rbm|tests|benchmarks|examples|docs|tools|\.ci)/"
                               r"[\w./*-]*[\w*]", text))
        assert len(paths) > 5, doc
        for path in paths:
            assert list(root.glob(path)), f"{doc} names {path}, which does not exist"


def test_hidden_types_and_gaps_are_for_the_density_models_not_the_classifier():
    # The README said "Every model takes hidden=" and "Every model answers
    # questions about rows with gaps"; RBMClassifier takes neither.
    from rbm import CategoricalRBM, GaussianBernoulliRBM, RBMClassifier

    text = " ".join(README.split())
    for section in ("## Hidden-unit types", "## Filling in missing values"):
        opening = text[text.index(section):][:400]
        assert "Every density model" in opening and "not `RBMClassifier`" in opening
    for cls in (BernoulliRBM, GaussianBernoulliRBM, CategoricalRBM):
        assert {"hidden", "missing"} <= set(cls().get_params())
    assert not {"hidden", "missing"} & set(RBMClassifier().get_params())
    assert not hasattr(RBMClassifier, "conditional_sample")


def test_every_section_the_readme_cites_by_name_exists():
    # (benchmarks/README.md, "Idle BLAS workers"), (docs/architecture.md, "Divergence")
    root = Path(__file__).resolve().parents[1]
    text = " ".join(README.split())
    cited = re.findall(r'((?:benchmarks/README|docs/architecture)\.md)`?, "((?:[^"\\]|\\")+)"',
                       text)
    assert len(cited) >= 5
    for doc, title in cited:
        title = title.replace('\\"', '"')
        headings = [line.lstrip("#").strip().replace("`", "")
                    for line in (root / doc).read_text().splitlines() if line.startswith("#")]
        assert any(heading.startswith(title) for heading in headings), (doc, title)
