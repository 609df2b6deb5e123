"""DataParallel's arguments and the helpers without a distribution (no processes started here)."""
from __future__ import annotations

import numpy as np
import pytest

from rnnkit.autograd import Tensor
from rnnkit.distribution import DataParallel, all_reduce_gradients, distribution, local_slice, set_distribution
from rnnkit.distribution.sharding import make_shard, shard_bounds
from rnnkit.errors import ConfigError


@pytest.fixture
def torchrun_env(monkeypatch):
    for name, value in dict(RANK="1", WORLD_SIZE="3", MASTER_ADDR="127.0.0.1", MASTER_PORT="1").items():
        monkeypatch.setenv(name, value)


def test_rank_and_world_come_from_the_environment(torchrun_env):
    strategy = DataParallel()  # not connected: nothing is contacted until set_distribution
    assert (strategy.rank, strategy.world_size, strategy.devices) == (1, 3, ["cpu:0", "cpu:1", "cpu:2"])


def test_devices_must_name_one_device_per_process(torchrun_env):
    with pytest.raises(ConfigError, match=r"names 2 device\(s\) but the job has WORLD_SIZE=3"):
        DataParallel(devices=["cpu:0", "cpu:1"])
    with pytest.raises(ConfigError, match="device_mesh"):
        DataParallel(device_mesh=object())


def test_rank_outside_the_world_is_refused(torchrun_env, monkeypatch):
    monkeypatch.setenv("RANK", "3")
    with pytest.raises(ConfigError, match=r"RANK=3 must lie in \[0, WORLD_SIZE=3\)"):
        DataParallel()


def test_set_distribution_takes_a_data_parallel_only():
    with pytest.raises(ConfigError, match="expects a DataParallel or None"):
        set_distribution("data_parallel")
    assert distribution() is None


def test_without_a_distribution_the_custom_loop_helpers_change_nothing():
    w = Tensor(np.ones(3), requires_grad=True)
    w.grad = np.arange(3.0)
    assert local_slice(7) == slice(0, 7)
    np.testing.assert_array_equal(all_reduce_gradients([w])[0], np.arange(3.0))
    with pytest.raises(ConfigError, match="op must be 'mean' or 'sum'"):
        all_reduce_gradients([w], op="max")


@pytest.mark.parametrize("rows, world", [(1, 3), (5, 2), (7, 3), (64, 4), (31, 5)])
def test_shards_cover_the_batch_once_in_order(rows, world):
    bounds = [shard_bounds(rows, world, r) for r in range(world)]
    assert bounds[0][0] == 0 and bounds[-1][1] == rows
    assert all(a[1] == b[0] for a, b in zip(bounds, bounds[1:]))
    sizes = [hi - lo for lo, hi in bounds]
    assert max(sizes) - min(sizes) <= 1 and sizes == sorted(sizes, reverse=True)
    assert [make_shard(rows, world, r).stand_in for r in range(world)] == [s == 0 for s in sizes]
