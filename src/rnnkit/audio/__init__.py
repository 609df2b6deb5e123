"""Audio for the speech task: WAV files, log-mel spectrograms and MFCCs (librosa's definitions, in NumPy),
normalisation and padding with masks.

>>> import numpy as np
>>> from rnnkit.audio import FeatureConfig, pad_sequences
>>> config = FeatureConfig(kind="logmel", n_mels=40)
>>> a = config.compute(np.zeros(1600, dtype=np.float32), 8000)
>>> b = config.compute(np.zeros(800, dtype=np.float32), 8000)
>>> x, mask = pad_sequences([a, b])
>>> x.shape, mask.sum(axis=1).tolist()
((2, 21, 40), [21, 11])
"""
from rnnkit.audio.augment import AugmentConfig, augment
from rnnkit.audio.features import (FeatureConfig, dct_matrix, hz_to_mel, mel_filterbank, mel_to_hz, melspectrogram,
                                   mfcc, power_spectrogram, power_to_db)
from rnnkit.audio.sequences import Standardizer, normalize_utterance, pad_sequences
from rnnkit.audio.wav import read_wav, write_wav

__all__ = ["AugmentConfig", "FeatureConfig", "augment", "Standardizer", "dct_matrix", "hz_to_mel", "mel_filterbank",
           "mel_to_hz", "melspectrogram", "mfcc", "normalize_utterance", "pad_sequences", "power_spectrogram", "power_to_db",
           "read_wav", "write_wav"]
