"""Hostile and damaged input: truncated weights, deeply nested JSON, a huge JSON array,
a torn cache, a password in a URI. One line, exit 2, nothing left behind, nothing leaked."""

from __future__ import annotations

import json
import struct
from pathlib import Path

import pytest
import yaml

import training.json_array as json_array
import training.loading as loading
from common.errors import first_line, last_line
from common.uris import mask_credentials
from mlflow_server.tracking import runs_table_url, ui_base, ui_command
from sweeps.cli import main
from sweeps.config import SweepConfig
from sweeps.run.state import record_sweep, state_dir
from sweeps.run.storage import Storage
from sweeps.run.tuner import masked_config
from tests.helpers import config_yaml

SECRET = "postgresql://team:hunter2-secret@db.example:5432/mlflow"


def _model(root: Path, weights: bytes) -> Path:
    model = root / "model"
    model.mkdir(exist_ok=True)
    (model / "config.json").write_text("{}")
    (model / "model.safetensors").write_bytes(weights)
    return model


def _weights(n_bytes: int, have: int) -> bytes:
    header = json.dumps(
        {"w": {"dtype": "F32", "shape": [n_bytes // 4], "data_offsets": [0, n_bytes]}}
    )
    return struct.pack("<Q", len(header)) + header.encode() + b"\0" * have


def _refused(argv, fragment, root: Path, capsys) -> str:
    assert main(argv) == 2
    err = capsys.readouterr().err.strip()
    assert err.count("\n") == 0 and "Traceback" not in err and fragment in err, err
    assert not (root / "runs").exists()  # no record, no lock, no store
    return err


@pytest.mark.parametrize(
    ("weights", "fragment"),
    [
        (_weights(4096, 100), "model.safetensors is truncated (175 of 4171 bytes)"),
        (b"\x01\x02", "truncated (no header)"),
        (struct.pack("<Q", 1 << 40) + b"{}", "header past the end"),
        (struct.pack("<Q", 5) + b"{nope", "is corrupt"),
    ],
)
def test_damaged_weights_are_one_line_and_nothing_is_recorded(
    weights, fragment, tmp_path, tiny_data, monkeypatch, capsys
):
    monkeypatch.chdir(tmp_path)
    _model(tmp_path, weights)
    _refused(["sweep", str(config_yaml(tmp_path, tiny_data))], fragment, tmp_path, capsys)


def test_after_a_bad_model_the_corrected_config_is_accepted(tmp_path, tiny_data, monkeypatch):
    """The refused attempt left no sweep record behind: fixing the input is enough."""
    from sweeps.run.state import check_continuation
    from sweeps.run.storage import Storage

    monkeypatch.chdir(tmp_path)
    _model(tmp_path, _weights(4096, 100))
    cfg_path = config_yaml(tmp_path, tiny_data)
    assert main(["sweep", str(cfg_path)]) == 2
    cfg = SweepConfig.model_validate(yaml.safe_load(cfg_path.read_text()))
    assert check_continuation(cfg, Storage.open(None, tmp_path)) is False


def test_deeply_nested_json_is_one_line(tmp_path, tiny_data, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    _model(tmp_path, struct.pack("<Q", 2) + b"{}")
    deep = tmp_path / "deep.json"
    deep.write_text("[" + "[" * 200_000 + "]" * 200_000 + "]")
    cfg = config_yaml(tmp_path, {**tiny_data, "alpaca": deep})
    _refused(["sweep", str(cfg)], "nested too deeply", tmp_path, capsys)
    deep_lines = tmp_path / "deep.jsonl"
    deep_lines.write_text('{"a": ' + "[" * 200_000 + "]" * 200_000 + "}\n")
    cfg = config_yaml(tmp_path, {**tiny_data, "dolly": deep_lines})
    _refused(["sweep", str(cfg)], "nested too deeply", tmp_path, capsys)
    (tmp_path / "model" / "config.json").write_text("[" * 200_000 + "]" * 200_000)
    _refused(
        ["sweep", str(config_yaml(tmp_path, tiny_data))], "nested too deeply", tmp_path, capsys
    )
    nested_yaml = tmp_path / "nested.yaml"
    nested_yaml.write_text("a: " + "[" * 50_000 + "]" * 50_000 + "\n")
    _refused(["validate", str(nested_yaml)], "nested too deeply", tmp_path, capsys)


def test_a_json_array_is_streamed_record_by_record(tmp_path, monkeypatch):
    """Never read whole: decoded in chunks (here 7 characters), same records as json.load."""
    rows = [
        {"instruction": f"i{i}", "output": "o" * (i % 13), "n": 12345678 + i} for i in range(200)
    ]
    path = tmp_path / "alpaca_data.json"
    path.write_text(json.dumps(rows, indent=2))
    monkeypatch.setattr(json_array, "CHUNK", 7)
    reads = []
    real_open = Path.open

    def counting_open(self, *args, **kwargs):
        fh = real_open(self, *args, **kwargs)
        real_read = fh.read
        fh_read = lambda n=-1: (reads.append(n), real_read(n))[1]  # noqa: E731
        try:
            fh.read = fh_read
        except AttributeError:
            pass
        return fh

    monkeypatch.setattr(Path, "open", counting_open)
    assert [r for _, r in loading.read_records(str(path))[0]] == rows
    assert reads and -1 not in reads and max(reads) < 4096 + 1


@pytest.mark.parametrize(
    ("text", "fragment"),
    [("[1,2", "not closed"), ("[1 2]", "expected ','"), ("[1,]", "before ']'"), ("[1] x", "extra")],
)
def test_a_broken_json_array_is_named(text, fragment, tmp_path):
    path = tmp_path / "a.json"
    path.write_text(text)
    with pytest.raises(loading.DataError, match=fragment):
        list(loading.read_records(str(path))[0])


def test_an_unreadable_base_cache_is_a_miss(tmp_path, monkeypatch):
    from sweeps.run import baseline

    calls = []
    fresh = {"metrics": {"alpaca/meteor": 0.5}, "sets": {}}
    monkeypatch.setattr(baseline, "cache_key", lambda *a: "k")
    monkeypatch.setattr(baseline, "load_base_model", lambda cfg: (_Model(), None))
    monkeypatch.setattr(baseline, "evaluate_all", lambda *a: calls.append(1) or ({}, {}))
    monkeypatch.setattr(baseline, "_to_json", lambda results, metrics: fresh)
    for torn in (b"", b'{"metrics": {"alpa', b"\xff\xfe", b"[1]"):
        (tmp_path / "base-k.json").write_bytes(torn)
        assert baseline.base_scores(None, {}, None, tmp_path) == fresh
    assert len(calls) == 4
    assert json.loads((tmp_path / "base-k.json").read_text()) == fresh
    assert baseline.base_scores(None, {}, None, tmp_path) == fresh and len(calls) == 4


class _Model:
    def eval(self):
        return self


def test_credentials_are_masked_everywhere_they_are_shown():
    assert mask_credentials(SECRET) == "postgresql://team:***@db.example:5432/mlflow"
    assert mask_credentials("http://u:p@ss@h:5000/x") == "http://u:***@h:5000/x"
    assert mask_credentials("sqlite:////a/b.db") == "sqlite:////a/b.db"
    assert "hunter2" not in first_line(ValueError(f"cannot reach {SECRET}"))
    trace = f"Traceback ...\nMlflowException: API request to {SECRET} failed\n"
    assert "hunter2" not in last_line(trace) and "team:***@" in last_line(trace)
    # Printed links to the UI and the command that opens it carry no user:password at all.
    server = "http://team:hunter2-secret@10.0.0.5:5000/"
    assert ui_base(server) == "http://10.0.0.5:5000"
    assert "hunter2" not in runs_table_url(ui_base(server), "1", "v")
    assert ui_command(server, Path(".")).startswith("open http://10.0.0.5:5000 ")


def test_a_tracking_uri_with_a_password_is_not_logged_and_its_files_are_private(tmp_path):
    cfg = SweepConfig.model_validate(
        {
            "name": "t",
            "model": {"path": "m"},
            "data": {"alpaca": "a.json", "dolly": "d.jsonl", "openorca": "o.parquet"},
            "tracking_uri": SECRET,
        }
    )
    shown = masked_config(cfg)
    assert "hunter2" not in json.dumps(shown) and shown["tracking_uri"].endswith(
        "***@db.example:5432/mlflow"
    )
    storage = Storage.open(str(tmp_path), tmp_path)
    record_sweep(cfg, storage, SECRET)
    for name in ("tracking_uri", "config.json"):
        path = Path(state_dir(storage, "t")) / name
        assert oct(path.stat().st_mode & 0o777) == "0o600"


def test_hostile_json_read_back_from_the_store_is_one_line(tmp_path, mlflow_uri, capsys):
    """A sweep whose recorded config in the store was replaced by deeply nested JSON:
    `promote` and `report` say so in one line (no traceback), exit 2."""
    from mlflow import MlflowClient

    client = MlflowClient(tracking_uri=mlflow_uri)
    exp = client.create_experiment("hostile", artifact_location=str(tmp_path / "art"))
    run = client.create_run(exp, tags={"sweeplab.kind": "sweep", "sweeplab.sweep": "hostile"})
    (tmp_path / "up").mkdir()
    (tmp_path / "up" / "sweep_config.json").write_text("[" * 200_000 + "]" * 200_000)
    client.log_artifact(run.info.run_id, str(tmp_path / "up" / "sweep_config.json"))
    for command in ("promote", "report", "predict"):
        assert main([command, "hostile", "--tracking-uri", mlflow_uri]) == 2
        err = capsys.readouterr().err.strip()
        assert err == f"sweeplab {command}: error: an input is nested too deeply to read", err


def test_a_yaml_alias_bomb_is_refused_before_it_is_expanded(tmp_path, capsys):
    lines = ["name: bomb", "model: {path: m}", "x0: &a0 [{lora.r: 16}, {lora.r: 16}]"]
    lines += [f"x{i}: &a{i} [{', '.join([f'*a{i - 1}'] * 9)}]" for i in range(1, 12)]
    bomb = tmp_path / "bomb.yaml"
    bomb.write_text("\n".join(lines) + "\nsearch: {points_to_evaluate: *a11}\n")
    assert main(["validate", str(bomb)]) == 2
    err = capsys.readouterr().err.strip()
    assert "through its aliases (more than 100,000)" in err and "\n" not in err, err
    # Aliases as people use them (a shared block) still load.
    shared = tmp_path / "shared.yaml"
    shared.write_text(
        "name: ok\nmodel: {path: m}\nx: &lr {train.learning_rate: 0.001}\n"
        "search: {points_to_evaluate: [*lr, *lr]}\n"
    )
    main(["validate", str(shared)])
    assert "aliases" not in capsys.readouterr().err
