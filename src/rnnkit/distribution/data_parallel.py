"""``DataParallel``: every rank holds the whole model and computes its slice of each global batch.

Processes are started by ``torchrun`` (or anything that sets ``RANK``, ``WORLD_SIZE``, ``MASTER_ADDR`` and
``MASTER_PORT``) and talk through ``torch.distributed`` with the ``gloo`` backend (CPUs, TCP). torch is
imported here only, when the strategy connects.

Connecting broadcasts rank 0's ``rnnkit.random`` seed stream to every rank, so that models built afterwards get
the same initial weights, dropout generators and shuffling on every rank (call ``set_distribution`` before
building the model; ``set_random_seed`` with one seed on every rank does the same). The first training step of
every ``fit`` checks that the ranks agree (weights, data order, generators) and says what to do if not.

A collective that fails (a rank died, or did not answer within ``timeout`` seconds) raises
``RankFailedError`` naming the ranks that stopped answering: the surviving ranks leave a mark in the
rendezvous store, close their connections (so that no survivor stays blocked) and wait up to ``probe``
seconds for each other's marks; a rank that left none is named.

Outside torchrun (no ``RANK``, ``WORLD_SIZE``, ``MASTER_ADDR``, ``MASTER_PORT``) it says how to launch:

>>> DataParallel()
Traceback (most recent call last):
rnnkit.errors.ConfigError: DataParallel needs torchrun's environment; RANK, ... not set. Launch with `torchrun ...
"""
from __future__ import annotations

import atexit
import datetime
import os
import time

import numpy as np

from rnnkit.errors import ConfigError, RnnkitError


class RankFailedError(RnnkitError, RuntimeError):
    """A rank of a distributed run died or stopped answering; ``ranks`` lists them (empty if unknown)."""

    def __init__(self, message: str, ranks=()):
        super().__init__(message)
        self.ranks = list(ranks)


TORCHRUN_VARIABLES = ("RANK", "WORLD_SIZE", "MASTER_ADDR", "MASTER_PORT")  # what torchrun sets for each rank


def _torch():
    try:
        import torch
        import torch.distributed as dist
    except ImportError:
        raise ConfigError("rnnkit.distribution needs PyTorch (torch.distributed): pip install 'rnnkit[distributed]'"
                          ) from None
    return torch, dist


class DataParallel:
    """Data parallelism across processes (Keras 3's ``keras.distribution.DataParallel``).

    Args:
        devices: None (every process of the job) or a list naming one device per process (e.g.
            ``["cpu:0", "cpu:1"]``); its length must be ``WORLD_SIZE``.
        timeout: seconds a collective may wait for a silent rank before the run stops with an error.
        bucket_size_mb: largest gradient bucket, in MiB (one all-reduce per bucket per step).
        probe: seconds the survivors of a failure wait for each other before naming the missing ranks.

    Under it ``fit``, ``evaluate`` and ``predict`` split every global batch (``batch_size`` is the global
    batch size) across the ranks; see ``rnnkit.distribution``.
    """

    def __init__(self, device_mesh=None, devices=None, timeout: float = 300.0, bucket_size_mb: float = 25.0,
                 probe: float = 5.0):
        if device_mesh is not None:
            raise ConfigError("DataParallel(device_mesh=...) is not supported: rnnkit runs one process per device; "
                              "pass devices=None (every process of the job)")
        missing = [name for name in TORCHRUN_VARIABLES if not os.environ.get(name)]
        if missing:
            raise ConfigError(f"DataParallel needs torchrun's environment; {', '.join(missing)} not set. Launch with "
                              "`torchrun --nproc-per-node N your_script.py` (or set RANK, WORLD_SIZE, MASTER_ADDR, "
                              "MASTER_PORT yourself)")
        self.rank, self.world_size = int(os.environ["RANK"]), int(os.environ["WORLD_SIZE"])
        if not 0 <= self.rank < self.world_size:
            raise ConfigError(f"RANK={self.rank} must lie in [0, WORLD_SIZE={self.world_size})")
        if devices is not None and len(devices) != self.world_size:
            raise ConfigError(f"DataParallel(devices=...) names {len(devices)} device(s) but the job has "
                              f"WORLD_SIZE={self.world_size} processes; give one device per process, or None")
        self.devices = list(devices) if devices is not None else [f"cpu:{r}" for r in range(self.world_size)]
        self.timeout, self.probe = float(timeout), float(probe)
        self.bucket_bytes = int(bucket_size_mb * 2**20)
        self.connected = False
        self.where = ""  # what the current step is, for error messages
        self.comm_seconds = 0.0  # time spent in collectives (measured by the benchmark)
        self._plans = {}

    # -------------------------------------------------------------------------------------- connection
    def _connect(self) -> None:
        if self.connected:
            return
        torch, dist = _torch()
        if not dist.is_initialized():
            dist.init_process_group("gloo", init_method="env://", rank=self.rank, world_size=self.world_size,
                                    timeout=datetime.timedelta(seconds=self.timeout))
        self.connected = True
        atexit.register(_disconnect)  # a clean teardown: gloo's threads stopped before the interpreter goes
        from rnnkit import random as rnnkit_random

        state = [rnnkit_random.get_state()]
        self._call("broadcasting the seed stream", lambda: dist.broadcast_object_list(state, src=0))
        rnnkit_random.set_state(state[0])

    # -------------------------------------------------------------------------------------- collectives
    def all_reduce(self, arrays: list, what: str) -> list:
        """Sum each NumPy array over the ranks, in place (zero-copy ``torch.from_numpy`` views)."""
        if self.world_size == 1:
            return arrays  # nothing to add: no collective (each costs a thread hand-off in gloo)
        torch, dist = _torch()
        start = time.perf_counter()

        def run():
            works = [dist.all_reduce(torch.from_numpy(a), async_op=True) for a in arrays]
            for w in works:
                w.wait()

        self._call(what, run)
        self.comm_seconds += time.perf_counter() - start
        return arrays

    def all_reduce_started(self, what: str, arrays_iter) -> None:
        """Start an all-reduce for each array as the iterator yields it (packing overlaps transfers); wait."""
        if self.world_size == 1:
            for _ in arrays_iter:  # packs the buckets: the gradients come back from them as with more ranks
                pass
            return
        torch, dist = _torch()
        start = time.perf_counter()

        def run():
            works = [dist.all_reduce(torch.from_numpy(a), async_op=True) for a in arrays_iter]
            for w in works:
                w.wait()

        self._call(what, run)
        self.comm_seconds += time.perf_counter() - start

    def all_gather(self, array: np.ndarray, what: str) -> list:
        """Every rank's ``array`` (same shape and dtype on every rank), in rank order."""
        if self.world_size == 1:
            return [array.copy()]
        torch, dist = _torch()
        out = [np.empty_like(array) for _ in range(self.world_size)]
        self._call(what, lambda: dist.all_gather([torch.from_numpy(o) for o in out], torch.from_numpy(array)))
        return out

    def gradient_plan(self, weights: list, head: int):
        from rnnkit.distribution.buckets import BucketPlan

        key = (tuple(id(w) for w in weights), head)
        plan = self._plans.get(key)
        if plan is None:
            plan = self._plans[key] = BucketPlan(weights, self.bucket_bytes, head)
        return plan

    def reduce_gradients(self, weights: list, grads: list, scalars: np.ndarray) -> list:
        """Sum ``grads`` (one per weight, None allowed) and ``scalars`` (float64, carried at the head of the first
        bucket) over the ranks, in place; returns the summed gradients (views of the buckets)."""
        plan = self.gradient_plan(weights, len(scalars))
        plan.pack_head(scalars)

        def buffers():
            for bucket in plan.buckets:
                yield plan.pack_bucket(bucket, grads)

        self.all_reduce_started(f"all-reducing gradients {self.where}".strip(), buffers())
        plan.read_head(scalars)
        return plan.unpack()

    # ------------------------------------------------------------------------------------------ failure
    def _call(self, what: str, fn):
        try:
            return fn()
        except RnnkitError:
            raise
        except Exception as error:  # torch's DistBackendError, RuntimeError, ...
            raise self._failure(what, error) from None

    def _failure(self, what: str, error: Exception) -> RankFailedError:
        _, dist = _torch()
        detail = str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__
        missing, note = list(range(self.world_size)), ""
        missing.remove(self.rank)
        try:
            store = dist.distributed_c10d._get_default_store()
            store.set(f"rnnkit/alive/{self.rank}", "1")
        except Exception:
            store, note = None, " (the rendezvous store is gone too: rank 0 or the torchrun agent hosting it stopped)"
            missing = [0] if self.rank != 0 else []
        try:
            dist.destroy_process_group()  # closes this rank's connections: no survivor stays blocked on us
        except Exception:
            pass
        deadline = time.monotonic() + self.probe
        while store is not None and missing:
            try:
                missing = [r for r in missing if not store.check([f"rnnkit/alive/{r}"])]
            except Exception:
                break  # the store's host has gone after its own probe: keep what was seen
            if time.monotonic() > deadline:
                break
            time.sleep(0.05)
        self.connected = False
        names = ", ".join(str(r) for r in missing)
        who = (f"rank {names} stopped answering" if len(missing) == 1 else
               f"ranks {names} stopped answering" if missing else "a rank stopped answering")
        return RankFailedError(f"distributed training failed on rank {self.rank} of {self.world_size} while "
                               f"{what}: {who}{note} (it died, or did not answer within {self.timeout:g} s). "
                               f"torch.distributed said: {detail}", missing)

    def __repr__(self) -> str:
        return f"DataParallel(rank={self.rank}, world_size={self.world_size})"


def _disconnect() -> None:
    try:
        import torch.distributed as dist

        if dist.is_initialized():
            dist.destroy_process_group()
    except Exception:
        pass


def set_distribution(value) -> None:
    """Make ``value`` (a ``DataParallel``, or None) the distribution of every later fit/evaluate/predict."""
    from rnnkit.distribution.state import set_current

    if value is not None and not isinstance(value, DataParallel):
        raise ConfigError(f"set_distribution expects a DataParallel or None; got {value!r:.100}")
    set_current(value)
