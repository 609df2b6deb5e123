"""Run PyTorch's nn.RNN / nn.LSTM / nn.GRU on rnnkit's (Keras-layout) weights, forward and backward, float64.

Used by the PyTorch comparison tests and by ``scripts/make_torch_fixtures.py``.
"""
from __future__ import annotations

import numpy as np

from rnnkit.interop import keras_to_torch, torch_to_keras


def torch_module(torch, kind, case, activation="tanh"):
    """The PyTorch module for ``kind`` holding ``case``'s weights (mapped with rnnkit.interop)."""
    D, H = case["x"].shape[2], case["h0"].shape[1]
    bias = case["bias"] is not None
    if kind == "simple_rnn":
        module = torch.nn.RNN(D, H, nonlinearity=activation, batch_first=True, bias=bias)
    elif kind == "lstm":
        module = torch.nn.LSTM(D, H, batch_first=True, bias=bias)
    else:
        module = torch.nn.GRU(D, H, batch_first=True, bias=bias)
    module = module.double()
    params = keras_to_torch(kind, case["kernel"], case["recurrent_kernel"], case["bias"])
    with torch.no_grad():
        for name, value in params.items():
            if value is not None:
                getattr(module, name + "_l0").copy_(torch.from_numpy(value))
    return module


def torch_run(torch, kind, case, g_out, g_states, lengths=None, activation="tanh"):
    """Forward and backward in PyTorch with output gradient ``g_out (B, T, H)`` and final-state gradients.

    Returns a dict: ``outputs`` (zeros past each length), ``h_last`` (``c_last``), and the gradients ``x``,
    ``h0`` (``c0``), ``kernel``, ``recurrent_kernel``, ``bias`` in Keras layout.
    """
    module = torch_module(torch, kind, case, activation)
    x = torch.tensor(case["x"], requires_grad=True)
    states = [torch.tensor(case["h0"][None], requires_grad=True)]
    if kind == "lstm":
        states.append(torch.tensor(case["c0"][None], requires_grad=True))
    hx = tuple(states) if kind == "lstm" else states[0]
    T = x.shape[1]
    if lengths is None:
        out, final = module(x, hx)
    else:
        pack = torch.nn.utils.rnn.pack_padded_sequence(x, torch.tensor(lengths), batch_first=True,
                                                       enforce_sorted=False)
        packed_out, final = module(pack, hx)
        out, _ = torch.nn.utils.rnn.pad_packed_sequence(packed_out, batch_first=True, total_length=T)
    finals = list(final) if kind == "lstm" else [final]
    loss = (out * torch.tensor(g_out)).sum()
    for f, g in zip(finals, g_states):
        loss = loss + (f[0] * torch.tensor(g)).sum()
    loss.backward()
    result = {"outputs": out.detach().numpy(), "h_last": finals[0][0].detach().numpy(),
              "x": x.grad.numpy(), "h0": states[0].grad[0].numpy()}
    if kind == "lstm":
        result["c_last"] = finals[1][0].detach().numpy()
        result["c0"] = states[1].grad[0].numpy()
    params = {name: getattr(module, name + "_l0", None) for name in ("weight_ih", "weight_hh", "bias_ih", "bias_hh")}
    grads = {k: None if p is None else p.grad.numpy() for k, p in params.items()}
    if kind != "gru" and grads["bias_ih"] is not None:
        grads["bias_hh"] = np.zeros_like(grads["bias_hh"])  # Keras' single bias feeds bias_ih's slot only
    result["kernel"], result["recurrent_kernel"], result["bias"] = torch_to_keras(kind, **grads)
    return result
