"""benchmarks/density.py --hidden: every hidden type on the DEBD sets and digits (issue 19)."""

import numpy as np
import pytest


def density_benchmark():
    import importlib.util
    from pathlib import Path
    path = Path(__file__).resolve().parent.parent / "benchmarks" / "density.py"
    spec = importlib.util.spec_from_file_location("density_benchmark", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_density_hidden_mode_skips_cleanly_without_the_data_folder(tmp_path, capsys):
    density = density_benchmark()
    status = density.main(["--hidden", "all", "--epochs", "1", "--sets", "nltcs",
                           "--data-dir", str(tmp_path / "absent"),
                           "--output", str(tmp_path / "h.md")])
    assert status == 0
    err = capsys.readouterr().err
    assert "not found" in err and "nothing to run" in err
    assert not (tmp_path / "h.md").exists()


def test_density_hidden_mode_refuses_an_unknown_type():
    with pytest.raises(SystemExit):
        density_benchmark().parse_args(["--hidden", "bernoulli,tanh"])


def test_density_hidden_table_has_one_column_per_type(tmp_path):
    density = density_benchmark()
    rng = np.random.default_rng(0)
    parts = {key: (rng.random((n, 6)) < 0.4).astype(np.uint8)
             for key, n in (("train", 60), ("valid", 20), ("test", 20))}
    np.savez(tmp_path / "tiny.npz", **parts)
    status = density.main(["--hidden", "bernoulli,drelu", "--epochs", "2", "--sets", "tiny",
                           "--data-dir", str(tmp_path), "--output", str(tmp_path / "h.md")])
    assert status == 0
    table = (tmp_path / "h.md").read_text()
    assert "| bernoulli hidden | drelu hidden |" in table
    row = next(line for line in table.splitlines() if line.startswith("| tiny "))
    assert "n/a" not in row
