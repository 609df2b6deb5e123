"""Subnormal floats are flushed to zero while rnnkit computes (x86-64), as TensorFlow does by default.

Gradients that vanish through a long sequence shrink past the smallest normal float32 (1.2e-38) into subnormal
numbers, and an x86 core takes some hundred cycles for each arithmetic operation on one instead of one cycle. An
LSTM 64 over 784 steps (pixel-by-pixel MNIST, batch 64) took 1.1-1.2 s a training step instead of 90 ms: the
backward loop and the weight-gradient product were 12x slower (``benchmarks.run``, case "LSTM 64 x 784 steps").
So while rnnkit computes (a layer's call, a backward pass, rnnkit's worker threads) the CPU's MXCSR register has
its flush-to-zero and denormals-are-zero bits set: a subnormal result becomes 0 and a subnormal input counts as 0.
The register is per thread and is given back when rnnkit returns, so NumPy code outside rnnkit is unaffected.
Values that small carry no information a model can use (float32 keeps 7 digits down to 1.2e-38); float64's
subnormals start at 2.2e-308. ``rnnkit.config.set_flush_denormals(False)`` turns it off. On other processors
(ARM) nothing is changed.

>>> import numpy as np
>>> from rnnkit import denormals
>>> tiny = np.array([1e-39], np.float32)                        # subnormal in float32
>>> with denormals.Flushed():
...     inside = float((tiny * np.float32(1.0))[0])
>>> inside == 0.0 or not denormals.supported(), float((tiny * np.float32(1.0))[0]) > 0
(True, True)
"""
from __future__ import annotations

import platform

from llvmlite import ir
from numba import types
from numba.core import cgutils
from numba.extending import intrinsic

from rnnkit.compiled import jit

FLUSH_BITS = 0x8040  # MXCSR bit 15 (flush to zero) and bit 6 (denormals are zero)
_state = {"enabled": True}


def supported() -> bool:
    """True on x86-64, where rnnkit sets the MXCSR register."""
    return platform.machine().lower() in ("x86_64", "amd64")


def set_flush_denormals(enabled: bool) -> bool:
    """Flush subnormal floats to zero while rnnkit computes (default True); returns the previous setting."""
    if not isinstance(enabled, bool):
        from rnnkit.errors import ConfigError

        raise ConfigError(f"set_flush_denormals expects True or False; got {enabled!r}")
    previous, _state["enabled"] = _state["enabled"], enabled
    return previous


def flush_denormals() -> bool:
    """Whether rnnkit flushes subnormal floats to zero while it computes."""
    return _state["enabled"]


class Flushed:
    """Context manager: the calling thread flushes subnormal floats to zero inside (when enabled and supported);
    its previous MXCSR comes back on exit. Nested uses just set the bits again.

    >>> import numpy as np
    >>> from rnnkit.denormals import Flushed
    >>> with Flushed():
    ...     tiny = np.float32(1e-39) * np.float32(2.0)
    """

    __slots__ = ("_previous",)

    def __enter__(self):
        self._previous = flush()
        return self

    def __exit__(self, *exc_info) -> None:
        restore(self._previous)


def flush():
    """Set the calling thread's flush bits; returns its previous MXCSR to :func:`restore`, or None when nothing
    was changed (disabled, not x86-64, or the bits were already set)."""
    if not (_state["enabled"] and _SUPPORTED):
        return None
    previous = _set_mxcsr_bits(FLUSH_BITS)  # one compiled call: read, set the bits, write
    return None if previous & FLUSH_BITS == FLUSH_BITS else previous


def restore(previous) -> None:
    """Give the calling thread back the MXCSR :func:`flush` returned (nothing for None)."""
    if previous is not None:
        _write_mxcsr(previous)


def _mxcsr_function(builder, name: str):
    """LLVM's ``llvm.x86.sse.stmxcsr`` / ``ldmxcsr``: store / load the register through a 32-bit slot."""
    return cgutils.get_or_insert_function(builder.module, ir.FunctionType(ir.VoidType(), [ir.PointerType()]), name)


@intrinsic
def _stmxcsr(typingctx):
    def codegen(context, builder, signature, args):
        slot = cgutils.alloca_once(builder, ir.IntType(32))
        builder.call(_mxcsr_function(builder, "llvm.x86.sse.stmxcsr"), [slot])
        return builder.zext(builder.load(slot), ir.IntType(64))

    return types.int64(), codegen


@intrinsic
def _ldmxcsr(typingctx, value):
    def codegen(context, builder, signature, args):
        slot = cgutils.alloca_once(builder, ir.IntType(32))
        builder.store(builder.trunc(args[0], ir.IntType(32)), slot)
        builder.call(_mxcsr_function(builder, "llvm.x86.sse.ldmxcsr"), [slot])
        return context.get_dummy_value()

    return types.void(types.int64), codegen


@jit
def _read_mxcsr():
    return _stmxcsr()


@jit
def _write_mxcsr(value):
    _ldmxcsr(value)


@jit
def _set_mxcsr_bits(bits):
    """Set ``bits`` in the register; returns its value before."""
    previous = _stmxcsr()
    if previous & bits != bits:
        _ldmxcsr(previous | bits)
    return previous


_SUPPORTED = supported()
