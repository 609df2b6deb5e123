"""Helpers for the data set tests: IDX files written by hand from the format's specification, a small fake
data set, and an HTTP server on 127.0.0.1 (so no test touches the network).
"""
from __future__ import annotations

import gzip
import hashlib
import http.server
import struct
import threading
from pathlib import Path

import numpy as np

# dtype -> IDX type code, written out from the format's specification (independent of rnnkit.datasets.idx).
CODES = {np.dtype(np.uint8): 0x08, np.dtype(np.int8): 0x09, np.dtype(np.int16): 0x0B,
         np.dtype(np.int32): 0x0C, np.dtype(np.float32): 0x0D, np.dtype(np.float64): 0x0E}


def idx_bytes(array: np.ndarray) -> bytes:
    """The IDX encoding of ``array``: magic, big-endian uint32 dims, big-endian data."""
    array = np.asarray(array)
    header = bytes([0, 0, CODES[array.dtype], array.ndim]) + struct.pack(f">{array.ndim}I", *array.shape)
    return header + array.astype(array.dtype.newbyteorder(">")).tobytes()


def write_idx(path: Path, array: np.ndarray, compress: bool | None = None) -> Path:
    """Write ``array`` as IDX to ``path``; gzip it when the name ends in .gz (or ``compress`` says so)."""
    data = idx_bytes(array)
    if compress if compress is not None else str(path).endswith(".gz"):
        data = gzip.compress(data, mtime=0)
    Path(path).write_bytes(data)
    return Path(path)


NAMES = ("train-images-idx3-ubyte", "train-labels-idx1-ubyte", "t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte")


def fake_dataset(seed: int, n_train: int = 6, n_test: int = 4):
    """Small random uint8 data set in Keras' layout."""
    rng = np.random.default_rng(seed)
    return ((rng.integers(0, 256, (n_train, 28, 28), dtype=np.uint8), rng.integers(0, 10, n_train, dtype=np.uint8)),
            (rng.integers(0, 256, (n_test, 28, 28), dtype=np.uint8), rng.integers(0, 10, n_test, dtype=np.uint8)))


def write_dataset(folder: Path, data, suffix: str = ".gz") -> dict[str, bytes]:
    """Write the four IDX files of ``data`` into ``folder``; return ``{file name: file bytes}``."""
    folder.mkdir(parents=True, exist_ok=True)
    (x_train, y_train), (x_test, y_test) = data
    files = {}
    for name, array in zip(NAMES, (x_train, y_train, x_test, y_test), strict=True):
        path = write_idx(folder / (name + suffix), array)
        files[path.name] = path.read_bytes()
    return files


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def assert_same_dataset(got, expected):
    (gx, gy), (hx, hy) = got
    (ex, ey), (fx, fy) = expected
    for g, e in ((gx, ex), (gy, ey), (hx, fx), (hy, fy)):
        assert g.dtype == np.uint8 and g.shape == e.shape
        np.testing.assert_array_equal(g, e)


class Server:
    """Serves ``routes[path] = (body, mode)``; mode "ok", "short" (announces the full length, sends half and
    closes), "slow" (waits before answering). Unknown paths get 404. ``hits`` counts requests per path."""

    def __init__(self):
        self.routes: dict[str, tuple[bytes, str]] = {}
        self.hits: dict[str, int] = {}
        self.release = threading.Event()
        server = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self):
                server.hits[self.path] = server.hits.get(self.path, 0) + 1
                if self.path not in server.routes:
                    self.send_error(404, "Not Found")
                    return
                body, mode = server.routes[self.path]
                if mode == "slow":
                    server.release.wait(10)
                self.send_response(200)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body[: len(body) // 2] if mode == "short" else body)
                self.close_connection = True

            def log_message(self, *args):  # keep the test output clean
                pass

        self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}/"
        self.thread = threading.Thread(target=self.httpd.serve_forever, args=(0.02,), daemon=True)
        self.thread.start()

    def close(self):
        self.release.set()
        self.httpd.shutdown()
        self.httpd.server_close()
