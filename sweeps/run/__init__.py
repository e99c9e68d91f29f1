"""Running a sweep: launch (check, record, prepare, run, summarize), the sweep's record on
disk, the Tuner, the trainable each Ray worker runs, one trial top to bottom, the base
model's cached scores, the MLflow logger callback, how a trial's run describes itself
(`describe`: name, tags, portable params, dataset inputs), the UI views the sweep's links
open (`ui_views`), reconciliation after a resume, and the fault hook the tests use.

The only sub-package that imports Ray (`tuner`, `trainable`, `mlflow_logger`); `plan` and
`state` stay free of Ray and torch for the light commands.
"""
