"""Einstein summation (``np.einsum`` subscripts), forward and backward side by side.

For ``out[o] = sum over the other letters of  A[a] * B[b] * ...`` the gradient of one operand is the same kind
of sum with that operand left out and the output gradient put in its place:

    dL/dA[a] = einsum("o,b,...->a", G, B, ...)

Letters of ``a`` that appear in no other operand and not in the output were summed inside ``A`` alone; the
gradient is constant along them (broadcast back). Operands whose size-1 axes were broadcast against a larger
size get their gradient summed back over those axes. Ellipsis (``...``) is supported; a letter repeated inside
one operand (a trace or diagonal, ``"ii->i"``) is not, and raises a ShapeError.

>>> import numpy as np
>>> from rnnkit import Tensor
>>> from rnnkit.ops.einsum import einsum
>>> x = Tensor(np.ones((2, 3)), requires_grad=True)
>>> w = Tensor(np.arange(12.0).reshape(3, 4), requires_grad=True)
>>> y = einsum("bi,ij->bj", x, w)
>>> y.shape
(2, 4)
>>> y.sum().backward()
>>> x.grad
array([[ 6., 22., 38.],
       [ 6., 22., 38.]], dtype=float32)
"""
from __future__ import annotations

import string

import numpy as np

from rnnkit.autograd import Tensor, make
from rnnkit.errors import ShapeError


def _lift(operands) -> list:
    """Tensors for every operand; arrays and numbers take the dtype of the first float Tensor."""
    dtype = next((o.dtype for o in operands if isinstance(o, Tensor) and o.dtype.kind == "f"), None)
    return [o if isinstance(o, Tensor) else Tensor(o, dtype=dtype if np.asarray(o).dtype.kind in "fiu" else None)
            for o in operands]


def parse(subscripts: str, shapes: list) -> tuple:
    """``(input letter strings, output letter string)`` with every ``...`` replaced by explicit letters
    (right-aligned across operands, as broadcasting aligns them)."""
    if not isinstance(subscripts, str):
        raise ShapeError(f"einsum subscripts must be a string such as 'bi,ij->bj'; got {subscripts!r}")
    text = subscripts.replace(" ", "")
    inputs, arrow, output = text.partition("->")
    terms = inputs.split(",")
    if len(terms) != len(shapes):
        raise ShapeError(f"einsum subscripts {subscripts!r} name {len(terms)} operand(s); got {len(shapes)}")
    used = set(text) - set(".,->")
    bad = sorted(c for c in used if c not in string.ascii_letters)
    if bad:
        raise ShapeError(f"einsum subscripts {subscripts!r}: only letters, ',', '->' and '...' are allowed; "
                         f"got {bad}")
    spare = [c for c in string.ascii_letters if c not in used]
    ellipsis_dims = 0
    for term, shape in zip(terms, shapes):
        named = len(term.replace("...", ""))
        if "..." in term:
            ellipsis_dims = max(ellipsis_dims, len(shape) - named)
        elif named != len(shape):
            raise ShapeError(f"einsum subscripts {subscripts!r}: term {term!r} names {named} axes, but its operand "
                             f"has shape {tuple(shape)}")
    extra = "".join(spare[:ellipsis_dims])
    letters = []
    for term, shape in zip(terms, shapes):
        if "..." in term:
            count = len(shape) - len(term.replace("...", ""))
            if count < 0:
                raise ShapeError(f"einsum subscripts {subscripts!r}: term {term!r} names more axes than its "
                                 f"operand's shape {tuple(shape)} has")
            term = term.replace("...", extra[ellipsis_dims - count:])
        if len(set(term)) != len(term):
            raise ShapeError(f"einsum subscripts {subscripts!r}: a letter repeated within one operand ({term!r}: "
                             "a trace or diagonal) is not supported")
        letters.append(term)
    if arrow:
        out = output.replace("...", extra)
        if len(set(out)) != len(out) or any(c not in "".join(letters) for c in out):
            raise ShapeError(f"einsum subscripts {subscripts!r}: each output letter must appear once, and in an "
                             "input")
    else:  # implicit output: the broadcast axes, then the letters used once, sorted
        joined = "".join(letters)
        out = extra + "".join(sorted(c for c in set(joined) if joined.count(c) == 1 and c not in extra))
    return letters, out


def _sizes(letters: list, shapes: list, subscripts: str) -> dict:
    sizes: dict = {}
    for term, shape in zip(letters, shapes):
        for c, n in zip(term, shape):
            known = sizes.get(c, 1)
            if n != 1 and known != 1 and n != known:
                raise ShapeError(f"einsum {subscripts!r}: axis {c!r} has size {known} in one operand and {n} in "
                                 f"another (shapes {[tuple(s) for s in shapes]})")
            sizes[c] = max(known, n)
    return sizes


def einsum(subscripts: str, *operands) -> Tensor:
    """``np.einsum(subscripts, *operands)`` on the tape, e.g. ``"bi,ij->bj"``, ``"bij,jk->bik"``,
    ``"bij,ijkl->bkl"``, ``"...i,ij->...j"``."""
    tensors = _lift(operands)
    if not tensors:
        raise ShapeError("einsum needs at least one operand")
    shapes = [t.shape for t in tensors]
    letters, out = parse(subscripts, shapes)
    sizes = _sizes(letters, shapes, subscripts)
    full = [np.broadcast_to(t.data, tuple(sizes[c] for c in term)) for t, term in zip(tensors, letters)]
    spec = ",".join(letters) + "->" + out
    result = np.asarray(np.einsum(spec, *full, optimize=len(full) > 1))

    def backward(g):
        grads = []
        for i, (t, term) in enumerate(zip(tensors, letters)):
            if not t.requires_grad:
                grads.append(None)
                continue
            others = [(term_j, full[j]) for j, term_j in enumerate(letters) if j != i]
            present = set(out).union(*(set(term_j) for term_j, _ in others))
            kept = "".join(c for c in term if c in present)  # letters summed inside t alone are not
            parts = [out] + [term_j for term_j, _ in others]
            grad = np.einsum(",".join(parts) + "->" + kept, g, *(a for _, a in others),
                             optimize=len(parts) > 1)
            grad = grad.reshape([sizes[c] if c in present else 1 for c in term])  # (full sizes, 1 where summed)
            grad = np.broadcast_to(grad, tuple(sizes[c] for c in term))
            stretched = tuple(k for k, n in enumerate(t.shape) if n == 1 and sizes[term[k]] != 1)
            if stretched:
                grad = grad.sum(axis=stretched, keepdims=True)
            grads.append(np.ascontiguousarray(grad, dtype=t.dtype))
        return grads

    return make("einsum", result, tensors, backward)

