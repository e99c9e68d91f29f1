"""`sweeplab predict` and the report's "How much to mix" on the run's shared finished demo
sweep (2 real trials and their 2 replicates): the predictions and the validation printed are
those of the response model recomputed from what MLflow holds (final metrics, and the
per-example tables the seed noise is measured on)."""

from __future__ import annotations

import json
import sqlite3

import pytest
from mlflow import MlflowClient

from mlflow_server.tracking import Tracker
from sweeps.config import SweepConfig
from sweeps.report.leaderboard import rows_from_runs
from sweeps.report.noise import measure
from sweeps.report.response import all_metrics, fit_responses, section_metrics, seed_sd, set_metrics
from sweeps.report.runs import TableCache, Trial, evaluated_steps
from sweeps.report.seeds import is_replicate
from tests.helpers import clean_env, run_sweeplab

pytestmark = pytest.mark.integration


def _copy_store(finished_sweep, tmp_path) -> str:
    """A consistent copy of the shared sweep's store (SQLite's backup), so this test's
    report writes nowhere another test reads; artifacts stay where the runs say they are."""
    dst = tmp_path / "mlflow.db"
    src = sqlite3.connect(finished_sweep.work / "runs" / "mlflow.db")
    with sqlite3.connect(dst) as out:
        src.backup(out)
    src.close()
    return f"sqlite:///{dst}"


def _trials(uri: str, tmp_path) -> tuple[SweepConfig, list[Trial], dict[str, float]]:
    """The sweep's config, finished runs (read with MLflow's own client) and the seed noise
    their replicates measure (per-example tables where runs stopped at different steps)."""
    tracker = Tracker(uri, tmp_path)
    client = MlflowClient(tracking_uri=uri)
    exp = client.get_experiment_by_name("itest")
    runs = client.search_runs([exp.experiment_id])
    parent = next(r for r in runs if r.data.tags.get("sweeplab.kind") == "sweep")
    path = client.download_artifacts(parent.info.run_id, "sweep_config.json")
    cfg = SweepConfig.model_validate(json.loads(open(path, encoding="utf-8").read()))
    children = {r.info.run_id: r for r in runs if r.data.tags.get("sweeplab.kind") == "trial"}
    rows = [r for r in rows_from_runs(list(children.values()), cfg) if r.status == "FINISHED"]
    trials = [
        Trial(r, children[r.run_id].data.params, evaluated_steps(tracker, children[r.run_id]),
              children[r.run_id].data.tags)
        for r in rows
    ]  # fmt: skip
    search = [t for t in trials if not is_replicate(t)]
    reps = [t for t in trials if is_replicate(t)]
    tables = TableCache(tracker, tmp_path / "tables")
    noise = measure(search, reps, set_metrics(cfg, trials), tables)
    return cfg, trials, seed_sd(noise)


def test_predict_and_how_much_to_mix_on_a_real_sweep(finished_sweep, tmp_path):
    uri = _copy_store(finished_sweep, tmp_path)
    env = clean_env()

    def sweeplab(*argv):
        proc = run_sweeplab(*argv, "--tracking-uri", uri, cwd=tmp_path, env=env, timeout=600)
        assert proc.returncode == 0, proc.stderr[-3000:]
        return proc.stdout

    # A share no trial used (the trials ran 0.0 and 0.3): intervals for every set's metrics.
    got = json.loads(sweeplab("predict", "itest", "--set", "mix.openorca=0.07", "--json"))
    assert got["configuration"]["mix.openorca"] == 0.07 and got["runs"] == 4
    assert not got["extrapolating"]
    for key in ("alpaca/meteor", "openorca/meteor", "openorca/bleu", "dolly/rougeL"):
        p = got["predictions"][key]
        assert p["low"] < p["mean"] < p["high"]
    cfg, trials, noise = _trials(uri, tmp_path)
    assert noise and got["noise"]["openorca/meteor"] == "the sweep's measured seed-to-seed SD"
    model = fit_responses(cfg, trials, all_metrics(cfg, trials), noise)
    again = model.predict(got["configuration"])
    for key, p in got["predictions"].items():
        assert p["mean"] == pytest.approx(again[key].mean, abs=1e-9), key
        assert p["low"] == pytest.approx(again[key].low, abs=1e-9), key
    text = sweeplab("predict", "itest", "--set", "lora.r=64")
    assert "EXTRAPOLATING: lora.r=64 is outside the trials' 16..32" in text

    # The report: the section, its curve's plot, and its validation as recomputed.
    sweeplab("report", "itest", "--out", str(tmp_path / "report"))
    md = (tmp_path / "report" / "report.md").read_text(encoding="utf-8")
    section = md[md.index("## How much to mix") : md.index("## Length analysis")]
    assert "### mix.openorca" in section and "is best at mix.openorca = " in section
    assert (tmp_path / "report" / "how_much_to_mix.png").is_file()
    model = fit_responses(cfg, trials, section_metrics(cfg), noise)
    for key in section_metrics(cfg):
        v = model.validate(key)
        line = next(x for x in section.splitlines() if x.startswith(f"| {key} | "))
        cells = [c.strip() for c in line.strip("|").split("|")]
        rho = "n/a" if v.rho is None else f"{v.rho:.2f}"
        cov = "n/a" if v.coverage is None else f"{100 * v.coverage:.0f}% ({v.inside}/{v.runs})"
        assert cells[1:5] == [str(v.runs), str(v.configurations), rho, cov], line
    # Two trials cannot validate a model: the section says so.
    assert "**not to be trusted**: " in section and " configurations (< 5)" in section
