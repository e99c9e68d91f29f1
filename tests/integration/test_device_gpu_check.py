"""The GPU check as the lent machine runs it, here: `scripts/device_gpu_check.sh --dry-run`
with the python of a venv shaped like that machine (tests/integration/device_env.py: its
transformers 5.17.0, huggingface-hub 1.33.0, accelerate 1.15.0, no pydantic, Ray or MLflow)
and `make gpu-wheelhouse`'s folder installed with `pip install --target`, through to its last
line: the trial path (TRL SFT, PEFT, generation, scoring) on pyproject's lower bounds. And
every carried wheel installs on CPython 3.12 manylinux x86-64, the machine's Python.

Needs the package registry the first time (the venv and the wheelhouse are cached by their
spec under ~/.cache/sweeplab); skips, saying why, without python3.11.
"""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.helpers import ROOT
from tests.integration import device_env

pytestmark = pytest.mark.integration

sys.path.insert(0, str(ROOT / "scripts"))

import gpu_wheelhouse  # noqa: E402

WORDNET_ZIP = Path("nltk_data") / "corpora" / "wordnet.zip"


@pytest.fixture(scope="module")
def venv() -> Path:
    python = device_env.find_python()
    if python is None:
        pytest.skip(f"no python{device_env.PYTHON_MINOR} for the device-shaped venv")
    return device_env.build(python)


@pytest.fixture(scope="module")
def carry() -> Path:
    """`make gpu-wheelhouse`'s folder (wheelhouse/ + nltk_data/), cached by its pins."""
    key = hashlib.sha256(" ".join(gpu_wheelhouse.pins()).encode()).hexdigest()[:12]
    root = Path(os.environ.get("SWEEPLAB_CACHE", Path.home() / ".cache" / "sweeplab"))
    out = root / "gpu-carry" / key
    if not (out / WORDNET_ZIP).is_file():
        gpu_wheelhouse.build(out, ["3.12", "3.11"])
    return out


def _names(carry: Path) -> set[str]:
    return {device_env.normalize(w.name.split("-")[0]) for w in carry.glob("wheelhouse/*.whl")}


def test_wheelhouse_carries_what_the_machine_lacks_and_nothing_of_its_own(carry):
    names = _names(carry)
    assert names == {device_env.normalize(n) for n in gpu_wheelhouse.CARRIED}
    # peft alone is on the image too (version unrecorded): carried at the tested version.
    assert names & device_env.device_names() == {"peft"}
    assert not names & {device_env.normalize(n) for n in gpu_wheelhouse.MACHINE_OWN}
    sizes = [f.stat().st_size for d in ("wheelhouse", "nltk_data") for f in (carry / d).rglob("*")]
    assert sum(sizes) < 40 * 2**20  # with the work tree, well under a device call's 64 MiB


def test_every_carried_wheel_installs_on_cpython_312_manylinux(carry, tmp_path):
    # pip resolves each carried requirement to a wheel for the machine's Python and platform
    # (no index, no sdists): a cp311-only build or a missing compiled package fails here.
    pins = gpu_wheelhouse.pins()
    report = tmp_path / "report.json"
    proc = subprocess.run(
        [
            sys.executable, "-m", "pip", "install", "--dry-run", "--ignore-installed",
            "--no-deps", "--python-version", "3.12", *gpu_wheelhouse.platform_args(),
            "--only-binary=:all:", "--no-index", "--find-links", str(carry / "wheelhouse"),
            "--target", str(tmp_path / "t"), "--report", str(report), "--quiet", *pins,
        ],
        capture_output=True,
        text=True,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr[-3000:]
    chosen = {
        device_env.normalize(i["metadata"]["name"]): Path(i["download_info"]["url"]).name
        for i in json.loads(report.read_text())["install"]
    }
    assert set(chosen) == {device_env.normalize(p.split("==")[0]) for p in pins}
    assert "-cp312-cp312-manylinux" in chosen["pydantic-core"]
    assert "-py312-none-any" in chosen["multiprocess"]


def test_device_venv_holds_only_the_machines_packages_at_its_versions(venv):
    held = device_env.installed(venv)
    assert set(held) - device_env.TOOLING <= device_env.device_names()
    assert not {"pydantic", "ray", "mlflow", "peft", "trl"} & set(held)
    pins = dict(p.split("==") for p in device_env.MACHINE_PINS)
    assert {name: held[name] for name in pins} == pins


def test_device_script_dry_run_runs_the_trial_path_to_its_last_line(venv, carry, tmp_path):
    out = tmp_path / "out"
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "VIRTUAL_ENV")}
    env.update(PATH=f"{venv / 'bin'}:/usr/bin:/bin", OUT=str(out), GPU_CARRY=str(carry))
    env.update(TMPDIR=str(tmp_path))
    proc = subprocess.run(
        ["bash", str(ROOT / "scripts" / "device_gpu_check.sh"), "--dry-run"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=1500,
    )
    log = proc.stdout + proc.stderr
    assert proc.returncode == 0, log[-4000:]
    assert proc.stdout.rstrip().splitlines()[-1].startswith("== exit 0: ")
    # The machine's own libraries, the carried ones from the scratch site.
    assert "transformers 5.17.0 (machine)" in log and "huggingface_hub 1.33.0 (machine)" in log
    carried = dict(p.split("==") for p in gpu_wheelhouse.pins())
    for name in ("trl", "peft", "datasets", "pydantic"):
        assert f"{name} {carried[name]} (carried)" in log
    assert "wordnet.zip/wordnet" in log  # METEOR's WordNet read from the carried zip
    (jsonl,) = out.glob("gpu-check-*.jsonl")
    rows = [json.loads(line) for line in jsonl.read_text().splitlines()]
    events = [r["event"] for r in rows]
    assert events == ["machine", "matmul_peak", "config", "solo", "shared", "shared", "done"]
    machine = rows[0]
    assert machine["transformers"] == "5.17.0"
    assert (machine["trl"], machine["peft"]) == (carried["trl"], carried["peft"])
    assert machine["missing"] == ["ray", "mlflow"] and machine["installed_from_wheelhouse"] == []
    solo, shared = rows[3], rows[4:6]
    for trial in (solo, *shared):
        assert trial["reports"] == 2 and trial["steps"] == 4 and trial["train_rows"] == 8
        # Tokens trained, not rows x max_length: the mean row is below the 96-token cap.
        assert trial["mean_row_tokens"] == trial["train_tokens"] / 8 < 96
        assert trial["train_s"] < trial["trial_s"] - trial["eval_s"]  # load/save left out
        assert 0 < trial["generate_s"] <= trial["eval_s"] and trial["gen_tokens_per_s"] > 0
        # (On a shared CPU the peak is measured while other work runs: MFU may pass 1 here.)
        assert 0 < trial["mfu_measured_peak"] < 10 and 0 < trial["eval_share"] < 1
    assert solo["objective"] == shared[0]["objective"] == shared[1]["objective"]
    assert {r["sharing"] for r in shared} == {"processes"}  # no Ray there
    assert not list(tmp_path.glob("gpu-check.*"))  # the scratch folder is removed


def test_carried_pydantic_loads_on_a_real_cpython_312(carry, tmp_path):
    # Beyond the platform dry run: the cp312 pydantic-core binary imports and validates on
    # CPython 3.12 (typing-extensions, on the machine's image, comes from the registry here).
    python = next(iter(sorted(Path.home().glob(".pyenv/versions/3.12.*/bin/python3.12"))), None)
    if python is None:
        pytest.skip("no python3.12")
    target = tmp_path / "site"
    names = ["pydantic", "pydantic-core", "annotated-types", "typing-inspection"]
    pip = [str(python), "-m", "pip", "install", "--quiet", "--no-deps", "--target", str(target)]
    for args in (
        ["--no-index", "--find-links", str(carry / "wheelhouse"), *names],
        ["typing-extensions"],
    ):
        proc = subprocess.run([*pip, *args], capture_output=True, text=True)
        assert proc.returncode == 0, proc.stderr[-3000:]
    code = (
        "import pydantic, sys\n"
        "class M(pydantic.BaseModel):\n    n: int\n"
        "print(sys.version_info[:2], M(n='3').n, pydantic.VERSION)"
    )
    proc = subprocess.run(
        [str(python), "-c", code],
        env={"PYTHONPATH": str(target), "PATH": "/usr/bin:/bin"},
        capture_output=True,
        text=True,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    pins = dict(p.split("==") for p in gpu_wheelhouse.pins())
    assert proc.stdout.split() == ["(3,", "12)", "3", pins["pydantic"]]
