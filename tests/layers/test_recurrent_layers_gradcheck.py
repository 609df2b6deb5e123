"""Finite-difference gradient checks (float64, rel. error < 1e-6) of SimpleRNN / LSTM / GRU for every option,
over random shapes (batch 1, one time step, ...) and a 500-step sequence (directional checks)."""
import numpy as np
import pytest

from layer_harness import check_layer, check_param_gradients, leaf, randomize_weights, right_padded_mask
from rnnkit.layers import GRU, LSTM, SimpleRNN
from rnnkit.random import generator

KINDS = {
    "simple_rnn_tanh": (SimpleRNN, {}, 1, 1),
    "simple_rnn_relu": (SimpleRNN, {"activation": "relu"}, 1, 1),
    "lstm": (LSTM, {}, 4, 2),
    "gru_reset_after": (GRU, {}, 3, 1),
    "gru_reset_before": (GRU, {"reset_after": False}, 3, 1),
}
OPTIONS = {
    "last_output": {},
    "return_sequences": {"return_sequences": True},
    "return_state": {"return_sequences": True, "return_state": True},
    "go_backwards": {"return_sequences": True, "go_backwards": True},
    "mask": {"return_sequences": True, "return_state": True, "mask": True},
    "mask_go_backwards": {"return_state": True, "go_backwards": True, "mask": True},
    "initial_state": {"return_state": True, "initial_state": True},
    "no_bias": {"use_bias": False, "return_sequences": True},
    "dropout_training": {"dropout": 0.4, "seed": 3, "return_sequences": True},
    "stateful_second_call": {"stateful": True, "return_state": True},
    "hard_sigmoid_gates": {"recurrent_activation": "hard_sigmoid", "return_sequences": True},
}
CALL_OPTIONS = ("mask", "initial_state")


def _layer_and_call(kind, option, rng, batch, steps, features, units):
    cls, kind_args, _, n_states = KINDS[kind]
    args = {k: v for k, v in OPTIONS[option].items() if k not in CALL_OPTIONS}
    if "recurrent_activation" in args and cls is SimpleRNN:
        args.pop("recurrent_activation")
    layer = cls(units, dtype="float64", **kind_args, **args)
    x = leaf(rng.standard_normal((batch, steps, features)))
    kwargs, params = {}, [x]
    if OPTIONS[option].get("mask"):
        lengths = rng.integers(0, steps + 1, size=batch)  # zero-length rows too
        kwargs["mask"] = right_padded_mask(lengths, steps)
    if OPTIONS[option].get("initial_state"):
        states = [leaf(rng.standard_normal((batch, units))) for _ in range(n_states)]
        kwargs["initial_state"] = states
        params += states
    return layer, x, kwargs, params


def _forward(layer, x, kwargs, option):
    training = option == "dropout_training"
    saved = None

    def forward():
        if training:
            layer.cell._rng = generator(3)  # the same dropout mask at every evaluation
        if saved is not None:
            layer.states = saved
        return layer(x, training=training, **kwargs)

    if layer.stateful:  # a first call sets the carried states; check the second call
        layer(x, **kwargs)
        saved = list(layer.states)
        for s in saved:
            s.data[...] = np.random.default_rng(7).standard_normal(s.shape)
    return forward


@pytest.mark.parametrize("option", list(OPTIONS))
@pytest.mark.parametrize("kind", list(KINDS))
def test_gradients_every_option(kind, option):
    case = list(KINDS).index(kind) * 100 + list(OPTIONS).index(option)
    rng = np.random.default_rng(case)
    batch, steps = int(rng.integers(1, 4)), int(rng.integers(1, 5))
    features, units = int(rng.integers(1, 4)), int(rng.integers(1, 4))
    if case % 5 == 0:
        batch, steps = 1, 1  # the smallest problem
    if case % 4 == 1:
        units = 1  # one unit: (1, G) weights, whose transposes are views in both memory orders
    layer, x, kwargs, params = _layer_and_call(kind, option, rng, batch, steps, features, units)
    layer(x, **kwargs)
    randomize_weights(layer, seed=case)
    forward = _forward(layer, x, kwargs, option)
    check_param_gradients(forward, params + layer.weights, seed=case)


@pytest.mark.parametrize("kind", list(KINDS))
def test_gradients_500_steps(kind):
    rng = np.random.default_rng(500)
    layer, x, kwargs, params = _layer_and_call(kind, "mask", rng, 2, 500, 2, 3)
    kwargs["mask"] = right_padded_mask([500, 377], 500)
    layer(x, **kwargs)
    randomize_weights(layer, seed=1, scale=0.3)
    check_param_gradients(lambda: layer(x, **kwargs), params + layer.weights, full_limit=0, directions=2)


@pytest.mark.parametrize("kind", list(KINDS))
def test_recurrent_harness(kind):
    cls, kind_args, gates, n_states = KINDS[kind]
    x = np.random.default_rng(0).standard_normal((3, 4, 2))
    bias = (2, 3 * 5) if kind == "gru_reset_after" else (gates * 5,)
    mask = right_padded_mask([4, 2, 1], 4)
    for args, outputs, out_mask in [
        ({}, [(3, 5)], None),
        ({"return_sequences": True, "return_state": True}, [(3, 4, 5)] + [(3, 5)] * n_states, mask),
        ({"go_backwards": True, "stateful": True}, [(3, 5)], None),
    ]:
        check_layer(lambda: cls(5, **kind_args, **args), x, call_kwargs={"mask": mask}, output_shapes=outputs,
                    weight_shapes=[(2, gates * 5), (5, gates * 5), bias], output_mask=out_mask)
