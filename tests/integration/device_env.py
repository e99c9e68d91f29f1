"""A venv shaped like the lent GPU machine (the device library's KINDS.md, nvidia-h200), as far
as this machine allows: its transformers, huggingface-hub, accelerate, tokenizers and
safetensors at the machine's versions; only packages its image holds
(bench/gpu/device_packages.txt): no pydantic, Ray or MLflow. What differs, and why: Python
3.11 and torch 2.13 CPU (the only torch wheel on disk here; the machine has 3.12 and torch
2.11 cu130, whose CUDA build is gigabytes); the cp312 side is proven by a platform dry run.

Built once per spec under ~/.cache/sweeplab/device-venv/<hash> (SWEEPLAB_CACHE overrides the
root) and reused: `make test` pays for it only when the spec changes.
"""

from __future__ import annotations

import fcntl
import hashlib
import os
import re
import shutil
import subprocess
from pathlib import Path

from tests.helpers import ROOT

PYTHON_MINOR = "3.11"
TORCH_WHEEL = Path("/opt/wheels/torch-2.13.0+cpu-cp311-cp311-manylinux_2_28_x86_64.whl")
# The machine's versions (KINDS.md, 'pip list, as a session saw it').
MACHINE_PINS = (
    "transformers==5.17.0",
    "huggingface-hub==1.33.0",
    "accelerate==1.15.0",
    "tokenizers==0.23.2",
    "safetensors==0.8.0",
)
# On the image at versions not recorded; what the trial path imports from them (datasets'
# fsspec range kept).
IMAGE_PACKAGES = (
    "numpy",
    "pyarrow",
    "pandas",
    "sacrebleu",
    "xxhash",
    "fsspec<=2026.9.0",
    "absl-py",
    "six",
    "joblib",
    "click",
    "psutil",
    "pyyaml",
    "regex",
    "tqdm",
    "requests",
)
# Installed by pip, never on the machine's own list: the venv's tooling.
TOOLING = {"pip", "setuptools", "wheel"}


def device_names() -> set[str]:
    """Normalized names of the packages on the machine's image."""
    lines = (ROOT / "bench" / "gpu" / "device_packages.txt").read_text().splitlines()
    return {normalize(x) for x in lines if x.strip() and not x.startswith("#")}


def normalize(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def find_python() -> Path | None:
    root = Path(os.environ.get("PYENV_ROOT", Path.home() / ".pyenv")) / "versions"
    found = sorted(root.glob(f"{PYTHON_MINOR}.*/bin/python{PYTHON_MINOR}"))
    which = shutil.which(f"python{PYTHON_MINOR}")
    return found[-1] if found else Path(which) if which else None


def spec_key(python: Path) -> str:
    text = "\n".join([str(python), TORCH_WHEEL.name, *MACHINE_PINS, *IMAGE_PACKAGES])
    return hashlib.sha256(text.encode()).hexdigest()[:12]


def installed(venv: Path) -> dict[str, str]:
    """{normalized name: version} of what the venv holds."""
    out = subprocess.run(
        [str(venv / "bin" / "python"), "-m", "pip", "list", "--format=freeze"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    rows = [line.split("==", 1) for line in out.splitlines() if "==" in line]
    return {normalize(name): version for name, version in rows}


def build(python: Path) -> Path:
    """The venv (cached by spec); built in a side folder and renamed, under a lock."""
    root = Path(os.environ.get("SWEEPLAB_CACHE", Path.home() / ".cache" / "sweeplab"))
    venv = root / "device-venv" / spec_key(python)
    venv.parent.mkdir(parents=True, exist_ok=True)
    with open(venv.parent / ".lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if (venv / ".complete").is_file():
            return venv
        side = venv.with_name(venv.name + ".building")
        shutil.rmtree(side, ignore_errors=True)
        subprocess.run([str(python), "-m", "venv", str(side)], check=True)
        pip = [str(side / "bin" / "python"), "-m", "pip", "install", "-q"]
        env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "VIRTUAL_ENV")}
        subprocess.run(
            [*pip, str(TORCH_WHEEL), *MACHINE_PINS, *IMAGE_PACKAGES], check=True, env=env
        )
        # Newer releases of packages the image holds pull in what it lacks (typer 0.29 wants
        # pydantic, python-dateutil 4 tzdata): removed, as the image has neither.
        extra = sorted(set(installed(side)) - device_names() - TOOLING)
        if extra:
            subprocess.run([*pip[:3], "uninstall", "-q", "-y", *extra], check=True, env=env)
        shutil.rmtree(venv, ignore_errors=True)
        side.rename(venv)  # used as `bin/python -m ...` only: its scripts' paths don't matter
        (venv / ".complete").write_text("")
    return venv
