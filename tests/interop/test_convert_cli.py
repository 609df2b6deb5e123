"""``rnnkit convert IN OUT`` on real files: .rnnkit -> .onnx (run under onnxruntime), .rnnkit <-> .safetensors
(bit for bit), a PyTorch-written .safetensors with --pytorch-architecture, .keras through load_model /
model.save (or, while those do not speak Keras files, a one-line error), and one-line errors with exit
status 1 for an unknown extension, an .onnx input, a missing extra, an unsupported layer, an existing OUT."""
import numpy as np
import onnxruntime
import pytest

from rnnkit.cli import convert
from rnnkit.cli.main import main
from rnnkit.interop.safetensors_files import write_state_dict
from rnnkit.layers import LSTM, Bidirectional, Conv1D, Dense, Embedding, GRU
from rnnkit.models import Sequential, load_model

VOCAB, T = 17, 6


@pytest.fixture(scope="module")
def ids():
    rng = np.random.default_rng(0)
    x = rng.integers(1, VOCAB, size=(3, T))
    x[1, 4:] = 0
    x[2, 2:] = 0
    return x


@pytest.fixture
def saved(tmp_path, ids):
    model = Sequential([Embedding(VOCAB, 4, mask_zero=True), Bidirectional(GRU(5, return_sequences=True)), LSTM(6),
                        Dense(3, activation="softmax")])
    model(ids)
    rng = np.random.default_rng(1)
    model.set_weights([0.5 * rng.standard_normal(w.shape) for w in model.get_weights()])
    path = tmp_path / "model.rnnkit"
    model.save(path)
    return path, model


def convert_ok(capsys, *argv):
    assert main(["convert", *map(str, argv)]) == 0
    assert capsys.readouterr().out.strip() == f"wrote {argv[1]}"


def convert_fails(capsys, *argv, match):
    assert main(["convert", *map(str, argv)]) == 1
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith("rnnkit: error: "), err
    assert match in err, err
    return err


def test_rnnkit_to_onnx(tmp_path, capsys, saved, ids):
    path, model = saved
    convert_ok(capsys, path, tmp_path / "m.onnx", "--opset", "18")
    session = onnxruntime.InferenceSession(str(tmp_path / "m.onnx"), providers=["CPUExecutionProvider"])
    actual = session.run(None, {"input": ids.astype(np.int64)})[0]
    np.testing.assert_allclose(actual, model.predict(ids, verbose=0), rtol=1e-5, atol=1e-6)


def test_rnnkit_safetensors_round_trip(tmp_path, capsys, saved, ids):
    path, model = saved
    convert_ok(capsys, path, tmp_path / "m.safetensors")
    convert_ok(capsys, tmp_path / "m.safetensors", tmp_path / "back.rnnkit")
    back = load_model(tmp_path / "back.rnnkit")
    for ours, theirs in zip(model.get_weights(), back.get_weights()):
        assert np.array_equal(ours, theirs)
    assert np.array_equal(back.predict(ids, verbose=0), model.predict(ids, verbose=0))


def test_pytorch_file_needs_and_takes_an_architecture(tmp_path, capsys, saved, ids):
    from rnnkit.interop.pytorch import to_state_dict

    _, model = saved
    source = tmp_path / "torch.safetensors"
    write_state_dict(source, to_state_dict(model, prefixes=["emb", "rnn", "rnn2", "fc"]))  # no architecture
    convert_fails(capsys, source, tmp_path / "x.rnnkit", match="give the architecture")
    spec = "embedding:emb(mask_zero=true), rnn, rnn2, fc(activation=softmax)"
    convert_ok(capsys, source, tmp_path / "a.rnnkit", "--pytorch-architecture", spec)
    (tmp_path / "arch.json").write_text('[{"type": "embedding", "prefix": "emb", "mask_zero": true}, '
                                        '{"prefix": "rnn"}, {"prefix": "rnn2"}, '
                                        '{"prefix": "fc", "activation": "softmax"}]')
    convert_ok(capsys, source, tmp_path / "b.rnnkit", "--pytorch-architecture", tmp_path / "arch.json")
    for name in ("a.rnnkit", "b.rnnkit"):
        np.testing.assert_array_equal(load_model(tmp_path / name).predict(ids, verbose=0),
                                      model.predict(ids, verbose=0))


def test_keras_files(tmp_path, capsys, saved, ids, monkeypatch):
    path, model = saved
    if convert.keras_files_supported():  # once model.save / load_model speak Keras 3 files
        convert_ok(capsys, path, tmp_path / "m.keras")
        convert_ok(capsys, tmp_path / "m.keras", tmp_path / "back.rnnkit")
        np.testing.assert_allclose(load_model(tmp_path / "back.rnnkit").predict(ids, verbose=0),
                                   model.predict(ids, verbose=0), rtol=1e-6)
    monkeypatch.setattr(convert, "keras_files_supported", lambda: False)
    convert_fails(capsys, path, tmp_path / "n.keras", match="cannot read or write Keras .keras files")
    assert not (tmp_path / "n.keras").exists()


def test_one_line_errors(tmp_path, capsys, saved, monkeypatch):
    path, _ = saved
    convert_fails(capsys, path, tmp_path / "m.pt", match="unknown output extension '.pt'")
    (tmp_path / "m.onnx").write_bytes(b"x")
    convert_fails(capsys, tmp_path / "m.onnx", tmp_path / "m.rnnkit", match="(.onnx is written, not read)")
    convert_fails(capsys, path, tmp_path / "m.onnx", match="exists; pass --overwrite")
    convert_fails(capsys, tmp_path / "missing.rnnkit", tmp_path / "x.onnx", match="no such file")
    convert_fails(capsys, path, tmp_path / "y.onnx", "--pytorch-architecture", "lstm", match="applies to a .safetensors")
    conv = Sequential([Conv1D(2, 2), LSTM(3)])
    conv(np.ones((1, 4, 2)))
    conv.save(tmp_path / "conv.rnnkit")
    convert_fails(capsys, tmp_path / "conv.rnnkit", tmp_path / "conv.onnx", match="(Conv1D)")
    convert_fails(capsys, tmp_path / "conv.rnnkit", tmp_path / "conv.safetensors", match="(Conv1D) has no PyTorch")
    monkeypatch.setitem(__import__("sys").modules, "onnx", None)  # as if the 'onnx' extra were not installed
    convert_fails(capsys, path, tmp_path / "z.onnx", match="pip install 'rnnkit[onnx]'")


def test_parser_lists_convert():
    from rnnkit.cli.main import build_parser

    args = build_parser().parse_args(["convert", "a.rnnkit", "b.onnx", "--opset", "15"])
    assert (args.command, args.source, args.target, args.opset, args.overwrite) == ("convert", "a.rnnkit", "b.onnx",
                                                                                    15, False)
