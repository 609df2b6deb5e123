"""The translation task: masks (a padded batch equals one sentence at a time), stepwise decoding equals the
teacher-forced forward pass, splits, save/load, the CLI's errors and notes, and a run end to end on real pairs."""
from __future__ import annotations

import json
import os

import numpy as np
import pytest

from rnnkit.cli.main import main
from rnnkit.errors import DataError
from rnnkit.random import set_random_seed
from rnnkit.tasks.translate import TranslateConfig, decode, load_translator, translate
from rnnkit.tasks.translate_data import read_pairs, split_indices, target_arrays, tokenize
from rnnkit.tasks.translate_model import Translator, build_model

VARIANTS = [("gru", "bahdanau"), ("lstm", "luong"), ("gru", "none")]


def random_batch(rng, count, source_vocabulary, target_vocabulary):
    sources = [list(rng.integers(4, source_vocabulary, size=rng.integers(1, 6))) for _ in range(count)]
    targets = [list(rng.integers(4, target_vocabulary, size=rng.integers(1, 5))) for _ in range(count)]
    return sources, targets


def padded(sequences):
    out = np.zeros((len(sequences), max(map(len, sequences))), dtype=np.int64)
    for i, s in enumerate(sequences):
        out[i, :len(s)] = s
    return out


@pytest.mark.parametrize("cell,attention", VARIANTS)
def test_padded_batch_equals_one_sentence_at_a_time(cell, attention):
    set_random_seed(1)
    rng = np.random.default_rng(0)
    model = build_model(15, 13, units=5, embedding_dim=4, cell=cell, attention=attention, dtype="float64")
    sources, targets = random_batch(rng, 6, 15, 13)
    target_in, _ = target_arrays(targets)
    together = model.predict([padded(sources), target_in], verbose=0)
    for i, (source, target) in enumerate(zip(sources, targets)):
        alone_in, _ = target_arrays([target])
        alone = model.predict([np.array([source]), alone_in], verbose=0)[0]
        np.testing.assert_allclose(together[i, :len(target) + 1], alone, rtol=1e-10, atol=1e-13)


@pytest.mark.parametrize("cell,attention", VARIANTS)
def test_stepwise_decoding_equals_teacher_forced_forward(cell, attention):
    set_random_seed(2)
    rng = np.random.default_rng(1)
    translator = Translator(build_model(15, 13, units=5, embedding_dim=4, cell=cell, attention=attention,
                                        dtype="float64"))
    sources, targets = random_batch(rng, 5, 15, 13)
    target_in, _ = target_arrays(targets)
    forced, weights = translator.teacher_forced(padded(sources), target_in)
    states = translator.encode(padded(sources))
    for t in range(target_in.shape[1]):
        log_probs, states = translator.step(target_in[:, t], states)
        for i, target in enumerate(targets):
            if t <= len(target):  # the steps of real tokens (padding steps of the batch differ, as they should)
                np.testing.assert_allclose(log_probs[i], forced[i, t], rtol=1e-9, atol=1e-11)
    if attention == "none":
        assert weights is None
    else:
        for i, source in enumerate(sources):
            np.testing.assert_allclose(weights[i, :, :len(source)].sum(-1), 1.0, rtol=1e-12)
            assert np.all(weights[i, :, len(source):] == 0)


def test_tokenize_split_and_pairs(tmp_path):
    assert tokenize("Qu'est-ce que c'est ?") == ["qu", "'", "est", "-", "ce", "que", "c", "'", "est", "?"]
    sources = [["a"]] * 3 + [["b"]] * 2 + [["c"], ["d"], ["e"]] + [["f"]] * 4
    train_idx, test_idx = split_indices(sources, 5, "sentence", seed=0)
    assert len(test_idx) == 5 and len(train_idx) == len(sources) - 5
    assert not {" ".join(sources[i]) for i in train_idx} & {" ".join(sources[i]) for i in test_idx}
    assert split_indices(sources, 5, "sentence", seed=0)[1].tolist() == test_idx.tolist()  # deterministic
    path = tmp_path / "pairs.tsv"
    path.write_text("Go.\tVa !\n\n   \nHello there my friend.\tSalut !\nRun!\t\t\n", encoding="utf-8")
    pairs = read_pairs(str(path), max_length=3)
    assert pairs.source == [["go", "."]] and pairs.skipped_long == 1 and pairs.skipped_blank == 3


def write_pairs(path, lines):
    path.write_text("".join(line + "\n" for line in lines), encoding="utf-8")
    return str(path)


def test_cli_errors(tmp_path, capsys):
    one_column = write_pairs(tmp_path / "one.tsv", ["go .\tva !", "just one column"])
    assert main(["translate", "train", "--data", one_column, "--out", str(tmp_path / "run")]) == 1
    assert "line 2: found 1 column" in capsys.readouterr().err
    assert main(["translate", "train", "--data", str(tmp_path / "missing.tsv"), "--out", str(tmp_path / "r")]) == 1
    assert "no such file" in capsys.readouterr().err
    with pytest.raises(SystemExit) as stop:
        main(["translate", "train", "--data", one_column, "--epochs", "0"])
    assert stop.value.code == 2 and "--epochs must be positive" in capsys.readouterr().err
    with pytest.raises(SystemExit) as stop:
        main(["translate", "train", "--out", str(tmp_path / "r")])
    assert stop.value.code == 2 and "--data FILE is required" in capsys.readouterr().err
    blank = write_pairs(tmp_path / "blank.tsv", ["", " ", "\t"])
    assert main(["translate", "train", "--data", blank, "--out", str(tmp_path / "r2")]) == 1
    assert "no usable pairs" in capsys.readouterr().err
    assert main(["translate", str(tmp_path / "nothing.rnnkit"), "hello"]) == 1
    assert "rnnkit: error:" in capsys.readouterr().err


@pytest.fixture(scope="module")
def trained(tmp_path_factory, shared_data):
    """A small model trained end to end through the CLI on a slice of eng-fra-5k (plus a blank line and a
    sentence longer than --max-length, which are skipped and counted)."""
    folder = tmp_path_factory.mktemp("translate")
    lines = (shared_data / "eng-fra-5k.tsv").read_text(encoding="utf-8").splitlines()[:400]
    data = write_pairs(folder / "slice.tsv", lines[:200] + ["", "this sentence is far too long for the limit .\tnon"]
                       + lines[200:])
    out = folder / "run"
    argv = ["translate", "train", "--data", data, "--out", str(out), "--test-size", "40", "--epochs", "3",
            "--units", "16", "--embedding-dim", "8", "--max-length", "9", "--beam", "3", "--verbose", "2"]
    return folder, out, argv


def test_end_to_end_cli(trained, capsys):
    folder, out, argv = trained
    assert main(argv) == 0
    printed = capsys.readouterr().out.strip().splitlines()
    assert printed[-1].startswith("test_bleu=") and " baseline_bleu=" in printed[-1]
    values = dict(item.split("=") for item in printed[-1].split())
    assert all(0.0 <= float(v) <= 100.0 for v in values.values())
    assert any(line.startswith("Epoch 3/3") and "loss:" in line for line in printed)
    assert "skipped 1 pairs longer than --max-length 9 tokens and 1 blank" in "\n".join(printed)
    report = json.loads((out / "report.json").read_text())
    assert report["data"]["train_pairs"] + report["data"]["test_pairs"] == 400
    assert report["test_bleu"] == pytest.approx(float(values["test_bleu"]), abs=0.006)
    for name in ("model.rnnkit", "baseline/model.rnnkit", "curves.png", "attention-1.png", "attention-5.png"):
        assert os.path.isfile(out / name), name
    assert main(argv) == 1  # a finished run is not overwritten
    assert "--overwrite" in capsys.readouterr().err
    plot = folder / "plot.png"
    assert main(["translate", str(out / "model.rnnkit"), "Go, zorglub!", "--beam", "2", "--attention-plot",
                 str(plot)]) == 0
    captured = capsys.readouterr()
    assert len(captured.out.splitlines()) == 1 and "'zorglub'" in captured.err and plot.is_file()
    assert main(["translate", str(out / "baseline" / "model.rnnkit"), "go .", "--attention-plot", str(plot)]) == 1
    assert "no attention" in capsys.readouterr().err
    assert main(["translate", "train", "--resume", str(out), "--epochs", "4"]) == 0  # one more epoch, same run
    printed = capsys.readouterr().out
    assert "Epoch 4/4" in printed and "Epoch 3/4" not in printed and printed.strip().splitlines()[-1].startswith(
        "test_bleu=")
    assert json.loads((out / "report.json").read_text())["config"]["epochs"] == 4


def test_save_load_gives_the_same_translations(trained):
    folder, out, argv = trained
    path = out / "model.rnnkit"
    if not path.is_file():
        assert main(argv) == 0
    config = TranslateConfig(data=argv[3], max_length=9, test_size=40)
    pairs = read_pairs(config.data, config.max_length)
    sentences = [" ".join(tokens) for tokens in pairs.source[:25]]
    loaded = load_translator(str(path))
    first = translate(loaded, sentences, beam=3)
    again = translate(str(path), sentences, beam=3)
    assert [r["tokens"] for r in first] == [r["tokens"] for r in again]
    # the loaded model decodes as a freshly built one with its weights
    from rnnkit.tasks.artifacts import load_task_model, save_task_model

    model, info = load_task_model(str(path), "translate")
    twin = build_model(len(info["source_vocabulary"]), len(info["target_vocabulary"]), units=16, embedding_dim=8)
    twin.set_weights(model.get_weights())
    ids = [loaded[1].encode(tokenize(s)) for s in sentences]
    assert decode(Translator(twin), ids, beam=3, max_length=10) == decode(loaded[0], ids, beam=3, max_length=10)
    save_task_model(str(folder / "other.rnnkit"), model, "sentiment", {})
    with pytest.raises(DataError, match="'translate' model"):
        load_translator(str(folder / "other.rnnkit"))
