"""The model registry: a promoted trial becomes one model version; aliases point at versions.

The registered model is saved as code (`generation_model.py`, MLflow models-from-code): no
pickle in its files. What it runs ships with it (`code_paths`, prepared by the caller), with
pinned requirements, a signature and an input example (shown in the UI), so this package
stays free of training code.
"""

from __future__ import annotations

import tempfile
from dataclasses import dataclass
from pathlib import Path

import mlflow.pyfunc
from mlflow import MlflowClient
from mlflow.exceptions import MlflowException
from mlflow.models import ModelSignature
from mlflow.types import ColSpec, DataType, Schema

MODEL_DIR = "champion_model"
MODEL_CODE = Path(__file__).with_name("generation_model.py")
INPUT_EXAMPLE = ["What is 2 plus 3?", "Name a primary color."]


@dataclass(frozen=True)
class ModelFiles:
    """Everything a promoted model is saved from."""

    artifacts: dict[str, Path]
    """Name -> local file or directory (the adapter, with its tokenizer; the data manifest)."""
    code_paths: list[Path]
    """Directories copied into the model's `code/`, put on `sys.path` when it loads."""
    config: dict
    """The model config its code reads (base model reference, generation settings)."""
    requirements: list[str]
    """Pinned pip requirements (a `-c FILE` line is copied in as constraints.txt)."""


def find_version(client: MlflowClient, name: str, run_id: str):
    try:
        versions = client.search_model_versions(f"name = '{name}' and run_id = '{run_id}'")
    except MlflowException:
        return None
    return versions[0] if versions else None


def alias_version(client: MlflowClient, name: str, alias: str):
    """The version an alias points at, or None."""
    try:
        return client.get_model_version_by_alias(name, alias)
    except MlflowException:
        return None


def set_alias(client: MlflowClient, name: str, alias: str, version: str) -> None:
    client.set_registered_model_alias(name, alias, version)


def tag_version(client: MlflowClient, name: str, version: str, tags: dict[str, str]) -> None:
    for key, value in tags.items():
        client.set_model_version_tag(name, version, key, value)


def save_generation_model(path: Path, files: ModelFiles) -> Path:
    """The pyfunc, saved as code into `path` (which must not exist yet)."""
    text = Schema([ColSpec(DataType.string)])
    mlflow.pyfunc.save_model(
        str(path),
        python_model=str(MODEL_CODE),
        artifacts={k: str(v) for k, v in files.artifacts.items()},
        code_paths=[str(p) for p in files.code_paths],
        model_config=files.config,
        pip_requirements=files.requirements,
        signature=ModelSignature(inputs=text, outputs=text),
        input_example=INPUT_EXAMPLE,
    )
    return path


def register_run_model(
    client: MlflowClient, run_id: str, name: str, files: ModelFiles, tags: dict[str, str]
) -> tuple[str, bool]:
    """Register the run's model once: (version, created). Sets no alias."""
    existing = find_version(client, name, run_id)
    if existing is not None:
        return existing.version, False
    with tempfile.TemporaryDirectory() as tmp:
        path = save_generation_model(Path(tmp) / MODEL_DIR, files)
        client.log_artifacts(run_id, str(path), MODEL_DIR)
    try:
        client.create_registered_model(name)
    except MlflowException:
        pass  # already registered
    version = client.create_model_version(
        name, f"runs:/{run_id}/{MODEL_DIR}", run_id=run_id, tags=tags
    )
    return version.version, True


def log_dir(client: MlflowClient, run_id: str, local: Path, artifact_path: str) -> str:
    """A local directory as the run's artifacts under `artifact_path`; its `runs:/` URI."""
    client.log_artifacts(run_id, str(local), artifact_path)
    return f"runs:/{run_id}/{artifact_path}"


def has_artifact(client: MlflowClient, run_id: str, path: str) -> bool:
    parent = path.rsplit("/", 1)[0] if "/" in path else None
    return any(a.path == path for a in client.list_artifacts(run_id, parent))


def download_run_dir(client: MlflowClient, run_id: str, path: str, dest: Path) -> Path:
    return Path(client.download_artifacts(run_id, path, str(dest)))
