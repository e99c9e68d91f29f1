"""The same trials as `sweeplab sweep`, without Ray, Optuna or MLflow: a process pool calling
`sweeps.run.trial.run_trial` at the same concurrency and threads (the overhead baseline).

    python -m bench.bare_loop CONFIG --out result.json [--workers 2] [--threads 1]

Like the sweep it prepares the data itself and reads base scores from `runs/base_eval` under
the working directory. Writes, per trial, its config, the steps it reported at, its objective
and its own start/end times.
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import sys
import tempfile
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

_DATA = None


def _init(data) -> None:
    """Per worker: keep the data, and import the trial's stack before any trial's clock
    starts (a Ray trial's actor likewise imports before its trainable runs)."""
    global _DATA
    _DATA = data
    import sweeps.run.trial  # noqa: F401
    import training.sft  # noqa: F401


def one_trial(cfg, objective: str, threads: int, base_cache: str) -> dict:
    from sweeps.run.trial import run_trial

    reports: list[dict] = []

    def report(metrics: dict, ckpt_dir: Path) -> None:
        reports.append({"step": metrics["train/step"], "objective": metrics["objective"]})

    started = time.time()
    with tempfile.TemporaryDirectory(prefix="bare-") as work:
        run_trial(cfg, _DATA, Path(work), report, objective, threads, Path(base_cache))
    return {"reports": reports, "start": started, "end": time.time()}


def main(argv: list[str] | None = None) -> int:
    from sweeps.config import load_config
    from training.prepare import prepare_data

    p = argparse.ArgumentParser(prog="python -m bench.bare_loop", description=__doc__)
    p.add_argument("config")
    p.add_argument("--out", type=Path, required=True)
    p.add_argument("--workers", type=int, help="default: the config's search.max_concurrent")
    p.add_argument("--threads", type=int, help="default: the config's search.resources.cpu")
    args = p.parse_args(argv)

    sweep = load_config(args.config)
    workers = args.workers or sweep.search.max_concurrent
    threads = args.threads or max(1, int(sweep.search.resources.cpu))
    points = [dict(pt) for pt in sweep.search.points_to_evaluate][: sweep.search.num_samples]
    data = prepare_data(sweep.data)
    base_cache = str((Path.cwd() / "runs" / "base_eval").resolve())
    ctx = multiprocessing.get_context("spawn")
    with ProcessPoolExecutor(workers, mp_context=ctx, initializer=_init, initargs=(data,)) as pool:
        futures = [
            pool.submit(one_trial, sweep.trial(pt), sweep.search.objective, threads, base_cache)
            for pt in points
        ]
        trials = [{"config": pt, **f.result()} for pt, f in zip(points, futures, strict=True)]
    args.out.write_text(json.dumps({"workers": workers, "threads": threads, "trials": trials}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
