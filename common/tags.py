"""The names sweeplab writes into MLflow and reads back: run and model-version tags, their
fixed values, and artifact paths. The writers (sweeps/run, sweeps/promote, mlflow_server) and
the readers (sweeps/report, sweeps/promote, sweeps/run when it resumes) import them from here,
as MLflow's own code does with `mlflow.utils.mlflow_tags`: a name is spelled once.
"""

from __future__ import annotations

from typing import Any

# --- runs: what a run is --------------------------------------------------------------------
PARENT_TAG = "mlflow.parentRunId"
"""MLflow's own: a trial run's sweep run."""
KIND_TAG = "sweeplab.kind"
"""`KIND_SWEEP` on a sweep's parent run, `KIND_TRIAL` on each trial's run."""
KIND_SWEEP, KIND_TRIAL = "sweep", "trial"
SWEEP_TAG = "sweeplab.sweep"
"""The sweep's name, on its parent run and every trial run."""
TRIAL_TAG = "sweeplab.trial_id"
"""Ray's trial id: one trial run per id and sweep."""
ROLE_TAG = "sweeplab.role"
"""`ROLE_CONFIRM` on a replicate of `sweeplab confirm`, `ROLE_REPLICATE` on one a sweep runs
itself to measure training noise (`search.replicates`); absent (`ROLE_SEARCH`) on the search's."""
ROLE_SEARCH, ROLE_CONFIRM, ROLE_REPLICATE = "search", "confirm", "replicate"
REPLICATE_OF_TAG = "sweeplab.replicate_of"
"""On an in-sweep replicate: the trial id of the search trial it re-runs with another seed."""
REPLICATE_TAG = "sweeplab.replicate"
"""A replicate's number (its training seed's offset)."""
POINT_TAG = "sweeplab.point"
"""The confirmed configuration a replicate belongs to (its index in the confirm plan)."""
WARM_START_TAG = "sweeplab.warm_start_from"
"""On a sweep's parent run: the earlier sweep it started from (`sweeplab sweep --from`)."""
OBJECTIVE_TAG = "sweeplab.objective"
"""On the parent run: the search objective; on a model version: `metric=value`."""
SEARCH_TAG_PREFIX = "sweeplab.search."
"""`sweeplab.search.<key>`: a trial's searched values, for grouping in the UI."""
PATH_TAG_PREFIX = "sweeplab.path."
"""`sweeplab.path.<key>`: the absolute path of a local file a param names by content hash."""
MIXTURE_TAG = "sweeplab.mixture_of"
"""On a training dataset input: the mixture it was sampled from, as JSON."""

# --- runs: how a trial went -----------------------------------------------------------------
RUNG_TAG_PREFIX = "sweeplab.rung."
"""`sweeplab.rung.<t>`: an ASHA rung decision on the trial, as JSON (`sweeps.run.rungs`)."""
STOP_REASON_TAG = "sweeplab.stop_reason"
STOPPED_EARLY_TAG = "sweeplab.stopped_early"
"""`true` when the scheduler stopped the trial before its last report."""
REPORTS_TAG = "sweeplab.reports"
"""How many evaluations the trial reported."""
RESUMED_TAG = "sweeplab.resumed_from_step"
FAILURES_TAG = "sweeplab.failures"
LAST_ERROR_TAG = "sweeplab.last_error"
ERROR_TAG = "sweeplab.error"
ORPHANED_TAG = "sweeplab.orphaned"
RETRIED_TAG = "sweeplab.retried_after_failure"
RECOVERED_TAG = "sweeplab.recovered"
PARETO_TAG = "sweeplab.pareto"
"""On each trial run: `true` when it is on the sweep's Pareto front (non-dominated among the
finished trials on the objectives, every constraint respected), else `false`."""
DOMINATED_BY_TAG = "sweeplab.dominated_by"
"""On a trial run not on the front because another dominates it: that front member's trial id."""


def is_search(tags: dict[str, str]) -> bool:
    """A run of the search itself, not a replicate (of the sweep's or of `sweeplab confirm`)."""
    return tags.get(ROLE_TAG, ROLE_SEARCH) == ROLE_SEARCH


def rung_tag(rung: Any) -> str:
    """The tag of the decision at rung `rung`."""
    return f"{RUNG_TAG_PREFIX}{rung}"


# --- model versions (`sweeplab promote`) -----------------------------------------------------
RUN_ID_TAG = "sweeplab.run_id"
BASE_MODEL_TAG = "sweeplab.base_model"
BASE_MODEL_REVISION_TAG = "sweeplab.base_model_revision"
BASE_MODEL_HASH_TAG = "sweeplab.base_model_hash"
REPORT_TAG = "sweeplab.report"
TEMPLATE_TAG = "sweeplab.template"
DATA_HASH_TAG = "sweeplab.data_hash"
FORCED_TAG = "sweeplab.forced"
FAILED_GATES_TAG = "sweeplab.failed_gates"
VS_CHAMPION_TAG = "sweeplab.vs_champion"
CHAMPION_OVERRIDE_TAG = "sweeplab.champion_override"
MERGED_MODEL_TAG = "sweeplab.merged_model"
PICK_RULE_TAG = "sweeplab.pick_rule"
"""The promotion rule that chose the version among the Pareto front (`promotion.pick`)."""

# --- artifacts ------------------------------------------------------------------------------
SWEEP_CONFIG = "sweep_config.json"
"""On the parent run: the config the sweep ran with (what `report` and `promote` read)."""
REPORT_DIR = "report"
"""On the parent run: `report.md`, `report.html` and the plots."""
REPORT_HTML = f"{REPORT_DIR}/report.html"
EVAL_DIR = "eval"
FINAL_TABLE = f"{EVAL_DIR}/predictions.json"
"""On a trial run: the per-example table of its last evaluation."""
ADAPTER = "adapter"
MERGED_MODEL = "merged_model"
"""On a promoted trial's run: base and adapter merged (`sweeplab promote --merge`)."""
TRIAL_RECORD = "trial.json"
DATA_MANIFEST = "data_manifest.json"


def step_table(step: int) -> str:
    """On a trial run: the per-example table of its evaluation at `step`."""
    return f"{EVAL_DIR}/predictions_step{step}.json"


STEP_TABLE_PATTERN = r"predictions_step(\d+)"
"""What `step_table` names match (the step is group 1)."""

# --- the seed-like baseline (confirmed by `sweeplab confirm`, marked in the report) ----------
SEED_LIKE: dict[str, Any] = {
    "mix.openorca": 0.0,
    "mix.dolly": 0.0,
    "lora.r": 16,
    "curriculum": "none",
}
"""The seed analysis' setup: Alpaca only, LoRA rank 16, no curriculum."""
