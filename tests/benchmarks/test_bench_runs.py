"""The benchmark runs end to end on tiny cases (timings are never asserted in the suite)."""
from __future__ import annotations

import json

from benchmarks import run
from benchmarks.cases import TINY
from benchmarks.gemm_floor import flops, matmul_shapes


def test_tiny_benchmark_reports_both_frameworks(tmp_path, capsys):
    out = tmp_path / "bench.json"
    assert run.main(["--tiny", "--repeats", "1", "--threads", "1", "--json", str(out)]) == 0
    report = json.loads(out.read_text())
    names = [row["case"] for row in report["results"]]
    assert names == [case.name for case in TINY]
    for row in report["results"]:
        assert row["rnnkit"]["samples_per_s"] > 0 and row["rnnkit"]["floor_samples_per_s"] > 0
        assert row["torch"]["samples_per_s"] > 0 and row["ratio_rnnkit_over_torch"] > 0
    assert "ratio" in capsys.readouterr().out


def test_benchmark_without_torch_reports_rnnkit_alone(tmp_path, capsys):
    out = tmp_path / "bench.json"
    assert run.main(["--tiny", "--repeats", "1", "--threads", "1", "--no-torch", "--json", str(out)]) == 0
    rows = json.loads(out.read_text())["results"]
    assert all("torch" not in row and "ratio_rnnkit_over_torch" not in row for row in rows)


def test_gemm_flops_match_hand_count():
    case = TINY[0]  # SimpleRNN, H=8, T=5, D=4, B=8, one layer, training, 10 classes
    b, t, d, h, c = case.batch, case.time_steps, case.features, case.units, case.classes
    forward = 2 * (t * b * d * h + t * b * h * h + b * h * c)
    backward = 2 * (t * b * h * h + d * t * b * h + h * t * b * h + h * b * c + b * c * h)
    assert flops(case) == forward + backward
    assert sum(matmul_shapes(case).values()) == 1 + t + t + 1 + 1 + 3


def test_accuracy_parity_runs_on_a_small_subset(tmp_path, capsys):
    from benchmarks import accuracy

    out = tmp_path / "accuracy.json"
    assert accuracy.main(["--limit", "600", "--threads", "1", "--json", str(out)]) == 0
    rows = json.loads(out.read_text())["results"]
    assert [row["case"] for row in rows] == ["seed SimpleRNN 32", "LSTM 128"]
    for row in rows:
        for framework in ("rnnkit", "torch"):
            assert 0.0 <= row[framework]["test_accuracy"] <= 1.0
        assert abs(row["difference_points"] - 100 * (row["rnnkit"]["test_accuracy"] - row["torch"]["test_accuracy"])) < 1e-9
