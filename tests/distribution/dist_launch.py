"""Start the ranks of a test run as real processes over loopback (torchrun's environment, no mocks)."""
from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from pathlib import Path

WORKER = Path(__file__).with_name("dist_worker.py")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def launch(world: int, case: str, out_dir, timeout: float = 180.0, **env) -> list:
    """Run ``dist_worker.py CASE OUT_DIR`` on ``world`` ranks; returns ``[(returncode, stderr), ...]`` by rank."""
    port = free_port()
    procs = []
    for rank in range(world):
        environ = dict(os.environ, RANK=str(rank), LOCAL_RANK=str(rank), WORLD_SIZE=str(world),
                       MASTER_ADDR="127.0.0.1", MASTER_PORT=str(port), OMP_NUM_THREADS="1",
                       OPENBLAS_NUM_THREADS="1", MKL_NUM_THREADS="1", **{k: str(v) for k, v in env.items()})
        environ.pop("TORCHELASTIC_RUN_ID", None)
        procs.append(subprocess.Popen([sys.executable, str(WORKER), case, str(out_dir)], env=environ,
                                      stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True))
    deadline = time.monotonic() + timeout
    results = []
    for p in procs:
        try:
            _, err = p.communicate(timeout=max(1.0, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            for q in procs:
                q.kill()
            raise AssertionError(f"the {world}-rank run of {case!r} did not finish within {timeout} s") from None
        results.append((p.returncode, err))
    return results
