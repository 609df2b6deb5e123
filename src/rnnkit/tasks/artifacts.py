"""Model files of the applications: a ``model.rnnkit`` with one more member, ``task.json``.

``task.json`` holds what inference needs besides the network (vocabularies, scalers, the alphabet, feature
settings) and the task's name, so that ``rnnkit charlm sample`` refuses a sentiment model with a clear message
instead of producing nonsense. ``rnnkit.models.load_model`` still opens such a file (it ignores the extra
member); the same size checks and no-pickle rules apply.

>>> import os, tempfile
>>> from rnnkit.layers import Dense
>>> from rnnkit.models import Sequential
>>> path = os.path.join(tempfile.mkdtemp(), "model.rnnkit")
>>> save_task_model(path, Sequential([Dense(2, input_shape=(3,))]), "demo", {"vocabulary": ["a", "b"]})
>>> model, info = load_task_model(path, "demo")
>>> info["vocabulary"], model.count_params()
(['a', 'b'], 8)
"""
from __future__ import annotations

import json

from rnnkit.errors import DataError

TASK_MEMBER = "task.json"
TASK_FORMAT = "rnnkit-task"


def save_task_model(path: str, model, task: str, info: dict) -> None:
    """Write ``model`` and the JSON-able ``info`` of ``task`` to ``path`` (atomically)."""
    from rnnkit.models.saving import model_members, write_archive
    from rnnkit.tasks.report import plain

    members = model_members(model)
    record = {"format": TASK_FORMAT, "task": task, "info": plain(info)}
    members[TASK_MEMBER] = json.dumps(record, allow_nan=False).encode("utf-8")
    write_archive(path, members)


def read_task_info(members: dict, path: str, task: str) -> dict:
    """The ``info`` of ``task`` in an archive's members; ``DataError`` naming the file otherwise."""
    if TASK_MEMBER not in members:
        raise DataError(f"{path} is a plain rnnkit model, not one written by 'rnnkit {task} train' "
                        f"(it has no {TASK_MEMBER})")
    try:
        record = json.loads(members[TASK_MEMBER].decode("utf-8"))
    except (ValueError, UnicodeDecodeError, RecursionError) as error:
        raise DataError(f"{path}: {TASK_MEMBER} is not valid JSON ({error})") from None
    if not isinstance(record, dict) or record.get("format") != TASK_FORMAT or not isinstance(record.get("info"), dict):
        raise DataError(f"{path}: {TASK_MEMBER} is malformed (expected {{'format': '{TASK_FORMAT}', 'task', "
                        "'info': {...}})")
    if record.get("task") != task:
        raise DataError(f"{path} is a {record.get('task')!r} model (written by 'rnnkit {record.get('task')} "
                        f"train'); this command needs a {task!r} model")
    return record["info"]


def load_task_model(path: str, task: str, compile: bool = False):
    """``(model, info)`` of a file written by ``save_task_model`` for ``task``."""
    from rnnkit.models.saving import model_from_members, read_archive

    members = read_archive(path)
    info = read_task_info(members, path, task)
    return model_from_members(members, path, compile), info
