"""rnnkit.datasets.download against an HTTP server on 127.0.0.1 (no test touches the network)."""
from __future__ import annotations

import os
from pathlib import Path

import pytest
from dataset_files import sha256

from rnnkit.datasets import download
from rnnkit.datasets.download import RemoteFile, cache_dir, fetch, mirrors_from_env
from rnnkit.errors import NetworkError

BODY = bytes(range(256)) * 1000  # 256,000 bytes: several read chunks
FILE = RemoteFile("data.bin.gz", len(BODY), sha256(BODY))


def cache_listing(folder: Path) -> list[str]:
    return sorted(os.listdir(folder)) if folder.exists() else []


def test_cache_dir_from_env_and_default(monkeypatch, tmp_path):
    monkeypatch.setenv("RNNKIT_DATA", str(tmp_path / "d"))
    assert cache_dir("mnist") == tmp_path / "d" / "mnist"
    monkeypatch.delenv("RNNKIT_DATA")
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    assert cache_dir() == tmp_path / "home" / ".cache" / "rnnkit"


def test_mirrors_from_env(monkeypatch):
    monkeypatch.setenv("RNNKIT_TEST_MIRRORS", "http://a/, http://b/  http://c/")
    assert mirrors_from_env("RNNKIT_TEST_MIRRORS", ("http://z/",)) == ("http://a/", "http://b/", "http://c/")
    monkeypatch.setenv("RNNKIT_TEST_MIRRORS", "  ")
    assert mirrors_from_env("RNNKIT_TEST_MIRRORS", ("http://z/",)) == ("http://z/",)


def test_download_then_cache_hit(server, cache):
    server.routes["/data.bin.gz"] = (BODY, "ok")
    path = fetch(FILE, [server.url], "set", verbose=False)
    assert path == cache / "set" / FILE.name
    assert path.read_bytes() == BODY
    assert cache_listing(cache / "set") == [FILE.name]  # no temporary file left behind
    assert path.stat().st_mode & 0o777 == 0o644
    assert fetch(FILE, [server.url], "set", verbose=False) == path
    assert server.hits["/data.bin.gz"] == 1  # the second call read the cache


def test_mirror_path_joins_with_or_without_slash(server, cache):
    server.routes["/sub/data.bin.gz"] = (BODY, "ok")
    assert fetch(FILE, [server.url + "sub"], "set", verbose=False).read_bytes() == BODY


def test_falls_back_to_next_mirror(server, cache, dead_url):
    server.routes["/good/data.bin.gz"] = (BODY, "ok")
    mirrors = [dead_url, server.url + "missing/", server.url + "good/"]
    assert fetch(FILE, mirrors, "set", verbose=False).read_bytes() == BODY
    assert server.hits["/missing/data.bin.gz"] == 1


def test_checksum_mismatch(server, cache):
    tampered = BODY[:-1] + b"\x00"  # right size, wrong content
    server.routes["/data.bin.gz"] = (tampered, "ok")
    with pytest.raises(NetworkError, match="SHA-256 mismatch") as e:
        fetch(FILE, [server.url], "set", verbose=False)
    assert sha256(tampered) in str(e.value) and FILE.sha256 in str(e.value)
    assert cache_listing(cache / "set") == []  # nothing kept, not even the temporary file


def test_bad_mirror_then_good_mirror(server, cache):
    server.routes["/bad/data.bin.gz"] = (BODY[::-1], "ok")
    server.routes["/good/data.bin.gz"] = (BODY, "ok")
    assert fetch(FILE, [server.url + "bad/", server.url + "good/"], "set", verbose=False).read_bytes() == BODY


def test_truncated_download_server_closes_early(server, cache):
    server.routes["/data.bin.gz"] = (BODY, "short")  # Content-Length says 256,000, sends 128,000
    with pytest.raises(NetworkError, match="truncated|IncompleteRead|connection") as e:
        fetch(FILE, [server.url], "set", verbose=False)
    assert "128,000" in str(e.value)
    assert cache_listing(cache / "set") == []


def test_truncated_download_short_body(server, cache):
    server.routes["/data.bin.gz"] = (BODY[:1000], "ok")  # a complete HTTP answer, but the file is cut
    with pytest.raises(NetworkError, match="truncated download: got 1,000 of 256,000 bytes"):
        fetch(FILE, [server.url], "set", verbose=False)
    assert cache_listing(cache / "set") == []


def test_oversized_body_is_refused(server, cache):
    server.routes["/data.bin.gz"] = (BODY + b"more", "ok")
    with pytest.raises(NetworkError, match="larger than expected"):
        fetch(FILE, [server.url], "set", verbose=False)


def test_http_404_and_refused_listed_per_mirror(server, cache, dead_url):
    with pytest.raises(NetworkError) as e:
        fetch(FILE, [server.url, dead_url], "set", verbose=False, hint="Try the sample.")
    message = str(e.value)
    assert "2 mirror(s)" in message and "HTTP 404" in message and "cannot connect" in message
    assert server.url + FILE.name in message and dead_url + FILE.name in message
    assert message.endswith(". Try the sample.") and "\n" not in message  # one line, for the CLI


def test_timeout(server, cache):
    server.routes["/data.bin.gz"] = (BODY, "slow")
    with pytest.raises(NetworkError, match="timed out"):
        fetch(FILE, [server.url], "set", timeout=0.3, verbose=False)
    assert cache_listing(cache / "set") == []


def test_invalid_mirror_url(cache):
    with pytest.raises(NetworkError, match="invalid URL"):
        fetch(FILE, ["127.0.0.1/no-scheme/"], "set", verbose=False)


def test_no_mirrors(cache):
    with pytest.raises(NetworkError, match="no mirror"):
        fetch(FILE, [], "set", verbose=False)


def test_prints_one_line_per_download_and_nothing_for_dead_mirrors(server, cache, capsys, dead_url):
    server.routes["/data.bin.gz"] = (BODY, "ok")
    fetch(FILE, [dead_url, server.url + "missing/", server.url], "set")
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith(f"rnnkit: downloading {server.url}{FILE.name} ")


def test_download_replaces_atomically(server, tmp_path, monkeypatch):
    # os.replace is the only way the target appears: make it fail and the target must not exist.
    server.routes["/data.bin.gz"] = (BODY, "ok")

    def broken_replace(src, dst):
        raise OSError("disk full")

    monkeypatch.setattr(download.os, "replace", broken_replace)
    with pytest.raises(OSError, match="disk full"):
        download.download(server.url + FILE.name, tmp_path / FILE.name, FILE, timeout=5)
    assert os.listdir(tmp_path) == []
