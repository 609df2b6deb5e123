"""The forecasting measurement runs end to end (2 epochs on the airline series; numbers are never asserted)."""
import json

from benchmarks import app_forecast


def test_benchmark_reports_every_method(tmp_path, capsys):
    out = tmp_path / "forecast.json"
    assert app_forecast.main(["--series", "airline", "--quick", "--json", str(out)]) == 0
    result = json.loads(out.read_text())["results"][0]
    assert set(result["test"]) == {"model", "naive", "seasonal_naive", "drift", "pytorch"}
    assert result["rnnkit_seconds"] > 0 and result["torch_seconds"] > 0
    assert "seasonal_naive" in capsys.readouterr().out
