"""What a node offers trials, asked by `sweeps.run.cluster.check_nodes` in a Ray task on
each node. A module of its own, light to import (no torch, transformers or evaluate): the
worker that runs the probe imports only this."""

from __future__ import annotations

from importlib import metadata

from common.errors import first_line


def node_facts() -> dict:
    """What a node offers trials (runs on the node): sweeplab's version, WordNet."""
    facts = {"sweeplab": version()}
    try:
        from evaluation.wordnet import wordnet_fingerprint

        facts["wordnet"] = wordnet_fingerprint()["sha256"]
    except LookupError as exc:
        facts["wordnet"] = f"missing ({first_line(exc)})"
    return facts


def version() -> str:
    try:
        return metadata.version("sweeplab")
    except metadata.PackageNotFoundError:
        return "not installed"
