"""scripts/gpu_check.py: its CPU dry run end to end (two trials as two processes), and its
datasheet peak lookup."""

from __future__ import annotations

import subprocess
import sys

import pytest

from tests.helpers import ROOT

sys.path.insert(0, str(ROOT / "scripts"))

import gpu_check  # noqa: E402


def test_dry_run_trains_two_trials_side_by_side():
    proc = subprocess.run(
        [
            sys.executable,
            str(ROOT / "scripts" / "gpu_check.py"),
            "--dry-run",
            "--sharing",
            "processes",
        ],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    out = proc.stdout
    assert "one trial alone:" in out and "together:" in out
    assert out.count("tokens/s  loss") == 2
    assert "gpu-check: ok" in out


@pytest.mark.parametrize(
    ("name", "peak"),
    [("NVIDIA H200", 989e12), ("NVIDIA H100 80GB HBM3", 989e12), ("NVIDIA A100-SXM4-80GB", 312e12)],
)
def test_datasheet_peak_by_device_name(name, peak):
    assert gpu_check.datasheet_peak(name) == peak


def test_unknown_device_has_no_datasheet_peak():
    assert gpu_check.datasheet_peak("Some Future GPU") is None


def test_summary_adds_rates_and_measures_overlap():
    trials = [
        {"tokens_per_s": 100.0, "flops_per_token": 10.0, "start": 0.0, "end": 10.0},
        {"tokens_per_s": 50.0, "flops_per_token": 10.0, "start": 5.0, "end": 10.0},
    ]
    s = gpu_check.summarize(trials, peak=3000.0, measured=1500.0)
    assert s["aggregate_tokens_per_s"] == 150.0
    assert s["mfu_datasheet"] == 0.5 and s["mfu_measured_peak"] == 1.0
    assert s["overlap"] == 0.5
