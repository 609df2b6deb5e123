"""The OCR measurement runs end to end on a tiny case (its numbers are never asserted in the suite)."""
from __future__ import annotations

import json


def test_app_ocr_reports_accuracy_and_both_frameworks(tmp_path, capsys):
    from benchmarks import app_ocr

    out = tmp_path / "app_ocr.json"
    assert app_ocr.main(["--tiny", "--train-out", str(tmp_path / "run"), "--epochs", "1", "--steps", "2",
                         "--test-lines", "6", "--throughput-batches", "2", "--json", str(out)]) == 0
    report = json.loads(out.read_text())
    for key in ("train_fonts", "unseen_font"):
        row = report[key]
        if row is not None:  # the unseen font is there only where Debian's fonts are installed
            assert row["lines"] == 6 and 0.0 <= row["line_accuracy"] <= 1.0 and row["cer"] >= 0.0
    assert report["unseen_font"] is None or report["unseen_font"]["fonts"] == ["FreeSerif.ttf"]
    assert report["unseen_font"] is None or "FreeSerif.ttf" not in report["train_fonts"]["fonts"]
    t = report["throughput"]
    assert t["timed_lines"] == 32 and t["rnnkit"]["lines_per_s"] > 0 and t["torch"]["lines_per_s"] > 0
    assert "training lines/s" in capsys.readouterr().out
