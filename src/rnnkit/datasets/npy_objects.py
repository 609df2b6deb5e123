"""Read ``.npy`` object arrays whose elements are lists of integers (Keras' ``imdb.npz`` and ``reuters.npz``)
without unpickling.

NumPy stores an object array as a pickle stream, and unpickling runs whatever the stream names. This module
never calls the ``pickle`` module: it reads the stream's opcodes itself and accepts exactly one shape of data, a
1-D ``numpy.ndarray`` of dtype ``object`` (``numpy.core.multiarray._reconstruct``, ``numpy.ndarray``,
``numpy.dtype("O8")``, named as text and never looked up; protocols 0-2 also spell bytes as
``_codecs.encode(text, "latin1")``, which is computed here on the text) whose elements are lists of integers. Anything else
(another global, a dict, a string element, an opcode outside this list) raises :class:`rnnkit.errors.DataError`
naming what was found. Protocols 0 to 5 are read, so files pickled by Python 2 work too.

>>> import io
>>> import numpy as np
>>> array = np.empty(2, dtype=object)
>>> array[0], array[1] = [1, 2, 300], [70000]
>>> buffer = io.BytesIO()
>>> np.save(buffer, array, allow_pickle=True)  # how Keras' files were written
>>> read_list_array(buffer.getvalue(), "demo.npy")
[[1, 2, 300], [70000]]
"""
from __future__ import annotations

import ast
import struct

import numpy as np

from rnnkit.errors import DataError

ALLOWED_GLOBALS = {
    ("numpy.core.multiarray", "_reconstruct"): "reconstruct",
    ("numpy._core.multiarray", "_reconstruct"): "reconstruct",
    ("numpy", "ndarray"): "ndarray",
    ("numpy", "dtype"): "dtype",
    ("_codecs", "encode"): "encode",  # protocols 0-2 written by Python 3 spell bytes as encode(text, "latin1")
}
_MARK = object()


class _Call:
    """A call the stream asks for, kept as data: ``what`` (a name from ALLOWED_GLOBALS), its arguments, and
    the state a later BUILD gives it."""

    __slots__ = ("what", "args", "state")

    def __init__(self, what, args):
        self.what, self.args, self.state = what, args, None


def read_list_array(data: bytes, label: str) -> list:
    """The elements (lists of ints) of the ``.npy`` file ``data`` holding a 1-D object array."""
    fmt = np.lib.format
    import io

    f = io.BytesIO(data)
    try:
        version = fmt.read_magic(f)
        header_length = struct.unpack("<H" if version == (1, 0) else "<I", f.read(2 if version == (1, 0) else 4))[0]
        header = ast.literal_eval(f.read(header_length).decode("latin1"))
    except (ValueError, SyntaxError, struct.error, UnicodeDecodeError, MemoryError) as error:
        raise DataError(f"{label} is not a valid .npy array ({error})") from None
    if not isinstance(header, dict) or header.get("descr") != "|O":
        descr = header.get("descr") if isinstance(header, dict) else header
        raise DataError(f"{label} holds {descr!r} values; expected an object array of lists of integers")
    shape = header.get("shape")
    if not (isinstance(shape, tuple) and len(shape) == 1 and isinstance(shape[0], int)):
        raise DataError(f"{label} has shape {shape!r}; expected a 1-D array of sequences")
    elements = _read_stream(data, f.tell(), label)
    if len(elements) != shape[0]:
        raise DataError(f"{label} holds {len(elements)} sequences but its header says {shape[0]}")
    return elements


def _line(data: bytes, pos: int, label: str) -> tuple:
    end = data.find(b"\n", pos)
    if end < 0:
        raise DataError(f"{label}: truncated pickle stream")
    return data[pos:end], end + 1


def _read_stream(data: bytes, pos: int, label: str) -> list:  # noqa: C901 (one opcode per branch)
    stack: list = []
    memo: dict = {}
    unpack_from = struct.unpack_from
    size = len(data)
    try:
        while True:
            op = data[pos]
            pos += 1
            if op == 0x4B:  # K BININT1
                stack.append(data[pos])
                pos += 1
            elif op == 0x4D:  # M BININT2
                stack.append(data[pos] | data[pos + 1] << 8)
                pos += 2
            elif op == 0x4A:  # J BININT
                stack.append(unpack_from("<i", data, pos)[0])
                pos += 4
            elif op == 0x65:  # e APPENDS
                mark = len(stack) - 1 - stack[::-1].index(_MARK)
                items = stack[mark + 1:]
                del stack[mark:]
                target = stack[-1]
                if not isinstance(target, list):
                    raise DataError(f"{label}: APPENDS to a {type(target).__name__}")
                target.extend(items)
            elif op == 0x28:  # ( MARK
                stack.append(_MARK)
            elif op == 0x5D:  # ] EMPTY_LIST
                stack.append([])
            elif op == 0x94:  # MEMOIZE
                memo[len(memo)] = stack[-1]
            elif op == 0x71:  # q BINPUT
                memo[data[pos]] = stack[-1]
                pos += 1
            elif op == 0x72:  # r LONG_BINPUT
                memo[unpack_from("<I", data, pos)[0]] = stack[-1]
                pos += 4
            elif op == 0x70:  # p PUT
                text, pos = _line(data, pos, label)
                memo[int(text)] = stack[-1]
            elif op == 0x68:  # h BINGET
                stack.append(memo[data[pos]])
                pos += 1
            elif op == 0x6A:  # j LONG_BINGET
                stack.append(memo[unpack_from("<I", data, pos)[0]])
                pos += 4
            elif op == 0x67:  # g GET
                text, pos = _line(data, pos, label)
                stack.append(memo[int(text)])
            elif op == 0x61:  # a APPEND
                item = stack.pop()
                if not isinstance(stack[-1], list):
                    raise DataError(f"{label}: APPEND to a {type(stack[-1]).__name__}")
                stack[-1].append(item)
            elif op == 0x6C:  # l LIST
                mark = len(stack) - 1 - stack[::-1].index(_MARK)
                items = stack[mark + 1:]
                del stack[mark:]
                stack.append(items)
            elif op == 0x49:  # I INT (protocol 0; 00/01 are False/True)
                text, pos = _line(data, pos, label)
                stack.append({b"00": False, b"01": True}.get(text) if text in (b"00", b"01") else int(text))
            elif op == 0x4C:  # L LONG (protocol 0)
                text, pos = _line(data, pos, label)
                stack.append(int(text.rstrip(b"L")))
            elif op in (0x8A, 0x8B):  # LONG1, LONG4
                width = data[pos] if op == 0x8A else unpack_from("<I", data, pos)[0]
                pos += 1 if op == 0x8A else 4
                if width > 8:
                    raise DataError(f"{label}: an integer of {width} bytes; expected word indices")
                stack.append(int.from_bytes(data[pos:pos + width], "little", signed=True))
                pos += width
            elif op in (0x80,):  # PROTO
                pos += 1
            elif op == 0x95:  # FRAME
                pos += 8
            elif op == 0x4E:  # N NONE
                stack.append(None)
            elif op == 0x88:  # NEWTRUE
                stack.append(True)
            elif op == 0x89:  # NEWFALSE
                stack.append(False)
            elif op == 0x29:  # ) EMPTY_TUPLE
                stack.append(())
            elif op == 0x85:  # TUPLE1
                stack[-1:] = [tuple(stack[-1:])]
            elif op == 0x86:  # TUPLE2
                stack[-2:] = [tuple(stack[-2:])]
            elif op == 0x87:  # TUPLE3
                stack[-3:] = [tuple(stack[-3:])]
            elif op == 0x74:  # t TUPLE
                mark = len(stack) - 1 - stack[::-1].index(_MARK)
                items = tuple(stack[mark + 1:])
                del stack[mark:]
                stack.append(items)
            elif op in (0x8C, 0x58, 0x8D, 0x55, 0x54, 0x43, 0x42, 0x8E):  # strings and bytes
                width = {0x8C: 1, 0x58: 4, 0x8D: 8, 0x55: 1, 0x54: 4, 0x43: 1, 0x42: 4, 0x8E: 8}[op]
                length = int.from_bytes(data[pos:pos + width], "little")
                pos += width
                if pos + length > size:
                    raise DataError(f"{label}: truncated pickle stream")
                raw = data[pos:pos + length]
                pos += length
                stack.append(raw.decode("utf-8") if op in (0x8C, 0x58, 0x8D) else
                             raw.decode("latin1") if op in (0x55, 0x54) else bytes(raw))
            elif op in (0x56, 0x53):  # V UNICODE, S STRING (protocol 0)
                text, pos = _line(data, pos, label)
                stack.append(text.decode("raw_unicode_escape") if op == 0x56 else
                             ast.literal_eval(text.decode("latin1")))
            elif op == 0x63:  # c GLOBAL
                module, pos = _line(data, pos, label)
                name, pos = _line(data, pos, label)
                stack.append(_global(module.decode("latin1"), name.decode("latin1"), label))
            elif op == 0x93:  # STACK_GLOBAL
                name, module = stack.pop(), stack.pop()
                stack.append(_global(str(module), str(name), label))
            elif op == 0x52:  # R REDUCE
                args, what = stack.pop(), stack.pop()
                if not isinstance(what, str) or what not in ALLOWED_GLOBALS.values() or not isinstance(args, tuple):
                    raise DataError(f"{label}: the pickle stream calls {what!r}; expected only NumPy's array "
                                    "reconstruction")
                if what == "encode":  # computed here, on plain text: nothing is called by name
                    if len(args) != 2 or not isinstance(args[0], str) or args[1] not in ("latin1", "latin-1"):
                        raise DataError(f"{label}: unexpected text encoding call {args!r:.60}")
                    stack.append(args[0].encode("latin1"))
                    continue
                stack.append(_Call(what, args))
            elif op == 0x62:  # b BUILD
                state = stack.pop()
                if not isinstance(stack[-1], _Call):
                    raise DataError(f"{label}: BUILD on a {type(stack[-1]).__name__}")
                stack[-1].state = state
            elif op == 0x2E:  # . STOP
                break
            else:
                raise DataError(f"{label}: pickle opcode {bytes([op])!r} at byte {pos - 1} is not part of a list-"
                                "of-integers array; refusing to read it (rnnkit never unpickles)")
    except (IndexError, KeyError, ValueError, SyntaxError, struct.error, UnicodeDecodeError) as error:
        if isinstance(error, DataError):
            raise
        raise DataError(f"{label}: malformed or truncated pickle stream ({type(error).__name__})") from None
    if len(stack) != 1:
        raise DataError(f"{label}: the pickle stream left {len(stack)} values; expected one array")
    return _elements(stack[0], label)


def _global(module: str, name: str, label: str) -> str:
    what = ALLOWED_GLOBALS.get((module, name))
    if what is None:
        raise DataError(f"{label}: the pickle stream names {module}.{name}, which an array of integer lists never "
                        "needs; refusing to read it (rnnkit never unpickles)")
    return what


def _elements(array, label: str) -> list:
    """Check the reconstructed array's description and return its elements."""
    ok = isinstance(array, _Call) and array.what == "reconstruct" and isinstance(array.state, tuple)
    if ok and len(array.state) == 5:
        _, shape, dtype, fortran, elements = array.state
        ok = (isinstance(dtype, _Call) and dtype.what == "dtype" and dtype.args[:1] in (("O8",), ("O4",))
              and isinstance(elements, list) and isinstance(shape, tuple) and len(shape) == 1)
    else:
        ok = False
    if not ok:
        raise DataError(f"{label}: the pickle stream does not describe a 1-D object array of lists")
    for i, element in enumerate(elements):
        if not isinstance(element, list) or not all(type(v) is int for v in element):
            kind = type(element).__name__ if not isinstance(element, list) else "list holding non-integers"
            raise DataError(f"{label}: element {i} is a {kind}; expected lists of integers")
    return elements
