"""A sweep's own record: the config it was started with and its tracking URI.

It lives inside Ray's experiment folder (`<storage>/<name>/sweeplab/`), beside Ray's
checkpoints, so `sweeplab resume NAME [--storage URI]` finds everything in one place, from
any machine that reaches the storage. It is written (through `pyarrow.fs`, local or object
store alike) before any slow step, so a sweep killed at any point can be resumed, and
undone on bad input.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path

from common.dicts import first_difference
from sweeps.config import SweepConfig
from sweeps.run.lock import LEASE_FILE, LOCK_FILE
from sweeps.run.storage import Storage

STATE = "sweeplab"
BASE_CACHE_ENV = "SWEEPLAB_BASE_CACHE"


class SweepExists(ValueError):
    """A sweep of that name was started before, with another config."""


def state_dir(storage: Storage, name: str) -> str:
    """sweeplab's own records of a sweep, inside Ray's experiment folder."""
    return storage.path(name, STATE)


def saved_config(storage: Storage, name: str) -> SweepConfig | None:
    """The config a sweep was started with, if a sweep of that name was started there."""
    text = storage.read_text(f"{state_dir(storage, name)}/config.json")
    return None if text is None else SweepConfig.model_validate_json(text)


def check_continuation(cfg: SweepConfig, storage: Storage) -> bool:
    """True when `cfg` continues a sweep started before; refuses a changed config."""
    exp_dir = storage.path(cfg.name)
    previous = saved_config(storage, cfg.name)
    if previous is None:
        if storage.has_files(exp_dir, ignore=(LOCK_FILE, LEASE_FILE)):
            where = exp_dir if storage.is_local else f"{storage.uri} ({exp_dir})"
            raise SweepExists(f"{where} exists but holds no sweeplab sweep; choose another --name")
        return False
    if previous != cfg:
        diff = first_difference(previous.model_dump(mode="json"), cfg.model_dump(mode="json"))
        raise SweepExists(
            f"sweep {cfg.name!r} was started with a different config ({diff}); "
            "choose another --name, or `sweeplab resume` it as it was"
        )
    return True


def record_sweep(cfg: SweepConfig, storage: Storage, tracking_uri: str) -> Callable[[], None]:
    """Write the sweep's record (what `sweeplab resume` reads: its config and tracking URI)
    before any slow step, so a sweep killed at any point can be resumed. Returns an undo
    for bad input."""
    state = state_dir(storage, cfg.name)
    dirs = (storage.root, storage.path(cfg.name), state)
    if storage.is_local:  # the project's runs/ too, when this sweep made it
        dirs = (storage.root.rsplit("/", 1)[0], *dirs)
    created = [d for d in dirs if not storage.exists(d)]
    for d in (storage.root, storage.path(cfg.name), state):
        storage.fs.create_dir(d, recursive=True)
    # Both may hold credentials (a password in the tracking URI): owner-only.
    write_tracking_uri(storage, cfg.name, tracking_uri)
    storage.write_text(f"{state}/config.json", cfg.model_dump_json(indent=1), mode=0o600)

    def undo() -> None:
        for name in ("config.json", "tracking_uri"):
            storage.delete(f"{state}/{name}")
        for d in reversed(created):
            storage.delete(d)

    return undo


def write_tracking_uri(storage: Storage, name: str, uri: str) -> None:
    """Where the sweep logs (it may hold a password: owner-only)."""
    storage.write_text(f"{state_dir(storage, name)}/tracking_uri", uri, mode=0o600)


def recorded_tracking_uri(storage: Storage, name: str) -> str | None:
    text = storage.read_text(f"{state_dir(storage, name)}/tracking_uri")
    return text.strip() if text is not None else None


@dataclass(frozen=True)
class Place:
    """Where a sweep keeps its files: Ray's experiments and the sweep record (`storage`,
    shared by a cluster), the base-model cache and the outbox (the driver's own disk)."""

    project: Path
    storage_uri: str | None = None

    @cached_property
    def storage(self) -> Storage:
        return Storage.open(self.storage_uri, self.project)

    @property
    def base_cache(self) -> Path:
        """`runs/base_eval/`, or `$SWEEPLAB_BASE_CACHE`: one folder that projects on this
        machine share (a file per model, eval split and settings, the model's weights'
        names, sizes and times in its key)."""
        shared = os.environ.get(BASE_CACHE_ENV, "").strip()
        return Path(shared) if shared else self.project / "runs" / "base_eval"

    def lock_dir(self, name: str) -> Path:
        """Where the one-driver `flock` lives: the sweep's folder when the storage is this
        disk, else the project's runs/locks/ (drivers on other machines are kept apart by
        the lease on the object store, `sweeps.run.lease`)."""
        if self.storage.is_local:
            return Path(self.storage.path(name))
        return self.project / "runs" / "locks" / name

    def outbox(self, name: str) -> Path:
        """The driver's queue of tracking writes: beside the record when that is on this
        disk (as always), else under the project's runs/."""
        if self.storage.is_local:
            return Path(state_dir(self.storage, name)) / "outbox"
        return self.project / "runs" / "outbox" / name
