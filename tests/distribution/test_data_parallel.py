"""DataParallel against one process: real ranks over loopback (gloo), float64, dropout, sample weights, uneven
batches (31 samples, global batches of 5: the last has 1 row, so some ranks compute nothing), a masked loss."""
from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pytest

sys.path.insert(0, str(Path(__file__).parent))
import dist_worker as worker  # noqa: E402
from dist_launch import launch  # noqa: E402


@pytest.fixture(scope="module")
def reference():
    return worker.run_fit()  # the unchanged single-process fit/evaluate/predict


def _close(a, b):
    a, b = np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64)
    assert a.shape == b.shape
    return float(np.max(np.abs(a - b), initial=0.0) / max(float(np.max(np.abs(b), initial=0.0)), 1e-300))


@pytest.mark.parametrize("world", [2, 3])
def test_fit_evaluate_predict_equal_one_process(world, tmp_path, reference):
    results = launch(world, "fit", tmp_path)
    assert [code for code, _ in results] == [0] * world, [err[-2000:] for _, err in results]
    ranks = [dict(np.load(tmp_path / f"rank{r}.npz")) for r in range(world)]
    assert set(ranks[0]) == set(reference)
    for key, expected in reference.items():
        for r, got in enumerate(ranks):
            assert _close(got[key], expected) < 1e-12, (key, r, got[key], expected)
    for key in ranks[0]:  # every rank holds bit-identical weights and reports
        for got in ranks[1:]:
            assert np.array_equal(got[key], ranks[0][key]), key
    assert sorted(p.name for p in tmp_path.glob("written-by-*")) == ["written-by-rank0.rnnkit"]  # ModelCheckpoint


def test_killed_rank_stops_the_others_with_its_name_then_resume_equals_uninterrupted(tmp_path):
    # rank 1 is SIGKILLed before global step 4 (epoch 1, step 4 of 7); checkpoints are written every step
    results = launch(2, "kill", tmp_path, KILL_RANK=1, KILL_STEP=4, TEST_TIMEOUT=60)
    assert results[1][0] == -9, results[1][1][-2000:]
    assert results[0][0] == 3, results[0][1][-2000:]  # RankFailedError caught by the worker
    seconds, message = (tmp_path / "error0.txt").read_text().split("\n", 1)
    assert "rank 1 stopped answering" in message and "rank 0 of 2" in message, message
    assert float(seconds) < 30.0, message  # seen at once (a closed connection), not after the 60 s timeout
    assert (tmp_path / "backup").is_dir() and not (tmp_path / "rank0.npz").exists()

    results = launch(2, "resume", tmp_path)  # both ranks restore the checkpoint rank 0 wrote
    assert [code for code, _ in results] == [0, 0], [err[-2000:] for _, err in results]
    expected = worker.run_checkpointed(str(tmp_path / "single-process-backup"))
    for r in range(2):
        got = dict(np.load(tmp_path / f"rank{r}.npz"))
        for key, value in expected.items():
            assert _close(got[key], value) < 1e-12, (key, r)
