"""The speech measurement runs end to end on a tiny case (its numbers are never asserted in the suite)."""
from __future__ import annotations

import json


def test_app_speech_reports_baseline_and_both_frameworks(shared_data, tmp_path, capsys):
    from benchmarks import app_speech

    out = tmp_path / "app_speech.json"
    assert app_speech.main(["--data", str(shared_data / "fsdd"), "--limit", "6", "--epochs", "1", "--no-standard",
                            "--speakers", "theo", "--twin-speakers", "theo", "--sequences", "none",
                            "--json", str(out)]) == 0
    report = json.loads(out.read_text())
    (row,) = report["digits"]
    assert row["split"] == "theo held out" and row["test"] == 60 and row["train"] == 300
    for key in ("baseline_accuracy", "rnnkit_accuracy", "torch_accuracy"):
        assert 0.0 <= row[key] <= 1.0
    assert report["sequences"] is None  # the sequence run is the task's own (tests/tasks/test_speech_sequences.py)
    printed = capsys.readouterr().out
    assert "| theo held out | 300 / 60 |" in printed
