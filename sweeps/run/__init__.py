"""Running a sweep: launch (check, record, prepare, run, summarize), the one-driver lock
(`lock`), the sweep's record on disk, the Tuner and its loopback-only local cluster
(`local_ray`), the trainable each Ray worker runs, one trial top to bottom, the base
model's cached scores, the MLflow logger callback, reconciliation after a resume, and the
fault hook the tests use.

The only sub-package that imports Ray (`tuner`, `trainable`, `mlflow_logger`, `local_ray`);
`plan`, `state` and `lock` stay free of Ray and torch for the light commands.
"""
