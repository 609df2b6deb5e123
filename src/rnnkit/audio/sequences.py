"""Normalisation and padding of variable-length feature sequences ``(frames, features)``.

- ``normalize_utterance``: each utterance to zero mean and unit variance per feature over its own frames
  (cepstral mean and variance normalisation, which removes much of the speaker and channel);
- ``Standardizer``: one mean and deviation per feature over all frames of the training utterances only, then
  applied to any utterance; stored as plain lists with a model;
- ``pad_sequences``: a batch ``(B, T, F)`` padded with ``value`` at the end, and the mask ``(B, T)`` of real
  frames. With the default 0.0 a ``Masking`` layer recovers the mask (a real frame of all-zero features has
  probability zero after normalisation).

>>> import numpy as np
>>> a, b = np.ones((3, 2)), np.arange(4.0).reshape(2, 2)
>>> x, mask = pad_sequences([a, b])
>>> x.shape, mask.tolist()
((2, 3, 2), [[True, True, True], [True, True, False]])
>>> scaler = Standardizer().fit([a, b])
>>> print(np.round(scaler.transform(b), 3))
[[-1.581 -0.5  ]
 [ 1.581  2.   ]]
"""
from __future__ import annotations

import numpy as np

from rnnkit.errors import DataError, ShapeError

EPSILON = 1e-5


def normalize_utterance(features: np.ndarray) -> np.ndarray:
    """``(frames, F)`` features with zero mean and unit variance per feature over the frames."""
    features = np.asarray(features, dtype=np.float32)
    mean = features.mean(axis=0, keepdims=True)
    std = features.std(axis=0, keepdims=True)
    return ((features - mean) / (std + EPSILON)).astype(np.float32)


class Standardizer:
    """Dataset normalisation: per-feature mean and standard deviation of the training frames.

    >>> s = Standardizer().fit([np.array([[0.0], [2.0]])])
    >>> s.mean.tolist(), s.std.tolist(), Standardizer.from_dict(s.to_dict()).transform(np.array([[4.0]])).round(3)
    ([1.0], [1.0], array([[3.]], dtype=float32))
    """

    def __init__(self, mean=None, std=None):
        self.mean = None if mean is None else np.asarray(mean, dtype=np.float64)
        self.std = None if std is None else np.asarray(std, dtype=np.float64)

    def fit(self, sequences) -> "Standardizer":
        """Statistics over every frame of ``sequences`` (a list of ``(frames, F)`` arrays)."""
        sequences = list(sequences)
        if not sequences:
            raise DataError("Standardizer.fit needs at least one sequence")
        count = 0
        total = np.zeros(np.asarray(sequences[0]).shape[-1])
        squares = np.zeros_like(total)
        for seq in sequences:
            seq = np.asarray(seq, dtype=np.float64)
            count += seq.shape[0]
            total += seq.sum(axis=0)
            squares += (seq ** 2).sum(axis=0)
        self.mean = total / count
        self.std = np.sqrt(np.maximum(squares / count - self.mean ** 2, 0.0))
        return self

    def transform(self, features: np.ndarray) -> np.ndarray:
        if self.mean is None:
            raise DataError("Standardizer.transform before fit")
        features = np.asarray(features)
        if features.shape[-1] != self.mean.shape[0]:
            raise ShapeError(f"features have {features.shape[-1]} values per frame; the statistics have "
                             f"{self.mean.shape[0]}")
        return ((features - self.mean) / (self.std + EPSILON)).astype(np.float32)

    def to_dict(self) -> dict:
        return {"mean": self.mean.tolist(), "std": self.std.tolist()}

    @classmethod
    def from_dict(cls, values: dict) -> "Standardizer":
        try:
            return cls(values["mean"], values["std"])
        except (KeyError, TypeError) as error:
            raise DataError(f"normalisation statistics {values!r} lack 'mean' and 'std' ({error})") from None


def pad_sequences(sequences, max_length: int | None = None, value: float = 0.0) -> tuple:
    """``(x, mask)``: ``(B, T, F)`` float32 batch padded at the end with ``value``, ``(B, T)`` bool mask of the
    real frames; ``T`` is the longest sequence, or ``max_length`` (which must hold every sequence: nothing is
    cut)."""
    sequences = [np.asarray(s, dtype=np.float32) for s in sequences]
    if not sequences:
        raise DataError("pad_sequences needs at least one sequence")
    if any(s.ndim != 2 for s in sequences):
        raise ShapeError(f"sequences must be (frames, features); got shapes {sorted({s.shape for s in sequences})}")
    longest = max(s.shape[0] for s in sequences)
    steps = longest if max_length is None else int(max_length)
    if steps < longest:
        raise ShapeError(f"max_length {steps} is shorter than the longest sequence ({longest} frames)")
    x = np.full((len(sequences), steps, sequences[0].shape[1]), value, dtype=np.float32)  # (B, T, F)
    mask = np.zeros((len(sequences), steps), dtype=bool)  # (B, T)
    for i, s in enumerate(sequences):
        x[i, : len(s)] = s
        mask[i, : len(s)] = True
    return x, mask
