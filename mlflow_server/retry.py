"""How sweeplab tells a tracking store that is down for now from one that refuses a write,
and waits for the first: retried with backoff, for up to a given patience."""

from __future__ import annotations

import sys
import time

from mlflow import MlflowClient
from mlflow.exceptions import MlflowException

from common.errors import first_line

# Signs that the store is unreachable for now rather than refusing the request.
_TRANSIENT = (
    "failed with exception",  # the HTTP request itself failed (connection refused, reset)
    "max retries exceeded",
    "connection refused",
    "connection aborted",
    "timed out",
    "failed with error code 5",  # 5xx from the server or a proxy
    "temporarily_unavailable",
    "database is locked",
)


def is_transient(exc: BaseException) -> bool:
    """True for failures that a later retry can fix (the store is down or busy)."""
    text = str(exc).lower()
    if isinstance(exc, MlflowException) or type(exc).__module__.startswith(
        ("requests", "urllib3", "sqlalchemy")
    ):
        return any(marker in text for marker in _TRANSIENT)
    return isinstance(exc, ConnectionError | TimeoutError)


# Refusals that a retry cannot fix: the request itself is wrong (400) or names a run or
# experiment the store no longer has. Everything else (401/403 after a password rotation,
# a proxy's 403, 429, 5xx, a local I/O error) is held and retried.
_REFUSED = frozenset(
    {"BAD_REQUEST", "INVALID_PARAMETER_VALUE", "RESOURCE_ALREADY_EXISTS", "RESOURCE_DOES_NOT_EXIST"}
)


def failure_kind(exc: BaseException) -> str:
    """ "down" (unreachable, busy), "held" (refused for now: auth, rate limit, server or
    local error; retry later) or "refused" (the store will never take this write)."""
    if is_transient(exc):
        return "down"
    if isinstance(exc, MlflowException):
        return "refused" if exc.error_code in _REFUSED else "held"
    if isinstance(exc, ValueError | KeyError | TypeError):
        return "refused"  # a write that names something the store lacks, or is malformed
    return "held"


def http_status(exc: BaseException) -> int | None:
    """The HTTP status an MLflow failure stands for, when it is one."""
    return exc.get_http_status_code() if isinstance(exc, MlflowException) else None


def retry_transient(fn, patience: float, what: str = "tracking call"):
    """`fn()`, retried with backoff while it fails transiently, for up to `patience` s."""
    deadline = time.monotonic() + patience
    delay, told = 0.5, False
    while True:
        try:
            return fn()
        except Exception as exc:
            if not is_transient(exc) or time.monotonic() + delay > deadline:
                raise
            if not told:
                print(
                    f"sweeplab: tracking store unreachable during {what} ({first_line(exc)}); "
                    f"retrying for up to {patience:.0f}s",
                    file=sys.stderr,
                    flush=True,
                )
                told = True
            time.sleep(delay)
            delay = min(delay * 2, 10.0)


class PatientClient:
    """An MlflowClient whose calls are retried while the store is unreachable.

    `create_run`/`create_experiment` are not retried on their own: the Tracker wraps
    find-or-create around them, so a request that reached the server is never repeated.
    """

    _ONCE = frozenset({"create_run", "create_experiment"})

    def __init__(self, client: MlflowClient, patience: float):
        self._client, self._patience = client, patience

    def __getattr__(self, name: str):
        attr = getattr(self._client, name)
        if not callable(attr) or name in self._ONCE or self._patience <= 0:
            return attr

        def call(*args, **kwargs):
            return retry_transient(lambda: attr(*args, **kwargs), self._patience, name)

        return call
