"""The sentiment benchmark runs end to end on a slice (its numbers are measured in benchmarks/, not asserted)."""
from __future__ import annotations

import json

from benchmarks import app_sentiment


def test_sentiment_benchmark_runs_rnnkit_baseline_and_torch_on_the_same_folds(tmp_path, shared_data, capsys):
    out = tmp_path / "app_sentiment.json"
    argv = ["--limit", "40", "--folds", "2", "--json", str(out), "--data", str(shared_data / "sentiment"),
            "--epochs", "2", "--units", "4", "--embedding-dim", "4", "--baseline-epochs", "2", "--ensemble", "2"]
    assert app_sentiment.main(argv) == 0
    report = json.loads(out.read_text())
    assert [row["split"] for row in report["cv"]] == ["fold_1", "fold_2"]
    assert [row["split"] for row in report["cross_source"]] == [f"test_on_{s}" for s in app_sentiment.SOURCES]
    for row in report["cv"] + report["cross_source"]:
        for key in ("rnnkit", "baseline", "torch"):
            assert 0.0 <= row[key] <= 1.0
        assert row["torch_epochs"] and row["rnnkit_epochs"]  # the twin trained on recorded batch orders
    assert sum(row["test"] for row in report["cv"]) == 120
    assert "| mean ± sd |" in capsys.readouterr().out
