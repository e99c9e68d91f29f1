"""Figure 3: two trials at once on two cores vs the same two one after the other.

The two trials (the first two of settings.POINTS, train + one evaluation) run through
`bench.bare_loop` three ways; each trial times itself inside its worker, so interpreter
start and imports are left out of every figure:

- concurrent: 2 workers, 1 torch thread each (each trial's CPU share with 2 at a time);
- serial, same share: 1 worker, 1 thread per trial (the issue's definition: the trial keeps
  its configured `search.resources.cpu`, so the second core idles);
- serial, whole machine: 1 worker, 2 threads per trial (the fairer baseline).

parallel_speedup = serial (same share) seconds / concurrent seconds; the whole-machine
variant is `parallel_speedup_vs_serial_all_threads`.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

from bench.common import python, run_timed, sweep_doc, warm_base_cache, write_config
from bench.settings import Settings


def _run(cfg: Path, project: Path, workers: int, threads: int, tag: str) -> list[dict]:
    out = project / f"{tag}.json"
    cmd = [python(), "-m", "bench.bare_loop", str(cfg), "--out", str(out)]
    run_timed(cmd + ["--workers", str(workers), "--threads", str(threads)], project)
    return json.loads(out.read_text())["trials"]


def wall(trials: list[dict]) -> float:
    return max(t["end"] for t in trials) - min(t["start"] for t in trials)


def measure(s: Settings, work: Path, log) -> dict:
    project = work / "parallel"
    project.mkdir(parents=True, exist_ok=True)
    doc = sweep_doc(s.parallel_budget, 2, {"kind": "fifo"}, 2)
    cfg = write_config(doc, project / "parallel.yaml")
    warm_base_cache(doc, project)
    cores = os.cpu_count() or 2
    concurrent = wall(_run(cfg, project, 2, s.threads, "concurrent"))
    log(f"  concurrent, {s.threads} thread each: {concurrent:.1f} s")
    serial = wall(_run(cfg, project, 1, s.threads, "serial"))
    log(f"  serial, {s.threads} thread each: {serial:.1f} s")
    serial_all = wall(_run(cfg, project, 1, cores, "serial-all"))
    log(f"  serial, {cores} threads each: {serial_all:.1f} s")
    return {
        "parallel_speedup": serial / concurrent,
        "parallel_speedup_vs_serial_all_threads": serial_all / concurrent,
        "parallel_concurrent_s": concurrent,
        "parallel_serial_s": serial,
        "parallel_serial_all_threads_s": serial_all,
        "parallel_threads_per_trial": s.threads,
        "parallel_all_threads": cores,
        "parallel_trial_budget": s.parallel_budget.overrides(),
    }
