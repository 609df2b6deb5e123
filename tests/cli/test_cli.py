"""The ``rnnkit`` command: every exit path (0 ok, 1 expected failure without traceback, 2 usage error)."""
from __future__ import annotations

import json
import os
import re
import subprocess
import sys

import numpy as np
import pytest

from rnnkit.cli import main as cli
from rnnkit.cli import train as train_module
from rnnkit.cli.images import write_png_gray
from rnnkit.datasets import mnist_sample

SMALL_TRAIN, SMALL_TEST = 600, 200


@pytest.fixture(scope="module")
def small_sample():
    (x_train, y_train), (x_test, y_test) = mnist_sample.load_data()
    return (x_train[:SMALL_TRAIN], y_train[:SMALL_TRAIN]), (x_test[:SMALL_TEST], y_test[:SMALL_TEST])


def small_loader(small_sample):
    def load(name, split="both"):
        return small_sample[1] if split == "test" else small_sample

    return load


@pytest.fixture
def small_data(monkeypatch, small_sample):
    monkeypatch.setattr(train_module, "load_dataset", small_loader(small_sample))
    return small_sample


@pytest.fixture(scope="module")
def trained_dir(tmp_path_factory, small_sample):
    out = tmp_path_factory.mktemp("run")
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(train_module, "load_dataset", small_loader(small_sample))
        assert cli.main(["train", "--epochs", "2", "--units", "16", "--out", str(out), "--verbose", "0"]) == 0
    return out


def _last_line(text: str) -> str:
    return text.strip().splitlines()[-1]


def test_train_writes_model_history_curves_and_prints_result_line(small_data, tmp_path, capsys):
    status = cli.main(["train", "--epochs", "2", "--units", "16", "--out", str(tmp_path), "--verbose", "2"])
    out = capsys.readouterr().out
    assert status == 0
    match = re.fullmatch(r"test_loss=(\d+\.\d+) test_accuracy=(\d+\.\d+)", _last_line(out))
    assert match, out
    record = json.loads((tmp_path / "history.json").read_text())
    assert len(record["history"]["loss"]) == 2 and "val_accuracy" in record["history"]
    assert record["history"]["loss"][1] < record["history"]["loss"][0]
    assert abs(record["test_accuracy"] - float(match.group(2))) < 1e-4
    assert (tmp_path / "model.rnnkit").stat().st_size > 0
    assert (tmp_path / "curves.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert "Epoch 2/2" in out


def test_train_same_seed_same_result(small_data, tmp_path, capsys):
    for name in ("a", "b"):
        cli.main(["train", "--epochs", "1", "--units", "8", "--seed", "5", "--out", str(tmp_path / name), "--verbose", "0"])
    first, second = (json.loads((tmp_path / n / "history.json").read_text()) for n in ("a", "b"))
    assert first["history"] == second["history"]


@pytest.mark.parametrize("flags", [["--model", "lstm", "--layers", "2"], ["--model", "gru", "--bidirectional"]])
def test_train_other_architectures(small_data, tmp_path, capsys, flags):
    status = cli.main(["train", "--epochs", "1", "--units", "8", "--out", str(tmp_path), "--verbose", "0", *flags])
    assert status == 0
    assert _last_line(capsys.readouterr().out).startswith("test_loss=")


def test_evaluate_prints_same_metrics_as_training(trained_dir, small_data, capsys):
    assert cli.main(["evaluate", str(trained_dir / "model.rnnkit")]) == 0
    line = _last_line(capsys.readouterr().out)
    record = json.loads((trained_dir / "history.json").read_text())
    assert line == f"test_loss={record['test_loss']:.4f} test_accuracy={record['test_accuracy']:.4f}"


def test_predict_png_and_npy_agree(trained_dir, small_sample, tmp_path, capsys):
    image = small_sample[1][0][0]
    write_png_gray(tmp_path / "digit.png", image)
    np.save(tmp_path / "digit.npy", image)
    assert cli.main(["predict", str(trained_dir / "model.rnnkit"), str(tmp_path / "digit.png")]) == 0
    png_out = capsys.readouterr().out
    assert cli.main(["predict", str(trained_dir / "model.rnnkit"), str(tmp_path / "digit.npy")]) == 0
    assert capsys.readouterr().out == png_out
    label = int(re.search(r"class=(\d)", png_out).group(1))
    probabilities = [float(p.split(":")[1]) for p in png_out.split("probabilities=")[1].split()]
    assert len(probabilities) == 10 and abs(sum(probabilities) - 1) < 1e-3
    assert label == int(np.argmax(probabilities))


def test_summary_lists_parameter_counts(trained_dir, capsys):
    assert cli.main(["summary", str(trained_dir / "model.rnnkit")]) == 0
    out = capsys.readouterr().out
    assert "SimpleRNN" in out and "Total params" in out
    assert "720" in out.replace(",", "")  # SimpleRNN(16) on 28 features: 28*16 + 16*16 + 16


def _assert_one_line_error(capsys, status, *words):
    err = capsys.readouterr().err
    assert status == 1
    assert "Traceback" not in err
    assert len(err.strip().splitlines()) == 1 and err.startswith("rnnkit: error:"), err
    for word in words:
        assert word in err, err


def test_missing_model_file_is_a_one_line_error(tmp_path, capsys):
    status = cli.main(["evaluate", str(tmp_path / "nope.rnnkit")])
    _assert_one_line_error(capsys, status, "nope.rnnkit")


def test_corrupt_model_file_is_a_one_line_error(tmp_path, capsys):
    bad = tmp_path / "bad.rnnkit"
    bad.write_bytes(b"PK\x03\x04 definitely not a model")
    _assert_one_line_error(capsys, cli.main(["summary", str(bad)]), "bad.rnnkit")


def test_predict_non_image_file(trained_dir, tmp_path, capsys):
    text = tmp_path / "notes.txt"
    text.write_text("hello")
    _assert_one_line_error(capsys, cli.main(["predict", str(trained_dir / "model.rnnkit"), str(text)]), "notes.txt")


def test_predict_wrong_image_size(trained_dir, tmp_path, capsys):
    write_png_gray(tmp_path / "big.png", np.zeros((30, 20), np.uint8))
    status = cli.main(["predict", str(trained_dir / "model.rnnkit"), str(tmp_path / "big.png")])
    _assert_one_line_error(capsys, status, "(30, 20)", "(28, 28)")


@pytest.mark.parametrize("flags", [["--epochs", "0"], ["--units", "-3"], ["--lr", "0"], ["--dropout", "1.5"],
                                   ["--units", "0"], ["--batch-size", "0"], ["--clipnorm", "nan"]])
def test_bad_value_is_a_usage_error(small_data, tmp_path, capsys, flags):
    with pytest.raises(SystemExit) as exit_:
        cli.main(["train", *flags, "--out", str(tmp_path / "run")])
    assert exit_.value.code == 2
    err = capsys.readouterr().err
    assert err.startswith("usage: rnnkit train") and f"rnnkit train: error: {flags[0]} must be" in err, err
    assert not (tmp_path / "run").exists()


def test_no_network_and_no_cache_is_a_one_line_error(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("RNNKIT_DATA", str(tmp_path / "cache"))
    monkeypatch.setenv("RNNKIT_MNIST_MIRRORS", "http://127.0.0.1:9/")  # discard port: nothing listens
    status = cli.main(["train", "--dataset", "mnist", "--out", str(tmp_path / "run")])
    err = capsys.readouterr().err
    assert status == 1 and len(err.strip().splitlines()) == 1 and "Traceback" not in err, err
    for words in ("--dataset mnist-sample", str(tmp_path / "cache" / "mnist"), "$RNNKIT_DATA"):
        assert words in err, err
    assert "rnnkit.datasets" not in err and "path=" not in err  # the Python ways are for library users
    assert not (tmp_path / "run" / "model.rnnkit").exists()


def test_usage_errors_exit_2(capsys):
    for argv in (["train", "--bogus"], ["train", "--model", "transformer"], [], ["predict", "only-one-arg"]):
        with pytest.raises(SystemExit) as exc:
            cli.main(argv)
        assert exc.value.code == 2
    assert "usage: rnnkit" in capsys.readouterr().err


def test_installed_command_runs_as_a_process(tmp_path):
    env = dict(os.environ)
    done = subprocess.run([sys.executable, "-m", "rnnkit.cli.main", "evaluate", str(tmp_path / "x.rnnkit")],
                          capture_output=True, text=True, env=env)
    assert done.returncode == 1 and "Traceback" not in done.stderr and "x.rnnkit" in done.stderr
    done = subprocess.run([sys.executable, "-m", "rnnkit.cli.main", "--help"], capture_output=True, text=True)
    assert done.returncode == 0 and "train" in done.stdout


def test_train_limit_dropout_and_checkpoint(tmp_path, capsys):
    status = cli.main(["train", "--epochs", "1", "--units", "4", "--limit", "64", "--dropout", "0.5",
                       "--checkpoint-every", "1", "--out", str(tmp_path), "--verbose", "0"])
    assert status == 0
    record = json.loads((tmp_path / "history.json").read_text())
    assert record["config"]["limit"] == 64 and record["config"]["dropout"] == 0.5
    from rnnkit.models import load_model

    model = load_model(tmp_path / "model.rnnkit")
    assert [type(layer).__name__ for layer in model.layers] == ["SimpleRNN", "Dropout", "Dense"]
    assert model.optimizer.iterations == 1  # 64 samples in one batch of 64
    assert (tmp_path / "checkpoint.rnnkit").exists()  # kept after a normal end: --resume can extend the run
    assert "--resume" in subprocess.run([sys.executable, "-m", "rnnkit.cli.main", "train", "--help"],
                                        capture_output=True, text=True).stdout
