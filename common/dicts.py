"""Nested mappings."""

from __future__ import annotations

import copy
from typing import Any


def flatten(mapping: dict[str, Any], prefix: str = "") -> dict[str, Any]:
    """{"a": {"b": 1}} -> {"a.b": 1}; lists and scalars are leaves."""
    out: dict[str, Any] = {}
    for key, value in mapping.items():
        name = f"{prefix}{key}"
        if isinstance(value, dict):
            out.update(flatten(value, f"{name}."))
        else:
            out[name] = value
    return out


def first_difference(a: dict, b: dict, prefix: str = "") -> str:
    """`key was X, now Y` for the first (sorted, depth-first) key where `a` and `b` differ."""
    for key in sorted(set(a) | set(b)):
        x, y = a.get(key), b.get(key)
        if isinstance(x, dict) and isinstance(y, dict):
            found = first_difference(x, y, f"{prefix}{key}.")
            if found:
                return found
        elif x != y:
            return f"{prefix}{key} was {x!r}, now {y!r}"
    return ""


def deep_merge(base: dict[str, Any], top: dict[str, Any], leaves=()) -> dict[str, Any]:
    """`top` over a copy of `base`, nested mappings merged key by key (those named in
    `leaves` replaced whole)."""
    out = copy.deepcopy(base)
    for key, value in top.items():
        if isinstance(value, dict) and isinstance(out.get(key), dict) and key not in leaves:
            out[key] = deep_merge(out[key], value, leaves)
        else:
            out[key] = value
    return out
