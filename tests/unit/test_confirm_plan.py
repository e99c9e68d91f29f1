"""What `sweeplab confirm` re-runs: the best distinct configurations and the baseline."""

import pytest

from sweeps.config import SweepConfig
from sweeps.report.leaderboard import Row
from sweeps.run.confirm_plan import (
    baseline_point,
    confirm_points,
    overrides_of,
    replicates,
    tags_of,
)


def _cfg(**search):
    return SweepConfig.model_validate(
        {
            "name": "s",
            "model": {"path": "m"},
            "train": {"seed": 7},
            "search": {
                "space": {
                    "lora.r": {"choice": [16, 32]},
                    "mix.openorca": {"choice": [0.0, 0.1, 0.3]},
                    "curriculum": {"choice": ["none", "two_phase"]},
                },
                **search,
            },
        }
    )


def _row(i, r, oo, cur, obj, status="FINISHED"):
    params = {"lora.r": str(r), "mix.openorca": str(oo), "curriculum": cur}
    sets = ("alpaca", "dolly", "openorca")
    metrics = {"objective": obj, **{f"{s}/{m}": obj for s in sets for m in ("meteor", "bleu")}}
    return Row(f"t{i}", f"run{i}", status, params, metrics, False)


def test_baseline_is_the_seed_setup():
    assert baseline_point(_cfg()) == {
        "lora.r": 16,
        "mix.openorca": 0.0,
        "curriculum": "none",
        "mix.dolly": 0.0,
    }


def test_top_distinct_configs_skip_the_baseline_and_add_it_last():
    rows = [
        _row(0, 16, 0.0, "none", 0.50),  # the baseline is the best: the next best is taken
        _row(1, 32, 0.3, "two_phase", 0.45),
        _row(2, 32, 0.3, "two_phase", 0.44),  # same values as t1: not a second config
        _row(3, 16, 0.1, "none", 0.40),
        _row(4, 32, 0.1, "none", 0.90, status="FAILED"),
    ]
    points = confirm_points(rows, _cfg(), top=2)
    assert points == [
        {"lora.r": 32, "mix.openorca": 0.3, "curriculum": "two_phase"},
        {"lora.r": 16, "mix.openorca": 0.1, "curriculum": "none"},
        baseline_point(_cfg()),
    ]
    # Minimizing reverses the order.
    low = confirm_points(rows, _cfg(mode="min", objective="alpaca/bleu"), top=1)
    assert low[0] == {"lora.r": 16, "mix.openorca": 0.1, "curriculum": "none"}
    with pytest.raises(ValueError, match="no finished trial other than the baseline"):
        confirm_points(rows[:1], _cfg(), top=2)


def test_replicates_vary_the_training_seed_and_carry_their_tags():
    cfg = _cfg()
    reps = replicates(cfg, [{"lora.r": 32}, {"lora.r": 16}], seeds=3)
    assert len(reps) == 6
    assert [r["overrides"]["train.seed"] for r in reps] == [8, 9, 10] * 2  # never 7, the sweep's
    config = {"confirm": reps[4]}
    assert overrides_of(config) == {"lora.r": 16, "train.seed": 9}
    assert cfg.trial(overrides_of(config)).train.seed == 9
    assert tags_of(config) == {
        "sweeplab.role": "confirm",
        "sweeplab.replicate": "1",
        "sweeplab.point": "1",
    }
    assert overrides_of({"lora.r": 16}) == {"lora.r": 16} and tags_of({"lora.r": 16}) == {}


def test_confirm_key_is_off_by_default_and_strict():
    from pydantic import ValidationError

    assert _cfg().search.confirm is None
    assert _cfg(confirm={"top": 3}).search.confirm.seeds == 3
    with pytest.raises(ValidationError, match="seeds"):
        _cfg(confirm={"top": 2, "seeds": 1})  # a spread needs two seeds
    with pytest.raises(ValidationError, match="extra"):
        _cfg(confirm={"top": 2, "replicas": 3})


def test_failed_search_runs_reopen_for_a_retry_and_confirm_runs_do_not(tmp_path, mlflow_uri):
    from mlflow_server.tracking import Tracker
    from sweeps.run.confirm import finished_parent
    from sweeps.run.reconcile import reopen_failed

    tracker = Tracker(mlflow_uri, tmp_path)
    parent = tracker.start_sweep("s", {}, {})
    runs = {t: tracker.start_trial(parent, t, {}, t) for t in ("ok", "bad", "rep")}
    tracker.end_run(runs["ok"], "FINISHED")
    tracker.end_run(runs["bad"], "FAILED", error="boom")
    tracker.set_tags(runs["rep"], {"sweeplab.role": "confirm"})
    tracker.end_run(runs["rep"], "FAILED", error="boom")
    # A sweep whose parent run has not finished cannot be confirmed.
    with pytest.raises(ValueError, match="has not finished"):
        finished_parent(tracker, "s")
    with pytest.raises(ValueError, match="no sweep named 'nope'"):
        finished_parent(tracker, "nope")

    assert reopen_failed(tracker, parent) == ["bad"]
    assert tracker.run_status(runs["bad"]) == "RUNNING"
    assert tracker.client.get_run(runs["bad"]).data.tags["sweeplab.retried_after_failure"] == "true"
    assert tracker.run_status(runs["rep"]) == "FAILED"
    assert tracker.run_status(runs["ok"]) == "FINISHED"
    tracker.end_run(parent, "FINISHED")
    assert finished_parent(tracker, "s") == parent


def test_the_plan_is_kept_on_an_object_store_and_the_outbox_on_this_disk(tmp_path):
    """A sweep on an object store is confirmed there: the plan beside the sweep (read back
    to continue, a different --top refused), the outbox on the driver's own disk."""
    import pyarrow.fs as pafs

    from sweeps.run.confirm import confirm_outbox, confirm_path, plan, record_plan
    from sweeps.run.state import Place
    from sweeps.run.storage import Storage

    (tmp_path / "bucket").mkdir()
    fs = pafs.SubTreeFileSystem(str(tmp_path), pafs.LocalFileSystem())
    store = Storage("s3://bucket/sweeps", fs, "bucket/sweeps")
    place = Place(tmp_path / "project")
    place.__dict__["storage"] = store
    cfg = _cfg()
    reps = [{"point": 0, "replicate": 0, "overrides": {"lora.r": 16, "train.seed": 8}}]
    (tmp_path / "bucket" / "sweeps" / "s-confirm" / "sweeplab").mkdir(parents=True)
    record_plan(store, cfg, 1, 2, reps)
    assert confirm_path(store, "s") == "bucket/sweeps/s-confirm"
    assert (tmp_path / "bucket" / "sweeps" / "s-confirm" / "sweeplab" / "confirm.json").is_file()
    assert plan(None, cfg, "parent", 1, 2, store) == (reps, True)  # the tracker is not asked
    with pytest.raises(ValueError, match="--top 1 --seeds 2"):
        plan(None, cfg, "parent", 2, 2, store)
    assert confirm_outbox(place, "s") == tmp_path / "project" / "runs" / "outbox" / "s-confirm"


def test_confirm_looks_for_the_sweep_on_the_storage_it_is_given(tmp_path, monkeypatch, capsys):
    from sweeps.cli import main

    monkeypatch.chdir(tmp_path)
    elsewhere = tmp_path / "shared"
    assert main(["confirm", "s", "--storage", str(elsewhere)]) == 2
    err = capsys.readouterr().err.strip()
    assert f"no sweep 's' was started here ({elsewhere / 's'})" in err and "\n" not in err
