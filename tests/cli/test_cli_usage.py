"""What a command-line user meets first: ``--version``, ``--help`` that explains every flag with its default,
bad values refused as usage errors (status 2), memory refused before allocation, ``evaluate`` defaulting to the
dataset the model was trained on."""
from __future__ import annotations

import argparse
import gzip
import struct
import subprocess
import sys
import tracemalloc
from importlib import metadata

import numpy as np
import pytest

from rnnkit.cli import main as cli
from rnnkit.cli import train as train_module
from rnnkit.datasets import mnist_sample


def test_version_comes_from_the_package_metadata(capsys):
    with pytest.raises(SystemExit) as exit_:
        cli.main(["--version"])
    assert exit_.value.code == 0
    assert capsys.readouterr().out.strip() == f"rnnkit {metadata.version('rnnkit')}"


def _subcommand_parsers(parser: argparse.ArgumentParser, name: str):
    yield name, parser
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for sub, child in action.choices.items():
                if child.add_help:  # the task entries of the top parser are parsed by the task's own parser
                    yield from _subcommand_parsers(child, f"{name} {sub}")


def _all_parsers():
    yield from _subcommand_parsers(cli.build_parser(), "rnnkit")
    for task in cli.TASKS:
        yield from _subcommand_parsers(cli.task_module(task).build_parser(), f"rnnkit {task}")


@pytest.mark.parametrize("name,parser", list(_all_parsers()), ids=lambda v: v if isinstance(v, str) else "")
def test_help_explains_every_flag_and_its_default(name, parser):
    for action in parser._actions:
        if isinstance(action, (argparse._HelpAction, argparse._VersionAction, argparse._SubParsersAction)):
            continue
        assert action.help, f"{name}: {action.option_strings or action.dest} has no help"
        takes_value = action.option_strings and action.nargs != 0 and not action.required
        if takes_value or isinstance(action, argparse.BooleanOptionalAction):
            assert "default" in action.help, f"{name}: {action.option_strings} does not show its default"


def test_huge_configurations_are_refused_at_once_in_one_line(tmp_path, capsys, monkeypatch):
    monkeypatch.delenv("RNNKIT_MEMORY_LIMIT", raising=False)
    for units, limit in (("100000", None), ("30000", "16GiB")):
        tracemalloc.start()
        argv = ["train", "--units", units, "--out", str(tmp_path / units)]
        if limit is None:  # the memory available now: pretend this machine has 64 GiB free
            monkeypatch.setattr("rnnkit.memory.available_memory",
                                lambda: (64 << 30, "the memory available now, MemAvailable"))
        else:
            argv += ["--memory-limit", limit]
        status = cli.main(argv)
        peak = tracemalloc.get_traced_memory()[1]
        tracemalloc.stop()
        err = capsys.readouterr().err
        assert peak < 64 << 20, f"{peak / 2**20:.0f} MiB allocated before refusing"  # refused before allocating
        assert status == 1 and len(err.strip().splitlines()) == 1 and "Traceback" not in err, err
        assert err.startswith(f"rnnkit: error: rnnkit train --model simple_rnn --units {units} ")
        assert " needs about " in err and "; the limit is " in err
        assert ("64.0 GiB (the memory available now, MemAvailable; set --memory-limit" if limit is None else "16.0 GiB (--memory-limit") in err
        assert not (tmp_path / units).exists()


def test_memory_limit_from_the_environment(tmp_path, capsys, monkeypatch):
    monkeypatch.setenv("RNNKIT_MEMORY_LIMIT", "10MiB")
    assert cli.main(["train", "--units", "64", "--out", str(tmp_path / "run")]) == 1
    assert "the limit is 0.0098 GiB ($RNNKIT_MEMORY_LIMIT" in capsys.readouterr().err


# ------------------------------------------------------------------------------------------ evaluate
def _idx_gz(path, array: np.ndarray) -> None:
    header = struct.pack(">BBBB", 0, 0, 0x08, array.ndim) + struct.pack(f">{array.ndim}I", *array.shape)
    with gzip.open(path, "wb") as f:
        f.write(header + array.astype(np.uint8).tobytes())


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    (x_train, y_train), (x_test, y_test) = mnist_sample.load_data()
    small = (x_train[:200], y_train[:200]), (x_test[:100], y_test[:100])
    out = tmp_path_factory.mktemp("trained")

    def load(name, split="both"):
        assert name == "fashion-mnist"
        return small[1] if split == "test" else small

    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(train_module, "load_dataset", load)
        assert cli.main(["train", "--dataset", "fashion-mnist", "--epochs", "1", "--units", "8", "--out",
                         str(out), "--verbose", "0"]) == 0
    return out / "model.rnnkit", small


def test_evaluate_uses_the_recorded_dataset_and_downloads_only_the_test_split(trained, tmp_path, monkeypatch,
                                                                            capsys):
    model, (_, (x_test, y_test)) = trained
    cache = tmp_path / "cache"
    (cache / "fashion-mnist").mkdir(parents=True)
    _idx_gz(cache / "fashion-mnist" / "t10k-images-idx3-ubyte.gz", x_test)
    _idx_gz(cache / "fashion-mnist" / "t10k-labels-idx1-ubyte.gz", y_test)
    monkeypatch.setenv("RNNKIT_DATA", str(cache))  # no training files there, and no network:
    monkeypatch.setenv("RNNKIT_FASHION_MNIST_MIRRORS", "http://127.0.0.1:9/")
    monkeypatch.setattr("rnnkit.datasets.fashion_mnist.DEBIAN_DIR", tmp_path / "no-debian-package")
    capsys.readouterr()
    assert cli.main(["evaluate", str(model)]) == 0
    out, err = capsys.readouterr()
    record = (model.parent / "history.json").read_text()
    assert out.strip().splitlines()[-1] in record.replace('"test_loss": ', "test_loss=") or out.startswith(
        "test_loss="), out
    import json

    saved = json.loads(record)
    assert out.strip() == f"test_loss={saved['test_loss']:.4f} test_accuracy={saved['test_accuracy']:.4f}"
    assert err == ""


def test_evaluate_warns_when_the_dataset_differs(trained, monkeypatch, capsys):
    model, (_, test) = trained
    monkeypatch.setattr(train_module, "load_dataset", lambda name, split="both": test)
    assert cli.main(["evaluate", str(model), "--dataset", "mnist-sample"]) == 0
    err = capsys.readouterr().err
    assert err == (f"rnnkit: warning: {model} was trained on fashion-mnist; evaluating it on mnist-sample as "
                   "asked (--dataset)\n")


def test_evaluate_a_model_without_the_record_requires_dataset(trained, tmp_path, capsys):
    from rnnkit.models import load_model

    old = tmp_path / "old.rnnkit"
    load_model(trained[0]).save(old)  # a plain model file, as rnnkit train wrote before
    assert cli.main(["evaluate", str(old)]) == 1
    err = capsys.readouterr().err
    assert "does not record the dataset" in err and "--dataset" in err and len(err.strip().splitlines()) == 1


def test_help_runs_as_a_process():
    done = subprocess.run([sys.executable, "-m", "rnnkit.cli.main", "train", "--help"], capture_output=True,
                          text=True)
    assert done.returncode == 0 and "(default: 32)" in done.stdout and "--memory-limit" in done.stdout


@pytest.mark.parametrize("argv", [
    ["charlm", "sample", "m.rnnkit", "--length", "0"], ["charlm", "sample", "m.rnnkit", "--temperature", "-1"],
    ["charlm", "sample", "m.rnnkit", "--top-k", "0"], ["translate", "m.rnnkit", "hi", "--beam", "0"],
    ["translate", "m.rnnkit", "hi", "--alpha", "nan"], ["ocr", "read", "m.rnnkit", "x.png", "--beam-width", "-1"],
    ["charlm", "train", "--text", "t.txt", "--epochs", "0"], ["train", "--lr", "0"],
])
def test_bad_values_of_every_subcommand_are_usage_errors(tmp_path, monkeypatch, capsys, argv):
    monkeypatch.chdir(tmp_path)  # the files named do not exist: the value is refused before they are looked at
    with pytest.raises(SystemExit) as exit_:
        cli.main(argv)
    assert exit_.value.code == 2
    assert "error: " in capsys.readouterr().err


def test_a_finished_model_is_not_replaced_without_overwrite(tmp_path, capsys, monkeypatch):
    (x_train, y_train), (x_test, y_test) = mnist_sample.load_data()
    small = (x_train[:64], y_train[:64]), (x_test[:32], y_test[:32])
    monkeypatch.setattr(train_module, "load_dataset", lambda name, split="both": small[1] if split == "test" else small)
    argv = ["train", "--epochs", "1", "--units", "4", "--out", str(tmp_path), "--verbose", "0"]
    assert cli.main(argv) == 0
    before = (tmp_path / "model.rnnkit").read_bytes()
    capsys.readouterr()
    assert cli.main([*argv, "--seed", "9"]) == 1
    err = capsys.readouterr().err
    assert "already holds a trained model" in err and "--overwrite" in err and len(err.strip().splitlines()) == 1
    assert (tmp_path / "model.rnnkit").read_bytes() == before
    assert cli.main([*argv, "--seed", "9", "--overwrite"]) == 0
    assert (tmp_path / "model.rnnkit").read_bytes() != before
