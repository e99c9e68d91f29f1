"""Searched values as the response model's inputs: one or more columns per search dimension,
each scaled so that the dimension's searched span is 1.

- a mixture share (`mix.<name>`, choices or a range): the share itself, linear;
- a range: its value (log10 for a log range), scaled by the range's ends;
- any other numeric choice (`lora.r`: 16, 32, 64): log2 of the value when every choice is
  positive (a rank doubles, it does not add), else the value, scaled by the choices' ends;
- any other choice (`curriculum`, `model.path`): one 0/1 column for two values, one per value
  (one-hot) for more. A value the sweep did not search cannot be encoded.
A dimension with one value is constant and has no column. Numeric dimensions may be asked
between and beyond their searched values (the model interpolates, or says it extrapolates).
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np

from sweeps.config import Choice, Range, SweepConfig


def number(value: Any) -> float | None:
    """A finite number from a value or an MLflow param string; None otherwise (a bool too)."""
    if isinstance(value, bool):
        return None
    try:
        x = float(value)
    except (TypeError, ValueError):
        return None
    return x if math.isfinite(x) else None


def _same(choice: Any, value: Any) -> bool:
    """`value` (a param string or a value) is the choice `choice`."""
    if isinstance(choice, bool) or isinstance(value, bool):
        return str(choice).lower() == str(value).lower()
    if choice == value or str(choice) == str(value) or json.dumps(choice) == str(value):
        return True
    a, b = number(choice), number(value)
    return a is not None and b is not None and a == b


@dataclass(frozen=True)
class Dimension:
    key: str
    kind: str
    """`share`, `log2`, `log10` or `linear` (numeric, one column), or `category`."""
    low: float = 0.0
    high: float = 1.0
    """A numeric dimension's searched ends (in its own units)."""
    choices: tuple[Any, ...] = ()

    @property
    def numeric(self) -> bool:
        return self.kind != "category"

    @property
    def width(self) -> int:
        if self.numeric:
            return 1
        return 1 if len(self.choices) == 2 else len(self.choices)

    def _raw(self, x: float) -> float | None:
        if self.kind in ("log2", "log10"):
            if x <= 0:
                return None
            return math.log2(x) if self.kind == "log2" else math.log10(x)
        return x

    def columns(self, value: Any) -> list[float] | None:
        """The value's columns; None when it cannot be encoded."""
        if self.numeric:
            x = number(value)
            raw = None if x is None else self._raw(x)
            lo, hi = self._raw(self.low), self._raw(self.high)
            return None if raw is None else [(raw - lo) / (hi - lo)]
        index = self.index(value)
        if index is None:
            return None
        if len(self.choices) == 2:
            return [float(index)]
        return [1.0 if i == index else 0.0 for i in range(len(self.choices))]

    def index(self, value: Any) -> int | None:
        """A category's position among the searched choices."""
        return next((i for i, c in enumerate(self.choices) if _same(c, value)), None)

    def shown(self, value: Any) -> str:
        """A value as the report prints it (a category as the searched choice)."""
        if self.numeric:
            x = number(value)
            return "?" if x is None else f"{x:g}"
        i = self.index(value)
        return str(value) if i is None else str(self.choices[i])


def dimension(key: str, spec: Choice | Range) -> Dimension | None:
    """How a search dimension is encoded; None for a constant one (one value)."""
    if isinstance(spec, Range):
        if key.startswith("mix."):
            return Dimension(key, "share", spec.low, spec.high)
        return Dimension(key, "log10" if spec.log else "linear", spec.low, spec.high)
    values = list(dict.fromkeys(spec.choice))
    if len(values) < 2:
        return None
    nums = [number(v) for v in values]
    if all(n is not None for n in nums):
        lo, hi = min(nums), max(nums)
        if key.startswith("mix."):
            kind = "share"
        else:
            kind = "log2" if lo > 0 else "linear"
        return Dimension(key, kind, lo, hi)
    return Dimension(key, "category", choices=tuple(values))


@dataclass(frozen=True)
class Encoder:
    dims: tuple[Dimension, ...]

    @classmethod
    def of(cls, cfg: SweepConfig) -> Encoder:
        found = (dimension(k, s) for k, s in cfg.search.space.items())
        return cls(tuple(d for d in found if d is not None))

    @property
    def width(self) -> int:
        return sum(d.width for d in self.dims)

    def dim(self, key: str) -> Dimension | None:
        return next((d for d in self.dims if d.key == key), None)

    def encode(self, values: Mapping[str, Any]) -> np.ndarray | None:
        """A configuration's input row; None when a value is missing or cannot be encoded."""
        row: list[float] = []
        for d in self.dims:
            cols = d.columns(values.get(d.key))
            if cols is None:
                return None
            row += cols
        return np.array(row, float)

    def outside(self, values: Mapping[str, Any], seen: list[Mapping[str, Any]]) -> list[str]:
        """Where `values` lies beyond what the trials `seen` had: a number outside their
        range, a category none of them had; one phrase each."""
        out = []
        for d in self.dims:
            v = values.get(d.key)
            if d.numeric:
                nums = [x for s in seen if (x := number(s.get(d.key))) is not None]
                x = number(v)
                if nums and x is not None and not min(nums) <= x <= max(nums):
                    out.append(f"{d.key}={x:g} is outside the trials' {min(nums):g}..{max(nums):g}")
            elif not any(d.index(s.get(d.key)) == d.index(v) for s in seen):
                out.append(f"{d.key}={d.shown(v)} was in no trial")
        return out
