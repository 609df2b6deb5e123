"""`rnnkit train --distributed` under torchrun (2 processes, loopback) against the plain command."""
from __future__ import annotations

import os
import subprocess
import sys

import numpy as np

from rnnkit.cli.main import main
from rnnkit.models import load_model

FLAGS = ["--limit", "48", "--epochs", "1", "--batch-size", "10", "--units", "8", "--optimizer", "sgd", "--lr", "0.1",
         "--verbose", "0"]


def test_train_distributed_under_torchrun_equals_the_plain_command(tmp_path, capsys):
    env = dict(os.environ, OMP_NUM_THREADS="1", OPENBLAS_NUM_THREADS="1", MKL_NUM_THREADS="1")
    torchrun = [sys.executable, "-m", "torch.distributed.run"]  # the `torchrun` command
    run = subprocess.run([*torchrun, "--standalone", "--nproc-per-node", "2", "-m", "rnnkit.cli.main", "train",
                          "--distributed", "--out", str(tmp_path / "dist"), *FLAGS],
                         env=env, capture_output=True, text=True, timeout=240)
    assert run.returncode == 0, run.stderr[-3000:]
    lines = [line for line in run.stdout.splitlines() if line.startswith("test_loss=")]
    assert len(lines) == 1, run.stdout  # rank 0 alone reports
    assert main(["train", "--out", str(tmp_path / "plain"), *FLAGS]) == 0
    plain_line = capsys.readouterr().out.strip().splitlines()[-1]
    distributed_model, plain_model = load_model(tmp_path / "dist" / "model.rnnkit"), load_model(
        tmp_path / "plain" / "model.rnnkit")
    for got, expected in zip(distributed_model.get_weights(), plain_model.get_weights()):
        np.testing.assert_allclose(got, expected, rtol=0, atol=1e-5)  # float32: rounding of split sums only
    got_loss, expected_loss = (float(line.split()[0].split("=")[1]) for line in (lines[0], plain_line))
    assert abs(got_loss - expected_loss) < 1e-3


def test_train_distributed_without_torchrun_says_how_to_launch(tmp_path, capsys, monkeypatch):
    for name in ("RANK", "WORLD_SIZE", "MASTER_ADDR", "MASTER_PORT"):
        monkeypatch.delenv(name, raising=False)
    assert main(["train", "--distributed", "--out", str(tmp_path), *FLAGS]) == 1
    err = capsys.readouterr().err
    assert "torchrun --standalone --nproc-per-node N -m rnnkit.cli.main train --distributed" in err, err
    assert "RANK" in err and len(err.strip().splitlines()) == 1, err
