"""mnist / fashion_mnist load_data on files the tests write and serve on 127.0.0.1; fashion_mnist's Debian folder
is a monkeypatched folder of test files (never the real /usr/share one)."""
from __future__ import annotations

import numpy as np
import pytest
from dataset_files import NAMES, assert_same_dataset, fake_dataset, sha256, write_dataset, write_idx

from rnnkit.datasets import download, fashion_mnist, mnist
from rnnkit.errors import DataError, NetworkError


def serve(server, files: dict[str, bytes], module, monkeypatch, prefix="/"):
    """Serve ``files`` under ``prefix`` and make ``module.FILES`` describe them (real sizes and SHA-256)."""
    for name, data in files.items():
        server.routes[prefix + name] = (data, "ok")
    monkeypatch.setattr(module, "FILES", tuple(download.RemoteFile(n, len(d), sha256(d)) for n, d in files.items()))


def test_real_checksums_are_well_formed():
    for module in (mnist, fashion_mnist):
        assert [f.name for f in module.FILES] == [n + ".gz" for n in NAMES]
        for f in module.FILES:
            assert len(f.sha256) == 64 and int(f.sha256, 16) >= 0 and f.size > 0


@pytest.mark.parametrize("suffix", [".gz", "", ".raw-dot"])
def test_mnist_from_path(tmp_path, cache, dead_url, monkeypatch, suffix):
    data = fake_dataset(seed=1)
    folder = tmp_path / "files"
    if suffix == ".raw-dot":  # the train-images.idx3-ubyte spelling of some re-distributions
        folder.mkdir()
        (x, y), (xt, yt) = data
        for name, a in zip(NAMES, (x, y, xt, yt), strict=True):
            write_idx(folder / name.replace("-idx", ".idx"), a)
    else:
        write_dataset(folder, data, suffix)
    monkeypatch.setenv("RNNKIT_MNIST_MIRRORS", dead_url)  # a download attempt would fail
    assert_same_dataset(mnist.load_data(path=folder), data)
    assert_same_dataset(mnist.load_data(str(folder)), data)


def test_mnist_path_missing_file(tmp_path):
    files = write_dataset(tmp_path, fake_dataset(seed=2))
    (tmp_path / "t10k-labels-idx1-ubyte.gz").unlink()
    assert len(files) == 4
    with pytest.raises(DataError, match="lacks t10k-labels-idx1-ubyte.gz"):
        mnist.load_data(path=tmp_path)
    with pytest.raises(DataError, match="not a folder"):
        mnist.load_data(path=tmp_path / "train-images-idx3-ubyte.gz")


def test_mnist_path_inconsistent_files(tmp_path):
    (x, y), test = fake_dataset(seed=3)
    write_dataset(tmp_path, ((x, y[:-1]), test))
    with pytest.raises(DataError, match="6 images but .* 5 labels"):
        mnist.load_data(path=tmp_path)
    write_dataset(tmp_path, ((x, np.full_like(y, 10)), test))
    with pytest.raises(DataError, match="label 10 found"):
        mnist.load_data(path=tmp_path)
    write_dataset(tmp_path, ((y, y), test))
    with pytest.raises(DataError, match=r"images of shape \(N, rows, cols\)"):
        mnist.load_data(path=tmp_path)


def test_mnist_download_then_offline_cache(server, cache, monkeypatch, dead_url):
    data = fake_dataset(seed=4)
    files = write_dataset(cache.parent / "served", data)
    serve(server, files, mnist, monkeypatch, prefix="/mnist/")
    monkeypatch.setenv("RNNKIT_MNIST_MIRRORS", f"{dead_url} {server.url}mnist/")
    assert_same_dataset(mnist.load_data(), data)
    assert sorted(p.name for p in (cache / "mnist").iterdir()) == sorted(files)
    server.close()  # offline now: the cache alone must serve
    assert_same_dataset(mnist.load_data(), data)


def test_mnist_mirrors_argument_beats_env(server, cache, monkeypatch, dead_url):
    data = fake_dataset(seed=5)
    serve(server, write_dataset(cache.parent / "served", data), mnist, monkeypatch)
    monkeypatch.setenv("RNNKIT_MNIST_MIRRORS", dead_url)
    assert_same_dataset(mnist.load_data(mirrors=[server.url]), data)


def test_mnist_partial_cache_downloads_only_the_rest(server, cache, monkeypatch):
    data = fake_dataset(seed=6)
    files = write_dataset(cache.parent / "served", data)
    serve(server, files, mnist, monkeypatch)
    write_dataset(cache / "mnist", data)
    (cache / "mnist" / "t10k-images-idx3-ubyte.gz").unlink()
    assert_same_dataset(mnist.load_data(mirrors=[server.url]), data)
    assert server.hits == {"/t10k-images-idx3-ubyte.gz": 1}


def test_mnist_offline_message(cache, dead_url, monkeypatch, capsys):
    monkeypatch.setenv("RNNKIT_MNIST_MIRRORS", dead_url)
    with pytest.raises(NetworkError) as e:
        mnist.load_data(timeout=2)
    message = str(e.value)
    assert "rnnkit.datasets.mnist_sample" in message and "path=" in message
    assert "train-images-idx3-ubyte.gz" in message and "\n" not in message
    assert capsys.readouterr().err == ""  # no "downloading" line when nothing downloads
    assert not any((cache / "mnist").iterdir())  # nothing half-written in the cache


def test_mnist_download_checksum_mismatch(server, cache, monkeypatch):
    data = fake_dataset(seed=7)
    files = write_dataset(cache.parent / "served", data)
    serve(server, files, mnist, monkeypatch)
    name = "train-labels-idx1-ubyte.gz"
    server.routes["/" + name] = (write_dataset(cache.parent / "other", fake_dataset(seed=8))[name], "ok")
    with pytest.raises(NetworkError, match="SHA-256 mismatch"):
        mnist.load_data(mirrors=[server.url])
    assert not (cache / "mnist" / name).exists()


@pytest.fixture
def debian(tmp_path, monkeypatch):
    folder = tmp_path / "usr-share-datasets-fashion-mnist"
    folder.mkdir()
    monkeypatch.setattr(fashion_mnist, "DEBIAN_DIR", folder)
    return folder


def test_fashion_from_debian_folder(debian, cache, dead_url, monkeypatch):
    data = fake_dataset(seed=9)
    write_dataset(debian, data)
    monkeypatch.setenv("RNNKIT_FASHION_MNIST_MIRRORS", dead_url)
    assert_same_dataset(fashion_mnist.load_data(), data)
    assert not (cache / "fashion-mnist").exists()  # read in place, nothing copied or downloaded


def test_fashion_search_order(tmp_path, debian, cache, dead_url, monkeypatch):
    monkeypatch.setenv("RNNKIT_FASHION_MNIST_MIRRORS", dead_url)
    in_debian, in_cache, in_path = fake_dataset(seed=10), fake_dataset(seed=11), fake_dataset(seed=12)
    write_dataset(debian, in_debian)
    write_dataset(cache / "fashion-mnist", in_cache, suffix="")
    write_dataset(tmp_path / "mine", in_path)
    assert_same_dataset(fashion_mnist.load_data(path=tmp_path / "mine"), in_path)
    assert_same_dataset(fashion_mnist.load_data(), in_cache)


def test_fashion_incomplete_debian_folder_downloads(server, debian, cache, monkeypatch):
    data = fake_dataset(seed=13)
    write_dataset(debian, fake_dataset(seed=14))
    (debian / "train-images-idx3-ubyte.gz").unlink()
    serve(server, write_dataset(cache.parent / "served", data), fashion_mnist, monkeypatch)
    monkeypatch.setenv("RNNKIT_FASHION_MNIST_MIRRORS", server.url)
    assert_same_dataset(fashion_mnist.load_data(), data)
    assert len(server.hits) == 4


def test_fashion_offline_message(debian, cache, dead_url):
    with pytest.raises(NetworkError, match="dataset-fashion-mnist") as e:
        fashion_mnist.load_data(mirrors=[dead_url], timeout=2)
    assert "path=" in str(e.value)
