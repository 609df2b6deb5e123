"""examples/long_memory.py at a tiny size: the adding problem, every variant, results.json and the picture."""
from __future__ import annotations

import json
import runpy
from pathlib import Path

import numpy as np

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "long_memory.py"


def test_adding_problem_targets():
    example = runpy.run_path(str(EXAMPLE), run_name="example")
    x, y = example["adding_problem"](50, 12, np.random.default_rng(0))
    assert x.shape == (50, 12, 2) and y.shape == (50, 1)
    markers = x[..., 1]
    assert (markers.sum(axis=1) == 2).all()
    assert (markers[:, :6].sum(axis=1) == 1).all()  # one marker in each half
    np.testing.assert_allclose(y[:, 0], (x[..., 0] * markers).sum(axis=1), rtol=1e-6)


def test_long_memory_runs_at_tiny_size(tmp_path, capsys):
    example = runpy.run_path(str(EXAMPLE), run_name="example")
    results = example["main"](["--lengths", "4", "8", "--units", "4", "--train-size", "40", "--test-size", "20",
                               "--batch-size", "20", "--epochs", "1", "--flow-steps", "8", "--out", str(tmp_path)])
    assert len(results) == 2 * len(example["VARIANTS"])
    saved = json.loads((tmp_path / "results.json").read_text())
    assert [r["model"] for r in saved["results"]][:3] == ["SimpleRNN", "LSTM", "GRU"]
    for row in saved["results"]:
        assert np.isfinite(row["test_mse"]) and 0 <= row["solved"] <= 1
        assert len(row["flow_init"]) == row["steps"] and 0 < row["decay_init"]
    assert (tmp_path / "long-memory.png").stat().st_size > 10_000
    assert "SimpleRNN clipnorm=1" in capsys.readouterr().out
