"""From champion to deployment, on one shared tiny sweep: the promoted model is code (no
pickle) that installs offline into a fresh virtualenv and loads there; a tampered trial
record is refused; `sweeplab serve` answers HTTP like in-process predict; the merged model
generates what base + adapter generate; a second sweep within noise only becomes challenger.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest
import yaml
from mlflow import MlflowClient

from tests.helpers import (
    ROOT,
    clean_env,
    free_port,
    run_python,
    run_sweeplab,
    small_sweep_config,
    sweep_runs,
    sweeplab_cmd,
)

pytestmark = pytest.mark.integration

MODEL = "demo-champ"
QUESTIONS = ["What is 2 plus 3?", "Name the capital of Velmora.", "Is 7 even? Options: yes, no"]
WHEELHOUSE = Path(os.environ.get("SWEEPLAB_WHEELHOUSE", ROOT / ".wheelhouse"))
PREDICT = (
    "import json, sys, mlflow; mlflow.set_tracking_uri(sys.argv[1]); "
    "m = mlflow.pyfunc.load_model(sys.argv[2]); "
    "gen = sys.modules['sweeplab_serving.generate'].__file__; "
    "print(json.dumps({'out': m.predict(json.loads(sys.argv[3])), 'code': gen}))"
)


def _config(tmp: Path, assets, name: str, **search) -> Path:
    path = small_sweep_config(tmp, assets, **search)
    doc = yaml.safe_load(path.read_text())
    doc["promotion"] = {"model_name": MODEL, "gates": [{"metric": "alpaca/meteor", "value": 0}]}
    out = tmp / f"{name}.yaml"
    out.write_text(yaml.safe_dump(doc))
    return out


@pytest.fixture(scope="module")
def deployed(tmp_path_factory, demo_assets):
    """A 2-trial sweep, its best trial promoted with --merge; in-process predictions."""
    tmp = tmp_path_factory.mktemp("deploy")
    env = clean_env()
    swept = run_sweeplab("sweep", str(_config(tmp, demo_assets, "dep1")), "--name", "dep1",
                         cwd=tmp, env=env)  # fmt: skip
    assert swept.returncode == 0, swept.stderr[-3000:]
    promoted = run_sweeplab("promote", "dep1", "--merge", cwd=tmp, env=env, timeout=600)
    assert promoted.returncode == 0, promoted.stderr[-3000:]
    uri = f"sqlite:///{tmp / 'runs' / 'mlflow.db'}"
    local = run_python(PREDICT, uri, f"models:/{MODEL}@champion", json.dumps(QUESTIONS),
                       cwd=tmp, env=env)  # fmt: skip
    assert local.returncode == 0, local.stderr[-3000:]
    return {
        "tmp": tmp,
        "env": env,
        "uri": uri,
        "client": MlflowClient(tracking_uri=uri),
        "stdout": promoted.stdout,
        "local": json.loads(local.stdout.strip().splitlines()[-1]),
    }


def _model_dir(d) -> Path:
    version = d["client"].get_model_version_by_alias(MODEL, "champion")
    dest = d["tmp"] / f"model-v{version.version}"
    if not dest.exists():
        d["client"].download_artifacts(version.run_id, "champion_model", str(dest))
    return dest / "champion_model"


def test_promoted_model_is_code_with_pinned_requirements_and_no_pickle(deployed):
    assert "registered: models:/demo-champ/1" in deployed["stdout"]
    version = deployed["client"].get_model_version_by_alias(MODEL, "champion")
    _, trials = sweep_runs(deployed["client"], "dep1")
    assert version.run_id == max(trials, key=lambda t: t.data.metrics["objective"]).info.run_id
    assert str(deployed["client"].get_model_version_by_alias(MODEL, "challenger").version) == "1"
    assert len(version.tags["sweeplab.base_model_hash"]) == 64
    assert version.tags["sweeplab.report"].startswith("runs:/")
    model = _model_dir(deployed)
    files = [p for p in model.rglob("*") if p.is_file()]
    assert not [p for p in files if p.suffix in (".pkl", ".pickle")]
    for p in files:  # pickle protocol 2-5 starts with 0x80 then the protocol number
        head = p.read_bytes()[:2]
        assert not (p.suffix != ".safetensors" and len(head) == 2 and head[0] == 0x80
                    and head[1] in (2, 3, 4, 5)), p  # fmt: skip
    mlmodel = yaml.safe_load((model / "MLmodel").read_text())
    pyfunc = mlmodel["flavors"]["python_function"]
    assert "python_model" not in pyfunc and pyfunc["loader_module"].endswith("code_model")
    assert mlmodel["signature"]["inputs"] and (model / "serving_input_example.json").is_file()
    assert (model / "code" / "sweeplab_serving" / "generate.py").is_file()
    reqs = (model / "requirements.txt").read_text().splitlines()
    from importlib import metadata

    assert f"torch=={metadata.version('torch')}" in reqs
    assert f"peft=={metadata.version('peft')}" in reqs
    assert not any("cloudpickle" in r for r in reqs)
    base = pyfunc["config"]["base_model"]
    assert base["kind"] == "local" and len(base["sha256"]) == 64


def test_champion_loads_in_a_fresh_virtualenv_offline(deployed, tmp_path):
    assert (WHEELHOUSE / ".complete").is_file(), "no wheelhouse: run `make wheelhouse` first"
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
    env = {k: v for k, v in clean_env().items() if k not in ("PYTHONPATH", "VIRTUAL_ENV")}
    env["PIP_CONFIG_FILE"] = os.devnull  # no configured index, find-links or constraints
    start = time.monotonic()
    pip = subprocess.run(
        [str(venv / "bin" / "pip"), "install", "-q", "--no-index", "--no-compile",
         "--find-links", str(WHEELHOUSE), "-r", str(_model_dir(deployed) / "requirements.txt")],
        env=env, capture_output=True, text=True, timeout=900,
    )  # fmt: skip
    print(f"offline install of the model's requirements: {time.monotonic() - start:.0f}s")
    assert pip.returncode == 0, pip.stderr[-3000:]
    py = str(venv / "bin" / "python")
    nothing = subprocess.run(
        [py, "-c", "import sweeps"], env=env, capture_output=True, cwd=tmp_path
    )
    assert nothing.returncode != 0  # sweeplab is not there
    args = [deployed["uri"], f"models:/{MODEL}@champion", json.dumps(QUESTIONS)]
    proc = subprocess.run([py, "-c", PREDICT, *args], env=env, cwd=tmp_path,
                          capture_output=True, text=True, timeout=600)  # fmt: skip
    assert proc.returncode == 0, proc.stderr[-3000:]
    got = json.loads(proc.stdout.strip().splitlines()[-1])
    assert got["out"] == deployed["local"]["out"] and any(a.strip() for a in got["out"])
    assert not got["code"].startswith(str(ROOT)) and "sweeplab_serving" in got["code"]


@pytest.mark.parametrize(
    "change, needle",
    [({"path": "/tmp/other-model"}, "model.path"), ({"trust_remote_code": True}, "trust_remote")],
)
def test_tampered_trial_record_is_refused(deployed, tmp_path, change, needle):
    client = deployed["client"]
    run_id = client.get_model_version_by_alias(MODEL, "champion").run_id
    original = Path(client.download_artifacts(run_id, "trial.json", str(tmp_path / "orig")))
    record = json.loads(original.read_text())
    record["config"]["model"].update(change)
    (tmp_path / "bad").mkdir()
    (tmp_path / "bad" / "trial.json").write_text(json.dumps(record))
    client.log_artifact(run_id, str(tmp_path / "bad" / "trial.json"))
    try:
        proc = run_sweeplab("promote", "dep1", cwd=deployed["tmp"], env=deployed["env"])
    finally:
        client.log_artifact(run_id, str(original))
    assert proc.returncode == 2
    assert "refusing to promote" in proc.stderr and needle in proc.stderr
    assert proc.stderr.strip().count("\n") == 0


def test_serve_answers_http_with_what_predict_gives(deployed):
    port = free_port()
    proc = subprocess.Popen(
        sweeplab_cmd("serve", "dep1", "--port", str(port)), cwd=deployed["tmp"],
        env=deployed["env"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        start_new_session=True,
    )  # fmt: skip
    try:
        url = f"http://127.0.0.1:{port}"
        deadline = time.time() + 300
        while True:
            assert proc.poll() is None, "sweeplab serve exited"
            try:
                with urllib.request.urlopen(f"{url}/ping", timeout=5) as r:
                    if r.status == 200:
                        break
            except OSError:
                assert time.time() < deadline, "not serving after 300 s"
                time.sleep(1)
        answer = _post(url, {"inputs": QUESTIONS})
        assert answer == (200, {"predictions": deployed["local"]["out"]})
        _hostile_requests_are_refused_and_cost_nothing(url, proc.pid)
        # ... and a normal request is answered as before.
        assert _post(url, {"inputs": QUESTIONS}) == answer
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, 15)
            proc.wait(timeout=60)


def _post(url: str, payload, raw: bytes | None = None) -> tuple[int, dict]:
    body = raw if raw is not None else json.dumps(payload).encode()
    req = urllib.request.Request(f"{url}/invocations", body, {"Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(req, timeout=300) as r:
            return r.status, json.loads(r.read())
    except urllib.error.HTTPError as exc:
        return exc.code, json.loads(exc.read())


def _headers_only(url: str, length: int) -> tuple[int, dict]:
    """POST headers announcing a `length`-byte body, none of it sent: the answer. (A client
    that sends a refused body whole before reading may find the connection already closed.)"""
    import socket
    from http.client import HTTPResponse

    host, port = url.removeprefix("http://").split(":")
    with socket.create_connection((host, int(port)), timeout=30) as sock:
        head = (f"POST /invocations HTTP/1.1\r\nHost: {host}\r\nContent-Type: "
                f"application/json\r\nContent-Length: {length}\r\n\r\n")  # fmt: skip
        sock.sendall(head.encode())
        answer = HTTPResponse(sock)
        answer.begin()
        return answer.status, json.loads(answer.read())


def _hostile_requests_are_refused_and_cost_nothing(url: str, pid: int) -> None:
    """Deep JSON is 400; a batch over `--max-batch` (default: the model's generation
    batch_size, 12 here) or a body over 1 MiB is 413, at once; the server is idle after."""
    import psutil

    t = time.time()
    status, err = _post(url, None, b"[" * 100_000 + b"]" * 100_000)
    assert status == 400 and "nested deeper" in err["message"], err
    deep = time.time() - t
    t = time.time()
    status, err = _post(url, {"inputs": ["Add 1 and 2."] * 13})
    assert status == 413 and "13 inputs in one request; at most 12" in err["message"], err
    batch = time.time() - t
    t = time.time()
    status, err = _headers_only(url, 5_000_000)  # a 5 MB body announced: refused unread
    assert status == 413 and "body over" in err["message"], err
    big = time.time() - t
    assert max(deep, batch, big) < 5, (deep, batch, big)
    server = psutil.Process(pid)
    server.cpu_percent(None)
    time.sleep(2)
    cpu = server.cpu_percent(None)  # nothing generating for the refused requests
    assert cpu < 20, cpu
    print(f"serve guard: 400 in {deep:.2f}s, 413 in {batch:.2f}s / {big:.2f}s, CPU {cpu:.0f}%")


def test_merged_model_generates_what_base_plus_adapter_generates(deployed, tmp_path):
    from transformers import AutoModelForCausalLM, AutoTokenizer

    from evaluation.generate import generate
    from training.verified_load import load_with_adapter

    client = deployed["client"]
    version = client.get_model_version_by_alias(MODEL, "champion")
    merged_uri = version.tags["sweeplab.merged_model"]
    run_id = version.run_id
    merged = Path(client.download_artifacts(run_id, "merged_model", str(tmp_path)))
    assert merged_uri == f"runs:/{run_id}/merged_model"
    assert list(merged.glob("*.safetensors")) and not list(merged.glob("*.bin"))
    table = json.loads(Path(client.download_artifacts(run_id, "eval/predictions.json",
                                                      str(tmp_path))).read_text())  # fmt: skip
    prompts = [dict(zip(table["columns"], r, strict=True))["prompt"] for r in table["data"]]
    assert len(prompts) == 36
    plain = AutoModelForCausalLM.from_pretrained(str(merged)).eval()
    plain_tok = AutoTokenizer.from_pretrained(str(merged))
    base = yaml.safe_load((_model_dir(deployed) / "MLmodel").read_text())
    ref = base["flavors"]["python_function"]["config"]["base_model"]
    adapter = Path(client.download_artifacts(run_id, "adapter", str(tmp_path / "a")))
    peft_model, tok = load_with_adapter(ref, adapter)
    want = [g.text for g in generate(peft_model, tok, prompts, 24, 12)]
    got = [g.text for g in generate(plain, plain_tok, prompts, 24, 12)]
    assert got == want and any(want)


def test_second_sweep_within_noise_becomes_challenger_only(deployed, demo_assets):
    tmp, env, client = deployed["tmp"], deployed["env"], deployed["client"]
    champion = client.get_model_version_by_alias(MODEL, "champion")
    best = client.get_run(champion.run_id)
    point = {"lora.r": int(best.data.params["lora_r"]),
             "mix.openorca": float(best.data.params["mix.openorca"])}  # fmt: skip
    # The champion's own configuration again: the same scores, a difference of exactly 0.
    cfg = _config(tmp, demo_assets, "dep2", num_samples=1, points_to_evaluate=[point])
    swept = run_sweeplab("sweep", str(cfg), "--name", "dep2", cwd=tmp, env=env)
    assert swept.returncode == 0, swept.stderr[-3000:]
    again = run_sweeplab("promote", "dep2", cwd=tmp, env=env)
    assert again.returncode == 0, again.stderr[-3000:]
    assert f"stays at version {champion.version}" in again.stdout
    challenger = client.get_model_version_by_alias(MODEL, "challenger")
    assert challenger.version != champion.version
    assert client.get_model_version_by_alias(MODEL, "champion").version == champion.version
    assert "+0.00 pts [+0.00, +0.00]" in challenger.tags["sweeplab.vs_champion"]
    forced = run_sweeplab("promote", "dep2", "--force", cwd=tmp, env=env)
    assert forced.returncode == 0, forced.stderr[-3000:]
    now = client.get_model_version_by_alias(MODEL, "champion")
    assert now.version == challenger.version and now.tags["sweeplab.champion_override"] == "true"
