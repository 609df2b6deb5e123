"""benchmarks.app_translate runs end to end on a tiny slice (timings and BLEU are never asserted in the suite)."""
from __future__ import annotations

import json

from benchmarks import app_translate


def test_translate_benchmark_runs_on_a_slice(tmp_path, shared_data):
    out = tmp_path / "translate.json"
    argv = ["--data", str(shared_data / "eng-fra-5k.tsv"), "--epochs", "1", "--units", "8", "--limit", "64", "--test-size", "12",
            "--splits", "pair", "--json", str(out), "--save", str(tmp_path / "models")]
    assert app_translate.main(argv) == 0
    (run,) = json.loads(out.read_text())["runs"]
    assert set(run["median_seconds_per_epoch"]) == {"rnnkit", "rnnkit_baseline", "torch"}
    assert {"rnnkit_beam5", "torch_greedy", "copy_english"} <= set(run["bleu"])
    assert (tmp_path / "models" / "pair.rnnkit").is_file()
