"""GRU: gated recurrent unit layer with Keras' fused weight layout (gates z, r, h).

>>> import numpy as np
>>> from rnnkit.layers import GRU
>>> layer = GRU(4)
>>> layer(np.ones((2, 6, 3))).shape, [w.shape for w in layer.get_weights()]
((2, 4), [(3, 12), (4, 12), (2, 12)])
"""
from rnnkit.layers.cells import GRUCell
from rnnkit.layers.recurrent import RNN


class GRU(RNN):
    """Gated recurrent unit over a ``(batch, time, features)`` sequence (Keras ``GRU``)::

        z = sigmoid(x_t K_z + h U_z + b_z),   r = sigmoid(x_t K_r + h U_r + b_r)
        n = tanh(x_t K_h + b_h + r * (h U_h + b'_h))       (reset_after=True, as cuDNN / PyTorch)
        n = tanh(x_t K_h + (r * h) U_h + b_h)               (reset_after=False)
        h_t = z * h_{t-1} + (1 - z) * n

    Args:
        units: size ``H`` of the hidden state.
        activation: ``"tanh"``. recurrent_activation: ``"sigmoid"`` (gates z, r).
        use_bias: True. kernel_initializer: ``"glorot_uniform"``. recurrent_initializer: ``"orthogonal"``.
        bias_initializer: ``"zeros"``. reset_after: True (bias shape ``(2, 3H)``; False: ``(3H,)``).
        dropout: 0.0 (input dropout, one mask per sequence, training only). recurrent_dropout: 0.0 (masks
            per gate on the recurrent state, once per sequence, training only; see :class:`RNN`).
        seed: None. return_sequences, return_state, go_backwards, stateful, unroll: see :class:`RNN`.

    Weights: ``kernel (D, 3H)``, ``recurrent_kernel (H, 3H)``, ``bias``, gate blocks z, r, h.

    >>> import numpy as np
    >>> layer = GRU(2, reset_after=False)
    >>> _ = layer(np.ones((1, 4, 3))); layer.bias.shape
    (6,)
    """

    cell_class = GRUCell
