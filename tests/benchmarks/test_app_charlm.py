"""benchmarks.app_charlm runs end to end (both sides, side by side) on a slice of tinyshakespeare; timings and
losses are never asserted here."""
from __future__ import annotations

import json

from benchmarks import app_charlm


def test_smoke_run_reports_both_sides(shared_data, tmp_path, capsys):
    text = tmp_path / "slice.txt"
    text.write_text((shared_data / "tinyshakespeare.txt").read_text(encoding="utf-8")[:12000], encoding="utf-8")
    out = tmp_path / "result.json"
    assert app_charlm.main(["--small", "--minutes", "0.002", "--text", str(text), "--json", str(out)]) == 0
    result = json.loads(out.read_text())
    for side in ("rnnkit", "torch"):
        row = result[side]
        assert row["training_steps"] >= 1 and row["characters_per_second"] > 0 and len(row["sample"]) == 300
        assert 0 < row["val_loss"] < 10
    assert result["rnnkit"]["baseline_loss"] == result["torch"]["baseline_loss"]
    assert "unigram baseline" in capsys.readouterr().out
