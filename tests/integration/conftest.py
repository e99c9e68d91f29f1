"""The one finished demo sweep of a pytest run, shared by the tests that read a finished sweep.

`finished_sweep` runs `sweeplab sweep` once per pytest run, whichever test asks first, and
every other test (on any xdist worker) waits for that one: a file lock beside the workers'
temporary folders. Tests that read it must not change what another reader asserts; a test that
needs a sweep in another state runs its own.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import pytest
import yaml
from filelock import FileLock

from tests.helpers import (
    SHARED_LOG_EVERY,
    SHARED_REPLICATES,
    SHARED_SWEEP,
    clean_env,
    run_sweeplab,
    small_sweep_config,
)


@dataclass(frozen=True)
class FinishedSweep:
    """A finished 2-trial demo sweep: its folder (the sweep's cwd), config file, what the
    `sweeplab sweep` command printed, and its MLflow store's URI."""

    work: Path
    config: Path
    stdout: str
    name: str = SHARED_SWEEP

    @property
    def uri(self) -> str:
        return f"sqlite:///{self.work / 'runs' / 'mlflow.db'}"


def _shared_root(request, tmp_path_factory) -> Path:
    """A folder all xdist workers of this run share (each has its own basetemp below it)."""
    base = tmp_path_factory.getbasetemp()
    return base.parent if hasattr(request.config, "workerinput") else base


@pytest.fixture(scope="session")
def finished_sweep(request, tmp_path_factory, demo_assets) -> FinishedSweep:
    root = _shared_root(request, tmp_path_factory)
    work, record = root / "finished-sweep", root / "finished-sweep.json"
    with FileLock(str(root / "finished-sweep.lock")):
        if not record.exists():
            work.mkdir(exist_ok=True)
            cfg = small_sweep_config(work, demo_assets)
            doc = yaml.safe_load(cfg.read_text())
            doc["train"]["log_every"] = SHARED_LOG_EVERY
            doc["search"]["replicates"] = SHARED_REPLICATES
            cfg.write_text(yaml.safe_dump(doc))
            proc = run_sweeplab(
                "sweep", str(cfg), "--name", SHARED_SWEEP, cwd=work, env=clean_env()
            )
            done = {"rc": proc.returncode, "stdout": proc.stdout, "stderr": proc.stderr}
            record.write_text(json.dumps(done | {"config": str(cfg)}))
        done = json.loads(record.read_text())
    assert done["rc"] == 0, done["stderr"][-3000:] + done["stdout"][-3000:]
    return FinishedSweep(work=work, config=Path(done["config"]), stdout=done["stdout"])
