"""YAML read with its aliases bounded: a config cannot be a "billion laughs" bomb.

`yaml.safe_load` shares an aliased node rather than copying it, so a file of a few lines
with nested anchors (`b: &b [*a, *a, ...]`) loads quickly and small, but becomes billions of
values to anything that walks it (validation, an error message quoting it, `model_dump`).
Here the document is composed first and its size counted as it would be expanded (each
shared node counted once per use, in linear time); past `MAX_VALUES` it is refused before
anything is built.
"""

from __future__ import annotations

from typing import Any

import yaml

MAX_VALUES = 100_000
"""Scalars, lists and mappings a config may expand to (a real one has a few hundred)."""


class YamlTooLarge(ValueError):
    """A document that expands past `MAX_VALUES` (through its aliases); one line."""


def _expanded(node: yaml.Node, memo: dict[int, int]) -> int:
    if id(node) not in memo:
        if isinstance(node, yaml.SequenceNode):
            size = 1 + sum(_expanded(child, memo) for child in node.value)
        elif isinstance(node, yaml.MappingNode):
            size = 1 + sum(_expanded(k, memo) + _expanded(v, memo) for k, v in node.value)
        else:
            size = 1
        memo[id(node)] = size
    return memo[id(node)]


def load(text: str, max_values: int = MAX_VALUES) -> Any:
    """`yaml.safe_load(text)`, refusing a document that expands past `max_values`."""
    loader = yaml.SafeLoader(text)
    try:
        node = loader.get_single_node()
        if node is None:
            return None
        size = _expanded(node, {})
        if size > max_values:
            raise YamlTooLarge(
                f"expands to {size:,} values through its aliases (more than {max_values:,})"
            )
        return loader.construct_document(node)
    finally:
        loader.dispose()
