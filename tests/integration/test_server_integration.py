"""A real MLflow tracking server process (SQLite, then PostgreSQL backend): a sweep logs to it
over HTTP, the best trial is promoted, and a fresh process loads the champion to generate."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
import uuid
from pathlib import Path

import pytest

from tests.helpers import (
    ROOT,
    free_port,
    run_python,
    run_sweeplab,
    small_sweep_config,
    start_server,
    stop_group,
    wait_healthy,
)
from tests.integration.browser import chromium, render

pytestmark = pytest.mark.integration


@pytest.fixture
def server(tmp_path, request):
    """`sweeplab server` on a free loopback port; yields its URL; stopped afterwards."""
    backend = request.param
    args = []
    dbname = None
    if backend == "postgresql":
        import psycopg2

        dbname = f"sweeplab_{uuid.uuid4().hex[:8]}"
        conn = psycopg2.connect(host="127.0.0.1", port=5432, user="postgres", dbname="postgres")
        conn.autocommit = True
        conn.cursor().execute(f"CREATE DATABASE {dbname}")
        conn.close()
        args = ["--backend-store-uri", f"postgresql://postgres@127.0.0.1:5432/{dbname}"]
    port = free_port()
    proc = start_server(tmp_path, port, *args, env=dict(os.environ))
    url = f"http://127.0.0.1:{port}"
    try:
        yield url
    finally:
        stop_group(proc)
        if dbname:
            import psycopg2

            conn = psycopg2.connect(host="127.0.0.1", user="postgres", dbname="postgres")
            conn.autocommit = True
            conn.cursor().execute(f"DROP DATABASE IF EXISTS {dbname} WITH (FORCE)")
            conn.close()


@pytest.mark.parametrize("server", ["sqlite", "postgresql"], indirect=True)
def test_sweep_promote_load_through_server(tmp_path: Path, demo_assets, server: str):
    cfg = small_sweep_config(tmp_path, demo_assets, num_samples=1)
    env = {**os.environ, "MLFLOW_TRACKING_URI": server}
    work = tmp_path / "client"
    work.mkdir()

    def cli(*args, timeout=900):
        return run_sweeplab(*args, cwd=work, env=env, timeout=timeout)

    run = cli("sweep", str(cfg), "--name", "srv")
    assert run.returncode == 0, run.stderr[-3000:]
    assert f"runs: {server}" in run.stdout
    assert not (work / "runs" / "mlflow.db").exists()  # nothing went to the local default

    from mlflow import MlflowClient

    client = MlflowClient(tracking_uri=server)
    exp = client.get_experiment_by_name("srv")
    assert exp.artifact_location.startswith("mlflow-artifacts:")  # served by the server
    children = client.search_runs([exp.experiment_id], "tags.`sweeplab.kind` = 'trial'")
    assert len(children) == 1 and children[0].info.status == "FINISHED"
    assert 0 <= children[0].data.metrics["openorca/meteor"] <= 1
    adapter = {a.path for a in client.list_artifacts(children[0].info.run_id, "adapter")}
    assert "adapter/adapter_model.safetensors" in adapter

    # A person opening the UI finds the sweep and its runs (screenshot kept).
    assert chromium(), "chromium missing: `make setup` installs Debian's chromium"
    port = server.rsplit(":", 1)[1]
    shot = ROOT / "test-artifacts" / f"mlflow-ui-runs-{port}.png"
    want = ("srv", "2 matching runs")
    text = render(f"{server}/#/experiments/{exp.experiment_id}/runs", shot, want)
    assert all(w in text for w in want), text[-1500:]
    assert shot.read_bytes()[:4] == b"\x89PNG"
    trial = children[0]
    want = (trial.info.run_name, "openorca/meteor")
    text = render(
        f"{server}/#/experiments/{exp.experiment_id}/runs/{trial.info.run_id}",
        ROOT / "test-artifacts" / f"mlflow-ui-trial-{port}.png",
        want,
    )
    assert all(w in text for w in want), text[-1500:]
    # The per-example table opens as a table, with the examples' ids in it.
    table_url = (
        f"{server}/#/experiments/{exp.experiment_id}/runs/{trial.info.run_id}"
        "/artifacts/eval/predictions.json"
    )
    want = ("View as table", "alpaca-", "prediction")
    text = render(table_url, ROOT / "test-artifacts" / f"mlflow-ui-table-{port}.png", want)
    assert all(w in text for w in want), text[-1500:]

    promoted = cli("promote", "srv", "--force")
    assert promoted.returncode == 0, promoted.stderr[-2000:]
    code = (
        "import json, mlflow; "
        "m = mlflow.pyfunc.load_model('models:/srv@champion'); "
        "print(json.dumps(m.predict(['What is 4 plus 5?'])))"
    )
    load = run_python(code, cwd=tmp_path, env=env, timeout=300)
    assert load.returncode == 0, load.stderr[-3000:]
    out = json.loads(load.stdout.strip().splitlines()[-1])
    assert len(out) == 1 and isinstance(out[0], str)


def test_server_binds_loopback_and_runs_basic_auth(tmp_path):
    """Default bind is 127.0.0.1; --basic-auth refuses anonymous and wrong-password requests."""
    port = free_port()
    cmd = [sys.executable, "-m", "sweeps.cli", "server", "--port", str(port), "--basic-auth"]
    env = {k: v for k, v in os.environ.items() if not k.startswith("MLFLOW_AUTH")}
    no_password = subprocess.run(cmd, cwd=tmp_path, env=env, capture_output=True, text=True)
    assert no_password.returncode == 2
    assert "MLFLOW_AUTH_ADMIN_PASSWORD" in no_password.stderr.strip()
    password = uuid.uuid4().hex
    proc = subprocess.Popen(
        cmd,
        cwd=tmp_path,
        env={**env, "MLFLOW_AUTH_ADMIN_PASSWORD": password},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        wait_healthy(url, proc)
        api = f"{url}/api/2.0/mlflow/experiments/search?max_results=1"

        def status(user: str | None, pw: str | None = None) -> int:
            req = urllib.request.Request(api)
            if user:
                import base64

                token = base64.b64encode(f"{user}:{pw}".encode()).decode()
                req.add_header("Authorization", f"Basic {token}")
            try:
                with urllib.request.urlopen(req, timeout=10) as r:
                    return r.status
            except urllib.error.HTTPError as err:
                return err.code

        assert status(None) == 401
        assert status("admin", "wrong-password-123") == 401
        assert status("admin", password) == 200
        assert oct((tmp_path / "runs" / "server-secret").stat().st_mode & 0o777) == "0o600"
        # Only loopback: the machine's other addresses do not answer.
        others = subprocess.run(["hostname", "-I"], capture_output=True, text=True).stdout.split()
        for ip in [a for a in others if ":" not in a and not a.startswith("127.")]:
            with pytest.raises(OSError), socket.create_connection((ip, port), timeout=2):
                pass
    finally:
        stop_group(proc)


def test_server_auth_state_password_change_and_sigterm(tmp_path):
    """Users live in runs/basic_auth.db (0600); a changed $MLFLOW_AUTH_ADMIN_PASSWORD is
    warned about; SIGTERM to `sweeplab server` alone stops MLflow too; a public address
    without --basic-auth is refused before anything starts."""
    cmd = [sys.executable, "-m", "sweeps.cli", "server", "--basic-auth"]
    env = {k: v for k, v in os.environ.items() if not k.startswith("MLFLOW_AUTH")}
    public = subprocess.run(
        [sys.executable, "-m", "sweeps.cli", "server", "--host", "0.0.0.0"],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
    )
    assert public.returncode == 2 and "add --basic-auth" in public.stderr
    for attempt, password in enumerate([uuid.uuid4().hex, uuid.uuid4().hex]):
        port = free_port()
        log = tmp_path / f"server{attempt}.log"
        with log.open("w") as fh:
            proc = subprocess.Popen(
                [*cmd, "--port", str(port)],
                cwd=tmp_path,
                env={**env, "MLFLOW_AUTH_ADMIN_PASSWORD": password},
                stdout=fh,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        try:
            wait_healthy(f"http://127.0.0.1:{port}", proc)
            deadline = time.time() + 30
            warned = "does not match the stored admin"
            while attempt == 1 and warned not in log.read_text() and time.time() < deadline:
                time.sleep(0.5)
            assert (warned in log.read_text()) == (attempt == 1), log.read_text()[-2000:]
            db = tmp_path / "runs" / "basic_auth.db"
            assert oct(db.stat().st_mode & 0o777) == "0o600" and db.stat().st_size > 0
            assert not (tmp_path / "basic_auth.db").exists()
            os.kill(proc.pid, signal.SIGTERM)  # the wrapper only, not its process group
            assert proc.wait(timeout=60) is not None
            time.sleep(2)
            with pytest.raises(OSError), socket.create_connection(("127.0.0.1", port), 2):
                pass  # nothing serves on the port any more
        finally:
            if proc.poll() is None:
                os.killpg(proc.pid, signal.SIGKILL)
            else:
                try:
                    os.killpg(proc.pid, signal.SIGKILL)  # leftovers would fail the check above
                except ProcessLookupError:
                    pass


def _pg_database() -> str:
    import psycopg2

    name = f"sweeplab_{uuid.uuid4().hex[:8]}"
    conn = psycopg2.connect(host="127.0.0.1", port=5432, user="postgres", dbname="postgres")
    conn.autocommit = True
    conn.cursor().execute(f"CREATE DATABASE {name}")
    conn.close()
    return name


def _drop(name: str) -> None:
    import psycopg2

    conn = psycopg2.connect(host="127.0.0.1", user="postgres", dbname="postgres")
    conn.autocommit = True
    conn.cursor().execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")
    conn.close()


def test_a_password_in_a_postgresql_uri_is_never_shown(tmp_path, demo_assets):
    """A PostgreSQL password typed into sweeplab's command lines (the server's backend, a
    sweep's tracking URI): not in `ps` while they run, not in their output, not in MLflow's
    params, tags or artifacts, and only in owner-only files under runs/."""
    import threading

    from mlflow import MlflowClient

    secret = f"pw-{uuid.uuid4().hex}"  # trust auth here: any password gets in
    dbs = [_pg_database(), _pg_database()]
    server_uri, sweep_uri = (f"postgresql://postgres:{secret}@127.0.0.1:5432/{d}" for d in dbs)
    seen_in_ps, stop = [], threading.Event()

    def sample_ps():  # a process older than a second: sweeplab masks it as it starts (the
        # interpreter's own ~30 ms start-up, before any code runs, cannot be helped)
        while not stop.is_set():
            ps = ["ps", "-ww", "-eo", "etimes=,args="]  # -ww: whole command lines
            for line in subprocess.run(ps, capture_output=True, text=True).stdout.splitlines():
                age, _, args = line.strip().partition(" ")
                if secret in args and int(age) >= 1:
                    seen_in_ps.append(args)
            time.sleep(0.5)

    sampler = threading.Thread(target=sample_ps, daemon=True)
    sampler.start()
    port = free_port()
    log = tmp_path / "server.log"
    server = start_server(tmp_path, port, "--backend-store-uri", server_uri, log=log.open("a"))
    try:
        cfg = small_sweep_config(tmp_path, demo_assets, num_samples=1)
        run = run_sweeplab("sweep", str(cfg), "--name", "pw", "--tracking-uri", sweep_uri,
                           cwd=tmp_path)  # fmt: skip
        assert run.returncode == 0, run.stderr[-3000:]
        assert "postgres:***@127.0.0.1" in run.stdout
    finally:
        stop.set()
        sampler.join(timeout=30)
        stop_group(server)
    try:
        assert not seen_in_ps, seen_in_ps[:3]
        for text in (run.stdout, run.stderr, log.read_text()):
            assert secret not in text
        client = MlflowClient(tracking_uri=sweep_uri)
        exp = client.get_experiment_by_name("pw")
        runs = client.search_runs([exp.experiment_id])
        assert len(runs) == 2
        for r in runs:
            assert secret not in json.dumps([r.data.params, r.data.tags])
            dest = str(tmp_path / "artifacts" / r.info.run_id)
            local = Path(client.download_artifacts(r.info.run_id, "", dest))
            for f in (p for p in local.rglob("*") if p.is_file()):
                assert secret.encode() not in f.read_bytes(), f
        for f in (p for p in (tmp_path / "runs").rglob("*") if p.is_file()):
            if secret.encode() in f.read_bytes():
                assert f.name == "tracking_uri" and f.stat().st_mode & 0o077 == 0, f
    finally:
        for d in dbs:
            _drop(d)
