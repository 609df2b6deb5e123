"""Nested structures of lists, tuples and dicts, as Keras 3's ``keras.tree``.

A structure is a leaf (anything else: a Tensor, an array, a number, ``None``) or a list, tuple, namedtuple or
dict of structures. ``flatten`` lists the leaves depth first, dict entries in sorted key order;
``pack_sequence_as`` puts a flat list back into a structure's shape; ``map_structure`` applies a function
leaf-wise to one or more structures of the same shape. Recurrent cells with nested states use them
(``rnnkit.layers.RNN`` flattens the states to mask them and packs them back for the cell).

>>> from rnnkit import tree
>>> structure = {"b": 1, "a": [2, (3, None)]}
>>> tree.flatten(structure)
[2, 3, None, 1]
>>> tree.pack_sequence_as(structure, [9, 8, 7, 6])
{'a': [9, (8, 7)], 'b': 6}
>>> tree.map_structure(lambda x, y: x + y, [1, (2,)], [10, (20,)])
[11, (22,)]
>>> tree.is_nested(5), tree.is_nested([5])
(False, True)
"""
from __future__ import annotations

from rnnkit.errors import ShapeError

__all__ = ["assert_same_structure", "flatten", "is_nested", "map_structure", "pack_sequence_as"]


def is_nested(structure) -> bool:
    """True for a list, tuple (namedtuples included) or dict; False for a leaf."""
    return isinstance(structure, (list, tuple, dict))


def _children(structure) -> list:
    if isinstance(structure, dict):
        return [structure[key] for key in sorted(structure)]
    return list(structure)


def _rebuild(structure, children: list):
    """A container of ``structure``'s type holding ``children`` (dict values in sorted key order)."""
    if isinstance(structure, dict):
        keys = sorted(structure)
        try:
            return type(structure)(zip(keys, children))
        except TypeError:  # a dict subclass with another constructor (defaultdict): a plain dict
            return dict(zip(keys, children))
    if isinstance(structure, tuple) and hasattr(structure, "_fields"):  # namedtuple
        return type(structure)(*children)
    return type(structure)(children)


def flatten(structure) -> list:
    """The leaves of ``structure``, depth first (a leaf alone gives ``[leaf]``)."""
    out, stack = [], [structure]
    while stack:
        item = stack.pop()
        if is_nested(item):
            stack.extend(reversed(_children(item)))
        else:
            out.append(item)
    return out


def _describe(structure) -> str:
    text = repr(map_structure(lambda _: "*", structure)) if is_nested(structure) else "*"
    return text if len(text) <= 200 else text[:197] + "..."


def assert_same_structure(a, b) -> None:
    """ShapeError unless ``a`` and ``b`` nest the same way (same container kinds, lengths and dict keys)."""
    stack = [(a, b)]
    while stack:
        x, y = stack.pop()
        if is_nested(x) != is_nested(y) or (is_nested(x) and (
                isinstance(x, dict) != isinstance(y, dict) or len(x) != len(y)
                or (isinstance(x, dict) and sorted(x) != sorted(y)))):
            raise ShapeError(f"the structures differ: {_describe(a)} and {_describe(b)}")
        if is_nested(x):
            stack.extend(zip(_children(x), _children(y)))


def map_structure(func, *structures):
    """``func`` applied to the corresponding leaves of ``structures`` (same nesting), in the first's shape."""
    if not structures:
        raise TypeError("map_structure() needs at least one structure")
    first = structures[0]
    for other in structures[1:]:
        assert_same_structure(first, other)
    results = [func(*leaves) for leaves in zip(*(flatten(s) for s in structures))]
    return pack_sequence_as(first, results)


def pack_sequence_as(structure, flat_sequence):
    """The leaves of ``flat_sequence`` arranged as ``structure`` (the inverse of ``flatten``)."""
    flat_sequence = list(flat_sequence)
    count = len(flatten(structure))
    if len(flat_sequence) != count:
        raise ShapeError(f"pack_sequence_as: the structure {_describe(structure)} holds {count} leaves; "
                         f"got {len(flat_sequence)}")
    position = 0

    def pack(item):
        nonlocal position
        if not is_nested(item):
            position += 1
            return flat_sequence[position - 1]
        return _rebuild(item, [pack(child) for child in _children(item)])

    return pack(structure)
