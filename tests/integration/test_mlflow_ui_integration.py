"""MLflow the way its users read it, after one small real sweep (shared by this module):
training curves, dataset inputs, system metrics and names on every trial's run; the UI
command and links the sweep prints, opened in headless Chromium.

Screenshots go to `test-artifacts/ui/` (README's `docs/ui/` images are copies of them)."""

from __future__ import annotations

import itertools
import json
import os
import re
import shlex
import signal
import subprocess

import pytest
from mlflow import MlflowClient

from common.tags import is_search
from tests.helpers import (
    ROOT,
    SHARED_REPLICATES,
    clean_env,
    free_port,
    sweep_runs,
    wait_healthy,
)
from tests.helpers import (
    SHARED_LOG_EVERY as LOG_EVERY,
)
from tests.helpers import (
    SHARED_SWEEP as NAME,
)
from tests.integration.browser import chromium, render

pytestmark = pytest.mark.integration

SHOTS = ROOT / "test-artifacts" / "ui"


@pytest.fixture(scope="module")
def sweep(finished_sweep):
    """The shared finished sweep (two trials, a training-curve point every 2 steps): its
    printed output, the store's client and the working directory."""
    client = MlflowClient(tracking_uri=finished_sweep.uri)
    return finished_sweep.stdout, client, finished_sweep.work


def _manifest(client, run_id: str, tmp_path) -> dict:
    path = client.download_artifacts(run_id, "data_manifest.json", str(tmp_path))
    return json.loads(open(path, encoding="utf-8").read())


def test_every_trial_run_reads_as_a_training_run(sweep, tmp_path):
    _, client, _ = sweep
    _, trials = sweep_runs(client, NAME)
    finished = [t for t in trials if t.info.status == "FINISHED"]
    search = [t for t in finished if is_search(t.data.tags)]
    assert len(search) == 2 and len(finished) == 2 + SHARED_REPLICATES  # replicates: noise
    names = set()
    for run in finished:
        run_id, params, tags = run.info.run_id, run.data.params, run.data.tags
        # A training curve: a point per logging step up to the last report, none repeated.
        last = max(m.step for m in client.get_metric_history(run_id, "objective"))
        for key in ("train/loss", "train/learning_rate", "train/grad_norm", "train/epoch"):
            steps = [m.step for m in client.get_metric_history(run_id, key)]
            assert sorted(steps) == list(range(LOG_EVERY, last + 1, LOG_EVERY)), (key, steps)
        losses = client.get_metric_history(run_id, "train/loss")
        assert all(0 < m.value < 20 for m in losses)
        assert all(m.value > 0 for m in client.get_metric_history(run_id, "train/tokens_per_s"))

        # Datasets: three eval sets and the training mixture, digests from the manifest.
        manifest = _manifest(client, run_id, tmp_path / run_id)
        expected = {f"{n}-eval": v["content_hash"] for n, v in manifest["eval_sets"].items()}
        for i, phase in enumerate(manifest["phases"]):
            expected[f"train-phase{i}-{phase['name']}"] = phase["content_hash"]
        inputs = run.inputs.dataset_inputs
        assert len(inputs) >= 4 and len(inputs) == len(expected)
        for di in inputs:
            assert expected[di.dataset.name].startswith(di.dataset.digest), di.dataset.name
            assert json.loads(di.dataset.profile)["content_hash"] == expected[di.dataset.name]
            context = {t.key: t.value for t in di.tags}["mlflow.data.context"]
            assert context == ("training" if di.dataset.name.startswith("train") else "evaluation")

        # System metrics, sampled by MLflow's monitors in the trial's worker.
        cpu = client.get_metric_history(run_id, "system/cpu_utilization_percentage")
        assert cpu and len({m.step for m in cpu}) == len(cpu)
        assert all(0 <= m.value <= 100 for m in cpu)
        assert run.data.metrics["system/system_memory_usage_megabytes"] > 0

        # A name that says what the trial is; the searched values as tags.
        r, orca = params["lora.r"], float(params["mix.openorca"])
        seed = "" if is_search(tags) else f"-seed{params['train.seed']}"  # a replicate says so
        assert run.info.run_name == f"r{r}-orca{orca:g}{seed}"
        assert tags["sweeplab.search.lora.r"] == r
        names.add(run.info.run_name)
        # Params name the data by content, the path is a tag.
        assert re.fullmatch(r"alpaca_data\.json@sha256:[0-9a-f]{16}", params["data.alpaca"])
        assert tags["sweeplab.path.data.alpaca"].endswith("alpaca_data.json")
        assert re.fullmatch(r"demo-llama@sha256:[0-9a-f]{16}", params["model.path"])
    assert len(names) == len(finished)
    # The sweep's own run names its config's data and model the same way.
    (parent,), _ = sweep_runs(client, NAME)
    assert re.fullmatch(
        r"alpaca_data\.json@sha256:[0-9a-f]{16}", parent.data.params["config.data.alpaca"]
    )
    assert parent.data.tags["sweeplab.path.model.path"].endswith("demo-llama")


def _printed(stdout: str, label: str) -> str:
    line = next(x for x in stdout.splitlines() if label in x)
    return line.split(label, 1)[1].strip()


def _shrink(png) -> None:
    """Screenshots small enough to commit (a 64-colour palette)."""
    from PIL import Image

    Image.open(png).convert("RGB").quantize(64).save(png, optimize=True)


def test_the_printed_command_and_links_open_the_runs_table(sweep):
    stdout, client, work = sweep
    assert chromium(), "chromium missing: `make setup` installs Debian's chromium"
    command = shlex.split(_printed(stdout, "open the MLflow UI:"))
    env_words = list(itertools.takewhile(lambda w: re.fullmatch(r"[A-Z_]+=\S*", w), command))
    quiet, command = dict(w.split("=", 1) for w in env_words), command[len(env_words) :]
    assert quiet == {"MLFLOW_SERVER_ENABLE_JOB_EXECUTION": "false"}  # no idle job runner
    assert command[0].endswith("/mlflow") and os.access(command[0], os.X_OK)  # runs as printed
    port = str(free_port())
    command[command.index("--port") + 1] = port
    proc = subprocess.Popen(
        command,
        cwd=work,
        env=clean_env(**quiet),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    try:
        wait_healthy(f"http://127.0.0.1:{port}", proc, timeout=180)

        def url(label: str) -> str:
            return _printed(stdout, label).replace(":5000/", f":{port}/")

        _, trials = sweep_runs(client, NAME)
        names = tuple(t.info.run_name for t in trials)  # the replicates' too
        top = tuple(t.info.run_name for t in trials if is_search(t.data.tags))
        # The printed link: the runs table, the trials by name, the objective as a column.
        want = (*names, "objective", "openorca/meteor", "lora.r")
        text = render(url("the trials, best first:"), SHOTS / "runs-table.png", want)
        assert all(w in text for w in want), text[-1500:]
        assert "Training runs" in text and "Traces" not in text.split("Training runs", 1)[1]
        # The loss chart: one legend entry per trial.
        want = tuple(f"{n} (train/loss)" for n in names)
        text = render(url("their training curves:"), SHOTS / "loss-curves.png", want, 3, 45000)
        assert all(w in text for w in want), text[-1500:]
        want = ("Parallel Coordinates Plot", "lora.r", *top)  # the search's best
        text = render(url("compare the top 2:"), SHOTS / "parallel-coordinates.png", want)
        assert all(w in text for w in want), text[-1500:]
        base = f"http://127.0.0.1:{port}/#/experiments/{trials[0].info.experiment_id}"
        render(f"{base}/runs?viewStateShareKey=sweeplab-grouped", SHOTS / "runs-grouped.png")
        table = f"{base}/runs/{trials[0].info.run_id}/artifacts/eval/predictions.json"
        want = ("View as table", "prediction")
        text = render(table, SHOTS / "per-example-table.png", want)
        assert all(w in text for w in want), text[-1500:]
        for png in SHOTS.glob("*.png"):
            _shrink(png)
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:  # uvicorn's workers can outlive a SIGTERM
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(timeout=30)
