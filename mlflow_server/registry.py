"""The model registry: a promoted trial becomes one model version with an alias.

The registered model is an MLflow pyfunc whose `predict` calls a generator factory named by
import path in its model config, so this package stays free of training code.
"""

from __future__ import annotations

import importlib
import json
import tempfile
from pathlib import Path

import mlflow.pyfunc
from mlflow import MlflowClient
from mlflow.exceptions import MlflowException

MODEL_DIR = "champion_model"


class GenerationModel(mlflow.pyfunc.PythonModel):
    """`predict(["instruction", ...]) -> ["answer", ...]`."""

    def load_context(self, context) -> None:
        cfg = context.model_config
        module, _, name = cfg["generator"].partition(":")
        factory = getattr(importlib.import_module(module), name)
        self._predict = factory(dict(context.artifacts), json.loads(cfg["config"]))

    def predict(self, context, model_input: list[str], params=None) -> list[str]:
        return self._predict(list(model_input))


def find_version(client: MlflowClient, name: str, run_id: str):
    try:
        versions = client.search_model_versions(f"name = '{name}' and run_id = '{run_id}'")
    except MlflowException:
        return None
    return versions[0] if versions else None


def register_run_model(
    client: MlflowClient,
    run_id: str,
    name: str,
    alias: str,
    artifacts: dict[str, Path],
    generator: str,
    config: dict,
    tags: dict[str, str],
) -> tuple[str, bool]:
    """Register the run's model (once) and point `alias` at it: (version, created)."""
    existing = find_version(client, name, run_id)
    if existing is not None:
        client.set_registered_model_alias(name, alias, existing.version)
        return existing.version, False
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / MODEL_DIR
        mlflow.pyfunc.save_model(
            str(path),
            python_model=GenerationModel(),
            artifacts={k: str(v) for k, v in artifacts.items()},
            model_config={"generator": generator, "config": json.dumps(config)},
        )
        client.log_artifacts(run_id, str(path), MODEL_DIR)
    try:
        client.create_registered_model(name)
    except MlflowException:
        pass  # already registered
    version = client.create_model_version(
        name, f"runs:/{run_id}/{MODEL_DIR}", run_id=run_id, tags=tags
    )
    client.set_registered_model_alias(name, alias, version.version)
    return version.version, True


def download_run_dir(client: MlflowClient, run_id: str, path: str, dest: Path) -> Path:
    return Path(client.download_artifacts(run_id, path, str(dest)))
