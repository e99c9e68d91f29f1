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
