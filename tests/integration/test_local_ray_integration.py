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
