"""BatchNormalization (Keras 3): batch statistics in training, moving statistics in inference.

In training (``layer(x, training=True)``, as ``fit`` calls it) the output uses the batch's mean and biased
variance over every axis but ``axis``, and the moving statistics (non-trainable weights, saved with the model)
move towards them: ``moving = moving * momentum + batch * (1 - momentum)``. Otherwise, or when the layer is
not ``trainable`` (Keras' rule for fine-tuning), ``y = (x - moving_mean) / sqrt(moving_variance + epsilon) *
gamma + beta``.

>>> import numpy as np
>>> from rnnkit.layers import BatchNormalization
>>> layer = BatchNormalization(momentum=0.5)
>>> x = np.array([[0.0, 10.0], [2.0, 30.0]])
>>> layer(x).numpy().round(2)                      # inference: moving mean 0, variance 1
array([[ 0.  , 10.  ],
       [ 2.  , 29.99]], dtype=float32)
>>> _ = layer(x, training=True)
>>> [w.name.split("/")[1] for w in layer.weights], layer.moving_mean.numpy()
(['gamma', 'beta', 'moving_mean', 'moving_variance'], array([ 0.5, 10. ], dtype=float32))
"""
from __future__ import annotations

import numbers

import numpy as np

from rnnkit.errors import ConfigError, ShapeError
from rnnkit.layers.arguments import initializer_config
from rnnkit.layers.base import Layer
from rnnkit.ops.normalization import batch_norm


class BatchNormalization(Layer):
    """Normalise each feature (Keras ``BatchNormalization``).

    Args:
        axis: the feature axis, default -1 (channels_last).
        momentum: 0.99. epsilon: 0.001.
        center: learn ``beta`` (True). scale: learn ``gamma`` (True).
        beta_initializer ``"zeros"``, gamma_initializer ``"ones"``, moving_mean_initializer ``"zeros"``,
        moving_variance_initializer ``"ones"``.

    Weights (Keras' order): ``gamma``, ``beta`` (trainable, when ``scale`` / ``center``), ``moving_mean``,
    ``moving_variance`` (non-trainable), each ``(features,)``.

    >>> import numpy as np
    >>> layer = BatchNormalization(center=False)
    >>> layer(np.ones((2, 5, 3))).shape, [w.shape for w in layer.trainable_weights], len(layer.weights)
    ((2, 5, 3), [(3,)], 3)
    """

    def __init__(self, axis=-1, momentum=0.99, epsilon=1e-3, center=True, scale=True, beta_initializer="zeros",
                 gamma_initializer="ones", moving_mean_initializer="zeros", moving_variance_initializer="ones",
                 **kwargs):
        super().__init__(**kwargs)
        if isinstance(axis, bool) or not isinstance(axis, numbers.Integral):
            raise ConfigError(f"BatchNormalization: axis must be an integer; got {axis!r}")
        self.axis = int(axis)
        for argument, value in (("momentum", momentum), ("epsilon", epsilon)):
            if isinstance(value, bool) or not isinstance(value, numbers.Real) or not np.isfinite(value):
                raise ConfigError(f"BatchNormalization: {argument} must be a number; got {value!r}")
        if not 0.0 <= float(momentum) <= 1.0 or float(epsilon) <= 0.0:
            raise ConfigError(f"BatchNormalization: expected momentum in [0, 1] and epsilon > 0; got "
                              f"momentum={momentum!r}, epsilon={epsilon!r}")
        self.momentum = float(momentum)
        self.epsilon = float(epsilon)
        self.center = bool(center)
        self.scale = bool(scale)
        self.beta_initializer = initializer_config(beta_initializer)
        self.gamma_initializer = initializer_config(gamma_initializer)
        self.moving_mean_initializer = initializer_config(moving_mean_initializer)
        self.moving_variance_initializer = initializer_config(moving_variance_initializer)
        self.gamma = self.beta = self.moving_mean = self.moving_variance = None

    def _axis_of(self, shape: tuple) -> int:
        if not -len(shape) <= self.axis < len(shape) or len(shape) < 2:
            raise ShapeError(f"layer {self.name!r}: axis={self.axis} is out of range for input shape {shape}")
        return self.axis % len(shape)

    def build(self, input_shape):
        features = input_shape[self._axis_of(input_shape)]
        if features is None:
            raise ShapeError(f"layer {self.name!r}: the feature axis {self.axis} of the input must be known; "
                             f"got shape {input_shape}")
        if self.scale:
            self.gamma = self.add_weight("gamma", (features,), self.gamma_initializer)
        if self.center:
            self.beta = self.add_weight("beta", (features,), self.beta_initializer)
        self.moving_mean = self.add_weight("moving_mean", (features,), self.moving_mean_initializer, trainable=False)
        self.moving_variance = self.add_weight("moving_variance", (features,), self.moving_variance_initializer,
                                               trainable=False)

    def _check_same_features(self, shape):
        axis = self._axis_of(shape)
        built = self._build_shape
        if len(built) != len(shape) or built[self.axis % len(built)] != shape[axis]:
            raise ShapeError(f"layer {self.name!r} was built for inputs of shape {built} (features on axis "
                             f"{self.axis}); got shape {shape}")

    def call(self, inputs, training=False):
        if training and self.trainable:
            y, mean, variance = batch_norm(inputs, self.gamma, self.beta, epsilon=self.epsilon, axis=self.axis)
            m = self.momentum
            for moving, batch in ((self.moving_mean, mean), (self.moving_variance, variance)):
                moving.data[...] = moving.data * m + batch * (1.0 - m)
            return y
        y, _, _ = batch_norm(inputs, self.gamma, self.beta, self.moving_mean.data, self.moving_variance.data,
                             self.epsilon, self.axis)
        return y

    def get_config(self):
        config = super().get_config()
        config.update(axis=self.axis, momentum=self.momentum, epsilon=self.epsilon, center=self.center,
                      scale=self.scale, beta_initializer=self.beta_initializer,
                      gamma_initializer=self.gamma_initializer, moving_mean_initializer=self.moving_mean_initializer,
                      moving_variance_initializer=self.moving_variance_initializer)
        return config
