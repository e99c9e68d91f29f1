"""The driver-cost figure at toy size (`bench.driver_scale`): the same three short trials run
under Ray Tune alone and under sweeplab's driver in one Ray cluster, every trial ending with
its finished MLflow run, and the figure's numbers all there."""

from __future__ import annotations

import pytest

from bench.driver_scale import measure

pytestmark = pytest.mark.integration


def test_three_trials_both_ways(tmp_path):
    out = measure(((3, 1),), tmp_path, print, reports=2)
    assert out["driver_scales"] == [3] and out["driver_sweeplab_runs_at_3"] == 3
    assert 3 <= out["driver_ray_results_at_3"] <= 6
    assert 3 <= out["driver_sweeplab_results_at_3"] <= 6
    assert out["driver_sweeplab_backlog_at_3"] >= 0 and out["driver_sweeplab_writes_at_3"] > 0
    assert (
        out["driver_sweeplab_logger_s_per_result_at_3"]
        > out["driver_sweeplab_put_s_per_result_at_3"]
        > 0
    )
    assert out["driver_added_cost_growth"] in (1.0, None)
