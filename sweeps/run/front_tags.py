"""Each trial run tagged with its place on the Pareto front (`common.tags`), from the
record: the runs' logged metrics, after the sweep (and again on resume and confirm).

Search trials: the front of the finished search trials. Replicates (`sweeplab confirm`):
the front of the confirmed configurations on their replicates' means; each replicate run
carries its configuration's place (`dominated_by`: a replicate of the dominating one).
"""

from __future__ import annotations

from common.tags import DOMINATED_BY_TAG, PARETO_TAG
from mlflow_server.tracking import Tracker
from sweeps.objective import FrontStatus, Objective
from sweeps.report.front import point_means
from sweeps.report.leaderboard import Row


def front_tags(status: FrontStatus) -> dict[str, str]:
    tags = {PARETO_TAG: str(status.pareto).lower()}
    if status.dominated_by is not None:
        tags[DOMINATED_BY_TAG] = status.dominated_by
    return tags


def _write(tracker: Tracker, run, tags: dict[str, str]) -> None:
    have = run.data.tags
    if any(have.get(k) != v for k, v in tags.items()):
        tracker.set_tags(run.info.run_id, tags)
    if DOMINATED_BY_TAG in have and DOMINATED_BY_TAG not in tags:
        tracker.client.delete_tag(run.info.run_id, DOMINATED_BY_TAG)


def tag_search_front(tracker: Tracker, runs: list, rows: list[Row], goal: Objective) -> None:
    """The search trials' runs (`runs`, read back as `rows`) tagged with their place."""
    by_id = {r.info.run_id: r for r in runs}
    for trial_id, status in goal.statuses(rows).items():
        row = next(r for r in rows if r.trial_id == trial_id)
        _write(tracker, by_id[row.run_id], front_tags(status))


def tag_confirmed_front(
    tracker: Tracker, runs: list, groups: dict[int, list[Row]], goal: Objective
) -> None:
    """Each replicate run tagged with its confirmed configuration's place on the front of
    the replicates' means."""
    by_id = {r.info.run_id: r for r in runs}
    means = point_means(groups)
    first = {f"[{p}]": rows[0].trial_id for p, rows in groups.items() if rows}
    for label, status in goal.statuses(means).items():
        point = int(label.strip("[]"))
        if status.dominated_by is not None:
            status = FrontStatus(False, first[status.dominated_by], status.why)
        for row in groups[point]:
            _write(tracker, by_id[row.run_id], front_tags(status))
