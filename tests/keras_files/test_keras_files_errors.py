"""Keras files that do not convert, or are damaged, fail with one line naming the file and the problem; nothing
from the file is run; rnnkit never writes a zip under an ``.h5`` name."""
import io
import json
import os
import sys
import warnings
import zipfile

import numpy as np
import pytest

import keras  # KERAS_BACKEND=torch from conftest
from keras import layers as K

import rnnkit.models as rm
from rnnkit.errors import ConfigError, DataError, RnnkitError

# Keras 3.15's torch backend calls np.array(x, copy=False) on its tensors; NumPy 2 warns on every call
pytestmark = pytest.mark.filterwarnings("ignore:__array__ implementation doesn't accept a copy keyword")


def _one_line_error(path, error_type=RnnkitError):
    with pytest.raises(error_type) as info:
        rm.load_model(path)
    message = str(info.value)
    assert "\n" not in message and str(path) in message
    return message


def _small_keras_file(path):
    model = keras.Sequential([K.Input((4, 2)), K.LSTM(3), K.Dense(1)])
    model.save(path)
    return path


def test_lambda_layer_is_refused_and_not_run(tmp_path):
    marker = tmp_path / "ran"

    def leave_a_mark(x):  # creates the marker file whenever it runs
        open(marker, "w").close()
        return x * 2.0

    model = keras.Sequential([K.Input((3,)), K.Lambda(leave_a_mark), K.Dense(1)])
    model.save(tmp_path / "lambda.keras")
    assert marker.exists()  # Keras ran it while building the model
    marker.unlink()
    message = _one_line_error(tmp_path / "lambda.keras", ConfigError)
    assert "Lambda" in message and "lambda" in message and "never runs code" in message
    assert not marker.exists()


def test_unknown_layer_is_named(tmp_path):
    model = keras.Sequential([K.Input((5, 3)), K.LSTM(4, return_sequences=True), K.LayerNormalization(),
                              K.GlobalAveragePooling1D()])
    model.save(tmp_path / "norm.keras")
    message = _one_line_error(tmp_path / "norm.keras", ConfigError)
    assert "'layer_normalization'" in message and "'LayerNormalization'" in message


def test_keras_operation_on_tensors_is_named(tmp_path):
    inputs = keras.Input((3,))
    model = keras.Model(inputs, K.Dense(2)(inputs) * 2.0)
    model.save(tmp_path / "op.keras")
    message = _one_line_error(tmp_path / "op.keras", ConfigError)
    assert "Keras operation" in message and "Multiply" in message


def test_unsupported_option_is_named(tmp_path):
    model = keras.Sequential([K.Input((5, 3)), K.LSTM(4), K.Dense(2, lora_rank=2, name="head")])
    model.save(tmp_path / "lora.keras")
    message = _one_line_error(tmp_path / "lora.keras", ConfigError)
    assert "lora_rank=2" in message and "'head'" in message


def test_mixed_precision_is_refused(tmp_path):
    model = keras.Sequential([K.Input((5, 3)), K.GRU(2, dtype="mixed_float16")])
    model.save(tmp_path / "mixed.keras")
    message = _one_line_error(tmp_path / "mixed.keras", ConfigError)
    assert "mixed_float16" in message


def test_truncated_zip(tmp_path):
    data = open(_small_keras_file(tmp_path / "whole.keras"), "rb").read()
    (tmp_path / "cut.keras").write_bytes(data[: len(data) // 2])
    message = _one_line_error(tmp_path / "cut.keras", DataError)
    assert "corrupt or truncated" in message


def _rewrite(src, dst, edit_h5=None, edit_config=None):
    import h5py

    with zipfile.ZipFile(src) as archive:
        members = {name: archive.read(name) for name in archive.namelist()}
    if edit_h5 is not None:
        buffer = io.BytesIO(members["model.weights.h5"])
        with h5py.File(buffer, "a") as f:
            edit_h5(f)
        members["model.weights.h5"] = buffer.getvalue()
    if edit_config is not None:
        config = json.loads(members["config.json"])
        edit_config(config)
        members["config.json"] = json.dumps(config).encode()
    with zipfile.ZipFile(dst, "w") as archive:
        for name, data in members.items():
            archive.writestr(name, data)
    return dst


def test_missing_h5_dataset(tmp_path):
    src = _small_keras_file(tmp_path / "whole.keras")

    def drop(f):
        del f["layers/lstm/cell/vars/1"]

    path = _rewrite(src, tmp_path / "missing.keras", edit_h5=drop)
    message = _one_line_error(path, DataError)
    assert "layers/lstm/cell/vars/1" in message and "missing" in message


def test_wrong_shape_h5_dataset(tmp_path):
    src = _small_keras_file(tmp_path / "whole.keras")

    def reshape(f):
        del f["layers/dense/vars/0"]
        f["layers/dense/vars/0"] = np.zeros((4, 1), "float32")

    message = _one_line_error(_rewrite(src, tmp_path / "shape.keras", edit_h5=reshape), DataError)
    assert "layers/dense/vars/0" in message and "(4, 1)" in message and "(3, 1)" in message


def test_missing_member(tmp_path):
    src = _small_keras_file(tmp_path / "whole.keras")
    with zipfile.ZipFile(src) as archive, zipfile.ZipFile(tmp_path / "noweights.keras", "w") as out:
        out.writestr("config.json", archive.read("config.json"))
    message = _one_line_error(tmp_path / "noweights.keras", DataError)
    assert "model.weights.h5" in message


def test_subclassed_keras_model_is_refused(tmp_path):
    def subclass(config):
        config["class_name"] = "MyModel"
        config["registered_name"] = "Custom>MyModel"

    path = _rewrite(_small_keras_file(tmp_path / "whole.keras"), tmp_path / "sub.keras", edit_config=subclass)
    assert "'MyModel'" in _one_line_error(path, ConfigError)


def test_h5_names_never_get_a_zip(tmp_path):
    from rnnkit import layers as L

    model = rm.Sequential([L.Dense(2, input_shape=(3,))])
    with pytest.raises(ConfigError, match=r"legacy HDF5 file \(\.h5\).*my_model\.keras"):
        model.save(tmp_path / "m.h5")
    for name in ("w.h5", "w.hdf5", "w.keras"):
        with pytest.raises(ConfigError, match=r"The filename must end in `\.weights\.h5`"):
            model.save_weights(tmp_path / name)
    assert os.listdir(tmp_path) == []
    model.save_weights(tmp_path / "w.weights.h5")
    assert open(tmp_path / "w.weights.h5", "rb").read(4) == b"\x89HDF"


def test_legacy_keras2_h5_weights_are_refused(tmp_path):
    import h5py

    with h5py.File(tmp_path / "old.h5", "w") as f:
        f.attrs["layer_names"] = [b"dense"]
    from rnnkit import layers as L

    model = rm.Sequential([L.Dense(2, input_shape=(3,))])
    with pytest.raises(ConfigError, match="legacy Keras 2 HDF5"):
        model.load_weights(tmp_path / "old.h5")


def test_without_h5py_the_message_says_which_extra(tmp_path, monkeypatch):
    from rnnkit import layers as L
    from rnnkit.cli.main import OPTIONAL_MODULES

    monkeypatch.setitem(sys.modules, "h5py", None)  # import h5py now raises ModuleNotFoundError
    model = rm.Sequential([L.Dense(2, input_shape=(3,))])
    with pytest.raises(ModuleNotFoundError, match=r"pip install 'rnnkit\[keras\]'") as info:
        model.save(tmp_path / "m.keras")
    assert info.value.name == "h5py" and OPTIONAL_MODULES["h5py"] == "keras"
    assert not (tmp_path / "m.keras").exists()


def test_training_only_options_warn_and_predictions_match(tmp_path):
    model = keras.Sequential([K.Input((4, 2)), K.LSTM(3, kernel_regularizer="l2"), K.Dense(1)])
    model.save(tmp_path / "reg.keras")
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        loaded = rm.load_model(tmp_path / "reg.keras")
    assert any("kernel_regularizer" in str(w.message) for w in caught)
    x = np.random.default_rng(0).normal(size=(2, 4, 2)).astype("float32")
    np.testing.assert_allclose(loaded.predict(x, verbose=0), model.predict(x, verbose=0), rtol=1e-5, atol=1e-6)


def test_rnnkit_files_under_keras_names_still_load(tmp_path):
    """A file written by an earlier rnnkit (its own zip) under a .keras name is read as before."""
    from rnnkit import layers as L
    from rnnkit.models.saving import write_archive, model_members

    model = rm.Sequential([L.Dense(2, input_shape=(3,))])
    write_archive(tmp_path / "old.keras", model_members(model))
    x = np.ones((1, 3), "float32")
    np.testing.assert_array_equal(rm.load_model(tmp_path / "old.keras").predict(x, verbose=0),
                                  model.predict(x, verbose=0))


def test_zero_output_for_last_output_is_refused(tmp_path):
    """Keras' zero_output_for_mask=True without return_sequences zeroes the output of a sequence whose last step
    is masked; rnnkit does not copy that, so such a layer is refused by name."""
    model = keras.Sequential([K.Input((5, 2)), K.Masking(), K.GRU(3, zero_output_for_mask=True, name="tagger")])
    model.save(tmp_path / "zero.keras")
    message = _one_line_error(tmp_path / "zero.keras", ConfigError)
    assert "zero_output_for_mask" in message and "'tagger'" in message


def test_masked_global_max_pooling_warns_of_the_known_difference(tmp_path):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # Keras' own: "GlobalMaxPooling1D ... does not support masking"
        model = keras.Sequential([K.Input((6,), dtype="int32"), K.Embedding(10, 4, mask_zero=True),
                                  K.LSTM(3, return_sequences=True), K.GlobalMaxPooling1D()])
    model.save(tmp_path / "gmp.keras")
    with pytest.warns(UserWarning, match="GlobalMaxPooling1D after a mask"):
        rm.load_model(tmp_path / "gmp.keras")


def test_hostile_sizes_fail_before_allocating(tmp_path):
    src = _small_keras_file(tmp_path / "whole.keras")

    def huge_units(config):
        config["config"]["layers"][1]["config"]["units"] = 10**9

    def huge_input(config):
        config["config"]["layers"][0]["config"]["batch_shape"] = [None, 10**6, 10**6]

    for edit, expected in ((huge_units, "units=1000000000"), (huge_input, "input shape")):
        path = _rewrite(src, tmp_path / "huge.keras", edit_config=edit)
        assert expected in _one_line_error(path, DataError)


def test_subclassed_rnnkit_model_is_refused_with_the_alternative(tmp_path):
    from rnnkit import layers as L

    class Tagger(rm.Model):
        def __init__(self):
            super().__init__()
            self.rnn = L.LSTM(3, return_sequences=True)

        def call(self, x):
            return self.rnn(x)

    model = Tagger()
    model.build((None, 4, 2))
    for save in (model.save, model.save_weights):
        name = "m.keras" if save == model.save else "m.weights.h5"
        with pytest.raises(ConfigError, match="subclassed model") as info:
            save(tmp_path / name)
        assert "\n" not in str(info.value) and not (tmp_path / name).exists()
    model.save_weights(tmp_path / "m.rnnkit")  # rnnkit's own format holds any model
