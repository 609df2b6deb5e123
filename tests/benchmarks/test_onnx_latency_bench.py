"""The ONNX latency benchmark runs end to end on a tiny model (timings are never asserted in the suite)."""
import json

from benchmarks import onnx_latency


def test_tiny_onnx_latency_benchmark(tmp_path, capsys):
    out = tmp_path / "onnx.json"
    argv = ["--repeats", "2", "--batches", "1", "3", "--steps", "4", "--units", "8", "--json", str(out)]
    for extra in ([], ["--embedding"]):
        assert onnx_latency.main(argv + extra) == 0
        results = json.loads(out.read_text())["results_ms"]
        assert sorted(results) == ["1", "3"]
        assert all(value > 0 for row in results.values() for value in row.values())
    assert "predict / onnxruntime" in capsys.readouterr().out
