"""rnnkit speech (isolated digits): masks, augmentation, the split, end to end on a slice of FSDD, CLI errors."""
import json

import numpy as np
import pytest

from rnnkit.audio import AugmentConfig, FeatureConfig, augment, pad_sequences, write_wav
from rnnkit.cli.main import main
from rnnkit.tasks.speech import SpeechConfig
from rnnkit.tasks.speech_data import list_recordings, split_recordings
from rnnkit.tasks.speech_digits import build_classifier


@pytest.mark.parametrize("cell", ["gru", "lstm"])
def test_padding_changes_no_prediction(cell):
    rng = np.random.default_rng(0)
    model = build_classifier(SpeechConfig(data="x", cell=cell, units=6, seed=3), feature_size=5)
    utterances = [rng.normal(size=(n, 5)).astype(np.float32) for n in (4, 9, 13)]
    alone = np.concatenate([model.predict(u[None], verbose=0) for u in utterances])  # no padding at all
    x, _ = pad_sequences(utterances)  # padded to 13
    x_long, _ = pad_sequences(utterances, max_length=40)
    np.testing.assert_allclose(model.predict(x, verbose=0), alone, atol=1e-6)
    np.testing.assert_allclose(model.predict(x_long, verbose=0), alone, atol=1e-6)
    assert np.abs(alone[0] - alone[1]).max() > 1e-3  # the predictions do depend on the input


def test_augmentation_switched_off_is_the_clean_features(shared_data):
    from rnnkit.audio import read_wav

    y, sr = read_wav(shared_data / "fsdd" / "recordings" / "6_lucas_9.wav")
    config = FeatureConfig(kind="mfcc", n_mfcc=13)
    power = config.power(y)
    off = AugmentConfig(warp_range=(1.0, 1.0), snr_db=(0.0, 0.0), freq_mask=0, time_mask=0.0)
    np.testing.assert_allclose(augment(power, config, np.random.default_rng(0), off), config.from_power(power),
                               atol=1e-4)
    a = augment(power, config, np.random.default_rng(1))
    b = augment(power, config, np.random.default_rng(1))
    np.testing.assert_array_equal(a, b)
    assert a.shape == config.from_power(power).shape
    assert np.abs(a - config.from_power(power)).mean() > 0.1


def test_speaker_split_holds_out_whole_speakers(shared_data):
    recordings = list_recordings(str(shared_data / "fsdd"))
    assert len(recordings) == 3000
    train, test = split_recordings(recordings, ["theo", "george"])
    assert {r.speaker for r in test} == {"theo", "george"} and len(test) == 1000
    assert not {r.speaker for r in train} & {"theo", "george"}
    train, test = split_recordings(recordings)
    assert len(test) == 300 and all(r.index < 5 for r in test) and all(r.index >= 5 for r in train)


def test_end_to_end_on_a_slice_of_fsdd(shared_data, tmp_path, capsys):
    out = tmp_path / "run"
    data = str(shared_data / "fsdd")
    code = main(["speech", "train", "--data", data, "--out", str(out), "--limit", "7", "--epochs", "2", "--units",
                 "8", "--test-speakers", "theo", "--verbose", "0"])
    assert code == 0
    last = capsys.readouterr().out.strip().splitlines()[-1]
    assert last.startswith("test_accuracy=") and " baseline_accuracy=" in last
    report = json.loads((out / "report.json").read_text())
    assert report["test_recordings"] == 70 and report["train_recordings"] == 350
    assert set(report["test_accuracy_per_speaker"]) == {"theo"}
    assert float(last.split()[0].split("=")[1]) == pytest.approx(report["test_accuracy"], abs=1e-4)
    assert (out / "confusion.png").stat().st_size > 1000 and (out / "model.rnnkit").exists()
    assert np.asarray(report["confusion_matrix"]).sum() == 70
    assert main(["speech", "transcribe", str(out / "model.rnnkit"),
                 str(shared_data / "fsdd" / "recordings" / "3_theo_7.wav")]) == 0
    line = capsys.readouterr().out.strip()
    digit, probability = line.split()
    assert digit.startswith("digit=") and 0 <= int(digit[6:]) <= 9 and 0 < float(probability.split("=")[1]) <= 1
    # the same file twice gives the same answer; a wrong rate is refused
    wav = tmp_path / "fast.wav"
    write_wav(wav, np.zeros(1600), 16000)
    assert main(["speech", "transcribe", str(out / "model.rnnkit"), str(wav)]) == 1
    assert "16000 Hz" in capsys.readouterr().err
    # a finished run is not overwritten without --overwrite
    assert main(["speech", "train", "--data", data, "--out", str(out), "--limit", "7"]) == 1
    assert "--overwrite" in capsys.readouterr().err


def test_cli_errors(shared_data, tmp_path, capsys):
    data = str(shared_data / "fsdd")
    assert main(["speech", "train", "--data", data, "--out", str(tmp_path / "a"), "--test-speakers", "bob"]) == 1
    err = capsys.readouterr().err.strip()
    assert err.count("\n") == 0 and "bob" in err and "theo" in err
    assert main(["speech", "train", "--data", str(tmp_path / "none"), "--out", str(tmp_path / "b")]) == 1
    assert "is not a folder" in capsys.readouterr().err
    for argv in (["--out", "x"], ["--data", data, "--units", "0"], ["--data", data, "--features", "wave"]):
        with pytest.raises(SystemExit) as info:
            main(["speech", "train", *argv])
        assert info.value.code == 2
    capsys.readouterr()
    broken = tmp_path / "broken.wav"
    broken.write_bytes(b"RIFF\x10\x00\x00\x00WAVEfmt ")
    assert main(["speech", "transcribe", str(tmp_path / "missing.rnnkit"), str(broken)]) == 1
    assert "missing.rnnkit" in capsys.readouterr().err
    from rnnkit.layers import Dense
    from rnnkit.models import Sequential
    from rnnkit.tasks.artifacts import save_task_model

    other = tmp_path / "other.rnnkit"
    save_task_model(str(other), Sequential([Dense(2, input_shape=(3,))]), "charlm", {})
    assert main(["speech", "transcribe", str(other), str(broken)]) == 1
    assert "'charlm' model" in capsys.readouterr().err
