"""`sweeplab serve`'s guard in front of MLflow's scoring app: what it refuses (400, 413)
never reaches the model; everything else reaches it unchanged."""

from __future__ import annotations

import json

import pytest
from starlette.testclient import TestClient

from mlflow_server.scoring import Guard, Limits, count_inputs, depth

JSON = {"Content-Type": "application/json"}


LIMITS = Limits(max_batch=4, max_bytes=4096)


def _client(calls: list, limits: Limits = LIMITS) -> TestClient:
    async def app(scope, receive, send):  # stands in for MLflow's app: echoes the body
        message = await receive()
        calls.append(message["body"])
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": message["body"]})

    return TestClient(Guard(app, limits))


@pytest.mark.parametrize(
    "body, status, fragment",
    [
        ("[" * 2000 + "]" * 2000, 400, "nested deeper than 32"),
        (
            json.dumps(
                {"inputs": [[[[[[[[[["x"]]]]]]]]]]}
                | {"p": [[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[1]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]}
            ),
            400,
            "nested deeper",
        ),
        ('{"inputs": ["a", ', 400, "not valid JSON"),
        (b"\xff\xfe", 400, "not valid JSON"),
        (json.dumps({"inputs": ["q"] * 5}), 413, "5 inputs in one request; at most 4"),
        (json.dumps({"instances": ["q"] * 9}), 413, "9 inputs"),
        (json.dumps({"dataframe_records": [{"x": "q"}] * 5}), 413, "5 inputs"),
        (json.dumps({"dataframe_split": {"columns": ["x"], "data": [["q"]] * 5}}), 413, "5 in"),
        (json.dumps({"inputs": {"prompt": ["q"] * 6}}), 413, "6 inputs"),
        (json.dumps({"inputs": ["q" * 5000]}), 413, "body over 4096 bytes"),
    ],
)
def test_refused_requests_never_reach_the_model(body, status, fragment):
    calls: list = []
    r = _client(calls).post("/invocations", content=body, headers=JSON)
    assert r.status_code == status, r.text
    assert fragment in r.json()["message"] and r.json()["error_code"]
    assert calls == []


def test_csv_rows_are_counted():
    calls: list = []
    client = _client(calls)
    csv = {"Content-Type": "text/csv"}
    assert client.post("/invocations", content="x\n" + "q\n" * 5, headers=csv).status_code == 413
    assert client.post("/invocations", content="x\nq\nq\n", headers=csv).status_code == 200
    assert calls == [b"x\nq\nq\n"]


def test_accepted_requests_and_other_routes_pass_unchanged():
    calls: list = []
    client = _client(calls)
    body = json.dumps({"inputs": ["What is 2 plus 3?"] * 4, "params": {"a": 1}})
    r = client.post("/invocations", content=body, headers=JSON)
    assert r.status_code == 200 and r.content == body.encode() and calls == [body.encode()]
    assert client.post("/other", content="[" * 50_000).status_code == 200  # not guarded
    # A body streamed in chunks is read whole (within the limit) and handed on whole.
    chunks = iter([body[:10].encode(), body[10:].encode()])
    r = client.post("/invocations", content=chunks, headers=JSON)
    assert r.status_code == 200 and calls[-1] == body.encode()


def test_a_declared_oversized_body_is_refused_unread():
    calls: list = []
    r = _client(calls).post(
        "/invocations", content=b"x" * 5000, headers={**JSON, "Content-Length": "5000"}
    )
    assert r.status_code == 413 and calls == []


def test_counting_and_depth():
    assert depth("x") == 0 and depth([]) == 1 and depth({"a": [[1]]}) == 3
    assert count_inputs({"inputs": "one"}) == 1 and count_inputs([1, 2]) == 0
    assert count_inputs({"inputs": ["a", "b"], "params": {}}) == 2
