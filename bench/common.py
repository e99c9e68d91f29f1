"""Helpers every measurement shares: bench sweep configs, subprocesses, timing, the machine."""

from __future__ import annotations

import json
import os
import platform
import subprocess
import sys
import time
from pathlib import Path

import yaml

from bench.settings import DEMO_CONFIG, POINTS, ROOT, Budget


def sweep_doc(budget: Budget, n_trials: int, scheduler: dict, concurrency: int) -> dict:
    """configs/demo.yaml at `budget`, running the first `n_trials` POINTS (no sampling)."""
    from sweeps.config import load_config, localize

    cfg = localize(load_config(DEMO_CONFIG, budget.overrides()))
    doc = cfg.model_dump(mode="json")
    doc["search"].update(
        num_samples=n_trials,
        max_concurrent=concurrency,
        points_to_evaluate=[dict(p) for p in POINTS[:n_trials]],
        scheduler=scheduler,
        replicates=0,  # the same trials on both sides: no noise runs beside the search
    )
    doc["model"]["path"] = str(Path(doc["model"]["path"]).resolve())
    return doc


def write_config(doc: dict, path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(yaml.safe_dump(doc, sort_keys=False), encoding="utf-8")
    return path


def run_timed(cmd: list[str], cwd: Path, timeout: float = 3600) -> float:
    """Wall seconds of a subprocess (python -m ... from the repo); raises if it fails."""
    env = {k: v for k, v in os.environ.items() if k != "MLFLOW_TRACKING_URI"}
    env["PYTHONPATH"] = os.pathsep.join([str(ROOT), env.get("PYTHONPATH", "")]).rstrip(os.pathsep)
    started = time.perf_counter()
    proc = subprocess.run(cmd, cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout)
    seconds = time.perf_counter() - started
    if proc.returncode != 0:
        tail = (proc.stdout[-2000:] + "\n" + proc.stderr[-4000:]).strip()
        raise RuntimeError(f"{' '.join(cmd[:4])} ... exited {proc.returncode}:\n{tail}")
    return seconds


def python() -> str:
    return sys.executable


def warm_base_cache(doc: dict, project: Path) -> float:
    """Evaluate the base model once into `project/runs/base_eval` (what `sweeplab sweep`
    does first); both sides of a comparison then read it from the cache. Returns seconds."""
    from sweeps.config import SweepConfig
    from sweeps.run.baseline import base_scores
    from sweeps.run.eval_items import eval_items
    from training.prepare import prepare_data

    cfg = SweepConfig.model_validate(doc)
    started = time.perf_counter()
    data = prepare_data(cfg.data)
    items = {name: eval_items(exs) for name, exs in data.eval_sets.items()}
    base_scores(cfg.model, items, cfg.generation, project / "runs" / "base_eval")
    return time.perf_counter() - started


def ray_trial_results(storage: Path) -> list[dict]:
    """Per trial of a finished sweep: its config and every reported result, read from the
    `result.json` lines Ray Tune writes in each trial directory."""
    trials = []
    for path in sorted(storage.glob("*/result.json")):
        rows = [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line]
        if rows:
            trials.append({"config": rows[0]["config"], "results": rows})
    return trials


def machine() -> dict:
    import torch

    return {
        "cpu_count": os.cpu_count(),
        "platform": platform.platform(),
        "processor": platform.processor() or platform.machine(),
        "python": platform.python_version(),
        "torch": torch.__version__,
        "torch_threads_default": torch.get_num_threads(),
        "load_avg_at_start": list(os.getloadavg()),
    }
