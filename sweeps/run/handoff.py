"""What each trial is handed: the eval sets and, of each training pool, only the rows some
trial of this sweep can draw — put in Ray's object store once (`tune.with_parameters`).

A trial draws `random.Random(f"{seed}:{source}").sample(pool, k)` (`training.mixing`). The
rows that call can return depend on the pool's length, so a trial's pool keeps its length
(`DrawablePool`) and holds only the rows at the positions the sweep's seeds can draw for the
largest `k` its search space allows: `sample` draws a prefix of the same positions for every
smaller `k` taken by the same method (CPython switches between two methods by `k`, so the
largest `k` of each is drawn). Every trial thus draws exactly what it would from the whole
pool; a position not shipped would be a bug, and `sweeps.run.plan.trial_phases` refuses it.
Free of Ray and torch.
"""

from __future__ import annotations

import math
import random
from collections.abc import Sequence
from dataclasses import replace

from sweeps.config import Choice, Range, SweepConfig
from training.examples import Example
from training.prepare import PreparedData

NOT_SHIPPED = None
"""What a trial's pool holds at a position no trial of the sweep can draw."""


class DrawablePool(Sequence):
    """A training pool of `size` rows of which only `rows` (position -> row) are here."""

    def __init__(self, size: int, rows: dict[int, Example]):
        self.size = size
        self.rows = rows

    def __len__(self) -> int:
        return self.size

    def __getitem__(self, i):
        if isinstance(i, slice) or not 0 <= i < self.size:
            raise IndexError(i)
        return self.rows.get(i, NOT_SHIPPED)


def _values(sweep: SweepConfig, key: str, default) -> list | None:
    """Every value `key` takes in the sweep (None: a continuous range, unbounded set)."""
    values = [p[key] for p in sweep.search.points_to_evaluate if key in p]
    dim = sweep.search.space.get(key)
    if isinstance(dim, Choice):
        return values + list(dim.choice)
    if isinstance(dim, Range):
        return None if key == "train.seed" else values + [dim.low, dim.high]
    return values + [default]


def largest_draws(sweep: SweepConfig) -> tuple[list | None, dict[str, int]]:
    """(the seeds trials draw with, None if searched over a range; the most rows of each
    source one phase can draw)."""
    t, mix = sweep.train, sweep.mix
    seeds = _values(sweep, "train.seed", t.seed)
    n = int(max(_values(sweep, "train.num_examples", t.num_examples)))
    mixed = [s for s in sweep.data.names() if s != "alpaca"]  # Alpaca is the rest
    share = {s: max(_values(sweep, f"mix.{s}", getattr(mix, s, 0.0))) for s in mixed}
    least = {s: min(_values(sweep, f"mix.{s}", getattr(mix, s, 0.0))) for s in mixed}
    most = {s: round(n * v) for s, v in share.items()}
    alpaca_only = "two_phase" in _values(sweep, "curriculum", sweep.curriculum)
    most["alpaca"] = n if alpaca_only else n - sum(round(n * v) for v in least.values())
    return seeds, most


def _pool_method(n: int, k: int) -> bool:
    """Whether CPython's `random.sample(population of n, k)` copies the population."""
    setsize = 21 + (4 ** math.ceil(math.log(k * 3, 4)) if k > 5 else 0)
    return n <= setsize


def drawable_positions(size: int, k_max: int, seed: str) -> set[int]:
    """Every position `random.Random(seed).sample(pool of size, k)` can return, k <= k_max."""
    k_max = min(k_max, size)
    if k_max <= 0:
        return set()
    ks = [k_max]
    if _pool_method(size, k_max):  # smaller k may switch to the other method
        k = k_max - 1
        while k > 0 and _pool_method(size, k):
            k -= 1
        if k > 0:
            ks.append(k)
    positions: set[int] = set()
    for k in ks:
        positions.update(random.Random(seed).sample(range(size), k))
    return positions


def trial_data(sweep: SweepConfig, data: PreparedData) -> PreparedData:
    """`data` as trials get it: eval sets whole, pools cut to the rows trials can draw."""
    seeds, most = largest_draws(sweep)
    if seeds is None:  # a searched seed range: any position may be drawn
        return data
    pools: dict[str, Sequence[Example]] = {}
    for source, pool in data.pools.items():
        keep: set[int] = set()
        for seed in set(seeds):
            keep |= drawable_positions(len(pool), most[source], f"{seed}:{source}")
        pools[source] = DrawablePool(len(pool), {i: pool[i] for i in sorted(keep)})
    return replace(data, pools=pools)
