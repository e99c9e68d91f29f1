"""The sweep's own Ray cluster (no `--ray-address`): reachable from this machine only,
with Ray's token authentication kept on.

Anyone who can reach a Ray cluster's ports can run code in it. On Linux Ray binds its
servers to the machine's routable address; with `RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER=0` it
uses the loopback address, as it does on macOS and Windows. Token authentication (on by
default in current Ray) is kept on unless the user turns it off (`RAY_AUTH_MODE=disabled`),
which gets a one-line warning.
"""

from __future__ import annotations

import os
import sys

LOOPBACK_ENV = "RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER"
AUTH_ENV = "RAY_AUTH_MODE"


def secure_local_ray(out=None) -> bool:
    """Set up the environment of a local cluster about to start (call just before
    `ray.init()` without an address); True when token authentication stays on."""
    from ray._private import ray_constants

    os.environ[LOOPBACK_ENV] = "0"  # Ray's processes started from here read this
    ray_constants.ENABLE_RAY_CLUSTER = False  # this process imported Ray already
    # Unset, current Ray turns token authentication on for a new local cluster (and says
    # so); setting it here would come too late for the Ray already imported.
    mode = os.environ.get(AUTH_ENV, "token").strip().lower()
    if mode != "token":
        print(
            f"sweeplab: warning: {AUTH_ENV}={mode}: the sweep's Ray cluster runs without "
            "token authentication; any local user can run code in it",
            file=out or sys.stderr,
            flush=True,
        )
        return False
    return True
