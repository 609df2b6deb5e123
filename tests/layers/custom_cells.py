"""User-defined recurrent cells written only with ``rnnkit.ops`` (as a Keras user writes them with
``keras.ops``), re-implementing the maths of the built-in SimpleRNNCell / GRUCell / LSTMCell with the same weight
layout, so that ``set_weights`` from a built-in layer makes them compute the same thing. Shared by the tests."""
from __future__ import annotations

from rnnkit import ops, tree
from rnnkit.layers import Layer


class MySimpleRNNCell(Layer):
    def __init__(self, units, **kwargs):
        super().__init__(**kwargs)
        self.units = units
        self.state_size = units

    def build(self, input_shape):
        self.kernel = self.add_weight(shape=(input_shape[-1], self.units), name="kernel")
        self.recurrent_kernel = self.add_weight(shape=(self.units, self.units), initializer="orthogonal",
                                                name="recurrent_kernel")
        self.bias = self.add_weight(shape=(self.units,), initializer="zeros", name="bias")

    def call(self, inputs, states):
        h = ops.tanh(ops.add(ops.dot(inputs, self.kernel), ops.matmul(states[0], self.recurrent_kernel)) + self.bias)
        return h, [h]

    def get_config(self):
        return {**super().get_config(), "units": self.units}


class MyGRUCell(Layer):
    """GRU with reset_after=True (Keras' default): bias (2, 3H), row 0 input, row 1 recurrent."""

    def __init__(self, units, **kwargs):
        super().__init__(**kwargs)
        self.units = units
        self.state_size = [units]
        self.output_size = units

    def build(self, input_shape):
        self.kernel = self.add_weight(shape=(input_shape[-1], 3 * self.units), name="kernel")
        self.recurrent_kernel = self.add_weight(shape=(self.units, 3 * self.units), name="recurrent_kernel")
        self.bias = self.add_weight(shape=(2, 3 * self.units), initializer="zeros", name="bias")

    def call(self, inputs, states, training=False):
        h_prev = states[0]
        input_bias, recurrent_bias = ops.split(self.bias, 2, axis=0)  # (1, 3H) each
        x_z, x_r, x_h = ops.split(ops.einsum("bi,ij->bj", inputs, self.kernel) + input_bias, 3, axis=-1)
        inner = ops.einsum("bi,ij->bj", h_prev, self.recurrent_kernel) + recurrent_bias
        h_z, h_r, h_h = ops.split(inner, 3, axis=-1)
        z = ops.sigmoid(ops.add(x_z, h_z))
        r = ops.sigmoid(ops.add(x_r, h_r))
        candidate = ops.tanh(x_h + ops.multiply(r, h_h))
        h = z * h_prev + ops.subtract(1.0, z) * candidate
        return h, [h]

    def get_config(self):
        return {**super().get_config(), "units": self.units}


class MyLSTMCell(Layer):
    """LSTM, gates i, f, c, o side by side (Keras order)."""

    def __init__(self, units, **kwargs):
        super().__init__(**kwargs)
        self.units = units
        self.state_size = [units, units]

    def build(self, input_shape):
        self.kernel = self.add_weight(shape=(input_shape[-1], 4 * self.units), name="kernel")
        self.recurrent_kernel = self.add_weight(shape=(self.units, 4 * self.units), name="recurrent_kernel")
        self.bias = self.add_weight(shape=(4 * self.units,), initializer="zeros", name="bias")

    def call(self, inputs, states):
        h_prev, c_prev = states
        z = ops.matmul(ops.concatenate([inputs, h_prev], axis=-1),
                       ops.concatenate([self.kernel, self.recurrent_kernel], axis=0)) + self.bias
        i, f, g, o = ops.split(z, 4, axis=-1)
        c = ops.sigmoid(f) * c_prev + ops.sigmoid(i) * ops.tanh(g)
        h = ops.sigmoid(o) * ops.tanh(c)
        return h, [h, c]

    def get_config(self):
        return {**super().get_config(), "units": self.units}


class NestedCell(Layer):
    """The Keras RNN guide's cell with nested inputs, outputs and states, with rnnkit.ops for tf."""

    def __init__(self, unit_1, unit_2, unit_3, **kwargs):
        self.unit_1 = unit_1
        self.unit_2 = unit_2
        self.unit_3 = unit_3
        self.state_size = [unit_1, (unit_2, unit_3)]
        self.output_size = [unit_1, (unit_2, unit_3)]
        super().__init__(**kwargs)

    def build(self, input_shapes):
        # expect input_shape to contain 2 items, [(batch, i1), (batch, i2, i3)]
        i1 = input_shapes[0][1]
        i2 = input_shapes[1][1]
        i3 = input_shapes[1][2]
        self.kernel_1 = self.add_weight(shape=(i1, self.unit_1), initializer="uniform", name="kernel_1")
        self.kernel_2_3 = self.add_weight(shape=(i2, i3, self.unit_2, self.unit_3), initializer="uniform",
                                          name="kernel_2_3")

    def call(self, inputs, states):
        # inputs should be in [(batch, input_1), (batch, input_2, input_3)]
        # state should be in shape [(batch, unit_1), (batch, unit_2, unit_3)]
        input_1, input_2 = tree.flatten(inputs)
        s1, s2 = states
        output_1 = ops.matmul(input_1, self.kernel_1)
        output_2_3 = ops.einsum("bij,ijkl->bkl", input_2, self.kernel_2_3)
        state_1 = s1 + output_1
        state_2_3 = s2 + output_2_3
        output = (output_1, output_2_3)
        new_states = (state_1, state_2_3)
        return output, new_states

    def get_config(self):
        return {"unit_1": self.unit_1, "unit_2": self.unit_2, "unit_3": self.unit_3}
