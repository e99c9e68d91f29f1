"""Bad input: one line naming the problem, exit != 0, no traceback, nothing created.

Every case runs `sweeplab sweep` itself (in-process, from an empty project directory) and
checks that no MLflow store, run or Ray experiment was left behind.
"""

from __future__ import annotations

import json
import struct
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from sweeps.cli import main
from tests.helpers import (
    alpaca_rows,
    dolly_rows,
    orca_rows,
    write_alpaca,
    write_jsonl,
    write_parquet,
)


def _fake_model(root: Path) -> Path:
    """Enough of a saved model for the up-front checks (data errors come first)."""
    model = root / "model"
    model.mkdir()
    (model / "config.json").write_text("{}")
    (model / "model.safetensors").write_bytes(struct.pack("<Q", 2) + b"{}")  # no tensors
    return model


def _data(root: Path) -> dict[str, Path]:
    return {
        "alpaca": write_alpaca(root / "alpaca_data.json", alpaca_rows(40)),
        "dolly": write_jsonl(root / "dolly.jsonl", dolly_rows(30)),
        "openorca": write_parquet(root / "orca.parquet", orca_rows(30)),
    }


def _doc(root: Path, data: dict[str, Path] | None = None, model: Path | None = None) -> dict:
    data = data or _data(root)
    return {
        "name": "bad",
        "model": {"path": str(model or _fake_model(root))},
        "data": {k: str(v) for k, v in data.items()}
        | {"eval_size": {"alpaca": 4, "dolly": 4, "openorca": 4}},
        "train": {"num_examples": 8, "max_steps": 4, "batch_size": 2, "report_every": 2},
    }


def _write(root: Path, doc) -> Path:
    path = root / "sweep.yaml"
    path.write_text(doc if isinstance(doc, str) else yaml.safe_dump(doc))
    return path


def _expect_refusal(argv: list[str], fragment: str, root: Path, capsys) -> str:
    rc = main(argv)
    err = capsys.readouterr().err.strip()
    assert rc != 0
    assert err.count("\n") == 0, err
    assert "Traceback" not in err and fragment in err, err
    assert not (root / "runs" / "mlflow.db").exists()  # no store, so no run either
    assert not (root / "runs" / "ray").exists()
    return err


CONFIG_CASES = {
    "empty": ("", "empty config"),
    "not yaml": ("name: [unclosed\n", "not valid YAML at line"),
    "not a mapping": ("- a\n- b\n", "expected a mapping of settings, got list"),
    "unknown key": ({"lorra": {"r": 8}}, "lorra: Extra inputs are not permitted"),
    "unknown nested key": ({"lora": {"rank": 8}}, "lora.rank: Extra inputs are not permitted"),
    "wrong type": ({"train": {"max_steps": "many"}}, "train.max_steps: Input should be a valid"),
    "rank zero": ({"lora": {"r": 0}}, "lora.r: Input should be greater than or equal to 1"),
    "rank negative": ({"lora": {"r": -4}}, "lora.r: Input should be greater than or equal to 1"),
    "fraction above one": ({"mix": {"openorca": 1.5}}, "mix.openorca: Input should be less"),
    "fraction below zero": ({"mix": {"dolly": -0.1}}, "mix.dolly: Input should be greater"),
    "searched fraction": (
        {"search": {"space": {"mix.openorca": {"choice": [0.1, 1.2]}}}},
        "search.space.mix.openorca=1.2: mix.openorca: Input should be less than or equal to 1",
    ),
    "searched unknown key": (
        {"search": {"space": {"lora.rank": {"choice": [8]}}}},
        "search.space.lora.rank=8: unknown key 'lora.rank'",
    ),
    "bad name": ({"name": "../escape"}, "name: climbs out of its folder ('..')"),
    "bad objective": ({"search": {"objective": "orca/meteor"}}, "unknown objective 'orca/meteor'"),
    "more training rows than the data": (
        {
            "search": {"space": {"mix.openorca": {"choice": [0.0, 0.9]}}},
            "train": {"num_examples": 30},
        },
        "trial with mix.openorca=0.9: the mixture needs 27 openorca training rows but only 26",
    ),
    "eval size larger than the data": (
        {"data": {"eval_size": {"alpaca": 500}}},
        "data.eval_size.alpaca=500 but only 40 unique alpaca rows exist",
    ),
}


@pytest.mark.parametrize("case", sorted(CONFIG_CASES))
def test_bad_configs(case, tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    change, fragment = CONFIG_CASES[case]
    if isinstance(change, dict):
        doc = _doc(tmp_path)
        for key, value in change.items():
            doc[key] = {**doc[key], **value} if isinstance(doc.get(key), dict) else value
        path = _write(tmp_path, doc)
    else:
        path = _write(tmp_path, change)
    err = _expect_refusal(["sweep", str(path)], fragment, tmp_path, capsys)
    assert str(path) in err  # the file is named


def test_missing_config_and_bad_overrides(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    _expect_refusal(["sweep", "nope.yaml"], "nope.yaml: no such config file", tmp_path, capsys)
    path = _write(tmp_path, _doc(tmp_path))
    for override, fragment in [
        ("lora.rank=8", "unknown key 'lora.rank'"),
        ("nope=1", "unknown key 'nope'"),
        ("train.batch_size=big", "train.batch_size: Input should be a valid integer"),
        ("mix.openorca=2", "mix.openorca: Input should be less than or equal to 1"),
        ("lora.r", "--set 'lora.r': expected key=value"),
    ]:
        _expect_refusal(["sweep", str(path), "--set", override], fragment, tmp_path, capsys)


def _bad_file(root: Path, kind: str) -> tuple[str, Path, str]:
    """(source, file, expected fragment) for one kind of broken dataset."""
    if kind == "missing":
        return "dolly", root / "gone.jsonl", "gone.jsonl: no such file or directory"
    if kind == "not utf-8":
        path = root / "latin1.jsonl"
        path.write_bytes(b'{"instruction": "caf\xe9", "response": "x"}\n')
        return "dolly", path, "latin1.jsonl: not UTF-8 text"
    if kind == "wrong suffix":
        path = root / "alpaca.csv"
        path.write_text("instruction,output\na,b\n")
        return "alpaca", path, "alpaca.csv: unsupported file type"
    if kind == "not parquet":
        path = root / "orca.parquet"
        path.write_text("this is not parquet")
        return "openorca", path, "orca.parquet: not a readable parquet file"
    if kind == "not json":
        path = root / "alpaca.json"
        path.write_text('[{"instruction": "a", "output": "b"},')
        return "alpaca", path, "alpaca.json: not valid JSON"
    if kind == "missing columns":
        path = write_jsonl(root / "dolly.jsonl", [{"prompt": "a", "answer": "b"}] * 10)
        return "dolly", path, "missing required column(s) instruction, response for dolly"
    if kind == "malformed row":
        rows = orca_rows(30)
        rows[7]["response"] = ""
        return "openorca", write_parquet(root / "orca.parquet", rows), "row 7 is malformed"
    if kind == "bad json line":
        path = write_jsonl(root / "dolly.jsonl", dolly_rows(30))
        path.write_text(path.read_text() + "{not json\n")
        return "dolly", path, "dolly.jsonl: line 31 is not valid JSON"
    if kind == "empty directory":
        (root / "empty").mkdir()
        return "alpaca", root / "empty", "no .json, .jsonl or .parquet files"
    raise AssertionError(kind)


DATA_CASES = [
    "missing",
    "not utf-8",
    "wrong suffix",
    "not parquet",
    "not json",
    "missing columns",
    "malformed row",
    "bad json line",
    "empty directory",
]


@pytest.mark.parametrize("kind", DATA_CASES)
def test_bad_datasets(kind, tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "good").mkdir()
    good = _data(tmp_path / "good")
    source, path, fragment = _bad_file(tmp_path, kind)
    cfg = _write(tmp_path, _doc(tmp_path, {**good, source: path}))
    _expect_refusal(["sweep", str(cfg)], fragment, tmp_path, capsys)
    _expect_refusal(["data", str(cfg)], fragment, tmp_path, capsys)


def test_malformed_rows_are_skipped_only_when_allowed_and_counted(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "good").mkdir()
    good = _data(tmp_path / "good")
    source, path, _ = _bad_file(tmp_path, "malformed row")
    doc = _doc(tmp_path, {**good, source: path})
    doc["data"]["skip_malformed"] = True
    assert main(["data", str(_write(tmp_path, doc)), "--json"]) == 0
    stats = json.loads(capsys.readouterr().out)
    assert stats["openorca"]["skipped"] == 1 and stats["openorca"]["rows"] == 30


@pytest.mark.parametrize(
    ("layout", "fragment"),
    [
        ("missing", "no such directory"),
        ("no config", "no config.json (not a saved model)"),
        ("pickle weights only", "no .safetensors weights (only those load)"),
    ],
)
def test_bad_model_paths(layout, fragment, tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    model = tmp_path / "m"
    if layout != "missing":
        model.mkdir()
        if layout == "pickle weights only":
            (model / "config.json").write_text("{}")
            (model / "pytorch_model.bin").write_bytes(b"\x80\x04")
    cfg = _write(tmp_path, _doc(tmp_path, model=model))
    _expect_refusal(["sweep", str(cfg)], f"model.path '{model}': {fragment}", tmp_path, capsys)


def test_resume_of_an_unknown_sweep(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    _expect_refusal(
        ["resume", "never-ran"], "no sweep 'never-ran' was started here", tmp_path, capsys
    )
    _expect_refusal(["resume", "../x"], "SWEEP: climbs out of its folder", tmp_path, capsys)


def test_the_process_exits_nonzero_with_one_line(tmp_path):
    """The real command: exit status 2, one stderr line, nothing on disk."""
    doc = _doc(tmp_path, {**_data(tmp_path), "alpaca": tmp_path / "missing.json"})
    cfg = _write(tmp_path, doc)
    proc = subprocess.run(
        [sys.executable, "-m", "sweeps.cli", "sweep", str(cfg)],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 2
    lines = [line for line in proc.stderr.splitlines() if line.strip()]
    assert lines == [
        f"sweeplab sweep: error: {tmp_path / 'missing.json'}: no such file or directory"
    ]
    assert not (tmp_path / "runs").exists()


def test_a_missing_model_under_a_local_folder_is_not_looked_up_on_the_hub(
    tmp_path, monkeypatch, capsys
):
    """`models/typo` looks like a hub id (org/name), but `models/` is here: a local typo."""
    from training.loading import is_local

    monkeypatch.chdir(tmp_path)
    (tmp_path / "models").mkdir()
    assert is_local("models/typo") and not is_local("TinyLlama/TinyLlama-1.1B-Chat-v1.0")
    doc = _doc(tmp_path)
    doc["model"]["path"] = "models/typo"
    cfg = _write(tmp_path, doc)
    _expect_refusal(
        ["sweep", str(cfg)], "model.path 'models/typo': no such directory", tmp_path, capsys
    )


def test_a_full_disk_is_exit_4_naming_it_and_how_to_continue(tmp_path, monkeypatch, capsys):
    """Out of space (or memory, a read-only folder) is one line naming what and where, exit
    4; for a sweep, with the command that continues it once there is room."""
    import errno

    import sweeps.cli
    import sweeps.run.launch

    monkeypatch.chdir(tmp_path)
    full = OSError(errno.ENOSPC, "No space left on device", str(tmp_path / "outbox"))

    def launch(*args, **kwargs):  # the error reaches the CLI wrapped, as Ray's are
        try:
            raise full
        except OSError as exc:
            raise RuntimeError("a wrapper") from exc

    monkeypatch.setattr(sweeps.run.launch, "launch", launch)
    cfg = _write(tmp_path, {"name": "full", "model": {"path": "m"}})
    assert main(["sweep", str(cfg)]) == 4
    assert capsys.readouterr().err.strip() == (
        f"sweeplab sweep: out of disk space: {tmp_path / 'outbox'}; once there is room, "
        "`sweeplab resume full --retry-failed` continues it"
    )

    def no_memory(*args, **kwargs):
        raise MemoryError

    monkeypatch.setattr(sweeps.run.launch, "launch", no_memory)
    assert main(["sweep", str(cfg)]) == 4
    assert capsys.readouterr().err.strip().startswith("sweeplab sweep: out of memory; once")

    def report(*args, **kwargs):
        raise PermissionError(errno.EACCES, "Permission denied", "/ro/reports")

    monkeypatch.setitem(sweeps.cli.COMMANDS, "report", report)
    assert main(["report", "full"]) == 4
    assert capsys.readouterr().err.strip() == (
        "sweeplab report: permission denied (a read-only folder?): /ro/reports"
    )
