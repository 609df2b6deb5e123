"""``rnnkit.utils.get_file`` and ``rnnkit.datasets.imdb`` against a local HTTP server on 127.0.0.1 serving small
files in Keras' formats; Keras' own ``imdb.load_data`` on the same file is the reference (Keras unpickles in
this test; rnnkit never does)."""
from __future__ import annotations

import hashlib
import io
import json
import pickle
import tarfile
import zipfile

import numpy as np
import pytest

from rnnkit.datasets import imdb
from rnnkit.datasets.npy_objects import read_list_array
from rnnkit.errors import ConfigError, DataError, NetworkError
from rnnkit.utils import get_file


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


# ------------------------------------------------------------------------------------------------ get_file
def test_download_once_into_keras_layout_under_rnnkit_cache(server, cache):
    server.routes["/files/a.bin"] = (b"hello" * 100, "ok")
    path = get_file(origin=server.url + "files/a.bin", file_hash=sha256(b"hello" * 100), verbose=False)
    assert path == str(cache / "datasets" / "a.bin")
    assert open(path, "rb").read() == b"hello" * 100
    assert get_file("a.bin", origin=server.url + "files/a.bin", verbose=False) == path
    assert server.hits["/files/a.bin"] == 1  # the second call used the cache
    other = get_file("b.bin", origin=server.url + "files/a.bin", cache_subdir="mine", cache_dir=cache / "x",
                     verbose=False)
    assert other == str(cache / "x" / "mine" / "b.bin")


def test_wrong_hash_leaves_nothing_and_a_stale_file_is_fetched_again(server, cache):
    server.routes["/a.bin"] = (b"new", "ok")
    with pytest.raises(NetworkError, match="SHA-256 mismatch"):
        get_file("a.bin", origin=server.url + "a.bin", file_hash="0" * 64, verbose=False)
    assert list((cache / "datasets").iterdir()) == []  # no partial or wrong file in the cache
    (cache / "datasets" / "a.bin").write_bytes(b"old")
    path = get_file("a.bin", origin=server.url + "a.bin", file_hash=sha256(b"new"), verbose=False)
    assert open(path, "rb").read() == b"new"
    md5 = hashlib.md5(b"new").hexdigest()  # a 32-digit hash is MD5, as Keras' hash_algorithm="auto"
    assert get_file("a.bin", origin=server.url + "a.bin", file_hash=md5, verbose=False) == path


def test_truncated_download_and_bad_arguments(server, cache):
    server.routes["/cut.bin"] = (b"x" * 1000, "short")
    with pytest.raises(NetworkError):
        get_file("cut.bin", origin=server.url + "cut.bin", verbose=False)
    assert not (cache / "datasets" / "cut.bin").exists()
    with pytest.raises(ConfigError, match="not a path"):
        get_file("../evil.bin", origin=server.url + "cut.bin")
    with pytest.raises(ConfigError, match="origin"):
        get_file("a.bin")


def _tar(members) -> bytes:
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as archive:
        for name, data, kind in members:
            info = tarfile.TarInfo(name)
            if kind == "symlink":
                info.type, info.linkname = tarfile.SYMTYPE, data
                archive.addfile(info)
            else:
                info.size = len(data)
                archive.addfile(info, io.BytesIO(data))
    return buffer.getvalue()


def _zip(members) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for name, data in members:
            archive.writestr(name, data)
    return buffer.getvalue()


def test_extract_tar_and_zip_with_keras_names(server, cache):
    server.routes["/d.tar.gz"] = (_tar([("d/a.txt", b"A", "file"), ("d/sub/b.txt", b"B", "file")]), "ok")
    server.routes["/z.zip"] = (_zip([("z/c.txt", b"C")]), "ok")
    folder = get_file("d.tar.gz", origin=server.url + "d.tar.gz", extract=True, verbose=False)
    assert folder == str(cache / "datasets" / "d_extracted")  # Keras 3: fname with an extension
    assert open(f"{folder}/d/sub/b.txt", "rb").read() == b"B"
    folder = get_file("zdata", origin=server.url + "z.zip", extract=True, verbose=False)
    assert folder == str(cache / "datasets" / "zdata")  # without: <fname>, and the archive as <fname>_archive
    assert (cache / "datasets" / "zdata_archive").is_file() and open(f"{folder}/z/c.txt").read() == "C"


@pytest.mark.parametrize("archive", [
    ("evil.tar.gz", _tar([("../outside.txt", b"x", "file")])),
    ("evil.tar.gz", _tar([("/tmp/abs.txt", b"x", "file")])),
    ("evil.tar.gz", _tar([("link", "../../..", "symlink"), ("ok.txt", b"x", "file")])),
    ("evil.zip", _zip([("../outside.txt", b"x")])),
    ("evil.zip", _zip([("a/../../outside.txt", b"x")])),
])
def test_path_traversal_is_refused(server, cache, archive):
    name, data = archive
    server.routes["/" + name] = (data, "ok")
    with pytest.raises(DataError, match="outside the extraction folder|absolute path"):
        get_file(name, origin=server.url + name, extract=True, verbose=False)
    assert not (cache / "outside.txt").exists() and not (cache / "datasets" / "outside.txt").exists()
    assert not any(p.name.endswith("_extracted") for p in (cache / "datasets").iterdir())


# ------------------------------------------------------------------------------------------------ imdb
def _object_array(sequences) -> np.ndarray:
    array = np.empty(len(sequences), dtype=object)
    array[:] = [list(s) for s in sequences]
    return array


def _npy(array, protocol=None) -> bytes:
    buffer = io.BytesIO()
    if protocol is None:
        np.save(buffer, array, allow_pickle=True)
    else:  # as older Pythons wrote it
        np.lib.format.write_array_header_1_0(buffer, {"descr": "|O", "fortran_order": False, "shape": array.shape})
        buffer.write(pickle.dumps(array, protocol=protocol))
    return buffer.getvalue()


def make_imdb(seed=0, train=60, test=40, vocabulary=400, protocol=None) -> bytes:
    """An ``imdb.npz`` in Keras' layout: object arrays of word-index lists (1 = most frequent), int labels."""
    rng = np.random.default_rng(seed)

    def reviews(n):
        return [rng.integers(1, vocabulary, rng.integers(1, 30)).tolist() for _ in range(n)]

    members = {"x_train": _object_array(reviews(train)), "y_train": rng.integers(0, 2, train),
               "x_test": _object_array(reviews(test)), "y_test": rng.integers(0, 2, test)}
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for name, array in members.items():
            archive.writestr(name + ".npy", _npy(array, protocol) if array.dtype == object else _npy(array))
    return buffer.getvalue()


@pytest.fixture
def imdb_server(server, cache, monkeypatch):
    data = make_imdb()
    server.routes["/keras/imdb.npz"] = (data, "ok")
    server.routes["/keras/imdb_word_index.json"] = (json.dumps({"the": 1, "movie": 2, "great": 3}).encode(), "ok")
    monkeypatch.setenv("RNNKIT_KERAS_DATASETS", server.url + "keras/")
    return server, data, cache


def keras_load(monkeypatch, path, **kwargs):
    """Keras' own loader on the local file (its get_file is pointed at it)."""
    from keras.src.datasets import imdb as keras_imdb

    monkeypatch.setattr(keras_imdb, "get_file", lambda *args, **kw: str(path))
    return keras_imdb.load_data(**kwargs)


SETTINGS = [{}, {"num_words": 50}, {"num_words": 50, "skip_top": 5}, {"maxlen": 12}, {"seed": 7, "start_char": None},
            {"start_char": None, "index_from": 0}, {"oov_char": None, "num_words": 100}, {"index_from": 10}]


@pytest.mark.parametrize("settings", SETTINGS, ids=[str(s) for s in SETTINGS])
def test_load_data_equals_keras_on_the_same_file(imdb_server, monkeypatch, settings):
    server, data, cache = imdb_server
    ours = imdb.load_data(file_hash=sha256(data), **settings)
    theirs = keras_load(monkeypatch, cache / "datasets" / "imdb.npz", **settings)
    for (x, y), (kx, ky) in zip(ours, theirs):
        assert x.dtype == kx.dtype == object and x.shape == kx.shape
        assert [list(s) for s in x] == [list(s) for s in kx]
        np.testing.assert_array_equal(y, ky)
    assert server.hits["/keras/imdb.npz"] == 1


def test_maxlen_that_keeps_nothing_is_keras_error(imdb_server):
    with pytest.raises(ValueError, match="no sequence was kept"):
        imdb.load_data(file_hash=None, maxlen=1)


def test_default_hash_is_keras_and_refuses_another_file(imdb_server):
    with pytest.raises(NetworkError, match="SHA-256 mismatch"):
        imdb.load_data()  # the small file is not Keras' imdb.npz


def test_get_word_index(imdb_server):
    server, _, cache = imdb_server
    body = server.routes["/keras/imdb_word_index.json"][0]
    assert imdb.get_word_index(file_hash=hashlib.md5(body).hexdigest()) == {"the": 1, "movie": 2, "great": 3}
    assert (cache / "datasets" / "imdb_word_index.json").is_file()


@pytest.mark.parametrize("protocol", [0, 2, 3, 4, 5])
def test_object_arrays_of_every_pickle_protocol_are_read_without_unpickling(protocol):
    sequences = [[1, 2, 70000, 2**40], [], [5]]
    data = _npy(_object_array(sequences), protocol)
    assert read_list_array(data, "x.npy") == sequences


class Boom:
    def __reduce__(self):
        return (print, ("this must never run",))


@pytest.mark.parametrize("payload", [[Boom()], ["text"], [{"a": 1}], [[1.5]], [(1, 2)]])
def test_anything_but_lists_of_integers_is_refused(payload, capsys):
    array = np.empty(1, dtype=object)
    array[0] = payload[0] if not isinstance(payload[0], list) else payload[0]
    data = _npy(array)
    with pytest.raises(DataError):
        read_list_array(data, "x.npy")
    assert "must never run" not in capsys.readouterr().out


def test_truncated_stream_is_a_data_error():
    data = _npy(_object_array([[1, 2, 3]] * 5))
    for cut in range(len(data) - 40, len(data) - 1, 3):
        with pytest.raises(DataError):
            read_list_array(data[:cut], "x.npy")
