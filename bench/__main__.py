"""`make bench`: every figure of the platform's speed, measured side by side in one run.

    python -m bench [--quick] [--only NAME ...] [--out bench]

Writes bench/results.json and bench/RESULTS.md. `--quick` (or BENCH_QUICK=1) shrinks every
budget for a smoke run of a few minutes; its numbers are not the bench's. `--only` measures
some figures again and keeps the others from the last results at the same settings (each
figure's time in `figures_at`).
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
import time
from pathlib import Path

from bench import (
    driver_scale,
    eval_batch,
    many_runs,
    metric_speed,
    parallel,
    proposals,
    report,
    sweep_overhead,
    train_flops,
    trial_settings,
)
from bench.common import machine
from bench.explain import why
from bench.settings import FULL, QUICK, ROOT

# name -> measure(settings, work_dir, log); in this order (cheapest first).
FIGURES = {
    "eval_batch": lambda s, w, log: eval_batch.measure(s, log),
    "metric_speed": lambda s, w, log: metric_speed.measure(s, log),
    "proposals": lambda s, w, log: proposals.measure(s.proposal_trials, w, log),
    "train_flops": train_flops.measure,
    "trial_settings": trial_settings.measure,
    "parallel": parallel.measure,
    "sweeps": sweep_overhead.measure,
    "driver_scale": lambda s, w, log: driver_scale.measure(s.driver_scales, w, log),
    "read_back": lambda s, w, log: many_runs.measure(s.quick, w, log),
}


def make_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m bench", description=__doc__.splitlines()[0])
    p.add_argument("--quick", action="store_true", help="tiny budgets: a smoke run")
    p.add_argument("--only", nargs="+", choices=sorted(FIGURES), help="measure only these")
    p.add_argument("--out", type=Path, default=ROOT / "bench", help="where results go")
    p.add_argument("--keep", action="store_true", help="keep the scratch files in bench/out")
    return p


def earlier(out_dir: Path, quick: bool) -> dict:
    """The last results at the same settings, without their verdicts (recomputed), each
    figure dated (`figures_at`); {} when there are none."""
    try:
        old = json.loads((out_dir / "results.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    if old.get("quick") != quick:
        return {}
    kept = {k: v for k, v in old.items() if not k.endswith(("_target", "_meets_target"))}
    dated = {n: old.get("finished_at", "") for n in FIGURES if f"{n}_bench_s" in old}
    kept["figures_at"] = {**dated, **old.get("figures_at", {})}
    return kept


def main(argv: list[str] | None = None) -> int:
    args = make_parser().parse_args(argv)
    quick = args.quick or os.environ.get("BENCH_QUICK", "") not in ("", "0")
    s = QUICK if quick else FULL
    work = ROOT / "bench" / "out"
    shutil.rmtree(work, ignore_errors=True)
    work.mkdir(parents=True)
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    started = time.perf_counter()
    results: dict = earlier(args.out, quick) if args.only else {}
    results.update({"quick": quick, "machine": machine()})
    results.setdefault("figures_at", {})

    def log(msg: str) -> None:
        print(msg, flush=True)

    for name in args.only or FIGURES:
        log(f"[{time.perf_counter() - started:6.0f} s] {name} ...")
        t = time.perf_counter()
        results.update(FIGURES[name](s, work, log))
        results[f"{name}_bench_s"] = time.perf_counter() - t
        results["figures_at"][name] = time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime())
    results["total_s"] = time.perf_counter() - started
    results["finished_at"] = time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime())
    js, md = report.write(results, why(results), args.out)
    log(f"wrote {js} and {md} in {results['total_s']:.0f} s")
    if not args.keep:  # sweeps' Ray and MLflow stores: tens of MB nobody reads afterwards
        shutil.rmtree(work, ignore_errors=True)
    print(md.read_text(encoding="utf-8"))
    return 0


if __name__ == "__main__":
    sys.exit(main())
