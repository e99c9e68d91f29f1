"""Shared fixtures: tiny datasets in the published layouts; the demo model and data built by
`make demo-model demo-data` (integration tests only); a migrated MLflow store per session.
Helpers that are not fixtures live in `tests/helpers.py`."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.helpers import (
    DEMO_DATA,
    DEMO_MODEL,
    alpaca_rows,
    dolly_rows,
    orca_rows,
    write_alpaca,
    write_jsonl,
    write_parquet,
)


@pytest.fixture
def tiny_data(tmp_path: Path) -> dict[str, Path]:
    """Small files in the three published layouts (with a few exact duplicates)."""
    return {
        "alpaca": write_alpaca(tmp_path / "alpaca_data.json", alpaca_rows(60, dup_every=10)),
        "dolly": write_jsonl(tmp_path / "databricks-dolly-15k.jsonl", dolly_rows(40)),
        "openorca": write_parquet(tmp_path / "1M-GPT4-Augmented.parquet", orca_rows(40)),
    }


@pytest.fixture(scope="session")
def demo_assets(tmp_path_factory) -> dict[str, Path]:
    """The demo corpus and base model (`make demo-data demo-model`); built here if missing."""
    from demo.corpus import write_demo_corpus
    from demo.model import build_demo_model

    data_dir, model_dir = DEMO_DATA, DEMO_MODEL
    if not (data_dir / ".complete").exists():
        data_dir = tmp_path_factory.mktemp("demo-data")
    files = write_demo_corpus(data_dir)
    if not (model_dir / "model.safetensors").exists():
        model_dir = build_demo_model(tmp_path_factory.mktemp("models") / "demo-llama")
    return {**files, "model": model_dir}


@pytest.fixture(scope="session", autouse=True)
def _shared_base_cache(tmp_path_factory) -> Path:
    """One base-model score cache for the whole test run (`$SWEEPLAB_BASE_CACHE`, read by
    every `sweeplab` a test starts): the demo model is scored once, not once per test
    project (~11 s each). Both xdist workers share it (writes are atomic); a test of the
    cache itself sets the variable empty for its own project's `runs/base_eval/`."""
    import os

    from sweeps.run.state import BASE_CACHE_ENV

    base = tmp_path_factory.getbasetemp()
    if os.environ.get("PYTEST_XDIST_WORKER"):
        base = base.parent  # the run's folder, above each worker's own
    os.environ[BASE_CACHE_ENV] = str(base / "base_eval")
    return base / "base_eval"


@pytest.fixture(scope="session")
def _migrated_mlflow_db(tmp_path_factory) -> Path:
    """An MLflow SQLite store with its schema created once per session (migrations are slow)."""
    from mlflow import MlflowClient

    db = tmp_path_factory.mktemp("mlflow-template") / "mlflow.db"
    MlflowClient(tracking_uri=f"sqlite:///{db}").search_experiments()
    return db


@pytest.fixture
def mlflow_uri(tmp_path, _migrated_mlflow_db) -> str:
    """A fresh copy of the migrated store for one test."""
    import shutil

    db = tmp_path / "runs" / "mlflow.db"
    db.parent.mkdir(parents=True, exist_ok=True)
    shutil.copy(_migrated_mlflow_db, db)
    return f"sqlite:///{db}"


# Seconds each integration file took in a full run on 2 cores (the heaviest first: pytest-xdist
# hands out whole files in collection order, and a long file left to the end runs alone).
# A file not listed counts as DEFAULT_SECONDS; unit test files come after all of them.
FILE_SECONDS = {
    # First, though not the longest: it builds the run's shared finished sweep (`finished_sweep`)
    # while the other worker starts on the kills, so its later readers find it ready.
    "test_sweep_integration.py": 2000,
    "test_kills_integration.py": 1000,
    "test_faults_integration.py": 900,
    "test_server_integration.py": 880,
    "test_storage_cluster_integration.py": 500,
    "test_deploy_integration.py": 500,
    "test_other_python.py": 500,
    "test_confirm_integration.py": 450,
    "test_nothing_lost_integration.py": 410,
    "test_device_gpu_check.py": 300,
    "test_resources_integration.py": 300,
    "test_pareto_integration.py": 250,
    "test_scale_integration.py": 220,
    "test_many_runs_integration.py": 210,
    "test_mlflow_ui_integration.py": 180,
    "test_budget_integration.py": 180,
    "test_hub_shaped.py": 175,
    "test_response_integration.py": 150,
    "test_warm_start_integration.py": 120,
    "test_noise_integration.py": 90,
}
DEFAULT_SECONDS = 100


def pytest_collection_modifyitems(config, items):
    """Integration files heaviest first, then the unit tests (a stable sort: the order within
    a file is kept). Run with `--no-loadscope-reorder` so that xdist keeps this order."""

    def weight(item) -> int:
        path = Path(str(item.fspath))
        if "integration" not in path.parts:
            return 0
        return FILE_SECONDS.get(path.name, DEFAULT_SECONDS)

    items.sort(key=lambda item: -weight(item))
