"""Regenerate the golden PyTorch fixtures for the recurrent ops: ``tests/fixtures/torch_<name>.npz``.

Each file holds float64 inputs and Keras-layout weights, a right-padded variable-length batch (``lengths``), the
output/final-state gradients fed in, and what PyTorch 2.x computed with packed sequences: ``outputs``,
``h_last`` (``c_last``) and the gradients ``grad_x``, ``grad_h0`` (``grad_c0``), ``grad_kernel``,
``grad_recurrent_kernel``, ``grad_bias``. ``tests/recurrent_ops/test_rnn_op_fixtures.py`` checks rnnkit against
them without importing torch. Run: ``.venv/bin/python scripts/make_torch_fixtures.py``.
"""
from __future__ import annotations

import sys
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests" / "recurrent_ops"))

from recurrent_op_cases import make_case  # noqa: E402
from torch_twins import torch_run  # noqa: E402

FIXTURES = {  # file name -> (kind, activation, seed)
    "simple_rnn_tanh": ("simple_rnn", "tanh", 101),
    "simple_rnn_relu": ("simple_rnn", "relu", 102),
    "lstm": ("lstm", "tanh", 103),
    "gru": ("gru", "tanh", 104),
}
LENGTHS = [5, 2, 4]


def make_fixture(torch, kind, activation, seed) -> dict:
    case = make_case(kind, B=3, T=5, D=3, H=4, seed=seed)
    rng = np.random.default_rng(seed + 1000)
    g_out = rng.standard_normal((3, 5, 4))
    g_states = [rng.standard_normal((3, 4)) for _ in range(2 if kind == "lstm" else 1)]
    result = torch_run(torch, kind, case, g_out, g_states, lengths=LENGTHS, activation=activation)
    arrays = {k: v for k, v in case.items() if v is not None}
    arrays.update(kind=np.array(kind), activation=np.array(activation), lengths=np.array(LENGTHS),
                  g_out=g_out, g_h=g_states[0], torch_version=np.array(torch.__version__))
    if kind == "lstm":
        arrays["g_c"] = g_states[1]
    for key, value in result.items():
        name = key if key in ("outputs", "h_last", "c_last") else "grad_" + key
        arrays[name] = value
    return arrays


def main() -> None:
    import torch

    torch.set_default_dtype(torch.float64)
    out_dir = ROOT / "tests" / "fixtures"
    out_dir.mkdir(parents=True, exist_ok=True)
    for name, (kind, activation, seed) in FIXTURES.items():
        path = out_dir / f"torch_{name}.npz"
        np.savez_compressed(path, **make_fixture(torch, kind, activation, seed))
        print(f"wrote {path.relative_to(ROOT)} ({path.stat().st_size} bytes)")


if __name__ == "__main__":
    main()
