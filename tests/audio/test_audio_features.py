"""rnnkit.audio features against librosa 0.11 on real FSDD recordings, normalisation and padding."""
import numpy as np
import pytest

import librosa  # noqa: E402  (test extra)

from rnnkit.audio import (FeatureConfig, Standardizer, mel_filterbank, melspectrogram, mfcc,  # noqa: E402
                          normalize_utterance, pad_sequences, power_to_db, read_wav)

FILES = ["0_george_0.wav", "7_jackson_12.wav", "4_lucas_33.wav", "9_nicolas_48.wav", "2_theo_5.wav",
         "5_yweweler_21.wav"]
SETTINGS = [
    dict(n_fft=256, hop_length=80, win_length=200, n_mels=40, fmin=20.0, fmax=None, center=True),
    dict(n_fft=512, hop_length=128, win_length=None, n_mels=64, fmin=0.0, fmax=3800.0, center=False),
    dict(n_fft=200, hop_length=64, win_length=160, n_mels=23, fmin=60.0, fmax=3000.0, center=True),
]


@pytest.fixture(scope="module")
def signals(shared_data):
    return [read_wav(shared_data / "fsdd" / "recordings" / name) for name in FILES]


@pytest.mark.parametrize("kw", SETTINGS)
def test_features_equal_librosa(signals, kw):
    for y, sr in signals:
        theirs = librosa.feature.melspectrogram(y=y, sr=sr, **kw)
        ours = melspectrogram(y, sr=sr, **kw)
        assert ours.shape == theirs.shape
        np.testing.assert_allclose(ours, theirs, rtol=1e-4, atol=1e-6 * theirs.max())
        np.testing.assert_allclose(power_to_db(ours), librosa.power_to_db(theirs), atol=1e-3)
        theirs_mfcc = librosa.feature.mfcc(y=y, sr=sr, n_mfcc=13, **kw)
        ours_mfcc = mfcc(y, sr=sr, n_mfcc=13, **kw)
        np.testing.assert_allclose(ours_mfcc, theirs_mfcc, atol=1e-3)


def test_filterbank_equals_librosa():
    for sr, n_fft, n_mels, fmin, fmax in ((8000, 256, 40, 0.0, None), (16000, 512, 80, 50.0, 7600.0)):
        np.testing.assert_allclose(mel_filterbank(sr, n_fft, n_mels, fmin, fmax),
                                   librosa.filters.mel(sr=sr, n_fft=n_fft, n_mels=n_mels, fmin=fmin, fmax=fmax),
                                   rtol=1e-5, atol=1e-9)


def test_feature_config_equals_librosa(signals):
    y, sr = signals[1]
    config = FeatureConfig(kind="mfcc", n_mfcc=20)
    expected = librosa.feature.mfcc(y=y, sr=sr, n_mfcc=20, n_fft=256, hop_length=80, win_length=200, n_mels=40,
                                    fmin=20.0).T
    np.testing.assert_allclose(config.compute(y, sr), expected, atol=1e-3)
    logmel = FeatureConfig(kind="logmel").compute(y, sr)
    expected = librosa.power_to_db(librosa.feature.melspectrogram(y=y, sr=sr, n_fft=256, hop_length=80,
                                                                  win_length=200, n_mels=40, fmin=20.0)).T
    np.testing.assert_allclose(logmel, expected, atol=1e-3)


def test_normalisation_and_padding():
    rng = np.random.default_rng(0)
    a, b = rng.normal(3, 2, (30, 4)), rng.normal(-1, 5, (12, 4))
    u = normalize_utterance(a)
    np.testing.assert_allclose(u.mean(0), 0, atol=1e-5)
    np.testing.assert_allclose(u.std(0), 1, atol=1e-3)
    scaler = Standardizer().fit([a, b])
    frames = np.concatenate([a, b])
    np.testing.assert_allclose(scaler.mean, frames.mean(0))
    np.testing.assert_allclose(scaler.std, frames.std(0))
    x, mask = pad_sequences([a, b], max_length=40)
    assert x.shape == (2, 40, 4) and mask.sum(1).tolist() == [30, 12]
    np.testing.assert_allclose(x[1, :12], b, rtol=1e-6)
    assert not x[1, 12:].any()
    with pytest.raises(ValueError, match="shorter than the longest"):
        pad_sequences([a], max_length=10)
