"""MLflow returns at most 1,000 runs a page: on an experiment shaped like a sweep with more
than that many finished trial runs, `sweeplab report` and `sweeplab promote` see every one
(their counts match MLflow's) in bounded time. The runs are written straight into the store
(`bench.many_runs`), the best trial the oldest: on the last page."""

from __future__ import annotations

import shutil
import tempfile
import time
from pathlib import Path

import pytest
from mlflow import MlflowClient

from bench.many_runs import write_sweep
from tests.helpers import clean_env, run_sweeplab

pytestmark = pytest.mark.integration

N = 1100


@pytest.fixture
def memory_store(_migrated_mlflow_db):
    """A migrated SQLite store in memory-backed /dev/shm where there is one (each of the
    3,300 writes that make the runs waits for the disk otherwise: 56 ms a run, 20 there)."""
    shm = Path("/dev/shm")
    folder = Path(tempfile.mkdtemp(dir=shm if shm.is_dir() else None))
    shutil.copy(_migrated_mlflow_db, folder / "mlflow.db")
    yield f"sqlite:///{folder / 'mlflow.db'}"
    shutil.rmtree(folder, ignore_errors=True)


def test_report_and_promote_read_every_run(tmp_path, memory_store):
    mlflow_uri, env = memory_store, clean_env(MLFLOW_TRACKING_URI=memory_store)
    began = time.monotonic()
    write_sweep(mlflow_uri, tmp_path, "big", N)
    written = time.monotonic() - began
    client = MlflowClient(tracking_uri=mlflow_uri)
    exp = client.get_experiment_by_name("big")
    query = "tags.`sweeplab.kind` = 'trial' and attributes.status = 'FINISHED'"
    pages, token, counted = 0, None, 0
    while True:  # MLflow's own count, page by page
        page = client.search_runs([exp.experiment_id], query, max_results=1000, page_token=token)
        counted, pages, token = counted + len(page), pages + 1, page.token
        if not token:
            break
    assert counted == N and pages == 2

    began = time.monotonic()
    report = run_sweeplab("report", "big", cwd=tmp_path, env=env, timeout=600)
    reported = time.monotonic() - began
    assert report.returncode == 0, report.stderr[-3000:]
    md = (tmp_path / "runs" / "reports" / "big" / "report.md").read_text()
    assert f"{N} finished trials" in md and f"regression over {N} trials" in md

    began = time.monotonic()
    promote = run_sweeplab("promote", "big", cwd=tmp_path, env=env, timeout=600)
    promoted = time.monotonic() - began
    assert promote.returncode == 0, promote.stderr[-3000:]
    # The best trial is the oldest run, on the second page: found, among all N.
    assert "<- trial t00000" in promote.stdout, promote.stdout
    assert f"best of {N} finished trial(s)" in promote.stdout
    print(f"{N} runs: written {written:.0f}s, report {reported:.1f}s, promote {promoted:.1f}s")
    assert reported < 120 and promoted < 120
