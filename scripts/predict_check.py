"""Does `sweeplab predict` hold on new runs? For each value of one searched key that no trial
of a finished sweep used: the prediction (90% interval for one new run), then a one-trial
sweep at exactly that configuration (the sweep's config; the other searched values the best
trial's, as `predict` assumes; no replicates), and whether each metric landed inside.

    python scripts/predict_check.py SWEEP CONFIG --key mix.openorca \
        --values 0.05 0.15 0.25 0.35 [--metrics openorca/meteor alpaca/meteor] [--out F]

Run from the project the sweep lives in (its `runs/`); prints a table and the share inside,
and writes the rows as JSON to `--out` (default `predict_check-SWEEP.json`).
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
from pathlib import Path

import yaml

from common.tags import KIND_TAG, KIND_TRIAL
from mlflow_server.tracking import Tracker, resolve_tracking_uri


def _sweeplab(*args: str) -> str:
    cmd = [sys.executable, "-m", "sweeps.cli", *args]
    proc = subprocess.run(cmd, capture_output=True, text=True, check=False)
    if proc.returncode != 0:
        raise SystemExit(f"sweeplab {' '.join(args[:2])}: {proc.stderr.strip()[-500:]}")
    return proc.stdout


def one_trial_config(config: Path, name: str, point: dict, out: Path) -> Path:
    """CONFIG searching only `point` (one choice per key), one trial, no replicates."""
    doc = yaml.safe_load(config.read_text(encoding="utf-8"))
    search = doc.setdefault("search", {})
    search.update(
        space={k: {"choice": [v]} for k, v in point.items()},
        num_samples=1,
        points_to_evaluate=[],
        replicates=0,
        scheduler={"kind": "fifo"},
    )
    doc["name"] = name
    out.write_text(yaml.safe_dump(doc, sort_keys=False), encoding="utf-8")
    return out


def measured(tracker: Tracker, name: str) -> dict[str, float]:
    (run,) = tracker.find_runs(tracker.experiment_id(name), f"tags.`{KIND_TAG}` = '{KIND_TRIAL}'")
    return dict(run.data.metrics)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("sweep")
    p.add_argument("config", type=Path)
    p.add_argument("--key", required=True)
    p.add_argument("--values", nargs="+", required=True)
    p.add_argument("--metrics", nargs="+", default=["openorca/meteor", "alpaca/meteor"])
    p.add_argument("--out", type=Path)
    args = p.parse_args(argv)
    tracker = Tracker(resolve_tracking_uri(None, Path.cwd()), Path.cwd())
    rows = []
    for value in args.values:
        pred = json.loads(
            _sweeplab("predict", args.sweep, "--set", f"{args.key}={value}", "--json")
        )
        name = f"{args.sweep}-check-{args.key}-{value}"
        with tempfile.TemporaryDirectory() as tmp:
            cfg = one_trial_config(args.config, name, pred["configuration"], Path(tmp) / "c.yaml")
            _sweeplab("sweep", str(cfg), "--name", name)
        got = measured(tracker, name)
        for metric in args.metrics:
            band = pred["predictions"][metric]
            inside = band["low"] <= got[metric] <= band["high"]
            rows.append({"value": value, "metric": metric, "measured": got[metric], **band}
                        | {"inside": inside, "extrapolating": pred["extrapolating"]})  # fmt: skip
            print(
                f"{args.key}={value}  {metric:<18} predicted {band['mean']:.4f} "
                f"[{band['low']:.4f}, {band['high']:.4f}]  measured {got[metric]:.4f}  "
                f"{'inside' if inside else 'OUTSIDE'}",
                flush=True,
            )
    inside = sum(r["inside"] for r in rows)
    print(f"{inside} of {len(rows)} inside the 90% interval ({100 * inside / len(rows):.0f}%)")
    out = args.out or Path(f"predict_check-{args.sweep}.json")
    out.write_text(json.dumps(rows, indent=1), encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
