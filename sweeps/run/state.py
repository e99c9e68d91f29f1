"""A sweep's own record on disk: the config it was started with and its tracking URI.

It lives inside Ray's experiment folder (`<storage>/<name>/sweeplab/`), beside Ray's
checkpoints, so `sweeplab resume NAME` finds everything in one place. It is written before
any slow step, so a sweep killed at any point can be resumed, and undone on bad input.
"""

from __future__ import annotations

import shutil
from collections.abc import Callable
from pathlib import Path

from common.dicts import first_difference
from common.files import write_atomic
from sweeps.config import SweepConfig
from sweeps.run.lock import LOCK_FILE

STATE = "sweeplab"


class SweepExists(ValueError):
    """A sweep of that name was started before, with another config."""


def state_dir(storage: Path, name: str) -> Path:
    """sweeplab's own records of a sweep, inside Ray's experiment folder."""
    return storage / name / STATE


def saved_config(storage: Path, name: str) -> SweepConfig | None:
    """The config a sweep was started with, if a sweep of that name was started here."""
    path = state_dir(storage, name) / "config.json"
    if not path.is_file():
        return None
    return SweepConfig.model_validate_json(path.read_text(encoding="utf-8"))


def check_continuation(cfg: SweepConfig, storage: Path) -> bool:
    """True when `cfg` continues a sweep started before; refuses a changed config."""
    exp_dir = storage / cfg.name
    previous = saved_config(storage, cfg.name)
    if previous is None:
        if exp_dir.exists() and any(p.name != LOCK_FILE for p in exp_dir.iterdir()):
            raise SweepExists(
                f"{exp_dir} exists but holds no sweeplab sweep; choose another --name"
            )
        return False
    if previous != cfg:
        diff = first_difference(previous.model_dump(mode="json"), cfg.model_dump(mode="json"))
        raise SweepExists(
            f"sweep {cfg.name!r} was started with a different config ({diff}); "
            "choose another --name, or `sweeplab resume` it as it was"
        )
    return True


def record_sweep(cfg: SweepConfig, storage: Path, tracking_uri: str) -> Callable[[], None]:
    """Write the sweep's record (what `sweeplab resume` reads: its config and tracking URI)
    before any slow step, so a sweep killed at any point can be resumed. Returns an undo
    for bad input."""
    state = state_dir(storage, cfg.name)
    created = [d for d in (storage.parent, storage, storage / cfg.name, state) if not d.exists()]
    # Both may hold credentials (a password in the tracking URI): owner-only.
    write_atomic(state / "tracking_uri", tracking_uri, mode=0o600)
    write_atomic(state / "config.json", cfg.model_dump_json(indent=1), mode=0o600)

    def undo() -> None:
        for name in ("config.json", "tracking_uri"):
            (state / name).unlink(missing_ok=True)
        for d in reversed(created):
            shutil.rmtree(d, ignore_errors=True)

    return undo


def recorded_tracking_uri(storage: Path, name: str) -> str | None:
    path = state_dir(storage, name) / "tracking_uri"
    return path.read_text(encoding="utf-8").strip() if path.is_file() else None
