"""``rnnkit train`` on a real terminal (a pseudo-terminal): every row the progress display draws fits the
terminal's width, and each epoch ends with its complete metrics line (loss, accuracy, val_loss, val_accuracy)."""
from __future__ import annotations

import os
import pty
import re
import subprocess
import sys

import pytest

ENV = dict(os.environ, OMP_NUM_THREADS="1", OPENBLAS_NUM_THREADS="1", MKL_NUM_THREADS="1")


def run_on_terminal(argv, columns: int) -> tuple:
    """``(status, text)`` of ``rnnkit argv`` with stdout on a pseudo-terminal and ``COLUMNS=columns``."""
    leader, follower = pty.openpty()
    process = subprocess.Popen([sys.executable, "-m", "rnnkit.cli.main", *argv], stdout=follower,
                               stderr=subprocess.PIPE, env=dict(ENV, COLUMNS=str(columns)))
    os.close(follower)
    chunks = []
    while True:
        try:
            data = os.read(leader, 65536)
        except OSError:  # the terminal closed: the process ended
            break
        if not data:
            break
        chunks.append(data)
    process.wait(timeout=120)
    os.close(leader)
    return process.returncode, b"".join(chunks).decode().replace("\r\n", "\n")


@pytest.mark.parametrize("columns", [40])  # 80 columns: tests/training_parts/test_progress.py
def test_train_on_a_terminal_fits_the_width_and_prints_every_metric(tmp_path, columns):
    status, text = run_on_terminal(["train", "--limit", "128", "--units", "4", "--epochs", "2", "--out",
                                    str(tmp_path / "run")], columns)
    assert status == 0, text
    rows = [piece for line in text.split("\n") for piece in line.split("\r")]
    assert max(len(row) for row in rows) < columns, rows
    for epoch in (1, 2):
        ending = text.split(f"Epoch {epoch}/2 2/2 - ")[1].split("\r")[0]
        joined = " ".join(ending.split())
        assert re.match(r"\d+\.\ds - loss: \d\.\d{4} - accuracy: \d\.\d{4} - val_loss: \d\.\d{4} - "
                        r"val_accuracy: \d\.\d{4}", joined), ending
