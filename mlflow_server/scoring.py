"""`sweeplab serve`'s HTTP server: MLflow's own scoring app behind a guard.

The app is the one `mlflow models serve --env-manager local` runs (`scoring_server.init` on
the model downloaded from the registry): the same routes, payload formats (`inputs`,
`instances`, `dataframe_split`, `dataframe_records`, CSV) and answers. In front of it, before
a request reaches the model:
- a body over `max_bytes` is 413 (read no further than that; a `Content-Length` over it is
  refused unread);
- a JSON body that does not parse, or nests deeper than `max_depth`, is 400 (MLflow itself
  answers 500 to a deep one);
- more than `max_batch` inputs is 413;
- predictions run one request at a time, so an accepted request's generation (at most
  `max_batch` prompts, each at most the model's `max_new_tokens`) is bounded and never
  races others into MLflow's request timeout, which would answer 504 while a thread goes
  on generating.
A refused request never reaches the model: nothing generates for it.
"""

from __future__ import annotations

import asyncio
import json
from dataclasses import dataclass

MAX_BYTES = 1 << 20
MAX_DEPTH = 32
_ROWS_KEYS = ("inputs", "instances", "dataframe_records")


@dataclass(frozen=True)
class Limits:
    max_batch: int
    """Inputs (prompts, rows) per request."""
    max_bytes: int = MAX_BYTES
    """Request body size."""
    max_depth: int = MAX_DEPTH
    """Nesting of a JSON body (the payload formats need 4)."""


class Refused(Exception):
    def __init__(self, status: int, message: str):
        super().__init__(message)
        self.status = status


def depth(value) -> int:
    """How deeply a parsed JSON value nests (a scalar: 0), without recursion."""
    deepest, stack = 0, [(value, 1)] if isinstance(value, (dict, list)) else []
    while stack:
        node, level = stack.pop()
        deepest = max(deepest, level)
        children = node.values() if isinstance(node, dict) else node
        stack.extend((c, level + 1) for c in children if isinstance(c, (dict, list)))
    return deepest


def count_inputs(payload) -> int:
    """Rows of a scoring payload in any of MLflow's JSON formats (0 if none is used)."""
    if not isinstance(payload, dict):
        return 0
    split = payload.get("dataframe_split")
    if isinstance(split, dict) and isinstance(split.get("data"), list):
        return len(split["data"])
    for key in _ROWS_KEYS:
        rows = payload.get(key)
        if isinstance(rows, list):
            return len(rows)
        if isinstance(rows, dict):  # columns -> values
            return max((len(v) for v in rows.values() if isinstance(v, list)), default=1)
        if rows is not None:
            return 1
    return 0


def check_body(body: bytes, content_type: str, limits: Limits) -> None:
    """Refused (400 or 413) when `body` is over a limit or not JSON; None when it may pass."""
    if len(body) > limits.max_bytes:
        raise Refused(413, f"request body over {limits.max_bytes} bytes")
    mime = content_type.split(";")[0].strip().lower()
    if mime == "text/csv":
        rows = max(0, body.rstrip(b"\n").count(b"\n"))  # below the header line
    elif mime == "application/json":
        try:
            payload = json.loads(body)
        except RecursionError:
            raise Refused(400, f"JSON nested deeper than {limits.max_depth} levels") from None
        except (ValueError, UnicodeDecodeError) as exc:
            raise Refused(400, f"not valid JSON ({exc})") from None
        if depth(payload) > limits.max_depth:
            raise Refused(400, f"JSON nested deeper than {limits.max_depth} levels")
        rows = count_inputs(payload)
    else:  # MLflow answers other content types itself (415)
        return
    if rows > limits.max_batch:
        raise Refused(413, f"{rows} inputs in one request; at most {limits.max_batch}")


class Guard:
    """ASGI middleware: `check_body` on every POST /invocations, then the app, one
    prediction at a time."""

    def __init__(self, app, limits: Limits):
        self.app, self.limits = app, limits
        self._one = asyncio.Semaphore(1)

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http" or scope["path"] != "/invocations":
            return await self.app(scope, receive, send)
        headers = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope["headers"]}
        try:
            body = await self._body(headers, receive)
            check_body(body, headers.get("content-type", ""), self.limits)
        except Refused as exc:
            return await _answer(send, exc.status, str(exc))
        sent = False

        async def replay():
            nonlocal sent
            if not sent:
                sent = True
                return {"type": "http.request", "body": body, "more_body": False}
            return await receive()

        async with self._one:
            await self.app(scope, replay, send)

    async def _body(self, headers: dict[str, str], receive) -> bytes:
        declared = headers.get("content-length", "")
        if declared.isdigit() and int(declared) > self.limits.max_bytes:
            raise Refused(413, f"request body over {self.limits.max_bytes} bytes")
        chunks, size = [], 0
        while True:
            message = await receive()
            if message["type"] == "http.disconnect":
                raise Refused(400, "client went away")
            chunk = message.get("body", b"")
            size += len(chunk)
            if size > self.limits.max_bytes:
                raise Refused(413, f"request body over {self.limits.max_bytes} bytes")
            chunks.append(chunk)
            if not message.get("more_body"):
                return b"".join(chunks)


async def _answer(send, status: int, message: str) -> None:
    """An error in MLflow's shape: `{"error_code": ..., "message": ...}`."""
    code = "RESOURCE_LIMIT_EXCEEDED" if status == 413 else "BAD_REQUEST"
    body = json.dumps({"error_code": code, "message": message}).encode()
    headers = [(b"content-type", b"application/json"), (b"content-length", b"%d" % len(body))]
    if status == 413:
        headers.append((b"connection", b"close"))  # the rest of the body is not read
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})


def default_max_batch(model) -> int:
    """One generation batch of the model (its `batch_size` setting), else 32."""
    config = getattr(model, "model_config", None) or {}
    return int(config.get("batch_size") or 32)


def serve_model(
    tracking_uri: str,
    model_uri: str,
    host: str,
    port: int,
    max_batch: int | None = None,
    max_bytes: int = MAX_BYTES,
    on_ready=None,
) -> int:
    """Download `model_uri` from the registry, load it as `mlflow models serve` does and
    serve it behind the guard until interrupted; the exit status."""
    import mlflow
    import uvicorn
    from mlflow.pyfunc import scoring_server

    mlflow.set_tracking_uri(tracking_uri)
    local = mlflow.artifacts.download_artifacts(model_uri)
    model = scoring_server.load_model_with_mlflow_config(local)
    limits = Limits(max_batch=max_batch or default_max_batch(model), max_bytes=max_bytes)
    if on_ready is not None:
        on_ready(limits)
    app = Guard(scoring_server.init(model), limits)
    uvicorn.run(app, host=host, port=port, log_level="warning")
    return 0
