"""An experiment shaped like a sweep with many finished trial runs, written straight into a
tracking store (no training): one parent run with its recorded config, `n` trial runs with
the metrics, params and tags a trial logs, the best of them the *oldest* (so a reader that
does not page past MLflow's first 1,000 runs misses it) and promotable (adapter, records).

Used by the test that `sweeplab report` / `promote` read every run, and by `make bench`,
which also times what `sweeplab confirm` reads before it runs anything (`confirm_plan`).
"""

from __future__ import annotations

import json
import random
import tempfile
import time
from pathlib import Path

from mlflow.entities import Metric, Param, RunTag

from common.tags import (
    KIND_TAG,
    KIND_TRIAL,
    OBJECTIVE_TAG,
    PARENT_TAG,
    STOPPED_EARLY_TAG,
    SWEEP_TAG,
    TRIAL_TAG,
)
from evaluation.metric_registry import names
from mlflow_server.tracking import Tracker
from sweeps.config import SweepConfig
from sweeps.cost import ACCELERATOR_S, EVAL_SHARE, TOKENS_GENERATED, TOKENS_TRAINED, WALL_S
from training.examples import SOURCES

SPACE = {"lora.r": [8, 16], "mix.openorca": [0.0, 0.3]}
LR = (1e-5, 1e-3)
"""A continuous dimension too: as in a real search, no two trials share a configuration."""


def sweep_config(name: str, model_dir: Path) -> SweepConfig:
    space = {k: {"choice": v} for k, v in SPACE.items()}
    space["train.learning_rate"] = {"low": LR[0], "high": LR[1], "log": True}
    return SweepConfig.model_validate(
        {"name": name, "model": {"path": str(model_dir)}, "search": {"space": space}}
    )


def _metrics(rng: random.Random, best: bool) -> dict[str, float]:
    m: dict[str, float] = {}
    for ds in SOURCES:
        for metric in names():
            m[f"{ds}/{metric}"] = 0.9 if best else rng.uniform(0.1, 0.5)
            m[f"{ds}/{metric}_delta_pct"] = 5.0 if best else rng.uniform(-5, 5)
    m["objective"] = sum(m[f"{ds}/meteor"] for ds in SOURCES) / len(SOURCES)
    wall = rng.uniform(50, 100)
    m.update({WALL_S: wall, ACCELERATOR_S: wall, TOKENS_TRAINED: 1e4, TOKENS_GENERATED: 1e3})
    m[EVAL_SHARE] = 0.3
    return m


def _promotable(tracker: Tracker, run_id: str, cfg: SweepConfig, tmp: Path) -> None:
    """What `sweeplab promote` downloads and checks: the adapter and the trial's records."""
    adapter = tmp / "adapter"
    adapter.mkdir()
    (adapter / "adapter_model.safetensors").write_bytes(b"\0" * 16)
    (adapter / "adapter_config.json").write_text("{}")
    tracker.log_artifacts(run_id, adapter, "adapter")
    record = {"config": {"model": cfg.model.model_dump(mode="json")}, "template": "t"}
    for name, doc in (("trial.json", record), ("data_manifest.json", {"content_hash": "h"})):
        (tmp / name).write_text(json.dumps(doc))
        tracker.log_artifact(run_id, tmp / name)


def write_sweep(uri: str, project: Path, name: str, n: int, seed: int = 0) -> SweepConfig:
    """The sweep `name` with `n` finished trial runs in the store at `uri`."""
    model_dir = project / "model"
    model_dir.mkdir(parents=True, exist_ok=True)
    (model_dir / "config.json").write_text("{}")
    cfg = sweep_config(name, model_dir)
    tracker = Tracker(uri, project)
    parent = tracker.start_sweep(name, {}, {OBJECTIVE_TAG: cfg.search.objective})
    exp = tracker.experiment_id(name)
    rng, client, now = random.Random(seed), tracker.client, int(time.time() * 1000)
    with tempfile.TemporaryDirectory() as tmp:
        (Path(tmp) / "sweep_config.json").write_text(cfg.model_dump_json())
        tracker.log_artifact(parent, Path(tmp) / "sweep_config.json")
        for i in range(n):
            values = {k: v[(i >> j) % 2] for j, (k, v) in enumerate(SPACE.items())}
            values["train.learning_rate"] = LR[0] * (LR[1] / LR[0]) ** rng.random()
            tags = {PARENT_TAG: parent, TRIAL_TAG: f"t{i:05d}", SWEEP_TAG: name}
            tags.update({KIND_TAG: KIND_TRIAL, STOPPED_EARLY_TAG: "false"})
            run_id = client.create_run(exp, run_name=f"trial-{i}", start_time=now + i).info.run_id
            params = {**values, "lora_r": values["lora.r"], "curriculum": "none"}
            client.log_batch(
                run_id,
                metrics=[Metric(k, v, now, 16) for k, v in _metrics(rng, i == 0).items()],
                params=[Param(k, str(v)) for k, v in params.items()],
                tags=[RunTag(k, v) for k, v in tags.items()],
            )
            if i == 0:
                _promotable(tracker, run_id, cfg, Path(tmp))
            client.set_terminated(run_id, "FINISHED", end_time=now + i + 1)
    tracker.end_run(parent)
    return cfg


def confirm_plan(uri: str, project: Path, cfg: SweepConfig) -> dict:
    """What `sweeplab confirm` does before it runs a trial, on the sweep `cfg` at `uri`: find
    the finished sweep, read its trial runs, choose the configurations to re-run (`--top 2
    --seeds 3`, its defaults). In this process (no interpreter start): seconds, the runs it
    read, and whether its first configuration is the best trial's (the oldest run)."""
    from sweeps.run.confirm import finished_parent, plan
    from sweeps.run.state import Place

    tracker = Tracker(uri, project)
    read: list[int] = []
    trial_runs = tracker.trial_runs

    def counted(parent: str) -> list:
        runs = trial_runs(parent)
        read.append(len(runs))
        return runs

    tracker.trial_runs = counted
    began = time.perf_counter()
    reps, _ = plan(tracker, cfg, finished_parent(tracker, cfg.name), 2, 3, Place(project).storage)
    seconds = time.perf_counter() - began
    (best,) = tracker.find_runs(tracker.experiment_id(cfg.name), f"tags.`{TRIAL_TAG}` = 't00000'")
    lr = float(best.data.params["train.learning_rate"])
    first = reps[0]["overrides"]["train.learning_rate"]
    return {"s": seconds, "read": sum(read), "best_first": abs(first - lr) <= 1e-12 * lr}


def measure(quick: bool, work: Path, log) -> dict:
    """`sweeplab report` and `promote` on a sweep of 10,000 trial runs (1,100 quick: past one
    page) in a SQLite store, and `sweeplab confirm`'s plan: seconds each, and seconds to
    write the runs."""
    from bench.common import python, run_timed

    n = 1100 if quick else 10_000
    project = work / "read_back"
    (project / "runs").mkdir(parents=True, exist_ok=True)
    uri = f"sqlite:///{project / 'runs' / 'mlflow.db'}"
    began = time.perf_counter()
    cfg = write_sweep(uri, project, "many", n)
    written = time.perf_counter() - began
    log(f"  {n} trial runs written in {written:.0f} s")
    cli = [python(), "-m", "sweeps.cli"]
    report_s = run_timed([*cli, "report", "many"], project)
    promote_s = run_timed([*cli, "promote", "many"], project)
    confirm = confirm_plan(uri, project, cfg)
    log(
        f"  report {report_s:.1f} s, promote {promote_s:.1f} s, confirm's plan "
        f"{confirm['s']:.1f} s ({confirm['read']} runs read)"
    )
    return {
        "read_back_runs": n,
        "read_back_write_s": written,
        "report_s_at_runs": report_s,
        "promote_s_at_runs": promote_s,
        "confirm_plan_s_at_runs": confirm["s"],
        "confirm_read_every_run": confirm["read"] == n,
        "confirm_runs_read": confirm["read"],
        "confirm_best_first": confirm["best_first"],
    }
