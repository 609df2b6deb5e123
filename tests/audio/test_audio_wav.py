"""rnnkit.audio.read_wav against files written by libsndfile (soundfile) in every supported format, against
its own writer, and on broken files."""
import struct

import numpy as np
import pytest
import soundfile

from rnnkit.audio import read_wav, write_wav
from rnnkit.errors import DataError

FORMATS = [  # (soundfile subtype, resolution of the stored values)
    ("PCM_U8", 1 / 128), ("PCM_16", 1 / 32768), ("PCM_24", 1 / 2 ** 23), ("PCM_32", 1 / 2 ** 31),
    ("FLOAT", 1e-7), ("DOUBLE", 1e-12),
]


def _signal(channels, n=1000, seed=0):
    rng = np.random.default_rng(seed)
    x = rng.uniform(-0.9, 0.9, size=(n, channels))
    x[:3] = [[0.0], [0.5], [-0.5]] if channels == 1 else [[0.0, 0.25], [0.5, -0.25], [-0.5, 0.75]]
    return x


@pytest.mark.parametrize("container", ["WAV", "WAVEX"])  # WAVEX: WAVE_FORMAT_EXTENSIBLE
@pytest.mark.parametrize("subtype,step", FORMATS)
@pytest.mark.parametrize("channels,rate", [(1, 8000), (2, 44100), (1, 48000), (2, 16000)])
def test_reads_what_libsndfile_wrote(tmp_path, container, subtype, step, channels, rate):
    x = _signal(channels)
    path = tmp_path / "x.wav"
    soundfile.write(path, x, rate, subtype=subtype, format=container)
    samples, got_rate = read_wav(path, mono=False)
    assert got_rate == rate and samples.dtype == np.float32 and samples.shape == (1000, channels)
    np.testing.assert_allclose(samples, x, atol=step * 1.01 + 1e-7)
    expected, _ = soundfile.read(path, dtype="float64")  # libsndfile's own decoding
    np.testing.assert_allclose(samples, expected.reshape(samples.shape), atol=2e-7)
    mono, _ = read_wav(path)
    np.testing.assert_allclose(mono, x.mean(axis=1), atol=step * 1.01 + 1e-6)


@pytest.mark.parametrize("encoding,bits", [("pcm", 8), ("pcm", 16), ("pcm", 24), ("pcm", 32), ("float", 32),
                                           ("float", 64)])
@pytest.mark.parametrize("extensible", [False, True])
def test_own_writer_is_read_by_libsndfile(tmp_path, encoding, bits, extensible):
    x = _signal(2, n=301)  # odd byte count for 8 bits: the pad byte
    path = tmp_path / "y.wav"
    write_wav(path, x, 22050, bits=bits, encoding=encoding, extensible=extensible)
    theirs, rate = soundfile.read(path, dtype="float64")
    ours, our_rate = read_wav(path, mono=False)
    assert rate == our_rate == 22050
    np.testing.assert_allclose(theirs, x, atol=1 / 2 ** (bits - 1) + 1e-7)
    np.testing.assert_allclose(ours, theirs, atol=2e-7)


def _good_bytes(tmp_path):
    path = tmp_path / "good.wav"
    write_wav(path, _signal(1, n=400), 8000)
    return path.read_bytes()


def _error(tmp_path, data: bytes) -> str:
    path = tmp_path / "broken.wav"
    path.write_bytes(data)
    with pytest.raises(DataError) as info:
        read_wav(path)
    message = str(info.value)
    assert str(path) in message and "\n" not in message
    return message


def test_broken_files(tmp_path):
    good = _good_bytes(tmp_path)
    assert "empty" in _error(tmp_path, b"")
    assert "not a WAV file" in _error(tmp_path, b"OggS" + good[4:])
    assert "not a WAV file" in _error(tmp_path, good[:8] + b"AVI " + good[12:])
    assert "truncated" in _error(tmp_path, good[: len(good) - 100])
    assert "truncated" in _error(tmp_path, good[:30])  # cut inside the fmt chunk
    assert "no 'data' chunk" in _error(tmp_path, good[:36])
    zero = bytearray(good[:44])
    zero[40:44] = struct.pack("<I", 0)
    assert "zero length" in _error(tmp_path, bytes(zero))


def test_unsupported_encodings(tmp_path):
    for subtype, name in (("ULAW", "mu-law"), ("IMA_ADPCM", "IMA ADPCM")):
        path = tmp_path / f"{subtype}.wav"
        soundfile.write(path, _signal(1), 8000, subtype=subtype)
        with pytest.raises(DataError, match=f"unsupported encoding.*{name}"):
            read_wav(path)
    path = tmp_path / "fast.wav"
    soundfile.write(path, _signal(1), 96000, subtype="PCM_16")
    with pytest.raises(DataError, match="96000 Hz is not supported"):
        read_wav(path)
    good = bytearray(_good_bytes(tmp_path))
    good[34:36] = struct.pack("<H", 12)  # 12 bits per sample
    good[32:34] = struct.pack("<H", 2)
    path.write_bytes(bytes(good))
    with pytest.raises(DataError, match="12-bit PCM is not supported"):
        read_wav(path)


def test_fsdd_file_matches_libsndfile(shared_data):
    path = shared_data / "fsdd" / "recordings" / "3_theo_7.wav"
    samples, rate = read_wav(path)
    expected, expected_rate = soundfile.read(path, dtype="float32")
    assert rate == expected_rate == 8000
    np.testing.assert_array_equal(samples, expected)
