"""Deliberate trial failures, for the fault-tolerance tests: `$SWEEPLAB_FAULTS`.

Unset (always, outside tests) nothing happens. Set, it is JSON:

    {"state_dir": "/tmp/faults",
     "faults": [{"kind": "exception" | "oom", "at_step": 20, "when": {"lora.r": 32},
                 "times": 1}]}

A fault fires in a trial whose config matches `when`, when it reports step `at_step`, at
most `times` times per trial over all its retries (counted by files in `state_dir`).
"""

from __future__ import annotations

import json
import os
from pathlib import Path

ENV = "SWEEPLAB_FAULTS"


class InjectedFault(RuntimeError):
    """A failure asked for by $SWEEPLAB_FAULTS."""


def maybe_fail(trial_id: str, config: dict, step: int) -> None:
    spec = os.environ.get(ENV)
    if not spec:
        return
    spec = json.loads(spec)
    state = Path(spec["state_dir"])
    for i, fault in enumerate(spec["faults"]):
        if fault.get("at_step") != step:
            continue
        if any(config.get(k) != v for k, v in fault.get("when", {}).items()):
            continue
        fired = state / f"{trial_id}-{i}"
        fired.mkdir(parents=True, exist_ok=True)
        count = len(list(fired.iterdir()))
        if count >= fault.get("times", 1):
            continue
        (fired / str(count)).touch()
        if fault["kind"] == "oom":
            import torch

            raise torch.OutOfMemoryError(
                f"CUDA out of memory. Tried to allocate 2.00 GiB (injected at step {step})"
            )
        raise InjectedFault(f"injected failure at step {step}")
