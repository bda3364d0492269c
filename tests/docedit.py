"""Test helper: a copy of a JSON-like document with one field set or deleted."""

from __future__ import annotations

import copy


def edited(doc, path, value=None, delete=False):
    """`doc` deep-copied, with the field at `path` (keys and indices) set to `value` or
    deleted."""
    d = copy.deepcopy(doc)
    node = d
    for key in path[:-1]:
        node = node[key]
    if delete:
        del node[path[-1]]
    else:
        node[path[-1]] = value
    return d
