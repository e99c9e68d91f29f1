"""The A/A test, as a user would run it: a sweep whose only searched dimension is the
training seed changes nothing but noise, so its report must call no effect on any set or
metric, from the noise the sweep measured itself (no `confirm`, no replicates by hand)."""

from __future__ import annotations

import re

import pytest
import yaml

from tests.helpers import clean_env, run_sweeplab, small_sweep_config

pytestmark = pytest.mark.integration


def test_a_seed_only_sweep_is_reported_as_a_passed_noise_check(tmp_path, demo_assets):
    path = small_sweep_config(
        tmp_path,
        demo_assets,
        num_samples=3,
        space={"train.seed": {"choice": [0, 1, 2]}},
        points_to_evaluate=[{"train.seed": 0}, {"train.seed": 1}, {"train.seed": 2}],
        scheduler={"kind": "fifo"},
        replicates=2,
    )
    doc = yaml.safe_load(path.read_text())
    doc["name"] = "aa"
    path.write_text(yaml.safe_dump(doc))
    env = clean_env()
    swept = run_sweeplab("sweep", str(path), cwd=tmp_path, env=env, timeout=900)
    assert swept.returncode == 0, swept.stderr[-3000:]
    assert "3 trials + 2 replicate(s) for training noise" in swept.stdout

    out = tmp_path / "report"
    rep = run_sweeplab("report", "aa", "--out", str(out), cwd=tmp_path, env=env, timeout=600)
    assert rep.returncode == 0, rep.stderr[-3000:]
    md = (out / "report.md").read_text()
    # The report says what its noise rests on, before any verdict.
    noise = re.search(r"from (\d+) replicate group\(s\) of (\d+) runs \(in-sweep\)", md)
    assert noise and noise.groups() == ("2", "4")
    assert md.index("Training noise, measured") < md.index("## Verdicts")
    block = md[md.index("### train.seed") :]
    block = block[: block.index("\n## ")] if "\n## " in block else block
    assert "Noise check (A/A test)" in block and "**passed**" in block
    assert "Evidence: examples + training noise" in block
    rows = [line.split("|") for line in block.splitlines() if re.match(r"\| \w+/\w+ \|", line)]
    assert len(rows) >= 12  # every set x metric (and format compliance where measured)
    for cells in rows:
        assert cells[7].strip() == "inconclusive", cells
    # Each row's 95% interval is at least as wide as its examples-only one: noise was added.
    for cells in rows:
        raw, wide = cells[3].strip(), cells[4].strip()
        if raw != "n/a":
            lo, hi = (float(x) for x in raw.strip("[]").split(","))
            wlo, whi = (float(x) for x in wide.strip("[]").split(","))
            assert whi - wlo >= hi - lo - 0.1
