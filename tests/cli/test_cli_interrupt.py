"""Ctrl-C during ``rnnkit train`` with real signals: a second (third, ...) Ctrl-C still ends with one plain line
that tells the truth about the checkpoint on disk, and on a terminal that line starts a line of its own."""
from __future__ import annotations

import os
import pty
import re
import signal
import subprocess
import sys
import time

import pytest

from rnnkit.cli.signals import InterruptedAgain, InterruptToCheckpoint, saved_position

ENV = dict(os.environ, OMP_NUM_THREADS="1", OPENBLAS_NUM_THREADS="1", MKL_NUM_THREADS="1", PYTHONUNBUFFERED="1")
RUN = ["train", "--limit", "1024", "--units", "16", "--batch-size", "16", "--checkpoint-every", "1", "--epochs",
       "3", "--seed", "3"]  # 64 steps per epoch, a checkpoint after every step


def wait_for_file(process, path, timeout=60.0):
    deadline = time.monotonic() + timeout
    while not os.path.exists(path) and process.poll() is None and time.monotonic() < deadline:
        time.sleep(0.002)


SAVED = re.compile(r"rnnkit: interrupted (at epoch (\d) step (\d+)|after epoch (\d)); checkpoint saved to (.*) "
                   r"\(resume with: rnnkit train --resume (.*)\)")
AGAIN = re.compile(r"rnnkit: interrupted again before a checkpoint was written: (no checkpoint in .*, nothing to "
                   r"resume|the checkpoint in .* is the one (at epoch (\d) step (\d+)|after epoch (\d)) \(resume "
                   r"with: rnnkit train --resume .*\))")


def position(match, first):
    """``(epoch, step)`` named by a message, as ``saved_position`` counts."""
    if match.group(first):
        return int(match.group(first)), int(match.group(first + 1))
    return int(match.group(first + 2)) + 1, 0


@pytest.mark.parametrize("presses,gap", [(2, 0.0), (5, 0.002)])
def test_repeated_ctrl_c_tells_the_truth_about_the_checkpoint(tmp_path, presses, gap):
    folder = str(tmp_path / "run")
    checkpoint = os.path.join(folder, "checkpoint.rnnkit")
    process = subprocess.Popen([sys.executable, "-m", "rnnkit.cli.main", *RUN, "--out", folder, "--verbose", "0"],
                               env=ENV, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    wait_for_file(process, checkpoint)
    time.sleep(0.05)
    for _ in range(presses):
        process.send_signal(signal.SIGINT)
        time.sleep(gap)
    _, err = process.communicate(timeout=60)
    assert process.returncode == 130, err
    lines = err.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in err, err
    on_disk = saved_position(checkpoint)
    saved, again = SAVED.fullmatch(lines[0]), AGAIN.fullmatch(lines[0])
    assert saved or again, lines[0]
    if saved:
        assert on_disk == position(saved, 2)
    elif again.group(1).startswith("no checkpoint"):
        assert on_disk is None
    else:
        assert on_disk == position(again, 3)
    assert not os.path.exists(os.path.join(folder, "model.rnnkit"))


class PressedDuringWrite:
    """A backup whose write is hit by two Ctrl-C (the first one and a repeated one)."""

    def __init__(self, folder):
        self.backup_dir, self.path = str(folder), os.path.join(folder, "checkpoint.rnnkit")
        self.interrupt, self.saving_seen = None, []

    def save(self):
        self.interrupt._handle(signal.SIGINT, None)
        self.interrupt._handle(signal.SIGINT, None)  # repeated during the write: deferred, no exception
        self.saving_seen.append(self.interrupt.saving)


def test_ctrl_c_during_a_checkpoint_write_lets_the_write_finish(tmp_path):
    backup = PressedDuringWrite(tmp_path)
    interrupt = backup.interrupt = InterruptToCheckpoint(backup)
    backup.save()  # the callback wrapped it: the write is marked as in progress
    assert backup.saving_seen == [True] and interrupt.requested and not interrupt.saving
    with pytest.raises(InterruptedAgain, match="no checkpoint in .*, nothing to resume"):
        interrupt._handle(signal.SIGINT, None)  # pressed again outside a write: stop now, and say so


def test_the_message_starts_its_own_line_on_a_terminal(tmp_path):
    folder = str(tmp_path / "run")
    leader, follower = pty.openpty()
    process = subprocess.Popen([sys.executable, "-m", "rnnkit.cli.main", *RUN, "--out", folder], env=ENV,
                               stdout=follower, stderr=follower)
    os.close(follower)
    chunks = []
    os.set_blocking(leader, False)
    deadline = time.monotonic() + 120
    sent = False
    while process.poll() is None and time.monotonic() < deadline:
        try:
            chunks.append(os.read(leader, 65536))
        except (BlockingIOError, OSError):
            time.sleep(0.005)
        if not sent and re.search(rb"Epoch 1/3 [1-9]\d*/64", b"".join(chunks)):
            process.send_signal(signal.SIGINT)  # mid-epoch: the progress line holds the cursor
            sent = True
    process.wait(timeout=60)
    time.sleep(0.05)
    try:
        while True:
            data = os.read(leader, 65536)
            if not data:
                break
            chunks.append(data)
    except (BlockingIOError, OSError):
        pass
    os.close(leader)
    text = b"".join(chunks).decode()
    assert process.returncode == 130, text
    assert re.search(r"\n(\r)?rnnkit: interrupted (at epoch \d step \d+|after epoch \d); checkpoint saved", text), repr(text[-400:])
