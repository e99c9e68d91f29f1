"""The sweep's own Ray cluster: reachable from this machine only, token authentication on."""

from __future__ import annotations

import os

import pytest

from tests.helpers import run_python

pytestmark = pytest.mark.integration

PROBE = """
import ipaddress, os, psutil, ray
from sweeps.run.tuner import init_ray
init_ray(None, num_cpus=1)
me = psutil.Process()
procs = [me, *me.children(recursive=True)]
node = ray.util.get_node_ip_address()
listening = set()
for p in procs:
    try:
        conns = p.net_connections(kind="tcp")
    except psutil.Error:
        continue
    listening |= {c.laddr.ip for c in conns if c.status == psutil.CONN_LISTEN}
ray.shutdown()
ips = [ipaddress.ip_address(a.removeprefix("::ffff:")) for a in listening]
public = sorted(str(a) for a in ips if not a.is_loopback)
auth = os.environ.get("RAY_AUTH_MODE")
print("node", node, "auth", auth, "listening", len(listening), "public", public)
"""


def _env(**extra) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("RAY_")}
    return {**env, **extra}


def test_the_sweeps_own_cluster_listens_on_loopback_with_token_auth(tmp_path):
    proc = run_python(PROBE, cwd=tmp_path, env=_env(), timeout=240)
    assert proc.returncode == 0, proc.stderr[-2000:]
    line = proc.stdout.strip().splitlines()[-1]
    assert line.startswith("node 127.0.0.1 auth token listening "), line
    assert line.endswith("public []") and " listening 0 " not in line, line
    assert "without token authentication" not in proc.stderr


def test_turning_token_auth_off_is_warned_in_one_line(tmp_path):
    proc = run_python(PROBE, cwd=tmp_path, env=_env(RAY_AUTH_MODE="disabled"), timeout=240)
    assert proc.returncode == 0, proc.stderr[-2000:]
    warned = [x for x in proc.stderr.splitlines() if "without token authentication" in x]
    assert warned == [
        "sweeplab: warning: RAY_AUTH_MODE=disabled: the sweep's Ray cluster runs without "
        "token authentication; any local user can run code in it"
    ]
    assert proc.stdout.strip().splitlines()[-1].startswith("node 127.0.0.1 auth disabled")


SLOW_CLEANUP = """
import sys, time
from ray import tune
from sweeps.run.tuner import init_ray

def trial(config):
    try:
        for i in range(3):
            tune.report({"score": i})
    finally:
        time.sleep(4)  # what a trial stopped early does after its report: free its model

init_ray(None, num_cpus=1)
tuner = tune.Tuner(
    trial,
    tune_config=tune.TuneConfig(num_samples=2, max_concurrent_trials=1, reuse_actors=True),
    run_config=tune.RunConfig(storage_path=sys.argv[1], stop={"training_iteration": 1}),
)
print("ended", sorted("error" if r.error else r.metrics["score"] for r in tuner.fit()))
"""


def test_a_trial_slow_to_end_does_not_fail_the_next_one_on_its_worker(tmp_path):
    """A sweep reuses a trial's worker for the next trial, which first waits for the last
    trial's thread to end: a trial stopped early and slow to clean up (4 s here; a busy
    machine's model release) once failed the next trial ("Trainable runner reuse requires
    reset_config()", Ray's 2 s wait) and, one trial at a time, hung the sweep."""
    proc = run_python(SLOW_CLEANUP, str(tmp_path / "ray"), cwd=tmp_path, env=_env(), timeout=180)
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert proc.stdout.strip().splitlines()[-1] == "ended [0, 0]"
