"""Fixtures for the data set tests (helpers live in dataset_files.py). Nothing here touches the network."""
from __future__ import annotations

import socket

import pytest
from dataset_files import Server


@pytest.fixture
def server():
    s = Server()
    yield s
    s.close()


@pytest.fixture
def dead_url():
    """A URL on 127.0.0.1 where nothing listens (connection refused)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    return f"http://127.0.0.1:{port}/"


@pytest.fixture
def cache(tmp_path, monkeypatch):
    """An empty cache folder in RNNKIT_DATA, and no mirror settings from the environment."""
    folder = tmp_path / "cache"
    monkeypatch.setenv("RNNKIT_DATA", str(folder))
    monkeypatch.delenv("RNNKIT_MNIST_MIRRORS", raising=False)
    monkeypatch.delenv("RNNKIT_FASHION_MNIST_MIRRORS", raising=False)
    return folder
