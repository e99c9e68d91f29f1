"""The report's Pareto front and the front tags: search trials, and replicate means."""

from __future__ import annotations

from common.tags import DOMINATED_BY_TAG, PARETO_TAG
from sweeps.config import SweepConfig
from sweeps.objective import FrontStatus
from sweeps.report.front import front_section, inseparable, plot_front, point_means
from sweeps.report.leaderboard import Row, render
from sweeps.report.runs import Trial
from sweeps.run.front_tags import front_tags


def _cfg(**promotion) -> SweepConfig:
    return SweepConfig.model_validate(
        {
            "name": "s",
            "model": {"path": "m"},
            "search": {
                "space": {"mix.openorca": {"choice": [0.0, 0.3]}},
                "objectives": [
                    {"metric": "openorca/meteor", "mode": "max"},
                    {"metric": "alpaca/meteor", "mode": "max"},
                ],
                "constraints": ["alpaca/meteor_delta_pct >= -5"],
            },
            "promotion": promotion,
        }
    )


def _row(tid: str, oo: float, al: float, delta: float = 0.0, status="FINISHED") -> Row:
    metrics = {
        "openorca/meteor": oo,
        "alpaca/meteor": al,
        "alpaca/meteor_delta_pct": delta,
        "alpaca/meteor_delta_pct_ci_low": delta - 1,
        "alpaca/meteor_delta_pct_ci_high": delta + 1,
        "objective": oo,
    }
    return Row(tid, f"run-{tid}", status, {"mix.openorca": "0.0"}, metrics, False)


ROWS = [
    _row("t0", 0.2, 0.5),
    _row("t1", 0.4, 0.4, -2.0),
    _row("t2", 0.6, 0.3, -9.0),  # best on OpenOrca, breaks the constraint
    _row("t3", 0.1, 0.3),  # dominated by t0
]


def test_front_tags():
    assert front_tags(FrontStatus(True)) == {PARETO_TAG: "true"}
    assert front_tags(FrontStatus(False, "t0", "dominated by t0")) == {
        PARETO_TAG: "false",
        DOMINATED_BY_TAG: "t0",
    }
    assert front_tags(FrontStatus(False, None, "breaks x")) == {PARETO_TAG: "false"}


def test_printed_table_marks_the_front():
    table = render(ROWS, _cfg())
    marked = [line.split()[1] for line in table.splitlines()[2:] if line.startswith("*  ")]
    assert marked == ["t0", "t1"]
    assert "* Pareto front of openorca/meteor (max), alpaca/meteor (max)" in table
    assert "trial(s) t0, t1" in table


def test_front_section_names_the_rule_and_places(tmp_path):
    trials = [Trial(r, dict(r.params), [8]) for r in ROWS]
    md = "\n".join(front_section(_cfg(), trials, {}, "pareto_front.png"))
    assert "Promotion's rule `first: openorca/meteor` chooses `t1`." in md
    assert "| t0 | 0.0 | 0.2000 | 0.5000 (Δ +0.0% [-1.0, +1.0]) |" in md
    assert "breaks alpaca/meteor_delta_pct >= -5" in md and "dominated by t0" in md
    md = "\n".join(front_section(_cfg(pick={"first": "alpaca/meteor"}), trials, {}, None))
    assert "chooses `t0`" in md
    png = plot_front(_cfg(), trials, trials[0], tmp_path / "front.png")
    assert png.read_bytes()[:4] == b"\x89PNG"


def test_confirmed_front_uses_means_and_says_what_noise_hides():
    # [0] and [1] trade off beyond the noise; [2] is [1] again within the noise.
    groups = {
        0: [_row(f"a{i}", 0.20 + d, 0.50 + d) for i, d in enumerate((0, 0.002, -0.002))],
        1: [_row(f"b{i}", 0.40 + d, 0.30 + d) for i, d in enumerate((0, 0.002, -0.002))],
        2: [_row(f"c{i}", 0.401 + d, 0.299 + d) for i, d in enumerate((0.01, -0.01, 0.0))],
        3: [_row("d0", 0.1, 0.1, status="FAILED")],
    }
    means = {r.trial_id: r for r in point_means(groups)}
    assert abs(means["[0]"].metrics["openorca/meteor"] - 0.2) < 1e-9
    assert means["[3]"].status == "RUNNING"
    assert inseparable(groups, _cfg().search.goal()) == [("[1]", "[2]")]
    md = "\n".join(front_section(_cfg(), [Trial(groups[0][0], {}, [8])], groups, None))
    assert "Not separable given seed noise" in md and "[1] and [2]" in md
    assert "| [0] | 0.0 | 3 | 0.2000 [" in md


def test_tags_are_written_from_the_record_and_follow_a_change(tmp_path, mlflow_uri):
    from mlflow_server.tracking import Tracker
    from sweeps.report.leaderboard import rows_from_runs
    from sweeps.run.front_tags import tag_search_front

    tracker = Tracker(mlflow_uri, tmp_path)
    parent = tracker.start_sweep("s", {}, {})
    for r in ROWS:
        run = tracker.start_trial(parent, r.trial_id, {}, r.trial_id)
        tracker.log_metrics(run, r.metrics, 8)
        tracker.end_run(run, r.status)
    cfg, goal = _cfg(), _cfg().search.goal()

    def tags() -> dict[str, tuple]:
        return {
            r.data.tags["sweeplab.trial_id"]: (
                r.data.tags.get(PARETO_TAG),
                r.data.tags.get(DOMINATED_BY_TAG),
            )
            for r in tracker.trial_runs(parent)
        }

    runs = tracker.trial_runs(parent)
    tag_search_front(tracker, runs, rows_from_runs(runs, cfg), goal)
    assert tags() == {
        "t0": ("true", None),
        "t1": ("true", None),
        "t2": ("false", None),  # breaks the constraint: nothing dominates it
        "t3": ("false", "t0"),
    }
    # Given a looser constraint (as a resumed sweep would re-derive), t2 joins the front
    # and a stale `dominated_by` would be removed.
    tracker.set_tags(runs[0].info.run_id, {DOMINATED_BY_TAG: "stale"})
    loose = cfg.search.model_copy(update={"constraints": ()}).goal()
    runs = tracker.trial_runs(parent)
    tag_search_front(tracker, runs, rows_from_runs(runs, cfg), loose)
    assert tags()["t2"] == ("true", None)
    assert all(v[1] != "stale" for v in tags().values())
