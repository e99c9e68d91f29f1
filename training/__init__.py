"""Training: the datasets (readers for hub ids and local files in the published layouts or
through a declared column mapping,
duplicates, held-out splits, per-source mixing, the curriculum, the prompt template), the
base model's loading, and LoRA SFT with TRL + PEFT.

The only package that imports TRL and PEFT (in `sft`). May import `common`; imports nothing
of `evaluation`, `mlflow_server` or `sweeps`. `config`, `examples`, `loading`, `splits`,
`mixing`, `prepare` and `template` import no torch, so the light commands stay fast.
"""
