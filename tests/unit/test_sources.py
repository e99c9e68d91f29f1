"""Declared data sources: config, column mapping, mixing, eval sets; the three datasets'
behaviour unchanged when none is declared."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml

from sweeps.config import ConfigError, SweepConfig, load_config
from tests.helpers import write_jsonl
from training.config import Columns, DataConfig, EvalSizes, MixConfig
from training.loading import DataError, load_source
from training.mixing import build_mixture, manifest, plan_phases, source_counts
from training.prepare import prepare_data

COLUMNS = {"instruction": "q", "response": "a", "system": "sys", "category": "kind"}


def structured_rows(n: int) -> list[dict]:
    return [
        {"q": f"Label item {i}.", "a": "even" if i % 2 == 0 else "odd", "sys": "One word.",
         "kind": "classify", "extra": i}
        for i in range(n)
    ]  # fmt: skip


def _doc(tiny_data, path: Path, **extra) -> dict:
    doc = {
        "name": "t",
        "model": {"path": "m"},
        "data": {k: str(v) for k, v in tiny_data.items()}
        | {
            "eval_size": {"alpaca": 8, "dolly": 6, "openorca": 6},
            "sources": {"structured": {"path": str(path), "columns": COLUMNS, "eval_size": 5}},
        },
        "train": {"num_examples": 20, "max_steps": 4, "batch_size": 2, "report_every": 2},
    }
    return doc | extra


@pytest.fixture
def declared(tiny_data, tmp_path) -> tuple[dict, Path]:
    path = write_jsonl(tmp_path / "structured.jsonl", structured_rows(30))
    return _doc(tiny_data, path), path


def _load(tmp_path: Path, doc: dict, *overrides: str) -> SweepConfig:
    p = tmp_path / "c.yaml"
    p.write_text(yaml.safe_dump(doc), encoding="utf-8")
    return load_config(p, list(overrides))


def test_a_declared_source_is_mixed_searched_and_an_objective(tmp_path, declared):
    doc, _ = declared
    doc["search"] = {
        "space": {"mix.structured": {"choice": [0.0, 0.25]}},
        "objective": "structured/meteor",
    }
    cfg = _load(tmp_path, doc, "mix.openorca=0.1")
    assert cfg.data.names() == ("alpaca", "dolly", "openorca", "structured")
    assert cfg.data.eval_count("structured") == 5 and cfg.data.eval_count("dolly") == 6
    assert cfg.mix.shares() == {"openorca": 0.1, "dolly": 0.0, "structured": 0.0}
    trial = cfg.trial({"mix.structured": 0.25})
    assert trial.mix.shares()["structured"] == 0.25
    assert trial.mix.alpaca == pytest.approx(0.65)
    assert trial.flat_params()["mix.structured"] == 0.25
    assert trial.flat_params()["data.sources.structured.columns.instruction"] == "q"
    # --set reaches a declared source's share like any other setting.
    assert _load(tmp_path, doc, "mix.structured=0.3").mix.shares()["structured"] == 0.3


@pytest.mark.parametrize(
    ("change", "fragment"),
    [
        ({"mix": {"tables": 0.1}}, "mix.tables: no data source named 'tables'"),
        ({"mix": {"alpaca": 0.5}}, "mix.alpaca cannot be set: Alpaca is the rest"),
        ({"mix": {"structured": 1.5}}, "mix.structured must be a share between 0 and 1"),
        ({"mix": {"structured": "lots"}}, "mix.structured must be a share between 0 and 1"),
        (
            {"mix": {"structured": 0.5, "openorca": 0.5}},
            "mix.openorca + mix.dolly + mix.structured must be < 1",
        ),
        ({"search": {"objective": "tables/meteor"}}, "unknown objective 'tables/meteor'"),
    ],
)
def test_bad_mix_or_objective_is_one_line(tmp_path, declared, change, fragment):
    doc, _ = declared
    with pytest.raises(ConfigError, match=fragment.replace("+", r"\+")) as exc:
        _load(tmp_path, doc | change)
    assert "\n" not in str(exc.value)


@pytest.mark.parametrize("name", ["alpaca", "Bad-Name", "9lives"])
def test_a_source_name_is_lowercase_and_not_a_dataset(tmp_path, declared, name):
    doc, path = declared
    doc["data"]["sources"] = {name: {"path": str(path), "columns": COLUMNS}}
    with pytest.raises(ConfigError, match=f"data.sources.{name}: a source name is lowercase"):
        _load(tmp_path, doc)


def test_missing_columns_are_config_errors(tmp_path, declared):
    doc, path = declared
    doc["data"]["sources"]["structured"]["columns"] = {"instruction": "q"}
    with pytest.raises(ConfigError, match="columns.response: Field required"):
        _load(tmp_path, doc)


def test_three_source_configs_dump_as_before(tiny_data):
    # No declared source: no `sources` key, no extra mix key: same params, records, checkpoints.
    data = DataConfig(**{k: str(v) for k, v in tiny_data.items()})
    assert "sources" not in data.model_dump(mode="json")
    assert MixConfig(openorca=0.1).model_dump() == {"openorca": 0.1, "dolly": 0.0}
    assert MixConfig(openorca=0.1, dolly=0.2).alpaca == 1.0 - 0.1 - 0.2


def test_column_mapping_reads_a_declared_source(tmp_path):
    path = write_jsonl(tmp_path / "s.jsonl", structured_rows(4))
    cols = Columns(**COLUMNS, id="extra")
    examples, report = load_source("structured", str(path), columns=cols)
    assert report.rows == 4 and report.skipped == 0
    ex = examples[1]
    assert (ex.id, ex.source, ex.instruction, ex.response) == (
        "1",
        "structured",
        "Label item 1.",
        "odd",
    )
    assert (ex.system, ex.category, ex.input) == ("One word.", "classify", "")
    # Without an id column, ids are `<source>-<row>`.
    examples, _ = load_source("structured", str(path), columns=Columns(**COLUMNS))
    assert [e.id for e in examples[:2]] == ["structured-0", "structured-1"]


def test_column_mapping_errors_name_the_column_or_row(tmp_path):
    path = write_jsonl(tmp_path / "s.jsonl", structured_rows(4))
    with pytest.raises(DataError, match=r"missing required column\(s\) answer for structured"):
        load_source("structured", str(path), columns=Columns(instruction="q", response="answer"))
    rows = structured_rows(4)
    rows[2]["a"] = "  "
    bad = write_jsonl(tmp_path / "bad.jsonl", rows)
    with pytest.raises(DataError, match="row 2 is malformed for structured"):
        load_source("structured", str(bad), columns=Columns(**COLUMNS))
    examples, report = load_source(
        "structured", str(bad), skip_malformed=True, columns=Columns(**COLUMNS)
    )
    assert len(examples) == 3 and report.skipped == 1


def _data_config(tiny_data, path: Path) -> DataConfig:
    return DataConfig(
        **{k: str(v) for k, v in tiny_data.items()},
        eval_size=EvalSizes(alpaca=8, dolly=6, openorca=6),
        sources={"structured": {"path": str(path), "columns": COLUMNS, "eval_size": 5}},
    )


def test_declared_source_gets_its_eval_set_and_pool(tiny_data, declared):
    _, path = declared
    data = prepare_data(_data_config(tiny_data, path))
    assert list(data.eval_sets) == ["alpaca", "dolly", "openorca", "structured"]
    assert len(data.eval_sets["structured"]) == 5 and len(data.pools["structured"]) == 25
    held = {e.content_hash for e in data.eval_sets["structured"]}
    assert not held & {e.content_hash for e in data.pools["structured"]}
    assert data.stats["structured"].rows == 30


def test_mixing_a_declared_source(tiny_data, declared):
    _, path = declared
    data = prepare_data(_data_config(tiny_data, path))
    mix = MixConfig(openorca=0.2, structured=0.3)
    assert source_counts(30, mix) == {"alpaca": 15, "dolly": 0, "openorca": 6, "structured": 9}
    rows = build_mixture(data.pools, mix, 30, seed=3)
    assert sum(r.source == "structured" for r in rows) == 9
    # A declared source at share 0 leaves the three-source mixture exactly as it was.
    plain = build_mixture(data.pools, MixConfig(openorca=0.2), 30, seed=3)
    zero = build_mixture(data.pools, MixConfig(openorca=0.2, structured=0.0), 30, seed=3)
    assert [r.id for r in plain] == [r.id for r in zero]
    # Changing the structured share leaves the OpenOrca draw as it was.
    assert {r.id for r in rows if r.source == "openorca"} == {
        r.id for r in plain if r.source == "openorca"
    }
    phases = plan_phases(data.pools, mix, "two_phase", 30, 10, 0.5, seed=3)
    per_phase = [p["rows_per_source"] for p in manifest(phases)["phases"]]
    assert per_phase == [{"alpaca": 30}, {"alpaca": 15, "openorca": 6, "structured": 9}]
    with pytest.raises(
        ValueError, match="needs 27 structured training rows .* lower mix.structured"
    ):
        build_mixture(data.pools, MixConfig(structured=0.9), 30, seed=0)


def test_the_demo_scale_config_declares_the_structured_source():
    from tests.helpers import ROOT

    cfg = load_config(ROOT / "configs" / "demo-scale.yaml")
    assert cfg.data.columns("structured").response == "target"
    assert set(cfg.search.space["model.path"].choice) == {
        "models/demo-llama",
        "models/demo-llama-mini",
    }
    assert json.loads(cfg.model_dump_json())["mix"]["structured"] == 0.0
