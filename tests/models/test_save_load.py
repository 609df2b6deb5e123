"""save / load_model / save_weights / load_weights: exact round trips, resumable training, safe reading."""
from __future__ import annotations

import json
import os
import zipfile

import numpy as np
import pytest

from rnnkit.errors import ConfigError, DataError
from rnnkit.layers import GRU, LSTM, Bidirectional, Dense, Embedding, SimpleRNN
from rnnkit.models import Input, Model, Sequential, load_model, saving
from rnnkit.optimizers import Adam
from rnnkit.random import set_random_seed


def data(n=48, seed=0):
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((n, 4, 3))
    labels = (x[:, :, 0].sum(axis=1) > 0).astype(np.int64)
    return x, labels


def compiled_model(seed=0):
    set_random_seed(seed)
    model = Sequential([GRU(6, input_shape=(4, 3)), Dense(2, activation="softmax")])
    model.compile(optimizer=Adam(learning_rate=0.01), loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    return model


def test_round_trip_predicts_bitwise_identically(tmp_path):
    x, labels = data()
    model = compiled_model()
    model.fit(x, labels, epochs=1, verbose=0)
    path = tmp_path / "model.rnnkit"
    model.save(path)
    loaded = load_model(path)
    assert type(loaded) is Sequential and [x.name for x in loaded.layers] == [x.name for x in model.layers]
    np.testing.assert_array_equal(loaded.predict(x, verbose=0), model.predict(x, verbose=0))
    assert loaded.optimizer.get_config() == model.optimizer.get_config()
    assert loaded.optimizer.iterations == model.optimizer.iterations
    assert loaded.evaluate(x, labels, verbose=0) == model.evaluate(x, labels, verbose=0)


def test_file_is_a_zip_of_json_and_npz(tmp_path):
    path = tmp_path / "m.rnnkit"
    compiled_model().save(path)
    with zipfile.ZipFile(path) as archive:
        assert sorted(archive.namelist()) == ["config.json", "optimizer.npz", "weights.npz"]
        config = json.loads(archive.read("config.json"))
    assert config["model"]["class_name"] == "Sequential"
    assert [spec["class_name"] for spec in config["model"]["config"]["layers"]] == ["GRU", "Dense"]
    assert config["compile"]["loss"] == "sparse_categorical_crossentropy"


def test_resumed_training_equals_uninterrupted_training(tmp_path):
    x, labels = data()
    straight = compiled_model()
    straight.fit(x, labels, epochs=4, batch_size=16, shuffle=False, verbose=0)
    first = compiled_model()
    first.fit(x, labels, epochs=2, batch_size=16, shuffle=False, verbose=0)
    first.save(tmp_path / "half.rnnkit")
    resumed = load_model(tmp_path / "half.rnnkit")
    resumed.fit(x, labels, epochs=2, batch_size=16, shuffle=False, verbose=0)
    for a, b in zip(straight.get_weights(), resumed.get_weights()):
        np.testing.assert_array_equal(a, b)


def test_lazily_built_model_and_functional_model_round_trip(tmp_path):
    set_random_seed(0)
    lazy = Sequential([Embedding(12, 4, mask_zero=True), Bidirectional(LSTM(3)), Dense(2)])
    ids = np.array([[1, 5, 0, 0], [3, 2, 7, 1]])
    expected = lazy.predict(ids, verbose=0)
    lazy.save(tmp_path / "lazy.rnnkit")
    np.testing.assert_array_equal(load_model(tmp_path / "lazy.rnnkit").predict(ids, verbose=0), expected)

    enc_in, dec_in = Input((None, 2), name="e"), Input((None, 2), name="d")
    _, h = SimpleRNN(3, return_state=True)(enc_in)
    out = Dense(2)(SimpleRNN(3, return_sequences=True)(dec_in, initial_state=[h]))
    model = Model([enc_in, dec_in], out)
    model.save(tmp_path / "f.rnnkit")
    inputs = [np.ones((2, 5, 2)), np.full((2, 3, 2), 0.5)]
    loaded = load_model(tmp_path / "f.rnnkit", compile=False)
    np.testing.assert_array_equal(loaded.predict(inputs, verbose=0), model.predict(inputs, verbose=0))


def test_save_weights_and_load_weights(tmp_path):
    x, _ = data(8)
    source, target = compiled_model(seed=1), compiled_model(seed=2)
    source.save_weights(tmp_path / "w.weights")
    assert not np.array_equal(source.predict(x, verbose=0), target.predict(x, verbose=0))
    target.load_weights(tmp_path / "w.weights")
    np.testing.assert_array_equal(source.predict(x, verbose=0), target.predict(x, verbose=0))
    other = Sequential([GRU(5, input_shape=(4, 3)), Dense(2)])
    with pytest.raises(DataError, match="shape"):
        other.load_weights(tmp_path / "w.weights")


def test_failed_write_leaves_the_previous_file_and_no_temporary(tmp_path, monkeypatch):
    path = tmp_path / "model.rnnkit"
    model = compiled_model()
    model.save(path)
    before = path.read_bytes()
    calls = []

    def failing(arrays):
        calls.append(1)
        if len(calls) == 2:  # weights written, optimizer state fails mid-archive
            raise OSError("disk full")
        return original(arrays)

    original = saving._npz_bytes
    monkeypatch.setattr(saving, "_npz_bytes", failing)
    model.layers[0].set_weights([w + 1 for w in model.layers[0].get_weights()])
    with pytest.raises(OSError, match="disk full"):
        model.save(path)

    written = []
    original_writestr = zipfile.ZipFile.writestr

    def failing_zip(self, name, blob, *args, **kwargs):
        if written:  # the first member is already in the temporary file
            raise OSError("device gone")
        written.append(name)
        return original_writestr(self, name, blob, *args, **kwargs)

    monkeypatch.setattr(saving, "_npz_bytes", original)
    monkeypatch.setattr(zipfile.ZipFile, "writestr", failing_zip)
    with pytest.raises(OSError, match="device gone"):
        model.save(path)
    assert path.read_bytes() == before
    assert sorted(os.listdir(tmp_path)) == ["model.rnnkit"]


def test_missing_truncated_and_corrupt_files_raise_data_error(tmp_path):
    with pytest.raises(DataError, match="no model file"):
        load_model(tmp_path / "absent.rnnkit")
    path = tmp_path / "m.rnnkit"
    compiled_model().save(path)
    blob = path.read_bytes()
    truncated = tmp_path / "truncated.rnnkit"
    truncated.write_bytes(blob[: len(blob) // 2])
    with pytest.raises(DataError, match="truncated.rnnkit"):
        load_model(truncated)
    corrupt = tmp_path / "corrupt.rnnkit"
    with zipfile.ZipFile(path) as archive:
        info = archive.getinfo("weights.npz")
    flipped = bytearray(blob)
    start = info.header_offset + 30 + len(info.filename) + 10  # inside the compressed weights
    flipped[start:start + 8] = bytes(255 - b for b in flipped[start:start + 8])
    corrupt.write_bytes(bytes(flipped))
    with pytest.raises(DataError, match="corrupt.rnnkit"):
        load_model(corrupt)
    not_zip = tmp_path / "text.rnnkit"
    not_zip.write_text("hello")
    with pytest.raises(DataError, match="text.rnnkit"):
        load_model(not_zip)


def _rewrite_config(path, out, edit):
    with zipfile.ZipFile(path) as archive:
        members = {name: archive.read(name) for name in archive.namelist()}
    config = json.loads(members["config.json"])
    edit(config)
    members["config.json"] = json.dumps(config).encode()
    with zipfile.ZipFile(out, "w") as archive:
        for name, blob in members.items():
            archive.writestr(name, blob)


def test_unknown_layer_class_raises_config_error_and_pickles_are_refused(tmp_path):
    path = tmp_path / "m.rnnkit"
    compiled_model().save(path)
    evil = tmp_path / "evil.rnnkit"
    _rewrite_config(path, evil, lambda c: c["model"]["config"]["layers"][0].update(class_name="os.system"))
    with pytest.raises(ConfigError, match="unknown layer class 'os.system'"):
        load_model(evil)
    pickled = tmp_path / "pickled.rnnkit"
    with zipfile.ZipFile(path) as archive:
        members = {name: archive.read(name) for name in archive.namelist()}
    import io

    buffer = io.BytesIO()
    np.savez(buffer, w0000=np.array([object()], dtype=object))
    members["weights.npz"] = buffer.getvalue()
    with zipfile.ZipFile(pickled, "w") as archive:
        for name, blob in members.items():
            archive.writestr(name, blob)
    with pytest.raises(DataError, match="pickled.rnnkit"):
        load_model(pickled)


def test_overwrite_false_refuses_to_replace(tmp_path):
    path = tmp_path / "m.rnnkit"
    model = compiled_model()
    model.save(path)
    with pytest.raises(ConfigError, match="exists"):
        model.save(path, overwrite=False)
