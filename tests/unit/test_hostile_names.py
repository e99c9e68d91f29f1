"""Hostile names through every command that takes one: exit 2, one line naming the key and
saying why, nothing created (no store, no Ray folder, no report folder).

The names come through `sweep --name`, `--set name=`, a config's `name:` (and the
promotion's `model_name:`/`alias:`), and the SWEEP (and `@ALIAS`, `--alias`) of `resume`,
`confirm`, `report`, `promote` and `serve`.
"""

from __future__ import annotations

import pytest
import yaml

from sweeps.cli import main
from sweeps.names import check_name, name_problem

HOSTILE = {
    "parent": ("../escape", "climbs out of its folder ('..')"),
    "slash": ("a/b", "contains a path separator"),
    "absolute": ("/tmp/abs", "is an absolute path"),
    "long": ("x" * 300, "is 300 characters long (at most 100)"),
    "newline": ("a\nb", "contains a control character"),
    "dot": (".hidden", "starts with '.'"),
    "dash": ("-dash", "starts with '-'"),
    "empty": ("", "is empty"),
    "space": ("a b", "contains ' '"),
}


def _config(tmp_path, **top) -> str:
    doc = {"name": "ok", "model": {"path": str(tmp_path / "no-model")}} | top
    path = tmp_path / "c.yaml"
    path.write_text(yaml.safe_dump(doc))
    return str(path)


def _commands(tmp_path, name: str) -> dict[str, tuple[list[str], str]]:
    """Each way a name reaches sweeplab: argv and the key the error line must name."""
    cfg = _config(tmp_path)
    cases = {
        "sweep --name": (["sweep", cfg, f"--name={name}"], "--name: "),
        "resume": (["resume", "--", name], "SWEEP: "),
        "confirm": (["confirm", "--", name], "SWEEP: "),
        "report": (["report", "--", name], "SWEEP: "),
        "promote": (["promote", "--", name], "SWEEP: "),
        "promote --alias": (["promote", "ok", f"--alias={name}"], "--alias: "),
        "serve": (["serve", "--", name], "SWEEP: "),
        "serve @alias": (["serve", f"ok@{name}"], "ALIAS: "),
    }
    if "\n" not in name and name:  # a YAML scalar on the command line: no newline to pass
        cases["sweep --set name="] = (["sweep", cfg, "--set", f"name={name}"], f"{cfg}: name: ")
    for key in ("name", "promotion"):
        value = {"alias": name} if key == "promotion" else name
        path = tmp_path / f"{key}.yaml"
        path.write_text(yaml.safe_dump({"name": "ok", "model": {"path": "m"}, key: value}))
        where = "promotion.alias: " if key == "promotion" else "name: "
        for command in ("sweep", "validate", "data"):
            cases[f"{command} config {key}"] = ([command, str(path)], f"{path}: {where}")
    return cases


@pytest.mark.parametrize("case", sorted(HOSTILE))
def test_a_hostile_name_is_one_line_naming_the_key(case, tmp_path, monkeypatch, capsys):
    name, why = HOSTILE[case]
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    for label, (argv, key) in _commands(tmp_path, name).items():
        before = sorted(p.name for p in tmp_path.iterdir())
        rc = main(argv)
        err = capsys.readouterr().err.strip()
        assert rc == 2, (label, err)
        assert err.count("\n") == 0 and "Traceback" not in err, (label, err)
        assert f"error: {key}" in err and why in err, (label, err)
        assert "validation error for" not in err, (label, err)
        assert len(err) < 300, (label, err)  # the 300-character name is shown cut
        assert sorted(p.name for p in tmp_path.iterdir()) == before, label  # nothing created


@pytest.mark.parametrize("name", ["itest", "s3sweep", "a.b-c_d", "X" * 100, "0day"])
def test_ordinary_names_pass(name):
    assert name_problem(name) is None
    assert check_name(name, "SWEEP") == name


def test_the_registered_model_name_is_checked_too(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    path = _config(tmp_path, promotion={"model_name": "../../registry"})
    assert main(["validate", path]) == 2
    err = capsys.readouterr().err
    assert "promotion.model_name: climbs out of its folder" in err, err
