"""Running a sweep: launch (check, record, prepare, run, summarize), the one-driver lock
(`lock`), where its files live (`storage`: a local path or an object store) and its record
there (`state`), the cluster checked and the base model scored where trials run
(`cluster`), what each trial is handed (`handoff`), the Tuner and its loopback-only local
cluster (`local_ray`), the trainable each Ray worker runs, one trial top to bottom, the base
model's cached scores (one per searched base model: `base_models`), the MLflow logger
callback, how a trial's run describes itself (`describe`: name, tags, portable params,
dataset inputs), the UI views the sweep's links open (`ui_views`), reconciliation after a
resume, replicates (`confirm`), audited ASHA (`rungs`), no repeated proposals
(`unique_search`), and the fault hook the tests use.

The only sub-package that imports Ray (`tuner`, `trainable`, `mlflow_logger`, `cluster`,
`local_ray`); `plan`, `state`, `storage`, `handoff` and `lock` stay free of Ray and torch
for the light commands.
"""
