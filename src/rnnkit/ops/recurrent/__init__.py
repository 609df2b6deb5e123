"""Fused recurrent sequence ops (one op per whole sequence, hand-derived BPTT) and their one-step cells.

Weights are in Keras layout: ``kernel (D, G*H)``, ``recurrent_kernel (H, G*H)``, gate order LSTM i, f, c, o and
GRU z, r, h. Inputs are batch-major ``(B, T, D)``. See each module for the equations.

Each op keeps its large internal arrays for reuse by later calls once its backward pass has run (see
``common.scratch``), so ``backward()`` may pass through one op only once per forward pass, as in PyTorch
without ``retain_graph``; a second pass raises ``RnnkitError``. The ``outputs`` tensor's data is a read-only
view of the op's state history.

>>> import numpy as np
>>> from rnnkit.ops.recurrent import lstm
>>> out, h, c = lstm(np.zeros((2, 3, 4)), np.zeros((4, 8)), np.zeros((2, 8)), np.zeros(8), np.zeros((2, 2)),
...                  np.zeros((2, 2)))
>>> out.shape, h.shape, c.shape
((2, 3, 2), (2, 2), (2, 2))
"""
from rnnkit.ops.recurrent.gate_activations import ACTIVATIONS, GateActivation, get_activation
from rnnkit.ops.recurrent.gru import gru, gru_cell
from rnnkit.ops.recurrent.lstm import lstm, lstm_cell
from rnnkit.ops.recurrent.recording import record_step_gradients
from rnnkit.ops.recurrent.simple_rnn import simple_rnn, simple_rnn_cell

__all__ = ["simple_rnn", "simple_rnn_cell", "lstm", "lstm_cell", "gru", "gru_cell", "get_activation",
           "GateActivation", "ACTIVATIONS", "record_step_gradients"]
