"""The distribution in force (none by default), readable without importing torch.

``fit``, ``evaluate``, ``predict`` and the checkpoint callbacks ask ``current()`` on every step; it costs one
attribute read when nothing is set. A ``DataParallel`` is set with ``set_distribution`` or picked up from
``torchrun``'s environment (``TORCHELASTIC_RUN_ID`` with ``WORLD_SIZE`` > 1) the first time it is asked for.

>>> current() is None, is_chief(), rank(), world_size()
(True, True, 0, 1)
"""
from __future__ import annotations

import os

_current = None
_auto_checked = False


def current():
    """The active strategy (a ``DataParallel``), or None for plain single-process training."""
    global _auto_checked
    if _current is None and not _auto_checked:
        _auto_checked = True
        if os.environ.get("TORCHELASTIC_RUN_ID") and int(os.environ.get("WORLD_SIZE", "1") or 1) > 1:
            from rnnkit.distribution.data_parallel import DataParallel

            set_current(DataParallel())
    return _current


def set_current(strategy) -> None:
    """Make ``strategy`` the active one (connecting it first); None goes back to single-process training."""
    global _current, _auto_checked
    _auto_checked = True
    if strategy is not None:
        strategy._connect()
    _current = strategy


def is_chief() -> bool:
    """True on rank 0 (and without a distribution): the process that prints progress and writes files."""
    strategy = current()
    return strategy is None or strategy.rank == 0


def rank() -> int:
    """This process's rank (0 without a distribution)."""
    strategy = current()
    return 0 if strategy is None else strategy.rank


def world_size() -> int:
    """The number of processes training together (1 without a distribution)."""
    strategy = current()
    return 1 if strategy is None else strategy.world_size
