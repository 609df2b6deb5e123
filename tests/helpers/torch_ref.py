"""Import PyTorch for reference comparisons: skipped locally when absent, an error in CI."""
import os

import pytest


def require_torch():
    """Return the ``torch`` module; when missing, skip (locally) or fail (``RNNKIT_REQUIRE_TORCH=1``, CI)."""
    try:
        import torch
    except ImportError:
        if os.environ.get("RNNKIT_REQUIRE_TORCH") == "1":
            pytest.fail("torch is required in CI (pip install torch==2.13.0)")
        pytest.skip("torch not installed")
    torch.set_default_dtype(torch.float64)
    return torch
