"""Shared fixtures. Tests import helpers from ``tests/helpers``."""
import os
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))
os.environ.setdefault("KERAS_BACKEND", "torch")  # Keras 3, the reference for Keras behaviour, without TensorFlow

SHARED_DATA = Path(__file__).resolve().parents[1].parent / "shared" / "data"


@pytest.fixture(scope="session")
def shared_data() -> Path:
    """``../shared/data`` beside the repository (real data sets; see its README)."""
    if not SHARED_DATA.exists():
        pytest.fail(f"real data expected at {SHARED_DATA}")
    return SHARED_DATA


def pytest_collection_modifyitems(config, items):
    # CI sets RNNKIT_REQUIRE_TORCH=1: a missing torch must fail the run, never skip the comparisons.
    if os.environ.get("RNNKIT_REQUIRE_TORCH") == "1":
        import keras  # noqa: F401
        import torch  # noqa: F401
