"""Cluster plumbing without a cluster: storage locations and the sweep record through
pyarrow.fs (local and a non-local filesystem), custom trial resources, the nodes a trial
may land on, and the hand-off of only the pool rows a sweep's trials can draw."""

from __future__ import annotations

import pickle
import random
from pathlib import Path

import pyarrow.fs as pafs
import pytest

from sweeps.cli import main
from sweeps.config import ConfigError, SweepConfig, load_config
from sweeps.run.handoff import DrawablePool, drawable_positions, largest_draws, trial_data
from sweeps.run.plan import trial_phases
from sweeps.run.state import Place, check_continuation, record_sweep, saved_config
from sweeps.run.storage import Storage, StorageError, on_this_disk, whole_files
from training.examples import Example
from training.mixing import manifest
from training.prepare import PreparedData


def _sweep(name: str = "s", **search) -> SweepConfig:
    space = {
        "lora.r": {"choice": [16, 32]},
        "mix.openorca": {"low": 0.0, "high": 0.2},
        "mix.dolly": {"choice": [0.0, 0.1]},
        "curriculum": {"choice": ["none", "two_phase"]},
    }
    return SweepConfig.model_validate(
        {
            "name": name,
            "model": {"path": "m"},
            "train": {"num_examples": 300, "max_steps": 20, "report_every": 10},
            "search": {"space": space} | search,
        }
    )


def _data(sizes: dict[str, int]) -> PreparedData:
    pools = {
        s: [Example(f"{s}-{i}", s, f"do {s} {i}", f"done {i}") for i in range(n)]
        for s, n in sizes.items()
    }
    evals = {s: [Example(f"{s}-e", s, f"eval {s}", "x")] for s in sizes}
    return PreparedData(pools, evals, {})


def test_storage_default_relative_and_object_store(tmp_path):
    default = Storage.open(None, tmp_path)
    assert default.is_local and default.root == str(tmp_path / "runs" / "ray")
    kwargs = default.ray_kwargs()
    assert kwargs["storage_path"] == str(tmp_path / "runs" / "ray")
    assert on_this_disk(kwargs["storage_filesystem"])  # Ray writes whole files only
    assert Storage.open("shared/ray", tmp_path).root == str(tmp_path / "shared" / "ray")
    s3 = Storage.open("s3://bkt/team/?endpoint_override=127.0.0.1:9&scheme=http", tmp_path)
    assert not s3.is_local and s3.root == "bkt/team"
    assert s3.path("x", "sweeplab") == "bkt/team/x/sweeplab"
    # The query string reaches the filesystem, never Ray's paths.
    assert s3.ray_kwargs() == {"storage_path": "bkt/team", "storage_filesystem": s3.fs}
    with pytest.raises(StorageError, match="nosuch://x"):
        Storage.open("nosuch://x", tmp_path)


@pytest.mark.parametrize("local", [True, False])
def test_sweep_record_written_read_refused_and_undone(tmp_path, local):
    storage = (
        Storage.open(None, tmp_path)
        if local
        else Storage("mock://", pafs._MockFileSystem(), "bucket/prefix")
    )
    cfg = _sweep()
    assert check_continuation(cfg, storage) is False
    undo = record_sweep(cfg, storage, "sqlite:///x.db")
    assert saved_config(storage, "s") == cfg
    assert check_continuation(cfg, storage) is True
    other = _sweep(num_samples=3)
    with pytest.raises(ValueError, match="search.num_samples"):
        check_continuation(other, storage)
    undo()
    assert saved_config(storage, "s") is None and not storage.exists(storage.path("s"))
    if local:
        assert not (tmp_path / "runs").exists()  # nothing half-written left behind


def test_outbox_stays_on_the_drivers_disk(tmp_path):
    local = Place(tmp_path)
    assert local.outbox("s") == tmp_path / "runs" / "ray" / "s" / "sweeplab" / "outbox"
    remote = Place(tmp_path, "s3://b/p?endpoint_override=127.0.0.1:9&scheme=http")
    assert remote.outbox("s") == tmp_path / "runs" / "outbox" / "s"


def test_resume_with_storage_names_where_it_looked(tmp_path, capsys, monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert main(["resume", "gone", "--storage", str(tmp_path / "shared")]) == 2
    err = capsys.readouterr().err.strip()
    assert err.endswith(f"no sweep 'gone' was started here ({tmp_path / 'shared' / 'gone'})")
    assert not (tmp_path / "shared").exists()


def test_custom_resources_and_storage_key(tmp_path):
    path = tmp_path / "c.yaml"
    path.write_text("name: c\nmodel: {path: m}\nstorage: s3://b/p\n")
    cfg = load_config(path, ["search.resources.custom={worker: 1}"])
    assert cfg.storage == "s3://b/p" and cfg.search.resources.custom == {"worker": 1}
    assert "storage" not in cfg.trial_dict()
    with pytest.raises(ConfigError, match="custom.GPU"):
        load_config(path, ["search.resources.custom={GPU: 1}"])
    with pytest.raises(ConfigError, match="custom.worker"):
        load_config(path, ["search.resources.custom={worker: 0}"])


def test_trial_nodes_are_those_with_a_trials_resources(monkeypatch):
    import ray

    from sweeps.config import Resources
    from sweeps.run.cluster import task_resources, trial_nodes

    nodes = [
        {"NodeID": "h", "Alive": True, "Resources": {"CPU": 8, "head": 1}},
        {"NodeID": "w", "Alive": True, "Resources": {"CPU": 2, "GPU": 1, "worker": 2}},
        {"NodeID": "d", "Alive": False, "Resources": {"CPU": 2, "GPU": 1, "worker": 2}},
    ]
    monkeypatch.setattr(ray, "nodes", lambda: nodes)
    res = Resources(cpu=1, gpu=0, custom={"worker": 1})
    assert [n["NodeID"] for n in trial_nodes(res)] == ["w"]
    assert [n["NodeID"] for n in trial_nodes(Resources(cpu=2))] == ["h", "w"]
    assert task_resources(res) == {"num_cpus": 1, "num_gpus": 0, "resources": {"worker": 1}}


@pytest.mark.parametrize("size", [7, 40, 90, 300, 5000])
def test_drawable_positions_cover_every_smaller_draw(size):
    for k_max in sorted(k for k in {1, 5, 6, 20, 60, size // 2, size} if k <= size):
        shipped = drawable_positions(size, k_max, "3:openorca")
        for k in range(1, k_max + 1):
            drawn = random.Random("3:openorca").sample(range(size), k)
            assert set(drawn) <= shipped, (size, k_max, k)


def test_trials_draw_exactly_what_they_would_from_the_whole_pools():
    sweep = _sweep()
    data = _data({"alpaca": 5000, "dolly": 900, "openorca": 20000})
    seeds, most = largest_draws(sweep)
    assert seeds == [0] and most == {"openorca": 60, "dolly": 30, "alpaca": 300}
    handed = trial_data(sweep, data)
    assert isinstance(handed.pools["openorca"], DrawablePool)
    assert len(handed.pools["openorca"]) == 20000 and handed.eval_sets == data.eval_sets
    for point in [
        {"lora.r": 16, "mix.openorca": o, "mix.dolly": d, "curriculum": c}
        for o in (0.0, 0.013, 0.1, 0.2)
        for d in (0.0, 0.1)
        for c in ("none", "two_phase")
    ]:
        cfg = sweep.trial(point)
        assert manifest(trial_phases(cfg, handed)) == manifest(trial_phases(cfg, data)), point
    before, after = len(pickle.dumps(data)), len(pickle.dumps(handed))
    assert after < before / 20, (before, after)


def test_a_row_not_handed_over_is_refused():
    sweep = _sweep()
    handed = trial_data(sweep, _data({"alpaca": 5000, "dolly": 900, "openorca": 20000}))
    bigger = sweep.trial({"train.num_examples": 3000})
    with pytest.raises(RuntimeError, match="was not handed"):
        trial_phases(bigger, handed)


def test_a_searched_seed_range_hands_the_whole_pools():
    sweep = _sweep(space={"train.seed": {"low": 0, "high": 9, "integer": True}})
    data = _data({"alpaca": 500, "dolly": 90, "openorca": 200})
    assert trial_data(sweep, data) is data


def test_the_record_lives_in_its_storage(tmp_path):
    storage = Storage.open(str(tmp_path / "nfs"), tmp_path)
    record_sweep(_sweep(), storage, "sqlite:///x.db")
    assert (Path(storage.root) / "s" / "sweeplab" / "tracking_uri").read_text() == "sqlite:///x.db"


def test_a_node_without_what_trials_need_is_named_in_one_line(monkeypatch):
    import ray

    from sweeps.config import Resources
    from sweeps.run import cluster

    node = {"NodeID": "f00d" * 14, "Alive": True, "NodeManagerAddress": "10.0.0.7"}
    monkeypatch.setattr(ray, "nodes", lambda: [node | {"Resources": {"CPU": 4}}])

    class Probe:  # stands in for the Ray task run on the node
        def options(self, **kwargs):
            return self

        def remote(self):
            return "ref"

    monkeypatch.setattr(ray, "remote", lambda **kwargs: lambda fn: Probe())
    monkeypatch.setattr(cluster, "node_facts", lambda: {"sweeplab": "0.1.0", "wordnet": "ab12"})
    there = {"sweeplab": "0.1.0", "wordnet": "missing (WordNet data not found)"}
    monkeypatch.setattr(ray, "get", lambda ref, timeout=None: there)
    with pytest.raises(cluster.NodeError) as err:
        cluster.check_nodes(Resources(cpu=1))
    assert str(err.value) == (
        "node 10.0.0.7 (f00df00df00d): wordnet is missing (WordNet data not found), "
        "the driver's is ab12"
    )
    there.update(wordnet="ab12")
    assert cluster.check_nodes(Resources(cpu=1)) == 1
    with pytest.raises(cluster.NodeError, match="no node of the cluster has a trial's"):
        cluster.check_nodes(Resources(cpu=1, custom={"worker": 1}))


def test_ray_results_are_read_back_from_the_storage_when_not_staged_here(tmp_path):
    from types import SimpleNamespace

    from sweeps.run.reconcile import recorded_results

    # Given a trial whose results live only in the sweep's storage (a resume elsewhere),
    # with its last line cut by the kill
    fs = pafs._MockFileSystem()
    fs.create_dir("bucket/s/trial_1")
    with fs.open_output_stream("bucket/s/trial_1/result.json") as fh:
        fh.write(b'{"train/step": 8}\n{"train/step": 16}\n{"train/st')
    trial = SimpleNamespace(
        local_path=str(tmp_path / "not-here"),
        path="bucket/s/trial_1",
        storage=SimpleNamespace(storage_filesystem=fs),
    )
    # Then the complete lines are read from there
    assert recorded_results(trial) == [{"train/step": 8}, {"train/step": 16}]
    # And a driver's own staged copy is read first
    (tmp_path / "not-here").mkdir()
    (tmp_path / "not-here" / "result.json").write_text('{"train/step": 8}\n')
    assert recorded_results(trial) == [{"train/step": 8}]


def test_a_declared_source_is_handed_what_its_share_can_draw():
    """A fourth source mixed by `mix.<name>`: its pool is cut like the others, and trials
    draw exactly what they would from the whole pools."""
    space = {"mix.structured": {"choice": [0.0, 0.2]}, "mix.openorca": {"choice": [0.0, 0.1]}}
    sweep = SweepConfig.model_validate(
        {
            "name": "s",
            "model": {"path": "m"},
            "data": {
                "sources": {
                    "structured": {
                        "path": "s.jsonl",
                        "columns": {"instruction": "q", "response": "a"},
                        "eval_size": 4,
                    }
                }
            },
            "train": {"num_examples": 300, "max_steps": 20, "report_every": 10},
            "search": {"space": space},
        }
    )
    data = _data({"alpaca": 5000, "dolly": 900, "openorca": 2000, "structured": 800})
    assert largest_draws(sweep)[1] == {"dolly": 0, "openorca": 30, "structured": 60, "alpaca": 300}
    handed = trial_data(sweep, data)
    for point in [{"mix.structured": s, "mix.openorca": o} for s in (0.0, 0.2) for o in (0.0, 0.1)]:
        cfg = sweep.trial(point)
        assert manifest(trial_phases(cfg, handed)) == manifest(trial_phases(cfg, data)), point


def test_ray_writes_whole_files_or_none(tmp_path, monkeypatch):
    """Through the filesystem Ray gets for a local storage, a file is replaced whole: a
    write that fails (a full disk) leaves the previous file as it was, and no partial copy."""
    import errno
    import pickle

    import pyarrow.fs as pafs

    from common.errors import exhausted
    from sweeps.run import storage as storage_module

    fs = pickle.loads(pickle.dumps(whole_files()))  # as Ray's workers get it
    target = tmp_path / "dst" / "experiment_state-x.json"
    src = tmp_path / "src"
    src.mkdir()
    (src / "experiment_state-x.json").write_text("new" * 1000)
    target.parent.mkdir()
    target.write_text("old")
    real = storage_module._WholeFile._to_disk
    calls = []

    class Full:  # a part of the write reaches the disk, then it is full
        def __init__(self, fh):
            self.fh, self.closed = fh, False

        def write(self, data):
            self.fh.write(data[:10])
            raise OSError(errno.ENOSPC, "No space left on device")

        def close(self):
            self.fh.close()
            self.closed = True

    def full_after_one(self, data):  # the bytes reach the part file here
        calls.append(len(data))
        if len(calls) > 1:
            self._open_part()
            self.fh = Full(self.fh)
        return real(self, data)

    monkeypatch.setattr(storage_module._WholeFile, "_to_disk", full_after_one)
    with pafs.PyFileSystem(fs.handler).open_output_stream(str(target)) as out:
        out.write(b"a")
    assert target.read_text() == "a"  # one write: replaced whole
    with pytest.raises(OSError) as caught:
        with fs.open_output_stream(str(target)) as out:
            out.write(b"b")
            out.write(b"c" * 100)
    assert target.read_text() == "a" and sorted(p.name for p in target.parent.iterdir()) == [
        target.name
    ]
    assert exhausted(caught.value) == f"out of disk space: {target}"
    monkeypatch.setattr(storage_module._WholeFile, "_to_disk", real)
    pafs.copy_files(str(src), str(target.parent), destination_filesystem=fs)
    assert target.read_text() == "new" * 1000


def test_an_unchanged_file_is_not_written_again(tmp_path):
    """Ray copies an experiment's whole folder at each snapshot: a file the storage holds
    already, byte for byte, is left as it is (same inode, nothing renamed over it); a
    changed one, or one over the in-memory size, is replaced whole."""
    import pyarrow.fs as pafs

    from sweeps.run import storage as storage_module

    fs = whole_files()
    src, dst = tmp_path / "src", tmp_path / "dst"
    src.mkdir()
    dst.mkdir()  # Ray creates the folder first
    (src / "result.json").write_text('{"step": 1}\n')
    big = b"x" * (storage_module.SAME_CHECK_BYTES + 1)
    (src / "big.bin").write_bytes(big)
    pafs.copy_files(str(src), str(dst), destination_filesystem=fs)
    first = {p.name: p.stat().st_ino for p in dst.iterdir()}
    pafs.copy_files(str(src), str(dst), destination_filesystem=fs)
    again = {p.name: p.stat().st_ino for p in dst.iterdir()}
    assert again["result.json"] == first["result.json"]  # not written again
    assert again["big.bin"] != first["big.bin"] and (dst / "big.bin").read_bytes() == big
    (src / "result.json").write_text('{"step": 1}\n{"step": 2}\n')
    pafs.copy_files(str(src), str(dst), destination_filesystem=fs)
    assert (dst / "result.json").read_text() == '{"step": 1}\n{"step": 2}\n'
    assert sorted(p.name for p in dst.iterdir()) == ["big.bin", "result.json"]  # no .part
