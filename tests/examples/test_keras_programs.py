"""Keras programs run with ``keras`` replaced by ``rnnkit``: each file in ``keras_programs/`` is written for Keras 3
(``import keras``, ``from keras import layers``); the test swaps those two imports for rnnkit and runs it as a user
would, in a fresh process, and for one of them runs the untouched program in real Keras 3 too and compares what
both wrote."""
from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

PROGRAMS = Path(__file__).parent / "keras_programs"
ENV = dict(os.environ, OMP_NUM_THREADS="1", OPENBLAS_NUM_THREADS="1", MKL_NUM_THREADS="1", KERAS_BACKEND="torch")


def with_rnnkit(source: str) -> str:
    """The program with its Keras imports, and nothing else, changed to rnnkit."""
    swapped = re.sub(r"^import keras$", "import rnnkit as keras", source, flags=re.M)
    swapped = re.sub(r"^from keras import ", "from rnnkit import ", swapped, flags=re.M)
    assert swapped != source
    return swapped


def run(source: str, folder: Path) -> dict:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "program.py").write_text(source)
    done = subprocess.run([sys.executable, "program.py"], cwd=folder, env=ENV, capture_output=True, text=True,
                          timeout=600)
    assert done.returncode == 0, done.stderr[-3000:]
    results = dict(item.split("=") for line in done.stdout.splitlines() if line.startswith("RESULT ")
                   for item in line.split()[1:])
    return {name: float(value) for name, value in results.items()}


def test_addition_seq2seq_runs_and_learns_the_answer_format(tmp_path):
    results = run(with_rnnkit((PROGRAMS / "addition_rnn.py").read_text()), tmp_path)
    assert results["val_accuracy"] > 0.25  # chance is 1/12; the spaces and leading digits come first


def test_rnn_guide_pieces_run(tmp_path):
    results = run(with_rnnkit((PROGRAMS / "rnn_guide.py").read_text()), tmp_path)
    assert 0 <= results["custom_cell_loss"] < 1.0
    assert results["custom_cell_reload_difference"] < 1e-6  # the custom cells came back from custom_cell.keras
    assert (tmp_path / "custom_cell.keras").stat().st_size > 0


def test_pydataset_forecast_with_callbacks_writes_what_keras_writes(tmp_path):
    source = (PROGRAMS / "pydataset_forecast.py").read_text()
    ours = run(with_rnnkit(source), tmp_path / "rnnkit")
    theirs = run(source, tmp_path / "keras")
    assert ours["val_loss"] < 0.05 and theirs["val_loss"] < 0.05  # noise variance 0.01: the sine is learnt
    our_csv = (tmp_path / "rnnkit" / "training.csv").read_text().splitlines()
    their_csv = (tmp_path / "keras" / "training.csv").read_text().splitlines()
    assert our_csv[0] == their_csv[0] and len(our_csv) == len(their_csv)
    assert (tmp_path / "rnnkit" / "model_checkpoint.weights.h5").stat().st_size > 0
