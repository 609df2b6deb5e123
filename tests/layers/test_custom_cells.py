"""RNN(cell) with user-defined cells (Keras' cell protocol), run step by step on the tape.

- cells re-implementing SimpleRNN / GRU / LSTM with rnnkit.ops equal the built-in fused layers on identical
  weights (float64, 1e-10): outputs, final states and the gradients of the input, the initial states and every
  weight, with masks, go_backwards and initial_state;
- Keras 3's own RNN with the same cell written in keras.ops (set_weights) gives the same outputs, masked steps
  carrying the previous output;
- the RNN guide's NestedCell (nested inputs, outputs and states) equals the Keras cell stepped on identical
  weights, and a nested-state cell equals keras.layers.RNN;
- a list of cells equals the stacked layers; clear errors for a cell without state_size or returning the wrong
  number of states.
"""
from __future__ import annotations

import numpy as np
import pytest
from custom_cells import MyGRUCell, MyLSTMCell, MySimpleRNNCell, NestedCell

from rnnkit import Tensor, ops, tree
from rnnkit.errors import ConfigError, ShapeError
from rnnkit.layers import GRU, LSTM, RNN, GRUCell, Layer, LSTMCell, SimpleRNN, StackedRNNCells

B, T, D, H = 3, 5, 4, 3
TOL = dict(rtol=1e-10, atol=1e-12)
BUILT_IN = {"simple_rnn": (SimpleRNN, MySimpleRNNCell, 1), "gru": (GRU, MyGRUCell, 1), "lstm": (LSTM, MyLSTMCell, 2)}
MASK = np.array([[1, 1, 0, 1, 0], [1, 1, 1, 1, 1], [0, 1, 1, 0, 0]], dtype=bool)  # holes and padding


@pytest.fixture
def keras64(monkeypatch):
    """Keras 3 computing in float64 (its result_type otherwise turns float64 into float32)."""
    import keras  # noqa: F401
    from keras.src.backend.common import dtypes

    monkeypatch.setattr(dtypes, "BIT64_TO_BIT32_DTYPE", {})


def _randomize(layer, rng):
    layer.set_weights([rng.standard_normal(w.shape) * 0.5 for w in layer.get_weights()])


def _run(layer, x, states, mask):
    """Outputs of ``layer`` and the gradients of a fixed random function of them w.r.t. x, states, weights."""
    xt = Tensor(x, requires_grad=True, dtype="float64")
    st = [Tensor(s, requires_grad=True, dtype="float64") for s in states] if states is not None else None
    outs = layer(xt, mask=mask, initial_state=st)
    rng = np.random.default_rng(99)
    total = None
    for o in outs:
        term = (o * Tensor(rng.standard_normal(o.shape), dtype="float64")).sum()
        total = term if total is None else total + term
    total.backward()
    grads = [xt.grad] + [s.grad for s in st or []] + [w.grad for w in layer.weights]
    return [o.numpy() for o in outs], grads


@pytest.mark.parametrize("kind", sorted(BUILT_IN))
@pytest.mark.parametrize("go_backwards", [False, True])
@pytest.mark.parametrize("masked", [False, True])
def test_user_cell_equals_built_in_layer(kind, go_backwards, masked):
    layer_cls, cell_cls, n_states = BUILT_IN[kind]
    rng = np.random.default_rng(hash((kind, go_backwards, masked)) % 2**32)
    x = rng.standard_normal((B, T, D))
    states = [rng.standard_normal((B, H)) for _ in range(n_states)]
    mask = MASK if masked else None
    options = dict(return_sequences=True, return_state=True, go_backwards=go_backwards, dtype="float64")
    built_in = layer_cls(H, **options)
    # the fused built-in layers output zeros at masked steps: the user-cell RNN does so with zero_output_for_mask
    custom = RNN(cell_cls(H, dtype="float64"), zero_output_for_mask=True, **options)
    built_in(x[:1, :2])
    custom(x[:1, :2])
    assert built_in._fused and not custom._fused
    _randomize(built_in, rng)
    custom.set_weights(built_in.get_weights())
    expected, expected_grads = _run(built_in, x, states, mask)
    got, got_grads = _run(custom, x, states, mask)
    assert len(got) == 1 + n_states
    for a, b in zip(got, expected):
        np.testing.assert_allclose(a, b, **TOL)
    for a, b in zip(got_grads, expected_grads):
        np.testing.assert_allclose(a, b, **TOL)


@pytest.mark.parametrize("kind", sorted(BUILT_IN))
def test_user_cell_last_output_and_states_with_mask(kind):
    """Keras' default (masked steps output the previous output): the last output is the last real one, which the
    built-in layer returns as its output without return_sequences."""
    layer_cls, cell_cls, n_states = BUILT_IN[kind]
    rng = np.random.default_rng(7)
    x = rng.standard_normal((B, T, D))
    built_in = layer_cls(H, return_state=True, dtype="float64")
    custom = RNN(cell_cls(H, dtype="float64"), return_state=True)
    built_in(x)
    custom(x)
    _randomize(built_in, rng)
    custom.set_weights(built_in.get_weights())
    for a, b in zip(custom(x, mask=MASK), built_in(x, mask=MASK)):
        np.testing.assert_allclose(a.numpy(), b.numpy(), **TOL)


def test_built_in_cells_keep_the_fused_path():
    layer = RNN(LSTMCell(4))
    assert layer._fused
    layer(np.ones((2, 3, 5)))
    assert not RNN(MyLSTMCell(4))._fused


# ------------------------------------------------------------------------------------- Keras 3 as reference
def _keras_minimal_cell():
    import keras
    from keras import ops as kops

    class MinimalRNNCell(keras.layers.Layer):
        def __init__(self, units, **kwargs):
            super().__init__(**kwargs)
            self.units = units
            self.state_size = units

        def build(self, input_shape):
            self.kernel = self.add_weight(shape=(input_shape[-1], self.units), initializer="uniform", name="kernel")
            self.recurrent_kernel = self.add_weight(shape=(self.units, self.units), initializer="uniform",
                                                    name="recurrent_kernel")

        def call(self, inputs, states):
            output = kops.tanh(kops.matmul(inputs, self.kernel) + kops.matmul(states[0], self.recurrent_kernel))
            return output, [output]

    return MinimalRNNCell


class MinimalRNNCell(Layer):
    """The cell of Keras' RNN docstring (with a tanh), in rnnkit."""

    def __init__(self, units, **kwargs):
        super().__init__(**kwargs)
        self.units = units
        self.state_size = units

    def build(self, input_shape):
        self.kernel = self.add_weight(shape=(input_shape[-1], self.units), initializer="uniform", name="kernel")
        self.recurrent_kernel = self.add_weight(shape=(self.units, self.units), initializer="uniform",
                                                name="recurrent_kernel")

    def call(self, inputs, states):
        output = ops.tanh(ops.matmul(inputs, self.kernel) + ops.matmul(states[0], self.recurrent_kernel))
        return output, [output]


@pytest.mark.parametrize("go_backwards", [False, True])
@pytest.mark.parametrize("zero_output_for_mask", [False, True])
@pytest.mark.parametrize("stacked", [False, True])
def test_minimal_cell_equals_keras_rnn(keras64, go_backwards, zero_output_for_mask, stacked):
    import keras
    import torch

    KerasCell = _keras_minimal_cell()
    rng = np.random.default_rng(3)
    x = rng.standard_normal((B, T, D))
    options = dict(return_sequences=True, return_state=True, go_backwards=go_backwards,
                   zero_output_for_mask=zero_output_for_mask)
    units = [4, 2] if stacked else [4]
    ours = RNN([MinimalRNNCell(u, dtype="float64") for u in units] if stacked else MinimalRNNCell(4, dtype="float64"),
               dtype="float64", **options)
    # Keras wraps a list in a float32 StackedRNNCells that casts the states to float32: make it float64
    theirs = keras.layers.RNN(keras.layers.StackedRNNCells([KerasCell(u, dtype="float64") for u in units],
                                                           dtype="float64") if stacked
                              else KerasCell(4, dtype="float64"), dtype="float64", **options)
    ours(x)
    theirs(torch.tensor(x))
    weights = [rng.uniform(-0.8, 0.8, w.shape) for w in ours.get_weights()]
    ours.set_weights(weights)
    theirs.set_weights(weights)
    got = ours(x, mask=MASK)
    expected = theirs(torch.tensor(x), mask=torch.tensor(MASK))
    assert len(got) == len(expected) == 1 + len(units)
    for a, b in zip(got, expected):
        np.testing.assert_allclose(a.numpy(), b.detach().numpy(), **TOL)


def _keras_nested_cell(single_input: bool):
    import keras
    from keras import ops as kops

    class KerasNestedCell(keras.layers.Layer):
        def __init__(self, unit_1, unit_2, unit_3, **kwargs):
            super().__init__(**kwargs)
            self.units = (unit_1, unit_2, unit_3)
            self.state_size = [unit_1, (unit_2, unit_3)]

        def build(self, input_shapes):
            u1, u2, u3 = self.units
            if single_input:
                self.kernel_1 = self.add_weight(shape=(input_shapes[-1], u1), name="kernel_1")
                self.kernel_2_3 = self.add_weight(shape=(input_shapes[-1], u2, u3), name="kernel_2_3")
            else:
                i1, (i2, i3) = input_shapes[0][1], input_shapes[1][1:]
                self.kernel_1 = self.add_weight(shape=(i1, u1), name="kernel_1")
                self.kernel_2_3 = self.add_weight(shape=(i2, i3, u2, u3), name="kernel_2_3")

        def get_initial_state(self, batch_size=None):  # keras.layers.RNN cannot make zeros for (u2, u3) itself
            u1, u2, u3 = self.units
            return [kops.zeros((batch_size, u1), dtype="float64"), kops.zeros((batch_size, u2, u3), dtype="float64")]

        def call(self, inputs, states):
            s1, s2 = states
            if single_input:
                o1 = kops.matmul(inputs, self.kernel_1)
                o23 = kops.einsum("bi,ijk->bjk", inputs, self.kernel_2_3)
                return kops.tanh(o1 + s1), [kops.tanh(o1 + s1), s2 + o23]
            input_1, input_2 = keras.tree.flatten(inputs)
            o1 = kops.matmul(input_1, self.kernel_1)
            o23 = kops.einsum("bij,ijkl->bkl", input_2, self.kernel_2_3)
            return (o1, o23), (s1 + o1, s2 + o23)

    return KerasNestedCell


def test_guide_nested_cell_equals_keras_cell(keras64):
    """The guide's NestedCell with nested inputs and outputs: keras.layers.RNN (Keras 3) cannot run it (it takes
    the second input for an initial state), so the reference is the Keras cell itself called step by step."""
    import torch

    rng = np.random.default_rng(5)
    u1, u2, u3, i1, i2, i3 = 3, 2, 4, 5, 3, 2
    x1, x2 = rng.standard_normal((B, T, i1)), rng.standard_normal((B, T, i2, i3))
    cell = NestedCell(u1, u2, u3, dtype="float64")
    layer = RNN(cell, return_sequences=True, return_state=True)
    (seq_1, seq_2_3), s1, s2 = layer((x1, x2))
    assert seq_1.shape == (B, T, u1) and seq_2_3.shape == (B, T, u2, u3) and s2.shape == (B, u2, u3)
    twin = _keras_nested_cell(single_input=False)(u1, u2, u3, dtype="float64")
    twin.build([(B, i1), (B, i2, i3)])
    twin.set_weights(layer.get_weights())
    states = twin.get_initial_state(B)
    for t in range(T):
        (o1, o23), states = twin.call((torch.tensor(x1[:, t]), torch.tensor(x2[:, t])), states)
        np.testing.assert_allclose(seq_1.numpy()[:, t], o1.detach().numpy(), **TOL)
        np.testing.assert_allclose(seq_2_3.numpy()[:, t], o23.detach().numpy(), **TOL)
    np.testing.assert_allclose(s1.numpy(), states[0].detach().numpy(), **TOL)
    np.testing.assert_allclose(s2.numpy(), states[1].detach().numpy(), **TOL)


def test_guide_nested_cell_in_a_functional_model_trains():
    from rnnkit.models import Input, Model

    rng = np.random.default_rng(0)
    input_1, input_2 = Input((None, 4)), Input((None, 3, 2))
    outputs = RNN(NestedCell(3, 2, 5))((input_1, input_2))
    model = Model([input_1, input_2], list(outputs))
    model.compile(optimizer="adam", loss="mse")
    x = [rng.random((8, 6, 4)), rng.random((8, 6, 3, 2))]
    y = [rng.random((8, 3)), rng.random((8, 2, 5))]
    history = model.fit(x, y, batch_size=4, epochs=2, verbose=0)
    assert np.isfinite(history.history["loss"]).all()
    predictions = model.predict(x, verbose=0)
    assert [p.shape for p in predictions] == [(8, 3), (8, 2, 5)]


@pytest.mark.parametrize("go_backwards", [False, True])
def test_nested_state_cell_equals_keras_rnn(keras64, go_backwards):
    """A (batch, u2, u3) state beside a (batch, u1) one, through keras.layers.RNN itself, with a mask."""
    import keras
    import torch

    class OurNested(Layer):
        def __init__(self, unit_1, unit_2, unit_3, **kwargs):
            super().__init__(**kwargs)
            self.units = (unit_1, unit_2, unit_3)
            self.state_size = [unit_1, (unit_2, unit_3)]

        def build(self, input_shape):
            u1, u2, u3 = self.units
            self.kernel_1 = self.add_weight(shape=(input_shape[-1], u1), name="kernel_1")
            self.kernel_2_3 = self.add_weight(shape=(input_shape[-1], u2, u3), name="kernel_2_3")

        def call(self, inputs, states):
            s1, s2 = states
            o1 = ops.matmul(inputs, self.kernel_1)
            h = ops.tanh(o1 + s1)
            return h, [h, s2 + ops.einsum("bi,ijk->bjk", inputs, self.kernel_2_3)]

    rng = np.random.default_rng(11)
    x = rng.standard_normal((B, T, D))
    ours = RNN(OurNested(3, 2, 4, dtype="float64"), return_sequences=True, return_state=True,
               go_backwards=go_backwards)
    theirs = keras.layers.RNN(_keras_nested_cell(single_input=True)(3, 2, 4, dtype="float64"), dtype="float64",
                              return_sequences=True, return_state=True, go_backwards=go_backwards)
    ours(x)
    theirs(torch.tensor(x))
    theirs.set_weights(ours.get_weights())
    got = ours(x, mask=MASK)
    expected = theirs(torch.tensor(x), mask=torch.tensor(MASK))
    for a, b in zip(got, expected):
        np.testing.assert_allclose(a.numpy(), b.detach().numpy(), **TOL)


# ---------------------------------------------------------------------------------------------- stacking
def test_list_of_cells_equals_stacked_layers():
    rng = np.random.default_rng(2)
    x = rng.standard_normal((B, T, D))
    stacked = RNN([MyLSTMCell(4, dtype="float64"), MyGRUCell(3, dtype="float64"), LSTMCell(2, dtype="float64")],
                  return_sequences=True, return_state=True, dtype="float64")
    layers = [LSTM(4, return_sequences=True, return_state=True, dtype="float64"),
              GRU(3, return_sequences=True, return_state=True, dtype="float64"),
              LSTM(2, return_sequences=True, return_state=True, dtype="float64")]
    stacked(x)
    assert isinstance(stacked.cell, StackedRNNCells)
    assert stacked.cell.state_size == [[4, 4], [3], [2, 2]]
    seq = x
    for layer in layers:
        seq = layer(seq)[0]
    _randomize(stacked, rng)
    weights = stacked.get_weights()
    for layer in layers:
        count = len(layer.weights)
        layer.set_weights(weights[:count])
        weights = weights[count:]
    output, (h1, c1), (h2,), (h3, c3) = stacked(x, mask=MASK)
    seq, expected_states = Tensor(x, dtype="float64"), []
    for layer in layers:
        seq, *states = layer(seq, mask=MASK)
        expected_states.extend(states)
    # masked steps: the stack outputs the previous output, the fused layers zeros; compare the real steps
    np.testing.assert_allclose(output.numpy()[MASK], seq.numpy()[MASK], **TOL)
    for a, b in zip([h1, c1, h2, h3, c3], expected_states):
        np.testing.assert_allclose(a.numpy(), b.numpy(), **TOL)


def test_initial_state_structure_is_checked():
    layer = RNN(MyLSTMCell(3))
    with pytest.raises(ShapeError, match=r"expects 2 initial state\(s\)"):
        layer(np.ones((2, 4, 5)), initial_state=[np.zeros((2, 3))])
    with pytest.raises(ShapeError, match=r"initial state 1 has shape \(2, 4\); expected \(2, 3\)"):
        layer(np.ones((2, 4, 5)), initial_state=[np.zeros((2, 3)), np.zeros((2, 4))])


def test_stateful_user_cell_carries_states():
    layer = RNN(MySimpleRNNCell(3), stateful=True)
    x = np.random.default_rng(0).standard_normal((2, 4, 5))
    whole = RNN(MySimpleRNNCell(3))
    whole(x)
    layer(x[:, :2])
    whole.set_weights(layer.get_weights())
    layer.reset_states()
    layer(x[:, :2])
    np.testing.assert_allclose(layer(x[:, 2:]).numpy(), whole(x).numpy(), rtol=1e-5, atol=1e-6)


# ------------------------------------------------------------------------------------------------- errors
class NoStateSize(Layer):
    def call(self, inputs, states):
        return inputs, states


class WrongStateCount(Layer):
    state_size = [3, 3]

    def build(self, input_shape):
        self.kernel = self.add_weight(shape=(input_shape[-1], 3), name="kernel")

    def call(self, inputs, states):
        h = ops.matmul(inputs, self.kernel)
        return h, [h]  # one state where state_size declares two


def test_cell_without_state_size_is_refused():
    with pytest.raises(ConfigError, match="NoStateSize has no state_size attribute"):
        RNN(NoStateSize())
    with pytest.raises(ConfigError, match="must have a call"):
        RNN(object())


def test_cell_returning_the_wrong_number_of_states():
    with pytest.raises(ShapeError, match=r"returned 1 state\(s\).*declares 2"):
        RNN(WrongStateCount())(np.ones((2, 4, 5)))


def test_bad_state_size_is_named():
    class Odd(NoStateSize):
        state_size = "three"

    with pytest.raises(ConfigError, match="state_size='three' is not understood"):
        RNN(Odd())(np.ones((1, 2, 3)))


def test_tree_matches_keras_tree():
    """Against Keras' optree implementation (its default; under the torch backend keras.tree leaves nested dicts
    unsorted, which its own comment calls a bug)."""
    from keras.src.tree import optree_impl as keras_tree

    structure = {"b": 1, "a": [2, (3, None)], "c": {"y": 4, "x": 5}}
    assert tree.flatten(structure) == keras_tree.flatten(structure)
    flat = list(range(10, 16))
    assert tree.pack_sequence_as(structure, flat) == keras_tree.pack_sequence_as(structure, flat)
    assert tree.map_structure(lambda a, b: (a or 0) + (b or 0), structure, structure) == \
        keras_tree.map_structure(lambda a, b: (a or 0) + (b or 0), structure, structure)
    for item in (None, 1, [], (1,), {"a": 1}):
        assert tree.is_nested(item) == keras_tree.is_nested(item)
    with pytest.raises(ShapeError):
        tree.map_structure(lambda a, b: a, [1, 2], [1])
    with pytest.raises(ShapeError):
        tree.pack_sequence_as([1, 2], [1])


def test_add_weight_takes_keras_arguments():
    layer = Layer(name="probe", dtype="float64")
    w = layer.add_weight((2, 3), "ones")  # Keras 3: shape, initializer, dtype positionally
    assert w.shape == (2, 3) and w.dtype == np.float64 and np.all(w.numpy() == 1)
    v = layer.add_weight(shape=(4,), initializer="zeros", dtype="float32", trainable=False, name="count")
    assert v.dtype == np.float32 and not v.requires_grad and v.name == "probe/count"
    assert layer.add_weight(name="scalar").shape == ()
    assert len(layer.trainable_weights) == 2 and len(layer.non_trainable_weights) == 1
    with pytest.raises(ConfigError, match="regularizer='l2' is not supported"):
        layer.add_weight(shape=(2,), regularizer="l2")


def test_built_in_cell_dropout_in_a_stack_is_one_mask_per_sequence():
    """A built-in cell with dropout inside a stack: the same input keep-mask at every step of a sequence (Keras'
    DropoutRNNCell), a new one for the next sequence."""
    cell = GRUCell(3, dropout=0.5, seed=1)
    layer = RNN([cell, MySimpleRNNCell(2)], return_sequences=True)
    x = np.ones((4, 6, 8))
    layer(x)
    seen = []
    original = cell.step

    def spy(x_t, states):
        seen.append(x_t.numpy().copy())
        return original(x_t, states)

    cell.step = spy
    layer(x, training=True)
    assert len(seen) == 6 and all(np.array_equal(s, seen[0]) for s in seen)
    assert 0 < (seen[0] == 0).mean() < 1  # some features dropped, not all
    layer(x, training=True)
    assert not np.array_equal(seen[6], seen[0])  # a new sequence, a new mask


def test_bidirectional_user_cell_equals_two_directions():
    from rnnkit.layers import Bidirectional

    rng = np.random.default_rng(8)
    x = rng.standard_normal((B, T, D))
    both = Bidirectional(RNN(MyGRUCell(3, dtype="float64"), return_sequences=True), dtype="float64")
    forward = RNN(MyGRUCell(3, dtype="float64"), return_sequences=True)
    backward = RNN(MyGRUCell(3, dtype="float64"), return_sequences=True, go_backwards=True)
    both(x), forward(x), backward(x)
    _randomize(both, rng)
    weights = both.get_weights()
    forward.set_weights(weights[:3])
    backward.set_weights(weights[3:])
    expected = np.concatenate([forward(x, mask=MASK).numpy(), backward(x, mask=MASK).numpy()[:, ::-1]], axis=-1)
    np.testing.assert_allclose(both(x, mask=MASK).numpy(), expected, **TOL)


def test_list_input_with_initial_states_keras_2_form():
    """``layer([x, h0, c0])``: the items after x have the states' shapes, so they are initial states."""
    rng = np.random.default_rng(12)
    x, h0, c0 = rng.standard_normal((B, T, D)), rng.standard_normal((B, H)), rng.standard_normal((B, H))
    layer = RNN(MyLSTMCell(H, dtype="float64"), return_state=True)
    expected = layer(x, initial_state=[h0, c0])
    for a, b in zip(layer([x, h0, c0]), expected):
        np.testing.assert_allclose(a.numpy(), b.numpy(), **TOL)
    assert not np.allclose(layer(x)[0].numpy(), expected[0].numpy())
