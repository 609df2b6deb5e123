"""The programs in examples/ run as written, on a small subset of the bundled MNIST sample."""
from __future__ import annotations

import re
import runpy
from pathlib import Path

import numpy as np

import rnnkit.datasets.mnist as mnist
from rnnkit.datasets import mnist_sample
from rnnkit.random import set_random_seed

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"


def _subset(n_train: int, n_test: int):
    (x_train, y_train), (x_test, y_test) = mnist_sample.load_data()
    return lambda *args, **kwargs: ((x_train[:n_train], y_train[:n_train]), (x_test[:n_test], y_test[:n_test]))


def test_seed_keras_program_runs_with_keras_replaced_by_rnnkit(monkeypatch, capsys):
    source = (EXAMPLES / "keras_seed_mnist.py").read_text(encoding="utf-8")
    assert "keras" not in source.replace("keras.datasets", "").replace("keras_seed", "").split("\n", 3)[-1]
    monkeypatch.setattr(mnist, "load_data", _subset(1000, 300))
    set_random_seed(0)
    runpy.run_path(str(EXAMPLES / "keras_seed_mnist.py"), run_name="__main__")
    out = capsys.readouterr().out
    accuracy = float(re.search(r"Test accuracy: ([0-9.]+)", out).group(1))
    loss = float(re.search(r"Test loss: ([0-9.]+)", out).group(1))
    assert "Epoch 10/10" in out
    assert accuracy > 0.5 and np.isfinite(loss)  # chance is 0.1; 10 epochs on 1,000 digits


def test_pytorch_style_loop_learns(capsys):
    namespace = runpy.run_path(str(EXAMPLES / "pytorch_style_loop.py"), run_name="example")
    accuracy = namespace["main"](num_epochs=3, limit=3000)
    out = capsys.readouterr().out
    assert "Accuracy of the model on the test images" in out
    assert accuracy > 45.0  # percent; chance is 10 (55-58 seen with seeds 0 and 1)
