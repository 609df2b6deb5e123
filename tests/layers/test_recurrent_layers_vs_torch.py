"""SimpleRNN / LSTM / GRU (and stacks, Bidirectional, masks, initial states) equal PyTorch's nn.RNN / nn.LSTM /
nn.GRU on identical weights, float64: outputs, final states and gradients w.r.t. the input, the initial states
and every weight, to 1e-9 relative. Masks are compared with pack_padded_sequence (unsorted lengths)."""
import numpy as np
import pytest

from helpers.torch_ref import require_torch
from layer_harness import right_padded_mask
from rnnkit import Tensor
from rnnkit.interop.pytorch import keras_to_torch, torch_to_keras
from rnnkit.layers import GRU, LSTM, Bidirectional, SimpleRNN

KINDS = {
    "rnn_tanh": ("simple_rnn", SimpleRNN, {"activation": "tanh"}),
    "rnn_relu": ("simple_rnn", SimpleRNN, {"activation": "relu"}),
    "lstm": ("lstm", LSTM, {}),
    "gru": ("gru", GRU, {"reset_after": True}),
}
SCENARIOS = {  # num_layers, bidirectional, padded, initial states
    "single": (1, False, False, False),
    "stacked_3": (3, False, False, False),
    "bidirectional": (1, True, False, False),
    "padded_unsorted": (1, False, True, False),
    "padded_bidirectional": (1, True, True, False),
    "initial_state": (1, False, False, True),
    "stacked_2_bidirectional_padded_initial_state": (2, True, True, True),
}
B, T, D, H = 4, 6, 3, 4
LENGTHS = [3, 6, 1, 4]  # unsorted, as pack_padded_sequence(enforce_sorted=False) allows


def _close(actual, expected, what):
    np.testing.assert_allclose(actual, expected, rtol=1e-9, atol=1e-12, err_msg=what)


def _torch_module(torch, kind_key, num_layers, bidirectional):
    op, _, args = KINDS[kind_key]
    if op == "simple_rnn":
        return torch.nn.RNN(D, H, num_layers=num_layers, nonlinearity=args["activation"], batch_first=True,
                            bidirectional=bidirectional)
    module = torch.nn.LSTM if op == "lstm" else torch.nn.GRU
    return module(D, H, num_layers=num_layers, batch_first=True, bidirectional=bidirectional)


@pytest.mark.parametrize("scenario", list(SCENARIOS))
@pytest.mark.parametrize("kind_key", list(KINDS))
def test_matches_pytorch(kind_key, scenario):
    torch = require_torch()
    op, cls, args = KINDS[kind_key]
    num_layers, bidirectional, padded, with_init = SCENARIOS[scenario]
    dirs = 2 if bidirectional else 1
    n_states = 2 if op == "lstm" else 1
    rng = np.random.default_rng(list(SCENARIOS).index(scenario))
    x = rng.standard_normal((B, T, D))
    states0 = [rng.standard_normal((num_layers * dirs, B, H)) for _ in range(n_states)]
    mask = right_padded_mask(LENGTHS, T) if padded else None

    # ---- rnnkit: a stack of layers, the mask given to the first and propagated by the layers
    layers = []
    for level in range(num_layers):
        inner = cls(H, return_sequences=True, return_state=level == num_layers - 1, dtype="float64", **args)
        layers.append(Bidirectional(inner) if bidirectional else inner)
    x_t = Tensor(x, requires_grad=True, dtype="float64")
    init_t = [[Tensor(s[level * dirs + d], requires_grad=True, dtype="float64") for d in range(dirs)
               for s in states0] for level in range(num_layers)]  # per layer: [h_f, (c_f), h_b, (c_b)]

    def run_rnnkit():
        y = x_t
        for level, layer in enumerate(layers):
            kwargs = {"initial_state": init_t[level]} if with_init else {}
            y = layer(y, mask=mask if level == 0 else None, **kwargs)
        return y[0], y[1:]  # output sequence, top layer's final states (forward..., backward...)

    run_rnnkit()  # build
    for layer in layers:
        layer.set_weights([0.5 * rng.standard_normal(w.shape) for w in layer.get_weights()])
    out, finals = run_rnnkit()

    # ---- PyTorch on the same weights
    module = _torch_module(torch, kind_key, num_layers, bidirectional).double()
    for level, layer in enumerate(layers):
        weights = layer.get_weights()
        for d in range(dirs):
            kernel, recurrent_kernel, bias = weights[3 * d: 3 * d + 3]
            params = keras_to_torch(op, kernel, recurrent_kernel, bias)
            suffix = f"_l{level}" + ("_reverse" if d else "")
            for name, value in params.items():
                getattr(module, name + suffix).data = torch.tensor(value)
    xt = torch.tensor(x, requires_grad=True)
    st = [torch.tensor(s, requires_grad=True) for s in states0]
    source = xt
    if padded:
        source = torch.nn.utils.rnn.pack_padded_sequence(xt, torch.tensor(LENGTHS), batch_first=True,
                                                         enforce_sorted=False)
    hx = None
    if with_init:
        hx = tuple(st) if op == "lstm" else st[0]
    t_out, t_states = module(source, hx)
    if padded:
        t_out, _ = torch.nn.utils.rnn.pad_packed_sequence(t_out, batch_first=True, total_length=T)
    t_states = list(t_states) if op == "lstm" else [t_states]
    top = slice((num_layers - 1) * dirs, num_layers * dirs)
    t_finals = [t_states[k][top][d] for d in range(dirs) for k in range(n_states)]  # rnnkit's order

    _close(out.numpy(), t_out.detach().numpy(), "output sequence")
    assert len(finals) == len(t_finals) == n_states * dirs
    for i, (ours, theirs) in enumerate(zip(finals, t_finals)):
        _close(ours.numpy(), theirs.detach().numpy(), f"final state {i}")

    # ---- gradients of one scalar built the same way on both sides
    r_out = rng.standard_normal(out.shape)
    r_states = [rng.standard_normal((B, H)) for _ in finals]
    loss = (out * Tensor(r_out, dtype="float64")).sum()
    for s, r in zip(finals, r_states):
        loss = loss + (s * Tensor(r, dtype="float64")).sum()
    loss.backward()
    t_loss = (t_out * torch.tensor(r_out)).sum() + sum((s * torch.tensor(r)).sum() for s, r in zip(t_finals, r_states))
    t_loss.backward()

    _close(x_t.grad, xt.grad.numpy(), "grad x")
    if padded:
        assert not np.any(x_t.grad[~mask]), "padded steps get no gradient"
    if with_init:
        for level in range(num_layers):
            for j, t in enumerate(init_t[level]):
                d, k = divmod(j, n_states)
                _close(t.grad, st[k].grad.numpy()[level * dirs + d], f"grad initial state {level}/{j}")
    for level, layer in enumerate(layers):
        grads = [w.grad for w in layer.weights]
        for d in range(dirs):
            suffix = f"_l{level}" + ("_reverse" if d else "")
            g = {n: getattr(module, n + suffix).grad.numpy() for n in ("weight_ih", "weight_hh", "bias_ih", "bias_hh")}
            if op != "gru":  # one Keras bias = bias_ih + bias_hh: its gradient is either one's, not their sum
                g["bias_hh"] = np.zeros_like(g["bias_hh"])
            expected = torch_to_keras(op, **g)
            for name, ours, theirs in zip(("kernel", "recurrent_kernel", "bias"), grads[3 * d: 3 * d + 3], expected):
                _close(ours, theirs, f"grad {name} layer {level} direction {d}")
