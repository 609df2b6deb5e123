"""rnnkit charlm: one-line errors for bad texts, then train / sample / evaluate end to end on a slice of
tinyshakespeare, the --minutes budget and --resume."""
from __future__ import annotations

import json
import math
import re

import pytest

from rnnkit.cli.main import main


@pytest.fixture(scope="module")
def shakespeare(shared_data, tmp_path_factory):
    path = tmp_path_factory.mktemp("text") / "shakespeare-30k.txt"
    path.write_text((shared_data / "tinyshakespeare.txt").read_text(encoding="utf-8")[:30000], encoding="utf-8")
    return path


SMALL = ["--units", "64", "--embedding", "16", "--seq-len", "50", "--batch-size", "16", "--lr", "0.005"]


def run(argv, capsys):
    code = main(argv)
    out, err = capsys.readouterr()
    return code, out, err


@pytest.mark.parametrize("content, message", [
    (None, "no text file at"),
    (b"", "is empty"),
    (b"\x7fELF\x02\x01\x01\x00\x00\x00binary", "NUL bytes"),
    (b"caf\xe9 latin-1, not utf-8", "not UTF-8 text"),
    (b"zzzzzzzzzzzz", "only one distinct character ('z')"),
    (b"short text, longer window", "--seq-len 100 is longer than the text (25 characters"),
])
def test_bad_texts_fail_with_one_line(content, message, tmp_path, capsys):
    path = tmp_path / "text.txt"
    if content is not None:
        path.write_bytes(content)
    code, out, err = run(["charlm", "train", "--text", str(path), "--out", str(tmp_path / "run")], capsys)
    assert code == 1
    assert err.startswith("rnnkit: error: ") and message in err and err.count("\n") == 1
    assert "Traceback" not in err + out


def test_usage_errors_exit_2(tmp_path, capsys):
    with pytest.raises(SystemExit) as stop:
        main(["charlm", "train", "--out", str(tmp_path)])
    assert stop.value.code == 2 and "--text is required" in capsys.readouterr().err
    with pytest.raises(SystemExit) as stop:
        main(["charlm", "train", "--text", "x", "--cell", "rnn"])
    assert stop.value.code == 2


def test_train_sample_evaluate_end_to_end(shakespeare, tmp_path, capsys):
    out = tmp_path / "run"
    code, printed, err = run(["charlm", "train", "--text", str(shakespeare), "--out", str(out), "--epochs", "3",
                              *SMALL], capsys)
    assert code == 0, err
    lines = printed.strip().splitlines()
    assert sum(line.startswith("epoch ") and "val_loss=" in line for line in lines) == 3
    match = re.fullmatch(r"val_loss=(\d+\.\d{4}) val_bpc=(\d+\.\d{4})", lines[-1])
    assert match and math.isclose(float(match[2]), float(match[1]) / math.log(2), abs_tol=2e-4)
    report = json.loads((out / "report.json").read_text())
    assert {p.name for p in out.iterdir()} >= {"model.rnnkit", "report.json", "curves.png"}
    assert report["val_loss"] < report["baseline_loss"] - 0.3  # learned more than character frequencies
    assert report["characters_per_second"] > 0 and len(report["sample"]) == 300
    assert report["val_characters"] == 3000 and report["train_characters"] == 27000

    model = str(out / "model.rnnkit")
    code, first, _ = run(["charlm", "sample", model, "--prime", "ROMEO:", "--length", "80", "--temperature",
                          "0.8", "--seed", "1"], capsys)
    code2, second, _ = run(["charlm", "sample", model, "--prime", "ROMEO:", "--length", "80", "--temperature",
                            "0.8", "--seed", "1"], capsys)
    assert code == code2 == 0 and first == second and first.startswith("ROMEO:") and len(first) == 6 + 80 + 1

    code, printed, _ = run(["charlm", "evaluate", model, "--text", str(shakespeare)], capsys)
    assert code == 0 and "30,000 characters" in printed and "0 outside" in printed
    assert re.fullmatch(r"loss=\d+\.\d{4} bpc=\d+\.\d{4}", printed.strip().splitlines()[-1])
    odd = tmp_path / "odd.txt"
    odd.write_text("ROMEO: ÆØÅ naïve ✓\n", encoding="utf-8")
    code, printed, _ = run(["charlm", "evaluate", model, "--text", str(odd)], capsys)
    assert code == 0 and "5 outside the model's vocabulary, counted as [UNK]" in printed

    code, _, err = run(["charlm", "train", "--text", str(shakespeare), "--out", str(out), *SMALL], capsys)
    assert code == 1 and "already holds a trained model" in err


def test_minutes_stop_cleanly_and_resume_continues(shakespeare, tmp_path, capsys):
    out = tmp_path / "run"
    code, printed, err = run(["charlm", "train", "--text", str(shakespeare), "--out", str(out), "--epochs", "3",
                              "--minutes", "0.0001", *SMALL], capsys)
    assert code == 0, err
    report = json.loads((out / "report.json").read_text())
    # the budget is checked after each step: one step, or a few where steps are faster than the budget
    assert report["stopped_by"] == "minutes" and 1 <= report["training_steps"] < 16 and report["epochs_run"] == 1
    assert "time budget reached" in printed and printed.strip().splitlines()[-1].startswith("val_loss=")
    # the run stopped in epoch 1 of 3: --resume continues it with its saved settings, for more epochs
    code, printed, err = run(["charlm", "train", "--resume", str(out), "--epochs", "2", "--minutes", "10"], capsys)
    assert code == 0, err
    report = json.loads((out / "report.json").read_text())
    assert report["stopped_by"] == "epochs" and report["epochs_run"] == 2 and report["training_steps"] == 33
    assert len(report["history"]["val_loss"]) == 2 and None not in report["history"]["val_loss"]
    assert report["config"]["epochs"] == 2 and report["config"]["units"] == 64
    code, _, err = run(["charlm", "train", "--resume", str(out), "--units", "32"], capsys)
    assert code == 1 and "--units 32 (saved: 64)" in err


def test_sample_refuses_another_kind_of_model(tmp_path, capsys):
    from rnnkit.layers import Dense
    from rnnkit.models import Sequential
    from rnnkit.tasks.artifacts import save_task_model

    path = tmp_path / "model.rnnkit"
    save_task_model(str(path), Sequential([Dense(2, input_shape=(3,))]), "sentiment", {})
    code, _, err = run(["charlm", "sample", str(path)], capsys)
    assert code == 1 and "is a 'sentiment' model" in err
