"""A recurrent network in one file of NumPy: forward, back-propagation through time, SGD.

This is the seed's ``RNN`` class (the third seed document, "简单学习定义循环神经网络"), kept in its shape: the
same constructor, weight names (``Wxh``, ``Whh``, ``Why``, ``bh``, ``by``), column vectors, ``forward(inputs)``
and ``backward(inputs, outputs, targets, learning_rate)``, the same initialisation and the loss its
``dy = outputs[t] - targets[t]`` implies, ``L = sum_t ||y_t - target_t||^2 / 2``.

The seed's mistake, fixed here: its backward pass uses the *outputs* ``y_t = Why h_t + by`` where the *hidden
states* ``h_t`` belong. It computes ``dWhy += dy y_t^T`` (should be ``dy h_t^T``), the tanh derivative as
``1 - y_t * y_t`` (should be ``1 - h_t * h_t``: the derivative of ``tanh`` is taken at its own output ``h_t``),
``dWhh += dh_raw y_{t-1}^T`` (should be ``h_{t-1}^T``, and at ``t = 0`` Python's ``outputs[-1]`` silently
takes the *last* output where the zero initial state belongs), and starts ``dh_next`` with the shape of an
output instead of a hidden state. ``y_t`` and ``h_t`` do not even have the same size unless ``output_size ==
hidden_size``, and when they do the gradient is simply wrong: training follows a direction that is not the
loss's slope. The forward pass never kept the hidden states, so the backward pass had nothing else to use:
here ``forward`` keeps them (``self.hs``), as back-propagation through time needs.

Run it: ``python examples/numpy_rnn_from_scratch.py`` learns to predict the next value of a sine wave and
prints the loss falling. ``tests/examples/test_numpy_rnn_from_scratch.py`` checks its gradients against
rnnkit's ``SimpleRNN`` + ``Dense`` on identical weights.
"""
import numpy as np


class RNN:
    """``h_t = tanh(Wxh x_t + Whh h_{t-1} + bh)``, ``y_t = Why h_t + by``; inputs and targets are lists of
    column vectors ``(input_size, 1)`` and ``(output_size, 1)``, one per time step."""

    def __init__(self, input_size, hidden_size, output_size, rng=None):
        rng = np.random.default_rng() if rng is None else rng
        self.input_size = input_size
        self.hidden_size = hidden_size
        self.output_size = output_size
        # weights: input to hidden, hidden to hidden, hidden to output (small random numbers, as the seed)
        self.Wxh = rng.standard_normal((hidden_size, input_size)) * 0.01
        self.Whh = rng.standard_normal((hidden_size, hidden_size)) * 0.01
        self.Why = rng.standard_normal((output_size, hidden_size)) * 0.01
        self.bh = np.zeros((hidden_size, 1))  # hidden bias
        self.by = np.zeros((output_size, 1))  # output bias
        self.hs = []  # the hidden states of the last forward pass, h_0 (zeros) first

    def forward(self, inputs):
        """The outputs ``y_t`` for every step; keeps the hidden states in ``self.hs`` for ``backward``."""
        h = np.zeros((self.hidden_size, 1))
        self.hs = [h]
        outputs = []
        for x in inputs:
            h = np.tanh(np.dot(self.Wxh, x) + np.dot(self.Whh, h) + self.bh)
            self.hs.append(h)
            outputs.append(np.dot(self.Why, h) + self.by)
        return outputs

    def loss(self, outputs, targets):
        """``sum_t ||y_t - target_t||^2 / 2``, the loss whose gradient ``backward`` computes."""
        return 0.5 * sum(float(np.sum((y - t) ** 2)) for y, t in zip(outputs, targets))

    def backward(self, inputs, outputs, targets, learning_rate):
        """Back-propagation through time for the last ``forward(inputs)``, then one SGD step; returns the
        gradients ``{"Wxh", "Whh", "Why", "bh", "by"}`` (taken before the step)."""
        dWxh, dWhh, dWhy = np.zeros_like(self.Wxh), np.zeros_like(self.Whh), np.zeros_like(self.Why)
        dbh, dby = np.zeros_like(self.bh), np.zeros_like(self.by)
        dh_next = np.zeros((self.hidden_size, 1))  # gradient reaching h_t from step t+1 (none after the last)
        for t in reversed(range(len(inputs))):
            h, h_prev = self.hs[t + 1], self.hs[t]  # h_t and h_{t-1} (hs[0] is the zero initial state)
            dy = outputs[t] - targets[t]  # dL/dy_t
            dWhy += np.dot(dy, h.T)
            dby += dy
            dh = np.dot(self.Why.T, dy) + dh_next  # all of dL/dh_t: through y_t and through h_{t+1}
            dh_raw = (1 - h * h) * dh  # through tanh, at its output h_t
            dbh += dh_raw
            dWxh += np.dot(dh_raw, inputs[t].T)
            dWhh += np.dot(dh_raw, h_prev.T)
            dh_next = np.dot(self.Whh.T, dh_raw)
        grads = {"Wxh": dWxh, "Whh": dWhh, "Why": dWhy, "bh": dbh, "by": dby}
        for name, grad in grads.items():
            setattr(self, name, getattr(self, name) - learning_rate * grad)
        return grads


def sine_sequences(count, steps, rng):
    """Windows of a sine wave: inputs ``x_t`` and targets ``x_{t+1}`` as lists of (1, 1) column vectors."""
    for _ in range(count):
        start = rng.uniform(0, 2 * np.pi)
        wave = np.sin(start + 0.3 * np.arange(steps + 1))
        yield [np.array([[v]]) for v in wave[:-1]], [np.array([[v]]) for v in wave[1:]]


def main(epochs=30, steps=20, hidden_size=16, learning_rate=0.02, seed=0):
    rng = np.random.default_rng(seed)
    rnn = RNN(1, hidden_size, 1, rng=rng)
    data = list(sine_sequences(100, steps, rng))
    losses = []
    for epoch in range(epochs):
        total = 0.0
        for inputs, targets in data:
            outputs = rnn.forward(inputs)
            total += rnn.loss(outputs, targets)
            rnn.backward(inputs, outputs, targets, learning_rate)
        losses.append(total / len(data))
        if epoch % 5 == 0 or epoch == epochs - 1:
            print(f"epoch {epoch + 1:3d}  loss per sequence {losses[-1]:.5f}")
    return losses


if __name__ == "__main__":
    main()
