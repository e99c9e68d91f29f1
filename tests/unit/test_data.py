import json

import pytest

from sweeps.cli import main
from tests.helpers import (
    alpaca_rows,
    config_yaml,
    dolly_rows,
    orca_rows,
    write_alpaca,
    write_jsonl,
    write_parquet,
)
from training.config import DataConfig, EvalSizes, MixConfig
from training.loading import DataError, load_source
from training.mixing import assert_disjoint, build_mixture, manifest, plan_phases, source_counts
from training.prepare import prepare_data
from training.splits import drop_duplicates, held_out_split


def test_loaders_read_the_published_layouts(tiny_data):
    alpaca, rep = load_source("alpaca", str(tiny_data["alpaca"]))
    assert rep.rows == 66 and rep.skipped == 0 and len(alpaca) == 66
    assert alpaca[1].input == "" and alpaca[0].input == "n=0" and alpaca[0].system == ""
    dolly, _ = load_source("dolly", str(tiny_data["dolly"]))
    assert dolly[3].input == "Item 3 is a red box." and dolly[3].category == "closed_qa"
    orca, _ = load_source("openorca", str(tiny_data["openorca"]))
    assert orca[0].id == "niv.1000" and orca[0].category == "niv"
    assert orca[0].system.startswith("Answer with a single label")


def test_alpaca_as_jsonl_and_parquet_and_directory(tmp_path):
    rows = alpaca_rows(5)
    write_jsonl(tmp_path / "a.jsonl", rows)
    (tmp_path / "pq").mkdir()
    write_parquet(tmp_path / "pq" / "train-00000.parquet", rows)
    write_parquet(tmp_path / "pq" / "train-00001.parquet", rows)
    assert len(load_source("alpaca", str(tmp_path / "a.jsonl"))[0]) == 5
    assert len(load_source("alpaca", str(tmp_path / "pq"))[0]) == 10


def test_malformed_rows_are_counted_or_refused(tmp_path):
    rows = alpaca_rows(5) + [{"instruction": "x", "input": "", "output": ""}, {"input": "y"}, 7]
    path = write_alpaca(tmp_path / "a.json", rows)
    examples, rep = load_source("alpaca", str(path), skip_malformed=True)
    assert (len(examples), rep.rows, rep.skipped) == (5, 8, 3)
    with pytest.raises(DataError, match=r"row 5 is malformed"):
        load_source("alpaca", str(path))  # refused unless the config allows skipping
    lines = write_jsonl(tmp_path / "a.jsonl", alpaca_rows(3))
    lines.write_text(lines.read_text() + "{oops\n" + json.dumps(alpaca_rows(4)[3]) + "\n")
    with pytest.raises(DataError, match=r"a.jsonl: line 4 is not valid JSON"):
        load_source("alpaca", str(lines))
    examples, rep = load_source("alpaca", str(lines), skip_malformed=True)
    assert (len(examples), rep.rows, rep.skipped) == (4, 5, 1)


@pytest.mark.parametrize(
    ("content", "fragment"),
    [
        ('[{"instruction": "a", "output": "b"', "not valid JSON"),
        ('{"instruction": "a", "output": "b"}\n{oops\n', "line 2 is not valid JSON"),
        ('[{"question": "a", "answer": "b"}]', "missing required column(s) instruction, output"),
    ],
)
def test_bad_files_name_the_problem(tmp_path, content, fragment):
    path = tmp_path / "bad.json"
    path.write_text(content, encoding="utf-8")
    with pytest.raises(DataError) as err:
        load_source("alpaca", str(path))
    assert fragment in str(err.value) and str(path) in str(err.value)


def test_missing_and_unsupported_files(tmp_path):
    with pytest.raises(DataError, match="no such file"):
        load_source("dolly", str(tmp_path / "nope.jsonl"))
    (tmp_path / "x.csv").write_text("a,b\n")
    with pytest.raises(DataError, match="unsupported file type"):
        load_source("dolly", str(tmp_path / "x.csv"))
    (tmp_path / "bad.parquet").write_bytes(b"not parquet")
    with pytest.raises(DataError, match="not a readable parquet"):
        load_source("openorca", str(tmp_path / "bad.parquet"))


def test_duplicates_dropped_before_a_deterministic_split(tiny_data):
    examples, _ = load_source("alpaca", str(tiny_data["alpaca"]))
    unique, dups = drop_duplicates(examples)
    assert (len(unique), dups) == (60, 6)
    train, held = held_out_split(unique, 10, seed=0, source="alpaca")
    again_train, again_held = held_out_split(list(reversed(unique)), 10, seed=0, source="alpaca")
    assert [e.id for e in held] == [e.id for e in again_held]  # order of rows does not matter
    assert {e.content_hash for e in train}.isdisjoint({e.content_hash for e in held})
    assert len(train) == 50 and len(again_train) == 50
    other = held_out_split(unique, 10, seed=1, source="alpaca")[1]
    assert {e.id for e in other} != {e.id for e in held}
    with pytest.raises(ValueError, match="eval_size.alpaca=60 but only 60 unique"):
        held_out_split(unique, 60, seed=0, source="alpaca")


def _prepared(tiny_data):
    return prepare_data(
        DataConfig(
            alpaca=str(tiny_data["alpaca"]),
            dolly=str(tiny_data["dolly"]),
            openorca=str(tiny_data["openorca"]),
            eval_size=EvalSizes(alpaca=8, dolly=6, openorca=6),
        )
    )


def test_mixture_shares_and_determinism(tiny_data):
    data = _prepared(tiny_data)
    mix = MixConfig(openorca=0.2, dolly=0.1)
    assert source_counts(30, mix) == {"alpaca": 21, "dolly": 3, "openorca": 6}
    rows = build_mixture(data.pools, mix, 30, seed=3)
    assert [r.id for r in rows] == [r.id for r in build_mixture(data.pools, mix, 30, seed=3)]
    assert sum(r.source == "openorca" for r in rows) == 6
    assert [r.id for r in rows] != [r.id for r in build_mixture(data.pools, mix, 30, seed=4)]
    # Another OpenOrca share leaves the Dolly draw unchanged.
    other = build_mixture(data.pools, MixConfig(openorca=0.1, dolly=0.1), 30, seed=3)
    assert {r.id for r in rows if r.source == "dolly"} == {
        r.id for r in other if r.source == "dolly"
    }
    with pytest.raises(ValueError, match="needs 300 alpaca training rows"):
        build_mixture(data.pools, MixConfig(), 300, seed=0)


def test_two_phase_curriculum_expresses_the_seeds_plan(tiny_data):
    data = _prepared(tiny_data)
    seed_mix = MixConfig(openorca=0.2, dolly=0.2)  # Alpaca 60% + Dolly 20% + OpenOrca 20%
    phases = plan_phases(data.pools, seed_mix, "two_phase", 20, 10, 0.3, seed=0)
    assert [(p.name, p.steps) for p in phases] == [("alpaca", 3), ("mixture", 7)]
    assert {e.source for e in phases[0].examples} == {"alpaca"}
    counts = {
        s: sum(e.source == s for e in phases[1].examples) for s in ("alpaca", "dolly", "openorca")
    }
    assert counts == {"alpaca": 12, "dolly": 4, "openorca": 4}
    m = manifest(phases)
    assert m["phases"][1]["rows_per_source"] == counts
    assert (
        m["content_hash"]
        == manifest(plan_phases(data.pools, seed_mix, "two_phase", 20, 10, 0.3, seed=0))[
            "content_hash"
        ]
    )
    assert_disjoint(phases, data.eval_sets)
    leaked = [phases[0]] + [type(phases[1])("mixture", (data.eval_sets["dolly"][0],), 1)]
    with pytest.raises(ValueError, match="is held-out dolly example"):
        assert_disjoint(leaked, data.eval_sets)


def test_cli_data_json_counts(tmp_path, capsys, monkeypatch):
    monkeypatch.chdir(tmp_path)  # the prepared data is cached under ./runs/data_cache
    data = {
        "alpaca": write_alpaca(tmp_path / "alpaca_data.json", alpaca_rows(50, dup_every=5)),
        "dolly": write_jsonl(tmp_path / "dolly.jsonl", dolly_rows(30) + dolly_rows(3)),
        "openorca": write_parquet(
            tmp_path / "orca.parquet",
            orca_rows(25) + [{"id": "x.1", "system_prompt": "", "question": "", "response": "r"}],
        ),
    }
    cfg = config_yaml(tmp_path, data)
    assert main(["data", str(cfg), "--json"]) == 2  # a malformed OpenOrca row
    assert "orca.parquet: row 25 is malformed for openorca" in capsys.readouterr().err
    cfg = config_yaml(tmp_path, {**data, "skip_malformed": True})
    assert main(["data", str(cfg), "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["alpaca"] == {"rows": 60, "duplicates": 10, "skipped": 0, "train": 42, "eval": 8}
    assert out["dolly"] == {"rows": 33, "duplicates": 3, "skipped": 0, "train": 24, "eval": 6}
    assert out["openorca"] == {
        "rows": 26,
        "duplicates": 0,
        "skipped": 1,
        "train": 19,
        "eval": 6,
        "collections": {"niv": 25},  # the sub-collection mix of the usable rows read
    }
    assert main(["data", str(cfg), "--set", "mix.openorca=0.25"]) == 0
    text = capsys.readouterr().out
    assert "openorca 5" in text and "alpaca 15" in text


def test_cli_errors_are_one_line(tmp_path, capsys):
    cfg = config_yaml(
        tmp_path,
        {"alpaca": tmp_path / "missing.json", "dolly": tmp_path / "d", "openorca": tmp_path / "o"},
    )
    assert main(["data", str(cfg)]) == 2
    err = capsys.readouterr().err.strip()
    assert err.count("\n") == 0 and "missing.json: no such file" in err
    assert main(["validate", str(cfg), "--set", "nope=1"]) == 2
    assert "unknown key 'nope'" in capsys.readouterr().err
