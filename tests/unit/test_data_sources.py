"""The real datasets as their users expect: a seeded uniform sample, OpenOrca's GPT-4 subset,
pinned revisions through the hub path, and the prepared data cached under a content key."""

import json
import os

import pytest

from sweeps.cli import main
from tests.helpers import ORCA_COLLECTIONS, config_yaml, write_jsonl, write_published
from training import data_cache
from training.config import DataConfig, EvalSizes, Revisions
from training.loading import DataError, load_source, sample_indices
from training.prepare import prepare_data

HUB_IDS = {
    "alpaca": "tatsu-lab/alpaca",
    "dolly": "databricks/databricks-dolly-15k",
    "openorca": "Open-Orca/OpenOrca",
}


def _row(ex) -> int:
    return int(ex.id.rsplit(".", 1)[-1].rsplit("-", 1)[-1])


def test_max_rows_is_a_seeded_uniform_sample_not_the_first_rows(tmp_path):
    files = write_published(tmp_path, alpaca=300, dolly=300, openorca=1000)
    for source, path in files.items():
        examples, rep = load_source(source, str(path), max_rows=100, seed=0)
        rows = [_row(ex) for ex in examples]
        assert (rep.rows, rep.available, len(rows)) == (
            100,
            300 if source != "openorca" else 1000,
            100,
        )
        assert rows == sorted(rows) and len(set(rows)) == 100  # file order, no repeats
        assert rows != list(range(100)) and max(rows) > rep.available * 0.8  # spans the file
        assert rows == sample_indices(rep.available, 100, 0)
        again = [_row(ex) for ex in load_source(source, str(path), max_rows=100, seed=0)[0]]
        other = [_row(ex) for ex in load_source(source, str(path), max_rows=100, seed=1)[0]]
        assert again == rows and other != rows
    # Uniform: each tenth of OpenOrca holds about a tenth of the sample.
    orca, _ = load_source("openorca", str(files["openorca"]), max_rows=500, seed=3)
    tenths = [sum(_row(e) // 100 == t for e in orca) for t in range(10)]
    assert min(tenths) >= 30 and max(tenths) <= 70
    assert sample_indices(10, 10, 0) is None and sample_indices(10, None, 0) is None


def test_the_sample_reads_the_right_rows_of_each_layout(tmp_path):
    files = write_published(tmp_path, alpaca=50, dolly=50, openorca=200)
    alpaca, _ = load_source("alpaca", str(files["alpaca"]), max_rows=7, seed=5)
    for ex in alpaca:  # the text read is the row's own (row i says "variant i")
        assert ex.id == f"alpaca-{_row(ex)}" and f"variant {_row(ex)}." in ex.instruction
    dolly, _ = load_source("dolly", str(files["dolly"]), max_rows=7, seed=5)
    assert all(f"case {_row(ex)}?" in ex.instruction for ex in dolly)
    orca, rep = load_source("openorca", str(files["openorca"]), max_rows=70, seed=5)
    assert all(f"sentence {_row(ex)} " in ex.instruction for ex in orca)  # across row groups
    # JSON lines with blank lines and a bad line outside the sample: never parsed.
    path = write_jsonl(
        tmp_path / "d.jsonl", [{"instruction": f"q{i}", "response": "r"} for i in range(20)]
    )
    lines = path.read_text().splitlines()
    wanted = sample_indices(21, 5, 0)
    bad = next(i for i in range(21) if i not in wanted)
    lines.insert(bad, "{oops")
    path.write_text("\n\n".join(lines) + "\n")
    examples, rep = load_source("dolly", str(path), max_rows=5, seed=0)
    assert (rep.rows, rep.available, rep.skipped) == (5, 21, 0)


def test_openorca_gpt4_subset_of_a_directory(tmp_path):
    files = write_published(tmp_path / "orca", alpaca=1, dolly=1, openorca=40, gpt35=30)
    files["alpaca"].unlink(), files["dolly"].unlink()  # OpenOrca's two published files remain
    both, _ = load_source(
        "openorca", str(tmp_path / "orca"), files=DataConfig().data_files("openorca")
    )
    assert DataConfig(openorca_subset="gpt4").data_files("openorca") == (
        "1M-GPT4-Augmented.parquet",
    )
    gpt4, _ = load_source(
        "openorca",
        str(tmp_path / "orca"),
        files=DataConfig(openorca_subset="gpt4").data_files("openorca"),
    )
    assert len(both) == 70 and len(gpt4) == 40
    assert all("[gpt4]" in ex.instruction for ex in gpt4)
    (tmp_path / "orca" / "1M-GPT4-Augmented.parquet").unlink()
    with pytest.raises(DataError, match="no 1M-GPT4-Augmented.parquet in this directory"):
        load_source("openorca", str(tmp_path / "orca"), files=("1M-GPT4-Augmented.parquet",))


@pytest.fixture
def hub(tmp_path, monkeypatch):
    """`datasets.load_dataset` of the three hub ids, answered offline from local folders in
    the published layouts (the real `datasets` code reads them); records each call."""
    import datasets

    real = datasets.load_dataset
    folder = tmp_path / "hub"
    write_published(folder / "files", alpaca=120, dolly=90, openorca=400, gpt35=100)
    owner = {"alpaca_data.json": "alpaca", "databricks-dolly-15k.jsonl": "dolly"}
    for file in sorted((folder / "files").iterdir()):  # each file into its repo's folder
        repo = folder / HUB_IDS[owner.get(file.name, "openorca")]
        repo.mkdir(parents=True, exist_ok=True)
        os.replace(file, repo / file.name)
    calls = []

    def load_dataset(path, **kwargs):
        calls.append((path, kwargs))
        assert path in HUB_IDS.values(), path
        return real(str(folder / path), cache_dir=str(tmp_path / "hf-cache"), **kwargs)

    monkeypatch.setattr(datasets, "load_dataset", load_dataset)
    return {"folder": folder, "calls": calls}


def test_hub_ids_load_the_split_whole_then_the_same_sample(hub):
    examples, rep = load_source(
        "openorca",
        "Open-Orca/OpenOrca",
        max_rows=50,
        seed=2,
        revision="0123abcd",
        files=("1M-GPT4-Augmented.parquet",),
    )
    path, kwargs = hub["calls"][-1]
    assert path == "Open-Orca/OpenOrca" and kwargs["revision"] == "0123abcd"
    assert kwargs["data_files"] == ["1M-GPT4-Augmented.parquet"] and "streaming" not in kwargs
    assert (rep.rows, rep.available) == (50, 400)
    local, _ = load_source(
        "openorca",
        str(hub["folder"] / "Open-Orca/OpenOrca/1M-GPT4-Augmented.parquet"),
        max_rows=50,
        seed=2,
    )
    assert [e.id for e in examples] == [e.id for e in local]  # hub or file: the same rows
    assert examples == local
    everything, rep = load_source("openorca", "Open-Orca/OpenOrca")
    assert rep.rows == 500 and sum("[gpt35]" in e.instruction for e in everything) == 100
    alpaca, _ = load_source("alpaca", "tatsu-lab/alpaca", max_rows=30)
    dolly, _ = load_source("dolly", "databricks/databricks-dolly-15k")
    assert len(alpaca) == 30 and len(dolly) == 90 and dolly[1].input.startswith("Virgin")


def _hub_cfg(**extra) -> DataConfig:
    settings = {
        "openorca_subset": "gpt4",
        "max_rows": 80,
        "eval_size": EvalSizes(alpaca=10, dolly=10, openorca=10),
        "skip_malformed": True,
    }
    return DataConfig(**(settings | extra))


def test_two_preparations_read_the_sources_once(hub, tmp_path, monkeypatch):
    cache = tmp_path / "runs" / "data_cache"
    cfg = _hub_cfg(revisions=Revisions(openorca="0123abcd"))
    first = prepare_data(cfg, cache)
    assert not first.from_cache and len(hub["calls"]) == 3
    sampled = [ORCA_COLLECTIONS[i % 4] for i in sample_indices(400, 80, 0)]  # row i's prefix
    assert first.stats["openorca"].collections == {c: sampled.count(c) for c in sorted(sampled)}
    assert first.stats["openorca"].collections == {"cot": 21, "flan": 18, "niv": 15, "t0": 26}
    assert first.stats["openorca"].available == 400 and first.stats["alpaca"].rows == 80
    # Given the same settings, when prepared again: nothing is read, the same data comes back.
    monkeypatch.setattr("training.prepare.load_source", pytest.fail)
    second = prepare_data(cfg, cache)
    assert second.from_cache and second.cache_key == first.cache_key and len(hub["calls"]) == 3
    assert second.pools == first.pools and second.eval_sets == first.eval_sets
    assert second.stats == first.stats
    assert [p.name for p in cache.iterdir()] == [f"{first.cache_key}.parquet"]
    # What the rows depend on is in the key; what they do not depend on is not.
    keys = {
        data_cache.cache_key(c)
        for c in (
            cfg,
            _hub_cfg(revisions=Revisions(openorca="4567ef")),
            _hub_cfg(revisions=Revisions(openorca="0123abcd"), sample_seed=1),
            _hub_cfg(revisions=Revisions(openorca="0123abcd"), split_seed=1),
            _hub_cfg(revisions=Revisions(openorca="0123abcd"), max_rows=81),
            _hub_cfg(revisions=Revisions(openorca="0123abcd"), openorca_subset="all"),
        )
    }
    assert len(keys) == 6
    assert data_cache.cache_key(cfg) == data_cache.cache_key(DataConfig(**cfg.model_dump()))


def test_a_local_file_changed_or_an_unreadable_entry_is_a_miss(tmp_path, monkeypatch):
    files = write_published(tmp_path / "d", alpaca=60, dolly=40, openorca=60)
    cfg = DataConfig(
        **{s: str(p) for s, p in files.items()},
        eval_size=EvalSizes(alpaca=5, dolly=5, openorca=5),
    )
    cache = tmp_path / "cache"
    first = prepare_data(cfg, cache)
    entry = data_cache.entry_path(cache, first.cache_key)
    entry.write_bytes(entry.read_bytes()[:100])  # torn
    assert not prepare_data(cfg, cache).from_cache  # read again, and stored again
    assert prepare_data(cfg, cache).from_cache
    stat = files["dolly"].stat()
    os.utime(files["dolly"], ns=(stat.st_atime_ns, stat.st_mtime_ns + 10**9))
    assert data_cache.cache_key(cfg) != first.cache_key
    assert not prepare_data(cfg, cache).from_cache
    assert prepare_data(cfg).cache_key == ""  # no cache folder: nothing cached


def test_cli_data_twice_reads_once_and_shows_the_sample(tmp_path, capsys, monkeypatch):
    monkeypatch.chdir(tmp_path)
    files = write_published(tmp_path / "d", alpaca=200, dolly=100, openorca=400)
    cfg = config_yaml(tmp_path, {**files, "max_rows": 90, "openorca_subset": "gpt4"})
    assert main(["data", str(cfg), "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["openorca"]["available"] == 400 and out["openorca"]["rows"] == 90
    assert sum(out["openorca"]["collections"].values()) == 90
    assert main(["data", str(cfg)]) == 0
    text = capsys.readouterr().out
    assert "openorca: a uniform sample of 90 of 400 rows" in text
    assert "read from the cache" in text and "openorca sub-collections: cot" in text
    assert len(list((tmp_path / "runs" / "data_cache").iterdir())) == 1
