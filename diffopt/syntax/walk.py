"""Walking AST trees without recursion: children, postorder, structural equality.

Owns the generic walks over the frozen dataclasses of diffopt.syntax.ast
(which re-exports them): a node's children are the dataclass values among
its fields other than spans and comments. Trees can be a 10^5-deep spine, so
every walk here is a loop over an explicit stack.
"""

from __future__ import annotations

import dataclasses

_CHILD_FIELDS: dict[type, tuple[str, ...]] = {}


def _child_fields(cls: type) -> tuple[str, ...]:
    names = _CHILD_FIELDS.get(cls)
    if names is None:
        names = tuple(
            f.name
            for f in dataclasses.fields(cls)
            if f.name not in ("span", "op_span", "name_span", "comments")
        )
        _CHILD_FIELDS[cls] = names
    return names


def children(node) -> list:
    """The direct child nodes of ``node``, in source order."""
    out = []
    for name in _child_fields(type(node)):
        value = getattr(node, name)
        if isinstance(value, tuple):
            out.extend(v for v in value if dataclasses.is_dataclass(v))
        elif dataclasses.is_dataclass(value):
            out.append(value)
    return out


def postorder(root):
    """Yield every node under ``root`` (inclusive), children before parents.

    Iterative, so any depth works.
    """
    stack = [(root, False)]
    while stack:
        node, expanded = stack.pop()
        if expanded:
            yield node
            continue
        stack.append((node, True))
        for child in reversed(children(node)):
            stack.append((child, False))


def same_tree(a, b) -> bool:
    """Structural equality of two trees (spans ignored), without recursion."""
    stack = [(a, b)]
    while stack:
        x, y = stack.pop()
        if type(x) is not type(y):
            return False
        if not dataclasses.is_dataclass(x):
            if x != y:
                return False
            continue
        for name in _child_fields(type(x)):
            vx, vy = getattr(x, name), getattr(y, name)
            if isinstance(vx, tuple):
                if not isinstance(vy, tuple) or len(vx) != len(vy):
                    return False
                stack.extend(zip(vx, vy))
            else:
                stack.append((vx, vy))
    return True
