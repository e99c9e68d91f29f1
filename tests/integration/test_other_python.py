"""Installable where users run it: on another Python present here (pyenv's 3.12 / 3.13), the
package's metadata admits that Python, its whole dependency set resolves (the CPU torch pin
included), and the torch-free commands run from an install with only their light dependencies.

"Resolves" means `pip install --dry-run --report` picks a version of every requirement for that
interpreter (wheels or sdists it can build metadata for); nothing heavy is downloaded or
installed. The test needs the package registry (PyPI) and skips, saying why, without it or
without another Python.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import urllib.request
from pathlib import Path

import pytest
from packaging.specifiers import SpecifierSet

from tests.helpers import ROOT, config_yaml, write_published

pytestmark = pytest.mark.integration

PACKAGES = ("sweeps", "training", "evaluation", "mlflow_server", "common")
# what help/validate/data import (numpy: the metric registry names what a config may rank by)
LIGHT = ["pydantic>=2.7,<3", "pyyaml>=6", "pyarrow>=15", "numpy>=1.26"]


def _other_pythons() -> list[Path]:
    found = []
    root = Path(os.environ.get("PYENV_ROOT", Path.home() / ".pyenv")) / "versions"
    for minor in ("3.12", "3.13"):
        candidates = sorted(root.glob(f"{minor}.*/bin/python{minor}"))
        which = shutil.which(f"python{minor}")
        path = candidates[-1] if candidates else Path(which) if which else None
        if path is not None:
            found.append(path)
    return found


def _registry_reachable() -> bool:
    try:
        urllib.request.urlopen("https://pypi.org/simple/pip/", timeout=10).close()
        return True
    except OSError:
        return False


def _run(*cmd, cwd: Path, timeout: float = 600) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "VIRTUAL_ENV")}
    proc = subprocess.run(
        [str(c) for c in cmd], cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout
    )
    assert proc.returncode == 0, f"{' '.join(map(str, cmd))}: {proc.stderr[-3000:]}"
    return proc


def _source_copy(dest: Path) -> Path:
    """The package's sources alone (a build writes build/ and *.egg-info beside them)."""
    dest.mkdir(parents=True)
    for name in ("pyproject.toml", "README.md", *PACKAGES):
        src = ROOT / name
        (shutil.copytree if src.is_dir() else shutil.copy)(src, dest / name)
    return dest


@pytest.fixture(scope="module", params=_other_pythons() or [None], ids=lambda p: p and p.name)
def venv(request, tmp_path_factory) -> Path:
    if request.param is None:
        pytest.skip("no other Python here (looked for pyenv's 3.12 / 3.13 and python3.1x)")
    version = subprocess.run(
        [request.param, "-c", "import sys; print(sys.version_info[:2])"],
        capture_output=True,
        text=True,
    ).stdout
    if version.strip() == str(sys.version_info[:2]):
        pytest.skip(f"{request.param} is this test run's own Python")
    if not _registry_reachable():
        pytest.skip("the package registry (pypi.org) is unreachable: nothing to resolve against")
    folder = tmp_path_factory.mktemp(request.param.name)
    _run(request.param, "-m", "venv", folder / "venv", cwd=folder)
    _source_copy(folder / "src")
    return folder / "venv"


def test_metadata_and_dependencies_resolve(venv, tmp_path):
    pip = venv / "bin" / "pip"
    report = tmp_path / "report.json"
    # The whole dependency set, with the Makefile's CPU torch pin, for this interpreter.
    _run(
        pip,
        "install",
        "--dry-run",
        "--quiet",
        "--report",
        report,
        "torch==2.13.0",
        f"{venv.parent / 'src'}[dev]",
        cwd=tmp_path,
    )
    picked = {
        i["metadata"]["name"].lower(): i["metadata"]
        for i in json.loads(report.read_text())["install"]
    }
    for name in ("sweeplab", "torch", "ray", "trl", "peft", "transformers", "mlflow", "datasets"):
        assert name in picked, f"{name} not resolved"
    assert picked["torch"]["version"] == "2.13.0"
    admitted = SpecifierSet(picked["sweeplab"]["requires_python"])
    assert admitted == SpecifierSet(">=3.11,<3.15") and "3.13.0" in admitted


def test_torch_free_commands_run(venv, tmp_path):
    pip, sweeplab = venv / "bin" / "pip", venv / "bin" / "sweeplab"
    _run(pip, "install", "--quiet", "--no-deps", venv.parent / "src", cwd=tmp_path)
    _run(pip, "install", "--quiet", *LIGHT, cwd=tmp_path)
    assert "validate" in _run(sweeplab, "--help", cwd=tmp_path).stdout
    out = _run(sweeplab, "validate", ROOT / "configs" / "tinyllama.yaml", cwd=tmp_path).stdout
    assert "sweep 'tinyllama', 24 trials" in out
    files = write_published(tmp_path / "d", alpaca=80, dolly=60, openorca=90)
    cfg = config_yaml(tmp_path, {**files, "max_rows": 70})
    out = json.loads(_run(sweeplab, "data", cfg, "--json", cwd=tmp_path).stdout)
    assert out["openorca"]["rows"] == 70 and out["openorca"]["available"] == 90
    assert out["alpaca"] == {
        "rows": 70,
        "duplicates": 0,
        "skipped": 0,
        "train": 62,
        "eval": 8,
        "available": 80,
    }
    again = _run(sweeplab, "data", cfg, cwd=tmp_path).stdout
    assert "read from the cache" in again
    # Nothing heavy came along: the commands ran without torch, Ray or transformers.
    probe = "import importlib.util as u; print([m for m in ('torch', 'ray') if u.find_spec(m)])"
    assert _run(venv / "bin" / "python", "-c", probe, cwd=tmp_path).stdout.strip() == "[]"
