"""Shared fixtures: tiny datasets in the published layouts; the demo model and data built by
`make demo-model demo-data` (integration tests only)."""

from __future__ import annotations

import json
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

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


@pytest.fixture
def tiny_data(tmp_path: Path) -> dict[str, Path]:
    """Small files in the three published layouts (with a few exact duplicates)."""
    return {
        "alpaca": write_alpaca(tmp_path / "alpaca_data.json", alpaca_rows(60, dup_every=10)),
        "dolly": write_jsonl(tmp_path / "databricks-dolly-15k.jsonl", dolly_rows(40)),
        "openorca": write_parquet(tmp_path / "1M-GPT4-Augmented.parquet", orca_rows(40)),
    }


def config_yaml(tmp_path: Path, data: dict[str, Path], **extra) -> Path:
    import yaml

    doc = {
        "name": "t",
        "model": {"path": str(tmp_path / "model")},
        "data": {k: str(v) for k, v in data.items()}
        | {"eval_size": {"alpaca": 8, "dolly": 6, "openorca": 6}},
        "train": {"num_examples": 20, "max_steps": 4, "batch_size": 2, "report_every": 2},
    }
    for key, value in extra.items():
        doc[key] = value
    path = tmp_path / "sweep.yaml"
    path.write_text(yaml.safe_dump(doc), encoding="utf-8")
    return path


DEMO_DATA = ROOT / "data" / "demo"
DEMO_MODEL = ROOT / "models" / "demo-llama"


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


def small_sweep_config(tmp_path: Path, assets: dict[str, Path], **search) -> Path:
    """A 2-trial sweep at tiny sizes on the demo assets."""
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
        }
        | search,
        "promotion": {"gates": [{"metric": "alpaca/meteor", "op": ">=", "value": 2.0}]},
    }
    path = tmp_path / "itest.yaml"
    path.write_text(yaml.safe_dump(doc), encoding="utf-8")
    return path


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
