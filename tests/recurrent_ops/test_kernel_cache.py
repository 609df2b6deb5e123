"""The compiled-kernel cache (rnnkit.compiled): where it lives, and that a reinstall finds it valid.

A reinstall (or a second copy of the same sources, such as another virtualenv) gives every source file a new
modification time; Numba's own freshness stamp is that time and the file's size, so it would compile everything
again (~20 s of CPU on first use). rnnkit stamps its kernels with the hash of its compiled sources instead.
"""
from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import rnnkit
from rnnkit import compiled
from rnnkit.ops.recurrent import feature_major

# One small kernel: compiles in about a second, and reports whether it came from the cache.
_PROGRAM = """
import json, numpy as np
from rnnkit.ops.recurrent import feature_major as fm
src = np.arange(24.0).reshape(2, 3, 4); dst = np.empty((4, 3, 2))
fm._swap_outer_blocks(src, dst)
assert (dst == src.transpose(2, 1, 0)).all()
stats = fm._swap_outer_blocks.stats
print(json.dumps({"hits": sum(stats.cache_hits.values()), "misses": sum(stats.cache_misses.values())}))
"""


def _run(package_parent: Path, cache: Path) -> dict:
    env = dict(os.environ, RNNKIT_CACHE_DIR=str(cache), PYTHONPATH=str(package_parent))
    env.pop("NUMBA_CACHE_DIR", None)
    done = subprocess.run([sys.executable, "-c", _PROGRAM], env=env, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-2000:]
    return json.loads(done.stdout.strip().splitlines()[-1])


def test_a_copy_of_the_sources_with_new_file_times_finds_the_cached_kernels(tmp_path):
    package = Path(rnnkit.__file__).resolve().parent
    first, second, cache = tmp_path / "first", tmp_path / "second", tmp_path / "cache"
    for copy in (first, second):
        shutil.copytree(package, copy / "rnnkit", ignore=shutil.ignore_patterns("__pycache__"))
    os.utime(second / "rnnkit" / "ops" / "recurrent" / "feature_major.py", (1e9, 1e9))  # a different file time
    assert _run(first, cache) == {"hits": 0, "misses": 1}  # compiled and written
    assert _run(second, cache) == {"hits": 1, "misses": 0}  # the other copy loads it


def test_changed_sources_do_not_read_another_versions_kernels(tmp_path):
    package = Path(rnnkit.__file__).resolve().parent
    first, second, cache = tmp_path / "first", tmp_path / "second", tmp_path / "cache"
    for copy in (first, second):
        shutil.copytree(package, copy / "rnnkit", ignore=shutil.ignore_patterns("__pycache__"))
    with open(second / "rnnkit" / "ops" / "recurrent" / "kernel_math.py", "a") as f:
        f.write("\n# another version\n")  # a file the kernel does not even live in
    assert _run(first, cache)["misses"] == 1
    assert _run(second, cache) == {"hits": 0, "misses": 1}


def test_the_cache_folder_follows_rnnkit_cache_dir(monkeypatch, tmp_path):
    monkeypatch.setenv("RNNKIT_CACHE_DIR", str(tmp_path))
    monkeypatch.setattr(compiled.numba.config, "CACHE_DIR", "")
    folder = compiled.cache_dir()
    assert folder.parent == tmp_path / "numba" and folder.name == compiled._SOURCES
    function = feature_major._swap_outer_blocks.py_func
    locator = compiled._RnnkitCacheLocator.from_function(function, feature_major.__file__)
    assert locator.get_cache_path() == str(folder / "ops" / "recurrent")
    assert locator.get_source_stamp() == compiled._SOURCES
