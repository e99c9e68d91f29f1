"""Test helpers, one home each: paths, tiny datasets in the published layouts, sweep
configs, free ports, `sweeplab` subprocesses and servers, reading a sweep's runs back."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

ROOT = Path(__file__).resolve().parents[1]


def write_alpaca(path: Path, rows: list[dict]) -> Path:
    path.write_text(json.dumps(rows, indent=1), encoding="utf-8")
    return path


def write_jsonl(path: Path, rows: list[dict]) -> Path:
    path.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    return path


def write_parquet(path: Path, rows: list[dict]) -> Path:
    pq.write_table(pa.Table.from_pylist(rows), path)
    return path


def alpaca_rows(n: int, dup_every: int = 0) -> list[dict]:
    rows = [
        {
            "instruction": f"Add {i} and {i + 1}.",
            "input": "" if i % 2 else f"n={i}",
            "output": f"Sure! {i} plus {i + 1} is {2 * i + 1}.",
        }
        for i in range(n)
    ]
    if dup_every:
        rows += [dict(rows[i]) for i in range(0, n, dup_every)]
    return rows


def dolly_rows(n: int) -> list[dict]:
    return [
        {
            "instruction": f"What is item {i}?",
            "context": f"Item {i} is a red box.",
            "response": f"Item {i} is a red box.",
            "category": "closed_qa",
        }
        for i in range(n)
    ]


def orca_rows(n: int) -> list[dict]:
    return [
        {
            "id": f"niv.{1000 + i}",
            "system_prompt": "Answer with a single label only.",
            "question": f"Is {i} even? Options: yes, no",
            "response": "yes" if i % 2 == 0 else "no",
        }
        for i in range(n)
    ]


ORCA_COLLECTIONS = ("niv", "flan", "t0", "cot")
PUBLISHED_NAMES = {
    "alpaca": "alpaca_data.json",
    "dolly": "databricks-dolly-15k.jsonl",
    "openorca": "1M-GPT4-Augmented.parquet",
}


def write_published(folder: Path, alpaca: int, dolly: int, openorca: int, gpt35: int = 0):
    """Files in the three datasets' published layouts, not the demo's rows: Alpaca's
    `alpaca_data.json` (a JSON array, 4-space indent, `input` often empty), Dolly's
    `databricks-dolly-15k.jsonl` (context only for some categories), OpenOrca's parquet files
    (`id` prefixed by its sub-collection, several row groups) and, with `gpt35`, the GPT-3.5
    file beside the GPT-4 one. Row texts carry their row number, so a sample can be traced."""
    folder.mkdir(parents=True, exist_ok=True)
    rows = [
        {
            "instruction": f"Give three tips for staying healthy, variant {i}.",
            "input": "" if i % 3 else f"Audience: group {i}",
            "output": f"1. Eat a balanced diet ({i}). 2. Exercise regularly. 3. Sleep well.",
        }
        for i in range(alpaca)
    ]
    (folder / PUBLISHED_NAMES["alpaca"]).write_text(json.dumps(rows, indent=4), encoding="utf-8")
    cats = ("closed_qa", "open_qa", "brainstorming", "information_extraction")
    dolly_rows_ = [
        {
            "instruction": f"When did Virgin Australia start operating, case {i}?",
            "context": f"Virgin Australia commenced services in 2000 (case {i})." if i % 2 else "",
            "response": f"It started in 2000 (case {i}).",
            "category": cats[i % len(cats)],
        }
        for i in range(dolly)
    ]
    write_jsonl(folder / PUBLISHED_NAMES["dolly"], dolly_rows_)

    def orca(n: int, tag: str) -> pa.Table:
        return pa.Table.from_pylist(
            [
                {
                    "id": f"{ORCA_COLLECTIONS[i % 4]}.{i}",
                    "system_prompt": "You are an AI assistant. Think step by step." * (i % 2),
                    "question": f"[{tag}] Translate sentence {i} to French.",
                    "response": f"[{tag}] Phrase {i}.",
                }
                for i in range(n)
            ]
        )

    pq.write_table(orca(openorca, "gpt4"), folder / PUBLISHED_NAMES["openorca"], row_group_size=64)
    if gpt35:
        pq.write_table(orca(gpt35, "gpt35"), folder / "3_5M-GPT3_5-Augmented.parquet")
    return {s: folder / name for s, name in PUBLISHED_NAMES.items()}


def config_yaml(tmp_path: Path, data: dict[str, Path], **extra) -> Path:
    import yaml

    doc = {
        "name": "t",
        "model": {"path": str(tmp_path / "model")},
        "data": {k: str(v) for k, v in data.items()}
        | {"eval_size": {"alpaca": 8, "dolly": 6, "openorca": 6}},
        "train": {"num_examples": 20, "max_steps": 4, "batch_size": 2, "report_every": 2},
        "search": {"replicates": 0},
    }
    for key, value in extra.items():
        doc[key] = value
    path = tmp_path / "sweep.yaml"
    path.write_text(yaml.safe_dump(doc), encoding="utf-8")
    return path


DEMO_DATA = ROOT / "data" / "demo"
DEMO_MODEL = ROOT / "models" / "demo-llama"


SHARED_SWEEP = "itest"
"""The name of the one finished demo sweep a pytest run shares (`finished_sweep`)."""
SHARED_LOG_EVERY = 2
"""Its training-curve interval: a point every 2 steps, so the UI's loss chart has points."""
SHARED_REPLICATES = 2
"""Its own replicates (`search.replicates`): each search trial once more with another seed."""


def small_sweep_config(tmp_path: Path, assets: dict[str, Path], **search) -> Path:
    """A 2-trial sweep at tiny sizes on the demo assets (no replicates unless `search` asks)."""
    import yaml

    doc = {
        "name": "itest",
        "model": {"path": str(assets["model"])},
        "data": {s: str(assets[s]) for s in ("alpaca", "dolly", "openorca")}
        | {"eval_size": {"alpaca": 12, "dolly": 12, "openorca": 12}},
        "train": {
            "num_examples": 160,
            "max_steps": 16,
            "batch_size": 8,
            "report_every": 8,
            "max_length": 160,
        },
        "generation": {"max_new_tokens": 24, "batch_size": 12},
        "search": {
            "num_samples": 2,
            "max_concurrent": 2,
            "space": {"lora.r": {"choice": [16, 32]}, "mix.openorca": {"choice": [0.0, 0.3]}},
            "points_to_evaluate": [
                {"lora.r": 16, "mix.openorca": 0.0},
                {"lora.r": 32, "mix.openorca": 0.3},
            ],
            "scheduler": {"kind": "asha", "grace_period": 1},
            # No replicates unless a test asks: the shared sweep (`finished_sweep`) and the
            # noise tests run them; a test of something else need not pay two more trials.
            "replicates": 0,
        }
        | search,
        "promotion": {"gates": [{"metric": "alpaca/meteor", "op": ">=", "value": 2.0}]},
    }
    path = tmp_path / "itest.yaml"
    path.write_text(yaml.safe_dump(doc), encoding="utf-8")
    return path


SET_METRICS = [
    f"{s}/{m}"
    for s in ("alpaca", "dolly", "openorca")
    for m in ("meteor", "bleu", "rougeL", "chrf")
]
"""The `dataset/metric` names every finished trial logs (spelled out, not imported)."""


def clean_env(**extra) -> dict[str, str]:
    """This process's environment without a tracking URI (tests pick their own store)."""
    env = {k: v for k, v in os.environ.items() if k != "MLFLOW_TRACKING_URI"}
    return {**env, **extra}


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def sweeplab_cmd(*args: str) -> list[str]:
    """The `sweeplab` command line, run by this interpreter."""
    return [sys.executable, "-m", "sweeps.cli", *args]


def start_sweeplab(args: list[str], cwd: Path, log: Path, env=None) -> subprocess.Popen:
    """`sweeplab ARGS` in its own process group (so the whole group can be killed), its
    output appended to `log`."""
    with log.open("a") as fh:
        return subprocess.Popen(
            sweeplab_cmd(*args),
            cwd=cwd,
            env=env or clean_env(),
            stdout=fh,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )


def wait_healthy(url: str, proc: subprocess.Popen, timeout: float = 90) -> None:
    """Until the MLflow server at `url` answers /health (fails if it exits first)."""
    deadline = time.time() + timeout
    while time.time() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"server exited with {proc.returncode}")
        try:
            with urllib.request.urlopen(f"{url}/health", timeout=2) as r:
                if r.status == 200:
                    return
        except OSError:
            time.sleep(0.5)
    raise TimeoutError(f"{url} not healthy after {timeout}s")


def start_server(cwd: Path, port: int, *args: str, log=None, env=None):
    """`sweeplab server --port PORT ARGS` in its own process group, once healthy. Its output
    goes to `log` (default `cwd/server-PORT.log`): never a pipe nobody reads, which fills
    with the access log and then blocks the server mid-request."""
    if log is None:
        log = (cwd / f"server-{port}.log").open("a")
    proc = subprocess.Popen(
        sweeplab_cmd("server", "--port", str(port), *args),
        cwd=cwd,
        env=env or clean_env(),
        stdout=log,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,
    )
    try:
        wait_healthy(f"http://127.0.0.1:{port}", proc, timeout=120)
    except BaseException:
        os.killpg(proc.pid, 9)
        raise
    return proc


def stop_group(proc: subprocess.Popen, grace: float = 30) -> None:
    """SIGTERM to the process group, then SIGKILL if it is still there after `grace` s."""
    os.killpg(proc.pid, 15)
    try:
        proc.wait(timeout=grace)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, 9)
        proc.wait(timeout=grace)


def sweep_runs(client, name: str) -> tuple[list, list]:
    """(parent runs, trial runs) of sweep `name`."""
    exp = client.get_experiment_by_name(name)
    runs = client.search_runs([exp.experiment_id])
    parents = [r for r in runs if r.data.tags.get("sweeplab.kind") == "sweep"]
    trials = [r for r in runs if r.data.tags.get("sweeplab.kind") == "trial"]
    return parents, trials


def run_sweeplab(*args: str, cwd: Path, env=None, timeout: float = 900):
    """`sweeplab ARGS` to completion; the CompletedProcess (text output captured)."""
    return run_python(None, *args, cwd=cwd, env=env, timeout=timeout)


def run_python(code: str | None, *args: str, cwd: Path, env=None, timeout: float = 300):
    """`python -c CODE ARGS` (or `sweeplab ARGS` when `code` is None) to completion."""
    cmd = sweeplab_cmd(*args) if code is None else [sys.executable, "-c", code, *args]
    return subprocess.run(
        cmd, cwd=cwd, env=env or clean_env(), capture_output=True, text=True, timeout=timeout
    )


def ray_temp_dir() -> str:
    """A Ray `--temp-dir` of a test's own (short: Ray's socket paths must stay under 107
    characters, which pytest's tmp_path does not)."""
    import tempfile

    return tempfile.mkdtemp(prefix="sweeplab-ray-", dir="/tmp")


def stop_ray(temp_dir: str) -> None:
    """End the Ray processes whose command line names `temp_dir`, i.e. the cluster a test
    started with it (`ray stop` would end every Ray on the machine, other people's too)."""
    import psutil

    procs = []
    for p in psutil.process_iter(["cmdline"]):
        try:
            if any(temp_dir in arg for arg in p.info["cmdline"] or []):
                procs.append(p)
        except (psutil.NoSuchProcess, psutil.AccessDenied):
            continue
    for p in procs:
        p.terminate()
    _, alive = psutil.wait_procs(procs, timeout=15)
    for p in alive:
        p.kill()
    import shutil

    shutil.rmtree(temp_dir, ignore_errors=True)
