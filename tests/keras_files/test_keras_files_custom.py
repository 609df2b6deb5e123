"""User-defined layers and cells in Keras 3 files, against Keras itself: the same class bodies are defined once
on Keras (``keras.layers.Layer`` + ``keras.ops``) and once on rnnkit (``rnnkit.layers.Layer`` + ``rnnkit.ops``),
both registered under the same ``"package>Name"``; a model holding ``RNN([cell, cell])`` (StackedRNNCells),
``RNN(cell)``, a layer with a non-trainable weight created before its trainable one, and a layer holding
sub-layers in an attribute and in a list, moves between the two through ``.weights.h5`` and ``.keras`` files
and predicts the same."""
import json
import zipfile

import numpy as np
import pytest

import keras  # KERAS_BACKEND=torch from conftest

import rnnkit
from rnnkit.errors import ConfigError
from rnnkit.saving import object_registration

pytestmark = pytest.mark.filterwarnings("ignore:__array__ implementation doesn't accept a copy keyword")

PACKAGE = "kf_custom"


def define(base, ops, register):
    """The user classes, on ``base`` (a module with ``Layer`` and ``Dense``) and ``ops``, registered by
    ``register`` under ``PACKAGE``."""

    @register(package=PACKAGE)
    class MinimalRNNCell(base.Layer):
        def __init__(self, units, **kwargs):
            super().__init__(**kwargs)
            self.units = units
            self.state_size = units

        def build(self, input_shape):
            self.kernel = self.add_weight(shape=(input_shape[-1], self.units), initializer="uniform",
                                          name="kernel")
            self.recurrent_kernel = self.add_weight(shape=(self.units, self.units), initializer="uniform",
                                                    name="recurrent_kernel")
            self.built = True

        def call(self, inputs, states):
            output = ops.tanh(ops.matmul(inputs, self.kernel) + ops.matmul(states[0], self.recurrent_kernel))
            return output, [output]

        def get_config(self):
            return {**super().get_config(), "units": self.units}

    @register(package=PACKAGE)
    class ScaleShift(base.Layer):
        def build(self, input_shape):
            self.shift = self.add_weight(shape=(input_shape[-1],), initializer="zeros", trainable=False,
                                         name="shift")
            self.scale = self.add_weight(shape=(input_shape[-1],), initializer="ones", name="scale")

        def call(self, inputs):
            return inputs * self.scale + self.shift

    @register(package=PACKAGE)
    class Heads(base.Layer):
        def __init__(self, units, **kwargs):
            super().__init__(**kwargs)
            self.units = units
            self.trunk = base.Dense(units, activation="tanh")
            self.heads = [base.Dense(units), base.Dense(units)]

        def call(self, inputs):
            x = self.trunk(inputs)
            return self.heads[0](x) - self.heads[1](x)

        def get_config(self):
            return {**super().get_config(), "units": self.units}

    return MinimalRNNCell, ScaleShift, Heads


def build(lib, classes):
    cell, scale_shift, heads = classes
    inputs = lib.Input((None, 5))
    x = lib.layers.RNN([cell(3), cell(4)], return_sequences=True)(inputs)
    x = lib.layers.RNN(cell(2))(x)
    x = heads(3)(scale_shift()(x))
    return lib.Model(inputs, lib.layers.Dense(1)(x))


@pytest.fixture
def classes():
    """The classes on both sides; rnnkit's registry is restored afterwards."""
    saved = dict(object_registration._GLOBAL_OBJECTS), dict(object_registration._GLOBAL_NAMES)
    theirs = define(keras.layers, keras.ops, keras.saving.register_keras_serializable)
    ours = define(rnnkit.layers, rnnkit.ops, rnnkit.saving.register_keras_serializable)
    yield theirs, ours
    for table, old in zip((object_registration._GLOBAL_OBJECTS, object_registration._GLOBAL_NAMES), saved):
        table.clear()
        table.update(old)


def _x():
    return np.random.default_rng(3).normal(size=(4, 6, 5)).astype("float32")


def _random_arrays(shapes, seed):
    rng = np.random.default_rng(seed)
    return [rng.normal(0.0, 0.5, size=shape).astype("float32") for shape in shapes]


def _keras_model(classes, seed=0):
    model = build(keras, classes)
    model.set_weights(_random_arrays([tuple(w.shape) for w in model.weights], seed))
    return model


def _rnnkit_model(classes, seed=1):
    model = build(rnnkit, classes)
    model.predict(_x(), verbose=0)  # built
    model.set_weights(_random_arrays([w.shape for w in model.get_weights()], seed))
    return model


def _datasets(path) -> list:
    import h5py

    found = []
    with h5py.File(path, "r") as f:
        f.visititems(lambda name, item: found.append((name, item.shape)) if isinstance(item, h5py.Dataset)
                     else None)
    return found


def test_weights_from_keras_into_rnnkit(tmp_path, classes):
    theirs, ours = classes
    source = _keras_model(theirs)
    path = str(tmp_path / "custom.weights.h5")
    source.save_weights(path)
    model = build(rnnkit, ours)
    model.predict(_x(), verbose=0)
    model.load_weights(path)
    # the same weights in the same order (sub-layers held in a list are tracked as in Keras)
    assert [w.shape for w in model.get_weights()] == [tuple(w.shape) for w in source.weights]
    np.testing.assert_allclose(model.predict(_x(), verbose=0), source.predict(_x(), verbose=0), rtol=1e-5,
                               atol=1e-5)


def test_weights_from_rnnkit_into_keras(tmp_path, classes):
    theirs, ours = classes
    source = _rnnkit_model(ours)
    path = str(tmp_path / "custom.weights.h5")
    source.save_weights(path)
    model = build(keras, theirs)
    model.load_weights(path)
    model.save_weights(str(tmp_path / "keras.weights.h5"))
    assert _datasets(path) == _datasets(str(tmp_path / "keras.weights.h5"))  # the same paths, order and shapes
    np.testing.assert_allclose(np.asarray(model.predict(_x(), verbose=0)), source.predict(_x(), verbose=0),
                               rtol=1e-5, atol=1e-5)


def _cells_entry(path) -> dict:
    with zipfile.ZipFile(path) as archive:
        config = json.loads(archive.read("config.json"))
    rnn = next(entry for entry in config["config"]["layers"] if entry["class_name"] == "RNN")
    return rnn["config"]["cell"]


def test_keras_file_from_rnnkit_loads_in_keras(tmp_path, classes):
    theirs, ours = classes
    source = _rnnkit_model(ours)
    path = str(tmp_path / "custom.keras")
    source.save(path)
    stack = _cells_entry(path)
    assert stack["class_name"] == "StackedRNNCells" and stack["registered_name"] is None
    first = stack["config"]["cells"][0]
    assert (first["module"], first["class_name"], first["registered_name"]) == (
        None, "MinimalRNNCell", f"{PACKAGE}>MinimalRNNCell")
    assert first["config"]["units"] == 3 and first["config"]["dtype"]["class_name"] == "DTypePolicy"
    loaded = keras.models.load_model(path)
    assert type(loaded.layers[1].cell.cells[0]) is theirs[0]
    np.testing.assert_allclose(np.asarray(loaded.predict(_x(), verbose=0)), source.predict(_x(), verbose=0),
                               rtol=1e-5, atol=1e-5)


def test_keras_file_from_keras_loads_in_rnnkit(tmp_path, classes):
    theirs, ours = classes
    source = _keras_model(theirs)
    path = str(tmp_path / "custom.keras")
    source.save(path)
    loaded = rnnkit.models.load_model(path)
    assert [type(cell) for cell in loaded.layers[1].cell.cells] == [ours[0], ours[0]]
    assert {type(layer) for layer in loaded.layers} >= {ours[1], ours[2]}
    np.testing.assert_allclose(loaded.predict(_x(), verbose=0), np.asarray(source.predict(_x(), verbose=0)),
                               rtol=1e-5, atol=1e-5)
    # and back to Keras through rnnkit's writer
    again = str(tmp_path / "again.keras")
    loaded.save(again)
    np.testing.assert_allclose(np.asarray(keras.models.load_model(again).predict(_x(), verbose=0)),
                               np.asarray(source.predict(_x(), verbose=0)), rtol=1e-5, atol=1e-5)


def test_loading_uses_only_rnnkits_registry(tmp_path, classes):
    theirs, _ = classes
    path = str(tmp_path / "custom.keras")
    _keras_model(theirs).save(path)
    with zipfile.ZipFile(path) as archive:
        members = {name: archive.read(name) for name in archive.namelist()}
    config = json.loads(members["config.json"])
    for entry in config["config"]["layers"]:
        if entry.get("registered_name", "") and ">" in entry["registered_name"]:
            entry["module"] = "kf_no_such_module_to_import"  # never imported: the registry alone decides
    members["config.json"] = json.dumps(config).encode()
    edited = str(tmp_path / "edited.keras")
    with zipfile.ZipFile(edited, "w") as archive:
        for name, data in members.items():
            archive.writestr(name, data)
    assert rnnkit.models.load_model(edited).predict(_x(), verbose=0).shape == (4, 1)
    object_registration._GLOBAL_OBJECTS.pop(f"{PACKAGE}>MinimalRNNCell")  # a program that did not register it
    with pytest.raises(ConfigError) as error:
        rnnkit.models.load_model(edited)
    message = str(error.value)
    assert "\n" not in message and f"'{PACKAGE}>MinimalRNNCell'" in message
    assert f"register_keras_serializable(package='{PACKAGE}')" in message


def test_unregistered_rnnkit_class_is_refused_on_save(tmp_path, classes):
    _, ours = classes

    class Unregistered(ours[1]):
        pass

    inputs = rnnkit.Input((5,))
    model = rnnkit.Model(inputs, Unregistered()(inputs))
    model.predict(np.ones((1, 5), "float32"), verbose=0)
    with pytest.raises(ConfigError, match=r"class 'Unregistered'.*not registered.*register_keras_serializable"):
        model.save(tmp_path / "u.keras")
    assert not (tmp_path / "u.keras").exists()


def _define_peephole(base, ops, register):
    """A cell without get_config (both Keras and rnnkit save its constructor arguments) and with two states."""

    @register(package=PACKAGE)
    class PeepholeCell(base.Layer):
        def __init__(self, units, scale=0.5, **kwargs):
            super().__init__(**kwargs)
            self.units, self.scale = units, scale
            self.state_size = [units, units]

        def build(self, input_shape):
            self.kernel = self.add_weight(shape=(input_shape[-1], self.units), name="kernel")
            self.peephole = self.add_weight(shape=(self.units,), initializer="ones", name="peephole")

        def call(self, inputs, states):
            h, c = states
            c = ops.tanh(ops.matmul(inputs, self.kernel) + c * self.peephole * self.scale)
            return h + c, [h + c, c]

    return PeepholeCell


def test_auto_config_cell_in_sequential_both_ways(tmp_path, classes):
    theirs = _define_peephole(keras.layers, keras.ops, keras.saving.register_keras_serializable)
    ours = _define_peephole(rnnkit.layers, rnnkit.ops, rnnkit.saving.register_keras_serializable)
    source = keras.Sequential([keras.Input((None, 5)), keras.layers.RNN(theirs(4, scale=0.25))])
    source.set_weights(_random_arrays([tuple(w.shape) for w in source.weights], 5))
    source.save(tmp_path / "peephole.keras")
    loaded = rnnkit.models.load_model(tmp_path / "peephole.keras")
    assert type(loaded.layers[0].cell) is ours and loaded.layers[0].cell.scale == 0.25
    expected = np.asarray(source.predict(_x(), verbose=0))
    np.testing.assert_allclose(loaded.predict(_x(), verbose=0), expected, rtol=1e-5, atol=1e-5)
    loaded.save(tmp_path / "back.keras")
    back = keras.models.load_model(tmp_path / "back.keras")
    assert back.layers[0].cell.scale == 0.25
    np.testing.assert_allclose(np.asarray(back.predict(_x(), verbose=0)), expected, rtol=1e-5, atol=1e-5)
