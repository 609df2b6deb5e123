"""A model with a user-defined cell saves and loads through rnnkit.saving.register_keras_serializable: the file
names the class "package>Name", loading rebuilds it (same predictions), an unregistered class is refused with the
way to register it, and nothing is imported from the file."""
from __future__ import annotations

import json
import zipfile

import numpy as np
import pytest
from custom_cells import MyLSTMCell, NestedCell

import rnnkit
from rnnkit import ops
from rnnkit.errors import ConfigError
from rnnkit.layers import RNN, Dense, Layer
from rnnkit.models import Sequential, load_model
from rnnkit.saving import object_registration


@pytest.fixture
def registry():
    """Register classes for one test only."""
    saved = dict(object_registration._GLOBAL_OBJECTS), dict(object_registration._GLOBAL_NAMES)
    yield rnnkit.saving.register_keras_serializable
    for table, old in zip((object_registration._GLOBAL_OBJECTS, object_registration._GLOBAL_NAMES), saved):
        table.clear()
        table.update(old)


class PeepholeCell(Layer):
    """A cell without get_config: Keras 3 saves its constructor arguments (auto-config); so does rnnkit."""

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


def _model(cell):
    model = Sequential([RNN(cell, input_shape=(None, 4)), Dense(2)])
    model.compile(optimizer="adam", loss="mse")
    return model


def _config(path) -> dict:
    with zipfile.ZipFile(path) as archive:
        return json.loads(archive.read("config.json"))


def test_registered_cell_round_trip(tmp_path, registry):
    registry(package="my_cells")(MyLSTMCell)
    rng = np.random.default_rng(0)
    x, y = rng.standard_normal((6, 5, 4)), rng.standard_normal((6, 2))
    model = _model(MyLSTMCell(3))
    model.fit(x, y, epochs=1, batch_size=3, verbose=0)
    path = tmp_path / "cell.rnnkit"
    model.save(path)
    spec = _config(path)["model"]["config"]["layers"][0]["config"]["cell"]
    assert spec["class_name"] == "my_cells>MyLSTMCell" and spec["config"]["units"] == 3
    loaded = load_model(path)
    assert type(loaded.layers[0].cell) is MyLSTMCell
    np.testing.assert_array_equal(loaded.predict(x, verbose=0), model.predict(x, verbose=0))
    loaded.fit(x, y, epochs=1, batch_size=3, verbose=0)  # the optimizer state came back too


def test_auto_config_and_stacked_and_nested_cells(tmp_path, registry):
    registry(package="my_cells", name="Peephole")(PeepholeCell)
    registry(package="guide")(NestedCell)
    model = Sequential([RNN([PeepholeCell(3, scale=0.25), MyLSTMCell(2)], input_shape=(None, 4))])
    registry(package="my_cells")(MyLSTMCell)
    x = np.random.default_rng(1).standard_normal((2, 5, 4))
    path = tmp_path / "stack.rnnkit"
    model.save(path)
    cells = _config(path)["model"]["config"]["layers"][0]["config"]["cell"]
    assert cells["class_name"] == "StackedRNNCells"
    assert cells["config"]["cells"][0] == {"class_name": "my_cells>Peephole",
                                           "config": {**cells["config"]["cells"][0]["config"], "units": 3,
                                                      "scale": 0.25}}
    loaded = rnnkit.saving.load_model(path)
    assert loaded.layers[0].cell.cells[0].scale == 0.25
    np.testing.assert_array_equal(loaded.predict(x, verbose=0), model.predict(x, verbose=0))
    # the guide's cell, whose get_config gives only its units
    layer = RNN(NestedCell(2, 3, 2))
    layer((np.ones((1, 2, 3)), np.ones((1, 2, 2, 2))))
    copy = rnnkit.layers.deserialize(rnnkit.layers.serialize(layer))
    assert (copy.cell.unit_1, copy.cell.unit_2, copy.cell.unit_3) == (2, 3, 2)


def test_unregistered_class_is_refused_on_save(tmp_path):
    class Unregistered(MyLSTMCell):
        pass

    with pytest.raises(ConfigError, match=r"class 'Unregistered'.*register_keras_serializable"):
        _model(Unregistered(3)).save(tmp_path / "x.rnnkit")


def test_unknown_registered_name_on_load_says_how_to_register(tmp_path, registry):
    registry(package="my_cells")(MyLSTMCell)
    path = tmp_path / "cell.rnnkit"
    _model(MyLSTMCell(3)).save(path)
    object_registration._GLOBAL_OBJECTS.pop("my_cells>MyLSTMCell")  # a new process that did not import it
    with pytest.raises(ConfigError) as error:
        load_model(path)
    message = str(error.value)
    assert "'my_cells>MyLSTMCell'" in message
    assert "register_keras_serializable(package='my_cells')" in message
    # custom_objects, as Keras' load_model takes it
    loaded = rnnkit.saving.load_model(path, custom_objects={"my_cells>MyLSTMCell": MyLSTMCell})
    assert type(loaded.layers[0].cell) is MyLSTMCell


def test_utils_alias_and_registered_names():
    assert rnnkit.utils.register_keras_serializable is rnnkit.saving.register_keras_serializable
    assert rnnkit.saving.get_registered_name(Dense) == "Dense"
    with pytest.raises(ConfigError, match="package"):
        rnnkit.saving.register_keras_serializable(package="a>b")
