"""Running a sweep: launch (check, record, prepare, run, summarize), where its files live
(`storage`: a local path or an object store) and its record there (`state`), the cluster
checked and the base model scored where trials run (`cluster`), what each trial is handed
(`handoff`), the Tuner, the trainable each Ray worker runs, one trial top to bottom, the
base model's cached scores (one per searched base model: `base_models`), the MLflow logger
callback, reconciliation after a resume, and the fault hook the tests use.

The only sub-package that imports Ray (`tuner`, `trainable`, `mlflow_logger`, `cluster`);
`plan`, `state`, `storage` and `handoff` stay free of Ray and torch for the light commands.
"""
