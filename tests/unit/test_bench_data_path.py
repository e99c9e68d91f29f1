"""bench.data_path writes the three published layouts the loaders read, at any size."""

from bench.data_path import write_files
from training.loading import load_source


def test_bench_files_are_the_published_layouts(tmp_path):
    files = write_files(tmp_path, {"alpaca": 30, "dolly": 20, "openorca": 120})
    assert [f.name for f in files.values()] == [
        "alpaca_data.json",
        "databricks-dolly-15k.jsonl",
        "1M-GPT4-Augmented.parquet",
    ]
    assert files["alpaca"].read_text().startswith("[\n    {")  # one JSON array, 4-space indent
    counts = {s: len(load_source(s, str(f))[0]) for s, f in files.items()}
    assert counts == {"alpaca": 30, "dolly": 20, "openorca": 120}
    orca, _ = load_source("openorca", str(files["openorca"]))
    assert {e.category for e in orca} == {"niv", "flan", "t0", "cot"}
    assert 500 < sum(len(e.instruction) for e in orca) / len(orca) < 1000  # ~700 characters
    assert write_files(tmp_path, {"alpaca": 30, "dolly": 20, "openorca": 120}) == files
