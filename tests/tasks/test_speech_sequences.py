"""rnnkit speech --task sequences: the string builder keeps test recordings out of training, CTC targets,
error rates, and a tiny run end to end."""
import json

import numpy as np
import pytest

from rnnkit.cli.main import main
from rnnkit.tasks.speech_data import list_recordings, split_recordings
from rnnkit.tasks.speech_sequences import (MAX_DIGITS, MIN_DIGITS, MaskedCTC, build_strings, cer, labels_of,
                                           wer)


@pytest.mark.parametrize("held_out", [[], ["jackson"]])
def test_builder_never_puts_a_test_recording_in_training(shared_data, held_out):
    recordings = list_recordings(str(shared_data / "fsdd"), limit=12)
    train, test = split_recordings(recordings, held_out)
    audio = {}
    strings = build_strings(train, 150, np.random.default_rng(0), audio)
    test_paths = {r.path for r in test}
    train_paths = {r.path for r in train}
    used = [p for s in strings for p in s.sources]
    assert used and not test_paths & set(used) and set(used) <= train_paths
    by_path = {r.path: r for r in recordings}
    for s in strings:
        assert MIN_DIGITS <= len(s.digits) <= MAX_DIGITS
        assert s.digits == [by_path[p].digit for p in s.sources]
        assert len({by_path[p].speaker for p in s.sources}) == 1  # one speaker per string
        assert len(s.samples) > sum(len(audio[p]) for p in s.sources)  # pauses between the digits
    lengths = {len(s.digits) for s in strings}
    assert lengths == set(range(MIN_DIGITS, MAX_DIGITS + 1))
    if held_out:
        assert all(by_path[p].speaker not in held_out for p in used)


def test_targets_and_error_rates():
    class S:
        def __init__(self, digits):
            self.digits = digits

    y = labels_of([S([0, 9]), S([3, 3, 3])])
    assert y.tolist() == [[1, 10, 0, 0, 0, 0, 0], [4, 4, 4, 0, 0, 0, 0]]
    assert wer([[1, 2, 3]], [[1, 2, 3]]) == 0.0
    assert wer([[1, 2, 3, 4]], [[1, 3, 4, 4, 4]]) == pytest.approx(3 / 4)  # one deletion, two insertions
    assert cer([[1]], [[0]]) == pytest.approx(4 / 3)  # "one" -> "zero": 4 edits over 3 characters
    assert cer([[7, 7]], [[7]]) == pytest.approx(6 / 11)  # "seven seven" -> "seven"


def test_masked_ctc_uses_only_the_valid_steps():
    import torch

    from rnnkit import Tensor

    rng = np.random.default_rng(1)
    logits = rng.normal(size=(2, 9, 11))
    labels = np.array([[3, 4, 0], [5, 0, 0]])
    mask = np.array([[True] * 6 + [False] * 3, [True] * 9])
    prediction = Tensor(logits, dtype="float64")
    prediction._keras_mask = mask
    ours = MaskedCTC()(labels, prediction).numpy()
    log_probs = torch.log_softmax(torch.tensor(logits), dim=-1).transpose(0, 1)  # (T, B, C)
    theirs = torch.nn.functional.ctc_loss(log_probs, torch.tensor([3, 4, 5]), torch.tensor([6, 9]),
                                          torch.tensor([2, 1]), reduction="none").mean()
    assert float(ours) == pytest.approx(float(theirs), rel=1e-6)


def test_tiny_sequence_run_end_to_end(shared_data, tmp_path, capsys):
    out = tmp_path / "seq"
    code = main(["speech", "train", "--task", "sequences", "--data", str(shared_data / "fsdd"), "--out", str(out),
                 "--limit", "6", "--test-speakers", "nicolas", "--epochs", "1", "--units", "8",
                 "--train-strings", "40", "--test-strings", "8", "--beam-width", "4", "--verbose", "0"])
    assert code == 0
    last = capsys.readouterr().out.strip().splitlines()[-1]
    names = [pair.split("=")[0] for pair in last.split()]
    assert names == ["test_wer", "test_cer", "beam_wer", "beam_cer"]
    report = json.loads((out / "report.json").read_text())
    assert report["test_recordings_in_training_strings"] == 0 and report["test_strings"] == 8
    assert report["test_wer"] == pytest.approx(float(last.split()[0].split("=")[1]), abs=1e-4)
    assert main(["speech", "transcribe", str(out / "model.rnnkit"),
                 str(shared_data / "fsdd" / "recordings" / "8_nicolas_3.wav")]) == 0
    line = capsys.readouterr().out.strip()
    assert line.startswith("digits=") and "log_probability=" in line
    digits = line.split()[0][len("digits="):]
    assert digits == "(none)" or digits.isdigit()
