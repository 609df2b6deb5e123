"""SimpleRNN: a fully connected recurrent layer, ``h_t = activation(x_t K + h_{t-1} U + b)``.

>>> import numpy as np
>>> from rnnkit.layers import SimpleRNN
>>> layer = SimpleRNN(3, kernel_initializer="ones", recurrent_initializer="zeros")
>>> out = layer(np.full((1, 2, 1), 0.5))     # each step: tanh(0.5 * 1 + 0) per unit
>>> np.round(out.numpy(), 4)
array([[0.4621, 0.4621, 0.4621]], dtype=float32)
"""
from rnnkit.layers.cells import SimpleRNNCell
from rnnkit.layers.recurrent import RNN


class SimpleRNN(RNN):
    """Fully connected RNN over a ``(batch, time, features)`` sequence (Keras ``SimpleRNN``).

    Args:
        units: size ``H`` of the hidden state.
        activation: ``"tanh"`` (default), ``"relu"`` (as ``torch.nn.RNN(nonlinearity="relu")``), ...
        use_bias: True. kernel_initializer: ``"glorot_uniform"``. recurrent_initializer: ``"orthogonal"``.
        bias_initializer: ``"zeros"``. dropout: 0.0 (input dropout, one mask per sequence, training only).
        recurrent_dropout: 0.0 (a mask on the recurrent state, once per sequence, training only).
        seed: None (seed of the dropout masks).
        return_sequences, return_state, go_backwards, stateful, unroll: see :class:`RNN`.

    Weights: ``kernel (D, H)``, ``recurrent_kernel (H, H)``, ``bias (H,)``.
    Call shapes: ``(B, T, D)`` -> ``(B, H)``, or ``(B, T, H)`` with ``return_sequences``.

    >>> import numpy as np
    >>> SimpleRNN(4, activation="relu", return_sequences=True)(np.ones((2, 5, 3))).shape
    (2, 5, 4)
    """

    cell_class = SimpleRNNCell
