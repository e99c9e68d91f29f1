from pathlib import Path

import pytest
import yaml

from sweeps.config import ConfigError, load_config
from tests.helpers import ROOT

SHIPPED = sorted((ROOT / "configs").glob("*.yaml"))


def test_configs_are_shipped():
    assert {p.name for p in SHIPPED} >= {"demo.yaml", "tinyllama.yaml"}


@pytest.mark.parametrize("path", SHIPPED, ids=lambda p: p.name)
def test_every_shipped_config_validates(path: Path):
    cfg = load_config(path)
    # Every searched value and every seeded point builds a valid trial config.
    for point in cfg.search.points_to_evaluate:
        assert cfg.trial(point).lora.r in (16, 32)
    assert {"lora.r", "mix.openorca", "mix.dolly", "curriculum"} <= set(cfg.search.space)


def test_demo_config_values():
    cfg = load_config(ROOT / "configs" / "demo.yaml")
    assert cfg.search.resources.gpu == 0 and cfg.search.max_concurrent == 2
    tiny = load_config(ROOT / "configs" / "tinyllama.yaml")
    assert tiny.data.eval_size.alpaca == 198 and tiny.data.eval_size.openorca == 111
    assert tiny.search.resources.gpu == 1


def _write(tmp_path: Path, text: str) -> Path:
    p = tmp_path / "c.yaml"
    p.write_text(text, encoding="utf-8")
    return p


GOOD = {"name": "t", "model": {"path": "m"}}


@pytest.mark.parametrize(
    ("text", "fragment"),
    [
        ("", "empty config"),
        ("name: [unclosed", "not valid YAML"),
        ("- a\n- b\n", "expected a mapping"),
        (yaml.safe_dump({**GOOD, "bogus": 1}), "bogus: Extra inputs are not permitted"),
        (yaml.safe_dump({**GOOD, "lora": {"r": 0}}), "lora.r: Input should be greater"),
        (yaml.safe_dump({**GOOD, "lora": {"r": "big"}}), "lora.r: Input should be a valid integer"),
        (yaml.safe_dump({**GOOD, "mix": {"openorca": 1.5}}), "mix.openorca"),
        (yaml.safe_dump({**GOOD, "mix": {"openorca": 0.6, "dolly": 0.5}}), "must be < 1"),
        (yaml.safe_dump({"model": {"path": "m"}}), "name: Field required"),
        (
            yaml.safe_dump({**GOOD, "search": {"space": {"lora.rank": {"choice": [8]}}}}),
            "unknown key 'lora.rank'",
        ),
        (
            yaml.safe_dump({**GOOD, "search": {"space": {"lora.r": {"choice": [0, 8]}}}}),
            "search.space.lora.r=0",
        ),
        (yaml.safe_dump({**GOOD, "search": {"objective": "acc"}}), "unknown objective"),
        (yaml.safe_dump({**GOOD, "train": {"max_steps": 10, "report_every": 20}}), "report_every"),
    ],
)
def test_bad_configs_give_one_line(tmp_path, text, fragment):
    with pytest.raises(ConfigError) as err:
        load_config(_write(tmp_path, text))
    message = str(err.value)
    assert fragment in message
    assert "\n" not in message
    assert str(tmp_path / "c.yaml") in message


def test_missing_file(tmp_path):
    with pytest.raises(ConfigError, match="no such config file"):
        load_config(tmp_path / "nope.yaml")


def test_overrides_apply_and_are_checked(tmp_path):
    path = _write(tmp_path, yaml.safe_dump(GOOD))
    cfg = load_config(path, ["mix.openorca=0.2", "lora.target_modules=[q_proj]", "data.alpaca=x"])
    assert cfg.mix.openorca == 0.2 and cfg.mix.alpaca == pytest.approx(0.8)
    assert cfg.lora.target_modules == ("q_proj",)
    assert cfg.data.alpaca == "x"
    with pytest.raises(ConfigError, match="unknown key 'lora.rnk'"):
        load_config(path, ["lora.rnk=3"])
    with pytest.raises(ConfigError, match="expected key=value"):
        load_config(path, ["lora.r"])
    # A required key can come from the command line alone.
    bare = _write(tmp_path, yaml.safe_dump({"model": {"path": "m"}}))
    assert load_config(bare, ["name=from-cli"]).name == "from-cli"


def test_configs_are_frozen():
    cfg = load_config(ROOT / "configs" / "demo.yaml")
    with pytest.raises(Exception):  # noqa: B017 - pydantic raises ValidationError
        cfg.lora.r = 64  # type: ignore[misc]


def test_trial_overrides_searched_values():
    cfg = load_config(ROOT / "configs" / "demo.yaml")
    trial = cfg.trial({"lora.r": 32, "mix.openorca": 0.2, "curriculum": "two_phase"})
    assert (trial.lora.r, trial.mix.openorca, trial.curriculum) == (32, 0.2, "two_phase")
    params = trial.flat_params()
    assert params["lora_r"] == 32 and params["mix.openorca"] == 0.2
    assert params["curriculum"] == "two_phase"
