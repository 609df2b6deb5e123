"""Reading an IMDB-sized ``imdb.npz`` (25,000 + 25,000 reviews of word indices, lengths like IMDB's: mean ~240)
with rnnkit's pickle-free reader against Keras 3's restricted unpickler (``keras.src.datasets.npz_utils``).

    OMP_NUM_THREADS=1 python -m benchmarks.imdb_read

The file is generated (Keras' real file is not downloaded); both readers read the same bytes, and the results
are checked equal before the times are printed.
"""
from __future__ import annotations

import io
import os
import tempfile
import time
import zipfile

import numpy as np


def make_npz(path: str, reviews: int = 25_000, seed: int = 0) -> None:
    rng = np.random.default_rng(seed)
    with zipfile.ZipFile(path, "w") as archive:
        for split in ("train", "test"):
            lengths = np.clip(rng.lognormal(5.2, 0.7, reviews).astype(int), 10, 2500)  # mean ~ 240
            x = np.empty(reviews, dtype=object)
            x[:] = [rng.integers(1, 88_000, n).tolist() for n in lengths]
            for name, array in ((f"x_{split}", x), (f"y_{split}", rng.integers(0, 2, reviews))):
                buffer = io.BytesIO()
                np.save(buffer, array, allow_pickle=True)
                archive.writestr(name + ".npy", buffer.getvalue())


def main() -> None:
    os.environ.setdefault("KERAS_BACKEND", "torch")
    from keras.src.datasets import npz_utils

    from rnnkit.datasets.imdb import _read_npz

    with tempfile.TemporaryDirectory() as folder:
        path = os.path.join(folder, "imdb.npz")
        make_npz(path)
        start = time.perf_counter()
        ours = _read_npz(path)
        ours_s = time.perf_counter() - start
        start = time.perf_counter()
        f = npz_utils.load_npz(path)
        theirs = [f[k] for k in ("x_train", "y_train", "x_test", "y_test")]
        keras_s = time.perf_counter() - start
    assert [list(s) for s in theirs[0]] == ours[0] and [list(s) for s in theirs[2]] == ours[2]
    assert (theirs[1] == ours[1]).all() and (theirs[3] == ours[3]).all()
    words = sum(len(s) for s in ours[0]) + sum(len(s) for s in ours[2])
    print(f"{words:,} word indices: rnnkit (no pickle) {ours_s:.2f} s, Keras 3 restricted unpickler {keras_s:.2f} s")


if __name__ == "__main__":
    main()
