"""``rnnkit train`` checkpoints: SIGKILL at random moments then --resume ends bitwise equal to an uninterrupted
run; Ctrl-C saves and exits 130; a diverging run stops with one line and keeps its last good checkpoint."""
from __future__ import annotations

import json
import os
import random
import re
import signal
import subprocess
import sys
import time
import zipfile

import numpy as np
import pytest

from rnnkit.cli import main as cli
from rnnkit.models import load_model

STEPS_PER_EPOCH, EPOCHS = 16, 2
RUN = ["--limit", "256", "--units", "8", "--batch-size", "16", "--dropout", "0.2", "--checkpoint-every", "1",
       "--seed", "7", "--verbose", "0"]  # 16 steps per epoch
ENV = dict(os.environ, OMP_NUM_THREADS="1", OPENBLAS_NUM_THREADS="1", MKL_NUM_THREADS="1", PYTHONUNBUFFERED="1")


def start(*args):
    return subprocess.Popen([sys.executable, "-m", "rnnkit.cli.main", "train", *args], env=ENV,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def finish(*args):
    process = start(*args)
    out, err = process.communicate(timeout=120)
    assert process.returncode == 0, err
    return out


def checkpoint_id(path):
    try:
        stat = os.stat(path)
    except FileNotFoundError:
        return None
    return stat.st_ino, stat.st_mtime_ns


def wait_for_checkpoints(process, path, count, timeout=60.0):
    """Wait until the checkpoint at ``path`` has been (re)written ``count`` times or the process ended."""
    seen, last, deadline = 0, checkpoint_id(path), time.monotonic() + timeout
    while seen < count and process.poll() is None and time.monotonic() < deadline:
        current = checkpoint_id(path)
        if current != last:
            seen, last = seen + 1, current
        time.sleep(0.001)


def weights_of(folder):
    return load_model(os.path.join(folder, "model.rnnkit")).get_weights()


def assert_same_weights(a, b):
    assert len(a) == len(b)
    for wa, wb in zip(a, b):
        assert wa.dtype == wb.dtype and wa.tobytes() == wb.tobytes()


@pytest.fixture(scope="module")
def reference(tmp_path_factory):
    """An uninterrupted run (its own process, one BLAS thread)."""
    folder = str(tmp_path_factory.mktemp("reference"))
    out = finish(*RUN, "--epochs", str(EPOCHS), "--out", folder)
    assert re.fullmatch(r"test_loss=\d+\.\d+ test_accuracy=\d+\.\d+", out.strip().splitlines()[-1])
    return folder


def test_sigkill_at_random_moments_then_resume_is_bitwise_equal(reference, tmp_path):
    folder = str(tmp_path / "run")
    path = os.path.join(folder, "checkpoint.rnnkit")
    chooser = random.Random(5)
    mid_training = []  # the saved global step after each kill that left the run unfinished
    # first kill: at a random moment while starting up; then after 1-3 checkpoint writes plus a random delay
    for attempt in range(4):
        args = ["--resume", folder] if os.path.exists(path) else [*RUN, "--epochs", str(EPOCHS), "--out", folder]
        process = start(*args)
        if attempt == 0:
            time.sleep(chooser.uniform(0.05, 0.3))
        else:
            wait_for_checkpoints(process, path, chooser.randint(1, 3))
            time.sleep(chooser.uniform(0.0, 0.02))
        killed = process.poll() is None
        if killed:
            process.send_signal(signal.SIGKILL)
        process.communicate(timeout=60)
        if killed and os.path.exists(path):
            with zipfile.ZipFile(path) as archive:
                step = json.loads(archive.read("training_state.json"))["global_step"]
            if step < STEPS_PER_EPOCH * EPOCHS:
                mid_training.append(step)
    assert len(mid_training) >= 2, mid_training  # the run really was killed inside training, more than once
    finish(*(["--resume", folder] if os.path.exists(path) else [*RUN, "--epochs", str(EPOCHS), "--out", folder]))
    assert_same_weights(weights_of(folder), weights_of(reference))
    history = json.loads(open(os.path.join(folder, "history.json")).read())
    expected = json.loads(open(os.path.join(reference, "history.json")).read())
    assert history["history"] == expected["history"] and history["test_loss"] == expected["test_loss"]


def test_ctrl_c_saves_a_checkpoint_and_exits_130(reference, tmp_path):
    folder = str(tmp_path / "run")
    path = os.path.join(folder, "checkpoint.rnnkit")
    process = start(*RUN, "--epochs", str(EPOCHS), "--out", folder)
    wait_for_checkpoints(process, path, 2)
    process.send_signal(signal.SIGINT)
    out, err = process.communicate(timeout=60)
    assert process.returncode == 130, err
    lines = err.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in err, err
    match = re.fullmatch(rf"rnnkit: interrupted (at epoch (\d) step (\d+)|after epoch (\d)); checkpoint saved to "
                         rf"{re.escape(folder)} \(resume with: rnnkit train --resume {re.escape(folder)}\)", lines[0])
    assert match, lines[0]
    with zipfile.ZipFile(path) as archive:
        state = json.loads(archive.read("training_state.json"))
    if match.group(2):
        assert (state["epoch"] + 1, state["step"]) == (int(match.group(2)), int(match.group(3)))
    else:
        assert (state["epoch"], state["step"]) == (int(match.group(4)), 0)
    assert not os.path.exists(os.path.join(folder, "model.rnnkit"))
    finish("--resume", folder)
    assert_same_weights(weights_of(folder), weights_of(reference))


def _one_line_error(capsys, status):
    err = capsys.readouterr().err
    assert status == 1 and "Traceback" not in err, err
    assert len(err.strip().splitlines()) == 1 and err.startswith("rnnkit: error: "), err
    return err


def test_diverging_run_stops_and_keeps_the_last_good_checkpoint(tmp_path, capsys):
    folder = str(tmp_path / "run")
    status = cli.main(["train", *RUN, "--epochs", "2", "--optimizer", "sgd", "--lr", "1e38", "--out", folder])
    err = _one_line_error(capsys, status)
    match = re.search(r"at epoch (\d)/2, step (\d+)", err)
    assert match and "--clipnorm" in err and "--lr" in err and "checkpoint" in err, err
    with zipfile.ZipFile(os.path.join(folder, "checkpoint.rnnkit")) as archive:
        state = json.loads(archive.read("training_state.json"))
    assert state["global_step"] == (int(match.group(1)) - 1) * STEPS_PER_EPOCH + int(match.group(2)) - 1
    model = load_model(os.path.join(folder, "checkpoint.rnnkit"))
    assert all(np.isfinite(w).all() for w in model.get_weights())
    assert not os.path.exists(os.path.join(folder, "model.rnnkit"))


def test_resume_rules(tmp_path, capsys):
    folder = str(tmp_path / "run")
    assert cli.main(["train", *RUN, "--epochs", "1", "--out", folder]) == 0
    capsys.readouterr()
    # a finished run can be extended: only --epochs, --verbose, --checkpoint-every may change
    assert cli.main(["train", "--resume", folder, "--epochs", "2", "--verbose", "0"]) == 0
    record = json.loads(open(os.path.join(folder, "history.json")).read())
    assert len(record["history"]["loss"]) == 2 and record["config"]["units"] == 8
    capsys.readouterr()
    err = _one_line_error(capsys, cli.main(["train", "--resume", folder, "--units", "9"]))
    assert "--units 9" in err and "saved: 8" in err
    err = _one_line_error(capsys, cli.main(["train", "--resume", str(tmp_path / "nowhere")]))
    assert "no checkpoint" in err and "nowhere" in err
    # an unfinished run is not silently replaced by a fresh start
    with zipfile.ZipFile(os.path.join(folder, "checkpoint.rnnkit")) as archive:
        members = {name: archive.read(name) for name in archive.namelist()}
    state = json.loads(members["training_state.json"])
    state["epoch"] = 1
    members["training_state.json"] = json.dumps(state).encode()
    with zipfile.ZipFile(os.path.join(folder, "checkpoint.rnnkit"), "w") as archive:
        for name, data in members.items():
            archive.writestr(name, data)
    err = _one_line_error(capsys, cli.main(["train", *RUN, "--epochs", str(EPOCHS), "--out", folder]))
    assert "--resume" in err and "unfinished" in err
