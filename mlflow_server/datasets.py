"""MLflow dataset inputs from plain dicts: what a trial trained and was scored on.

The sweep side describes each dataset as a dict (no MLflow objects cross the outbox):

    {"name": "alpaca-eval", "context": "evaluation", "content_hash": "<sha256 hex>",
     "source": {"hub": "tatsu-lab/alpaca", "revision": None} | {"file": "/abs/path"}
               | {"mixture": {"alpaca": "<location>", ...}},
     "profile": {"rows": 96, ...}}

Each becomes an `mlflow.data` MetaDataset (a record of the data, not a copy) whose digest is
sweeplab's content hash: MLflow keeps at most 36 characters of a digest, so it is the hash's
first 32 hex digits; the full hash is in the profile. The context (`training`,
`evaluation`) goes in MLflow's `mlflow.data.context` input tag, which the UI shows.
"""

from __future__ import annotations

import json

from common.tags import MIXTURE_TAG

DIGEST_LEN = 32
"""Hex digits of sweeplab's sha256 content hash kept as the MLflow digest (MLflow: <= 36)."""


def digest_of(content_hash: str) -> str:
    return content_hash[:DIGEST_LEN]


def _source(spec: dict):
    if "hub" in spec:
        from mlflow.data.huggingface_dataset_source import HuggingFaceDatasetSource

        return HuggingFaceDatasetSource(spec["hub"], revision=spec.get("revision"))
    if "file" in spec:
        from pathlib import Path

        from mlflow.data.dataset_source_registry import get_dataset_source_from_json

        uri = Path(spec["file"]).resolve().as_uri()
        return get_dataset_source_from_json(json.dumps({"uri": uri}), "local")
    from mlflow.data.code_dataset_source import CodeDatasetSource

    # A mixture is built by sweeplab's code from the named sources.
    return CodeDatasetSource({MIXTURE_TAG: json.dumps(spec["mixture"], sort_keys=True)})


def dataset_input(spec: dict):
    """One `mlflow.entities.DatasetInput` from its dict (see the module docstring)."""
    from mlflow.data.meta_dataset import MetaDataset
    from mlflow.entities import Dataset, DatasetInput, InputTag
    from mlflow.utils.mlflow_tags import MLFLOW_DATASET_CONTEXT

    meta = MetaDataset(_source(spec["source"]), spec["name"], digest_of(spec["content_hash"]))
    entity = meta._to_mlflow_entity()
    profile = {"content_hash": spec["content_hash"], **spec.get("profile", {})}
    dataset = Dataset(
        name=entity.name,
        digest=entity.digest,
        source_type=entity.source_type,
        source=entity.source,
        schema=entity.schema,
        profile=json.dumps(profile, sort_keys=True),
    )
    return DatasetInput(dataset, tags=[InputTag(MLFLOW_DATASET_CONTEXT, spec["context"])])


def dataset_inputs(specs: list[dict]) -> list:
    return [dataset_input(spec) for spec in specs]
