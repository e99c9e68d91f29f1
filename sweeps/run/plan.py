"""Which training rows a trial draws: the phases its settings ask for, checked up front.

Free of torch and Ray, so `sweeplab data` and the launch checks stay light.
"""

from __future__ import annotations

import itertools
import json
import math
from pathlib import Path

from sweeps.config import Choice, SweepConfig, TrialConfig
from training.mixing import Phase, manifest, plan_phases
from training.prepare import PreparedData, prepare_data


def trial_phases(cfg: TrialConfig, data: PreparedData) -> list[Phase]:
    """The phases this trial's settings ask for, drawn from the prepared pools."""
    t = cfg.train
    phases = plan_phases(
        data.pools, cfg.mix, cfg.curriculum, t.num_examples, t.max_steps, t.phase1_fraction, t.seed
    )
    if any(ex is None for phase in phases for ex in phase.examples):  # see sweeps.run.handoff
        raise RuntimeError("the trial drew a training row it was not handed: a sweeplab bug")
    return phases


def check_mixtures(sweep: SweepConfig, data: PreparedData) -> None:
    """Every trial the sweep can run must find its training rows: checked up front (one
    line naming the setting) instead of failing trial after trial."""
    dims = {
        k: (d.choice if isinstance(d, Choice) else (d.low, d.high))
        for k, d in sweep.search.space.items()
    }
    points = [dict(p) for p in sweep.search.points_to_evaluate] or [{}]
    if dims and math.prod(len(v) for v in dims.values()) <= 512:
        points += [dict(zip(dims, vs, strict=True)) for vs in itertools.product(*dims.values())]
    for point in points:
        try:
            trial_phases(sweep.trial(point), data)
        except ValueError as exc:
            where = ", ".join(f"{k}={v}" for k, v in point.items()) or "the config's defaults"
            raise ValueError(f"trial with {where}: {exc}") from None


def data_summary(cfg: SweepConfig, as_json: bool = False, cache_dir: Path | None = None) -> str:
    """`sweeplab data`: rows, duplicates, malformed rows, splits and the default mixture."""
    data = prepare_data(cfg.data, cache_dir)
    mix = manifest(trial_phases(cfg, data))
    if as_json:
        return json.dumps({s: st.as_dict() for s, st in data.stats.items()})
    lines = [f"{'dataset':<10}{'rows':>8}{'dups':>8}{'skipped':>9}{'train':>8}{'eval':>7}  source"]
    for source, st in data.stats.items():
        lines.append(
            f"{source:<10}{st.rows:>8}{st.duplicates:>8}{st.skipped:>9}{st.train:>8}"
            f"{st.eval:>7}  {cfg.data.source(source)}"
        )
    for source, st in data.stats.items():
        if st.available > st.rows:
            lines.append(f"{source}: a uniform sample of {st.rows} of {st.available} rows")
        if st.collections:
            mix_of = ", ".join(f"{k} {v / st.rows:.1%}" for k, v in st.collections.items())
            lines.append(f"{source} sub-collections: {mix_of}")
    if data.cache_key:
        how = "read from the cache" if data.from_cache else "read and cached"
        lines.append(f"prepared data {data.cache_key}: {how} ({cache_dir})")
    lines.append(f"\ntraining mixture ({cfg.curriculum}, content hash {mix['content_hash'][:12]}):")
    for phase in mix["phases"]:
        shares = ", ".join(f"{k} {v}" for k, v in sorted(phase["rows_per_source"].items()))
        lines.append(
            f"  {phase['name']:<8} {phase['steps']:>5} steps on {phase['rows']} rows: {shares}"
        )
    return "\n".join(lines)
