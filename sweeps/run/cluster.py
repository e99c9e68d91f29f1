"""The cluster side of a sweep, before its first trial: every node a trial may land on is
checked, and the base model is scored where the trials run.

- `check_nodes`: a small Ray task on each alive node whose resources fit a trial checks
  that sweeplab imports there at the driver's version and that WordNet is there with the
  driver's content; otherwise one line naming the node, before any trial starts (not a
  failure 500 steps in).
- `base_on_cluster`: the base model's scores, from the driver's cache (`runs/base_eval`,
  same key as `sweeps.run.baseline`) or computed by one Ray task with a trial's resources
  (on its GPU when the sweep asks for GPUs). The scores then reach the trials as data.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import ray
from ray.util.scheduling_strategies import NodeAffinitySchedulingStrategy

from common.errors import first_line
from common.files import write_atomic
from evaluation.config import GenerationSettings
from evaluation.eval_sets import EvalItem
from sweeps.config import Resources
from sweeps.run.baseline import cache_path, read_cache, score_base_model
from sweeps.run.node_facts import node_facts
from sweeps.run.storage import Storage
from training.config import ModelConfig


class NodeError(ValueError):
    """A node a trial may land on lacks what trials need; the message is one line."""


def task_resources(res: Resources) -> dict:
    """`ray.remote` options for a task with one trial's resources."""
    return {"num_cpus": res.cpu, "num_gpus": res.gpu, "resources": dict(res.custom)}


def trial_nodes(res: Resources) -> list[dict]:
    """The alive nodes whose total resources can hold one trial."""
    need = {"CPU": res.cpu, "GPU": res.gpu, **res.custom}
    return [
        n
        for n in ray.nodes()
        if n.get("Alive")
        and all(n.get("Resources", {}).get(k, 0) >= v for k, v in need.items() if v)
    ]


def check_nodes(res: Resources, timeout: float = 300) -> int:
    """Every node a trial may land on runs sweeplab at this version with this WordNet;
    NodeError naming the first that does not. Returns how many nodes were checked."""
    nodes = trial_nodes(res)
    if not nodes:
        raise NodeError(f"no node of the cluster has a trial's resources ({res.model_dump()})")
    probe = ray.remote(num_cpus=0)(node_facts)
    refs = [
        probe.options(
            scheduling_strategy=NodeAffinitySchedulingStrategy(n["NodeID"], soft=False)
        ).remote()
        for n in nodes
    ]
    want = node_facts()
    for node, ref in zip(nodes, refs, strict=True):
        where = f"node {node.get('NodeManagerAddress')} ({node['NodeID'][:12]})"
        try:
            got = ray.get(ref, timeout=timeout)
        except Exception as exc:  # the task could not even import sweeplab there
            raise NodeError(f"{where}: cannot run sweeplab ({first_line(exc)})") from None
        for key, value in want.items():
            if got.get(key) != value:
                raise NodeError(f"{where}: {key} is {got.get(key)}, the driver's is {value}")
    return len(nodes)


def _score_base(model: ModelConfig, items: dict, settings: GenerationSettings, threads) -> dict:
    """Runs as a Ray task: the base model's scores, on the task's GPU if it has one; on
    CPU with `threads`, else all of the node's cores (as when the driver scored it: it runs
    before any trial)."""
    import torch

    device = "cuda" if ray.get_gpu_ids() and torch.cuda.is_available() else None
    if threads or device is None:
        torch.set_num_threads(int(threads or os.cpu_count() or 1))
    return score_base_model(model, items, settings, device)


def base_on_cluster(
    model: ModelConfig,
    items: dict[str, list[EvalItem]],
    settings: GenerationSettings,
    res: Resources,
    cache_dir: Path,
    threads: int | None = None,
    record: tuple[Storage, str] | None = None,
) -> dict:
    """The base model's scores: the driver's cache, else a copy kept in the sweep's record
    (`record`: storage and folder, so a resume on another machine does not score again),
    else one task where trials run."""
    path = cache_path(model, items, settings, cache_dir)
    name = path.name
    scores = read_cache(path)  # a torn or unreadable cache file is a miss
    kept = _read_kept(record, name)
    if scores is None:
        scores = kept
    if scores is None:
        task = ray.remote(max_retries=0, **task_resources(res))(_score_base)
        try:
            scores = ray.get(task.remote(model, items, settings, threads))
        except ray.exceptions.RayTaskError as exc:  # the model's own error, not Ray's wrapper
            cause = getattr(exc, "cause", None)
            raise (cause if isinstance(cause, Exception) else exc) from None
    if record and kept is None:
        record[0].write_text(f"{record[1]}/{name}", json.dumps(scores))
    if read_cache(path) is None:
        cache_dir.mkdir(parents=True, exist_ok=True)
        write_atomic(path, json.dumps(scores))
    return scores


def _read_kept(record: tuple[Storage, str] | None, name: str) -> dict | None:
    """The copy of the base scores kept in a remote sweep record, if any and readable."""
    if record is None:
        return None
    text = record[0].read_text(f"{record[1]}/{name}")
    try:
        return json.loads(text) if text else None
    except (ValueError, RecursionError):
        return None
