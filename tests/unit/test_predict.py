"""`sweeplab predict` and the report's "How much to mix" on a sweep written straight into a
store (the demo's search space, a known response): the numbers they print are the response
model's on the metrics the store holds, and bad input is one line, exit 2."""

from __future__ import annotations

import json
import re

import numpy as np
import pytest
from mlflow import MlflowClient

from mlflow_server.tracking import Tracker
from sweeps.cli import main
from sweeps.config import load_config
from sweeps.report.build import build_report
from sweeps.report.leaderboard import rows_from_runs
from sweeps.report.response import all_metrics, fit_responses, section_metrics
from sweeps.report.runs import Trial
from tests.helpers import ROOT
from tests.unit.test_response import truth

NAME = "syn"
POINTS = [  # (lora.r, mix.openorca, mix.dolly, curriculum): 10 of the demo's configurations
    (16, 0.0, 0.0, "none"), (32, 0.0, 0.0, "none"), (16, 0.1, 0.0, "none"),
    (16, 0.3, 0.0, "none"), (32, 0.2, 0.2, "two_phase"), (32, 0.4, 0.0, "none"),
    (16, 0.2, 0.2, "none"), (32, 0.1, 0.2, "two_phase"), (16, 0.4, 0.2, "two_phase"),
    (32, 0.3, 0.0, "two_phase"),
]  # fmt: skip


@pytest.fixture
def store(tmp_path, mlflow_uri):
    """The sweep `syn` (configs/demo.yaml) with 10 finished trials in a fresh store."""
    return _write(tmp_path, mlflow_uri), mlflow_uri


def _write(tmp_path, mlflow_uri, *overrides: str):
    cfg = load_config(ROOT / "configs" / "demo.yaml", [f"name={NAME}", *overrides])
    tracker = Tracker(mlflow_uri, tmp_path)
    parent = tracker.start_sweep(NAME, {}, {})
    config = tmp_path / "sweep_config.json"
    config.write_text(json.dumps(cfg.model_dump(mode="json")), encoding="utf-8")
    tracker.log_artifact(parent, config)
    rng = np.random.default_rng(0)
    for i, (r, orca, dolly, curriculum) in enumerate(POINTS):
        values = {"lora.r": r, "mix.openorca": orca, "mix.dolly": dolly, "curriculum": curriculum}
        run = tracker.start_trial(parent, f"t{i}", values, f"trial-t{i}")
        metrics = {}
        for key, value in truth(r, orca, dolly, curriculum).items():
            ds = key.split("/")[0]
            for k, m in enumerate(("meteor", "bleu", "rougeL", "chrf")):
                metrics[f"{ds}/{m}"] = value - 0.05 * k + rng.normal(0, 0.01)
            metrics[f"{ds}/meteor_delta_pct"] = 100 * (metrics[f"{ds}/meteor"] / 0.3 - 1)
        metrics["objective"] = metrics["openorca/meteor"]
        tracker.log_metrics(run, metrics, 200)
        tracker.end_run(run)
    return cfg


def _from_store(cfg, uri: str) -> list[Trial]:
    """The sweep's trials rebuilt from the store's own runs (not through the report)."""
    client = MlflowClient(tracking_uri=uri)
    exp = client.get_experiment_by_name(NAME)
    runs = [
        r for r in client.search_runs([exp.experiment_id]) if "sweeplab.trial_id" in r.data.tags
    ]
    return [Trial(row, row.params, []) for row in rows_from_runs(runs, cfg)]


def _predict(uri: str, capsys, *argv) -> tuple[int, str, str]:
    rc = main(["predict", NAME, *argv, "--tracking-uri", uri])
    out = capsys.readouterr()
    return rc, out.out, out.err


def test_predict_gives_intervals_says_what_it_assumed_and_matches_the_model(store, capsys):
    cfg, uri = store
    rc, out, _ = _predict(uri, capsys, "--set", "mix.openorca=0.07", "--json")
    assert rc == 0
    got = json.loads(out)
    # The keys not given are the best trial's (openorca/meteor highest: t4, orca 0.2).
    assert got["assumed_from"] == "t4" and got["given"] == ["mix.openorca"]
    assert got["configuration"] == {
        "lora.r": 32, "mix.openorca": 0.07, "mix.dolly": 0.2, "curriculum": "two_phase"
    }  # fmt: skip
    assert got["runs"] == 10 and not got["extrapolating"]
    assert set(got["predictions"]) >= {f"{s}/{m}" for s in ("alpaca", "dolly", "openorca")
                                       for m in ("meteor", "bleu", "rougeL", "chrf")}  # fmt: skip
    for p in got["predictions"].values():
        assert p["low"] < p["mean"] < p["high"]
    # Recomputed from the store's metrics: the same model, the same numbers.
    trials = _from_store(cfg, uri)
    model = fit_responses(cfg, trials, all_metrics(cfg, trials))
    again = model.predict(got["configuration"])
    for key, p in got["predictions"].items():
        assert p["mean"] == pytest.approx(again[key].mean, abs=1e-12)
        assert p["high"] == pytest.approx(again[key].high, abs=1e-12)

    rc, text, _ = _predict(uri, capsys, "--set", "mix.openorca=0.07")
    assert rc == 0
    assert "mix.openorca=0.07 (given)" in text and "(assumed: the best trial t4's)" in text
    assert "interpolating" in text and "openorca/meteor" in text and "90% interval" in text
    rc, text, _ = _predict(uri, capsys, "--set", "lora.r=64")
    assert rc == 0 and "EXTRAPOLATING: lora.r=64 is outside the trials' 16..32" in text


@pytest.mark.parametrize(
    ("argv", "fragment"),
    [
        (["--set", "lora.x=3"], "--set lora.x: not a searched key of sweep 'syn'"),
        (["--set", "train.learning_rate=0.1"], "not a searched key"),
        (["--set", "lora.r=abc"], "lora.r: Input should be a valid integer"),
        (["--set", "curriculum=three_phase"], "the sweep searched only none, two_phase"),
        (["--set", "mix.openorca=0.9"], "must be < 1 (Alpaca is the rest)"),
        (["--set", "mix.openorca"], "expected key=value"),
    ],
)
def test_bad_input_is_one_line_and_exit_2(store, capsys, argv, fragment):
    rc, out, err = _predict(store[1], capsys, *argv)
    assert rc == 2 and out == ""
    assert err.startswith("sweeplab predict: error: ") and fragment in err
    assert err.strip().count("\n") == 0


def test_a_missing_sweep_is_one_line(mlflow_uri, capsys):
    assert main(["predict", "nope", "--tracking-uri", mlflow_uri]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("sweeplab predict: error: no sweep named 'nope'") and "\n" not in err


def test_report_shows_how_much_to_mix_and_its_validation_matches_a_recomputation(store, tmp_path):
    cfg, uri = store
    md_path, html_path = build_report(Tracker(uri, tmp_path), NAME, tmp_path / "report")
    md = md_path.read_text(encoding="utf-8")
    section = md[md.index("## How much to mix") : md.index("## Length analysis")]
    assert "### mix.openorca" in section and "### mix.dolly" in section
    assert "**openorca/meteor (max)** is best at mix.openorca = " in section
    assert "What " in section and " costs against 0: alpaca/meteor " in section
    assert (tmp_path / "report" / "how_much_to_mix.png").stat().st_size > 5000
    assert "how_much_to_mix.png" not in md[md.index("## Plots") :]  # shown once, in place
    page = html_path.read_text(encoding="utf-8")
    assert page.count("data:image/png;base64,") == 3
    # The validation table, recomputed from the store's metrics.
    trials = _from_store(cfg, uri)
    model = fit_responses(cfg, trials, section_metrics(cfg))
    for key in section_metrics(cfg):
        v = model.validate(key)
        line = next(x for x in section.splitlines() if x.startswith(f"| {key} | "))
        cells = [c.strip() for c in line.strip("|").split("|")]
        assert cells[1:4] == [str(v.runs), str(v.configurations), f"{v.rho:.2f}"]
        assert cells[4] == f"{100 * v.coverage:.0f}% ({v.inside}/{v.runs})"
        assert re.fullmatch(r"ok|\*\*not to be trusted\*\*: .+", cells[5])


def test_constraints_get_a_probability_and_a_compromise(tmp_path, mlflow_uri, capsys):
    # Alpaca METEOR may lose at most 5% against 0.3 (its delta), i.e. stay above 0.285.
    _write(tmp_path, mlflow_uri, "search.constraints=['alpaca/meteor_delta_pct >= -5']")
    rc, out, _ = _predict(mlflow_uri, capsys, "--set", "mix.openorca=0.4", "--json")
    assert rc == 0
    (held,) = json.loads(out)["constraints"]
    assert held["constraint"] == "alpaca/meteor_delta_pct >= -5" and 0 <= held["p_holds"] <= 1
    md_path, _ = build_report(Tracker(mlflow_uri, tmp_path), NAME, tmp_path / "report")
    md = md_path.read_text(encoding="utf-8")
    assert "**Best compromise** (promotion's rule `first: openorca/meteor`, subject to " in md
    assert "| alpaca/meteor_delta_pct | 10 | 10 |" in md  # validated like the others
    cost = next(x for x in md.splitlines() if x.startswith("- What "))
    assert re.search(r"alpaca/meteor [+-]\d+\.\d pts \[", cost)  # a 0..1 metric: points
    assert re.search(r"alpaca/meteor_delta_pct [+-]\d+\.\d \[", cost)  # a delta: its own %
