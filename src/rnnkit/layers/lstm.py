"""LSTM: long short-term memory layer with Keras' fused weight layout (gates i, f, c, o).

>>> import numpy as np
>>> from rnnkit.layers import LSTM
>>> out, h, c = LSTM(5, return_state=True)(np.ones((2, 7, 3)))
>>> out.shape, h.shape, c.shape
((2, 5), (2, 5), (2, 5))
"""
from rnnkit.layers.cells import LSTMCell
from rnnkit.layers.recurrent import RNN


class LSTM(RNN):
    """Long short-term memory over a ``(batch, time, features)`` sequence (Keras ``LSTM``)::

        [i, f, g, o] = x_t K + h_{t-1} U + b;   i, f, o = sigmoid(.);   g = tanh(.)
        c_t = f * c_{t-1} + i * g;               h_t = o * tanh(c_t)

    Args:
        units: size ``H`` of the hidden and cell states.
        activation: ``"tanh"``. recurrent_activation: ``"sigmoid"`` (gates i, f, o).
        use_bias: True. kernel_initializer: ``"glorot_uniform"``. recurrent_initializer: ``"orthogonal"``.
        bias_initializer: ``"zeros"``. unit_forget_bias: True (forget-gate bias starts at 1).
        dropout: 0.0 (input dropout, one mask per sequence, training only). recurrent_dropout: 0.0 (masks
            per gate on the recurrent state, once per sequence, training only; see :class:`RNN`).
        seed: None. return_sequences, return_state, go_backwards, stateful, unroll: see :class:`RNN`.

    Weights: ``kernel (D, 4H)``, ``recurrent_kernel (H, 4H)``, ``bias (4H,)``, gate blocks i, f, c, o.
    States: ``[h, c]``; ``return_state=True`` returns ``[output, h, c]``.

    >>> import numpy as np
    >>> layer = LSTM(2)
    >>> _ = layer(np.ones((1, 4, 3))); layer.get_weights()[2].tolist()     # unit_forget_bias
    [0.0, 0.0, 1.0, 1.0, 0.0, 0.0, 0.0, 0.0]
    """

    cell_class = LSTMCell
