"""A PyTorch-style training loop on a rnnkit model: model(x), loss_fn(y, out), zero_grad, backward, step."""
from __future__ import annotations

import numpy as np

import rnnkit
from rnnkit.layers import Dense, SimpleRNN
from rnnkit.losses import SparseCategoricalCrossentropy
from rnnkit.models import Sequential
from rnnkit.optimizers import SGD, Adam
from rnnkit.random import set_random_seed


def batches(x, y, batch_size):
    for start in range(0, len(x), batch_size):
        yield x[start:start + batch_size], y[start:start + batch_size]


def digits_like(n=160, seed=0):
    """(n, 6, 4) sequences whose label is the time step with the largest first feature (6 classes)."""
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((n, 6, 4)).astype(np.float32)
    return x, x[:, :, 0].argmax(axis=1)


def test_pytorch_style_loop_learns():
    set_random_seed(0)
    x, y = digits_like()
    model = Sequential([SimpleRNN(16), Dense(6)])
    model.build((None, 6, 4))  # parameters exist before the optimizer is made
    loss_fn = SparseCategoricalCrossentropy(from_logits=True)
    optimizer = Adam(model.parameters(), lr=1e-2)
    losses = []
    for epoch in range(12):
        total = 0.0
        for xb, yb in batches(x, y, 32):
            out = model(xb)
            loss = loss_fn(yb, out)
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
            total += loss.item() * len(xb)
        losses.append(total / len(x))
    assert losses[-1] < 0.5 * losses[0]
    with rnnkit.no_grad():
        accuracy = np.mean(model(x).numpy().argmax(axis=1) == y)
    assert accuracy > 0.6  # chance is 1/6


def test_custom_loop_equals_fit_step_for_step():
    x, y = digits_like(64)
    set_random_seed(1)
    looped = Sequential([SimpleRNN(5, input_shape=(6, 4)), Dense(6)])
    fitted = Sequential.from_config(looped.get_config())
    fitted.set_weights(looped.get_weights())
    loss_fn = SparseCategoricalCrossentropy(from_logits=True)
    optimizer = SGD(looped.parameters(), lr=0.05, momentum=0.9)
    for _ in range(2):
        for xb, yb in batches(x, y, 16):
            loss = loss_fn(yb, looped(xb))
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
    fitted.compile(optimizer=SGD(learning_rate=0.05, momentum=0.9), loss=loss_fn)
    fitted.fit(x, y, batch_size=16, epochs=2, shuffle=False, verbose=0)
    for a, b in zip(looped.get_weights(), fitted.get_weights()):
        np.testing.assert_array_equal(a, b)
