"""Progress display: one Keras-like line per epoch without a terminal, a live line within the terminal's width on
one, ending with the epoch's complete metrics; a resumed epoch starts counting at its resumed step."""
import io
import re

import pytest

from rnnkit.callbacks import CallbackList
from rnnkit.callbacks.progress import ProgressBar, format_logs, format_value

LINE = re.compile(r"^Epoch (\d+)/(\d+) - (\d+\.\d)s - (.*)$")


def run_epochs(bar, epoch_logs, steps=3, validate=True):
    cbs = CallbackList([bar], epochs=len(epoch_logs), steps=steps, verbose=bar.verbose)
    cbs.on_train_begin()
    for epoch, logs in enumerate(epoch_logs):
        cbs.on_epoch_begin(epoch)
        for batch in range(steps):
            cbs.on_train_batch_begin(batch)
            cbs.on_train_batch_end(batch, {"loss": logs["loss"], "accuracy": logs.get("accuracy", 0.0)})
        if validate:
            cbs.on_test_begin()
            cbs.on_test_batch_end(0, {})
            cbs.on_test_end({"loss": logs.get("val_loss", 0.0)})
        cbs.on_epoch_end(epoch, dict(logs))
    cbs.on_train_end()


@pytest.mark.parametrize("verbose", [1, 2])
def test_one_line_per_epoch_when_stdout_is_not_a_terminal(capsys, verbose):
    logs = [
        {"loss": 0.43214, "accuracy": 0.87654, "val_loss": 0.5, "val_accuracy": 0.84},
        {"val_accuracy": 0.9, "loss": 0.3, "val_loss": 0.45, "accuracy": 0.91},  # val keys printed last
    ]
    run_epochs(ProgressBar(verbose=verbose), logs)
    lines = capsys.readouterr().out.splitlines()
    assert len(lines) == 2
    first, second = (LINE.match(line) for line in lines)
    assert first and second, lines
    assert first.group(1, 2) == ("1", "2") and second.group(1, 2) == ("2", "2")
    assert first.group(4) == "loss: 0.4321 - accuracy: 0.8765 - val_loss: 0.5000 - val_accuracy: 0.8400"
    assert second.group(4) == "loss: 0.3000 - accuracy: 0.9100 - val_loss: 0.4500 - val_accuracy: 0.9000"


def test_verbose_zero_prints_nothing(capsys):
    run_epochs(ProgressBar(verbose=0), [{"loss": 1.0}])
    assert capsys.readouterr().out == ""


def test_value_formatting_follows_keras():
    assert format_value(0.123456) == "0.1235"
    assert format_value(12.5) == "12.5000"
    assert format_value(0.00012345) == "1.2345e-04"
    assert format_value(0.0) == "0.0000e+00"
    assert format_value(3) == "3.0000"
    assert format_value("n/a") == "n/a"
    assert format_logs({"batch": 3, "size": 32, "loss": 0.5, "learning_rate": 0.001, "val_loss": 0.25}) == (
        "loss: 0.5000 - val_loss: 0.2500 - learning_rate: 1.0000e-03"
    )


def test_elapsed_time_is_measured(capsys, monkeypatch):
    clock = iter([10.0, 12.1])
    monkeypatch.setattr("rnnkit.callbacks.progress.time.perf_counter", lambda: next(clock))
    run_epochs(ProgressBar(verbose=2), [{"loss": 1.0}], validate=False)
    assert capsys.readouterr().out == "Epoch 1/1 - 2.1s - loss: 1.0000\n"


class FakeTerminal(io.StringIO):
    def isatty(self):
        return True


def test_terminal_gets_a_live_line_per_epoch():
    screen = FakeTerminal()
    run_epochs(ProgressBar(verbose=1, file=screen), [{"loss": 0.5, "val_loss": 0.25}, {"loss": 0.4}], steps=4)
    text = screen.getvalue()
    assert "Epoch 1/2" in text and "Epoch 2/2" in text
    assert "4/4" in text  # the step counter reached the number of steps
    assert "val_loss: 0.2500" in text  # the final postfix holds the validation logs
    assert not LINE.search(text.replace("\r", "\n"))  # no plain per-epoch lines


def test_verbose_two_prints_lines_even_on_a_terminal():
    screen = FakeTerminal()
    run_epochs(ProgressBar(verbose=2, file=screen), [{"loss": 0.5}], validate=False)
    assert LINE.match(screen.getvalue().strip())


def test_evaluate_and_predict_alone_print_one_line(capsys):
    bar = ProgressBar(verbose=1)
    cbs = CallbackList([bar], steps=2, verbose=1)
    cbs.on_test_begin()
    cbs.on_test_batch_end(0, {"loss": 0.7})
    cbs.on_test_batch_end(1, {"loss": 0.6})
    cbs.on_test_end({"loss": 0.6, "accuracy": 0.75})
    cbs.on_predict_begin()
    cbs.on_predict_batch_end(0, {})
    cbs.on_predict_end()
    lines = capsys.readouterr().out.splitlines()
    assert re.fullmatch(r"Evaluate - \d+\.\ds - loss: 0\.6000 - accuracy: 0\.7500", lines[0])
    assert re.fullmatch(r"Predict - \d+\.\ds", lines[1])


FULL = {"loss": 0.43214, "accuracy": 0.87654, "top_k_categorical_accuracy": 0.98, "val_loss": 0.5,
        "val_accuracy": 0.84, "val_top_k_categorical_accuracy": 0.97}
FULL_TEXT = ("loss: 0.4321 - accuracy: 0.8765 - top_k_categorical_accuracy: 0.9800 - val_loss: 0.5000 - "
             "val_accuracy: 0.8400 - val_top_k_categorical_accuracy: 0.9700")


def screen_lines(text: str) -> list:
    """Every piece of text the terminal shows on one row: split at carriage returns and newlines."""
    return [piece for line in text.split("\n") for piece in line.split("\r")]


@pytest.mark.parametrize("columns", [80, 40])
def test_bar_stays_within_the_terminal_and_ends_with_every_metric(monkeypatch, columns):
    monkeypatch.setenv("COLUMNS", str(columns))
    monkeypatch.setattr("rnnkit.callbacks.progress.LiveLine.INTERVAL", 0.0)  # redraw at every step
    screen = FakeTerminal()
    run_epochs(ProgressBar(verbose=1, file=screen), [FULL, FULL], steps=50)
    text = screen.getvalue()
    assert max(len(piece) for piece in screen_lines(text)) < columns, text
    # each epoch ends with its complete result: the rows after the last redraw, joined, hold every metric
    for epoch in (1, 2):
        ending = text.split(f"Epoch {epoch}/2 50/50 - ")[1].split("\r")[0]
        rows = ending.rstrip("\n").split("\n")
        joined = " ".join(row.strip() for row in rows)
        assert " ".join(joined.split("s - ", 1)[1].split()) == FULL_TEXT, rows
    # while running, the live line shows whole metrics only (never a cut number such as "loss: 0.")
    live = [piece for piece in text.split("\r") if "\n" not in piece and "ETA" in piece]
    assert len(live) > 10 and all("loss: 0.4321" in piece for piece in live), live
    for piece in live:
        for item in piece.split(" - ")[1:]:
            assert re.fullmatch(r"\w+: \d\.\d{4}|\d+\.\ds", item.strip()), piece


def test_narrow_terminal_still_shows_the_count():
    screen = FakeTerminal()
    bar = ProgressBar(verbose=1, file=screen)
    import os
    old = os.environ.get("COLUMNS")
    os.environ["COLUMNS"] = "20"
    try:
        run_epochs(bar, [FULL], steps=3)
    finally:
        if old is None:
            del os.environ["COLUMNS"]
        else:
            os.environ["COLUMNS"] = old
    pieces = screen_lines(screen.getvalue())
    assert max(len(p) for p in pieces) < 20
    assert any("3/3" in p for p in pieces)


class Interrupt(Exception):
    pass


def test_resumed_epoch_counts_from_the_resumed_step(tmp_path):
    import numpy as np

    from rnnkit.callbacks import BackupAndRestore, Callback
    from rnnkit.layers import Dense
    from rnnkit.models import Sequential
    from rnnkit.random import set_random_seed

    class StopAfter(Callback):
        def on_train_batch_end(self, batch, logs=None):
            if batch == 6:
                raise Interrupt

    def train(callbacks):
        set_random_seed(3)
        model = Sequential([Dense(2, input_shape=(3,))])
        model.compile(optimizer="adam", loss="mse")
        x, y = np.ones((40, 3), np.float32), np.zeros((40, 2), np.float32)
        model.fit(x, y, batch_size=4, epochs=2, verbose=1, callbacks=callbacks)

    with pytest.raises(Interrupt):
        train([BackupAndRestore(tmp_path, save_freq=1), StopAfter(), ProgressBar(verbose=1, file=FakeTerminal())])
    screen = FakeTerminal()
    train([BackupAndRestore(tmp_path, save_freq=1), ProgressBar(verbose=1, file=screen)])
    first_epoch = screen.getvalue().split("Epoch 2/2")[0]
    counts = [int(m) for m in re.findall(r"Epoch 1/2 (\d+)/10", first_epoch)]
    assert counts[0] == 7 and counts[-1] == 10, counts  # 7 steps were done before the interruption
    assert "Epoch 1/2 0/10" not in first_epoch
