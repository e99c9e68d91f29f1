"""Torn files of a sweep's record: Ray's session state torn by a kill is set aside and the
session before it restored; a record without its tracking URI is never guessed at."""

from __future__ import annotations

import json
import pickle

import pytest

from sweeps.config import ConfigError, SweepConfig
from sweeps.run.launch import _recorded_uri
from sweeps.run.ray_state import RayStateTorn, set_aside_torn
from sweeps.run.state import Place, record_sweep, state_dir
from sweeps.run.storage import Storage

OLD, NEW = "2026-12-01_10-00-00", "2026-12-01_11-00-00"


def _session(exp, session, torn: str | None = None) -> None:
    files = {
        f"experiment_state-{session}.json": json.dumps({"trial_data": []}).encode(),
        f"search_gen_state-{session}.json": pickle.dumps({"counter": 3}),  # a pickle, so named
        f"searcher-state-{session}.pkl": pickle.dumps({"study": [1, 2, 3]}),
    }
    for name, raw in files.items():
        (exp / name).write_bytes(raw[: len(raw) // 2] if name == torn else raw)


@pytest.mark.parametrize(
    "torn",
    [f"experiment_state-{NEW}.json", f"search_gen_state-{NEW}.json", f"searcher-state-{NEW}.pkl"],
)
def test_a_torn_newest_session_is_set_aside_whole(tmp_path, torn):
    storage = Storage.open(None, tmp_path)
    exp = tmp_path / "runs" / "ray" / "s"
    exp.mkdir(parents=True)
    (exp / f"trainable_1_{NEW}").mkdir()  # a trial folder named after the session: untouched
    _session(exp, OLD)
    _session(exp, NEW, torn=torn)
    assert set_aside_torn(storage, "s") == [NEW]
    names = sorted(p.name for p in exp.iterdir())
    assert [n for n in names if NEW in n and n.endswith(".torn")] == sorted(
        f"{n}.torn" for n in (f"experiment_state-{NEW}.json", f"search_gen_state-{NEW}.json",
                              f"searcher-state-{NEW}.pkl")
    )  # fmt: skip
    assert f"experiment_state-{OLD}.json" in names and f"trainable_1_{NEW}" in names
    assert set_aside_torn(storage, "s") == []  # whole now: nothing more to do


def test_whole_sessions_are_left_alone_and_none_at_all_is_a_new_sweep(tmp_path):
    storage = Storage.open(None, tmp_path)
    exp = tmp_path / "runs" / "ray" / "s"
    assert set_aside_torn(storage, "s") == []  # no folder yet
    exp.mkdir(parents=True)
    _session(exp, OLD)
    _session(exp, NEW)
    assert set_aside_torn(storage, "s") == []
    assert not list(exp.glob("*.torn"))


def test_a_temporary_file_ray_left_beside_a_whole_session_is_not_its_record(tmp_path):
    # Given a whole session and the empty hidden file Ray writes its searcher state through
    # (seen on storage after a finished sweep) ...
    storage = Storage.open(None, tmp_path)
    exp = tmp_path / "runs" / "ray" / "s"
    exp.mkdir(parents=True)
    _session(exp, NEW)
    (exp / f".0efd18e0-tmp-searcher-state-{NEW}.pkl").write_bytes(b"")
    # ... then the session is restored as it is (it was refused as torn: the sweep run again).
    assert set_aside_torn(storage, "s") == []
    assert not list(exp.glob("*.torn"))


def test_no_whole_session_left_is_one_line_every_time(tmp_path):
    storage = Storage.open(None, tmp_path)
    exp = tmp_path / "runs" / "ray" / "s"
    exp.mkdir(parents=True)
    _session(exp, NEW, torn=f"experiment_state-{NEW}.json")
    for _ in range(2):  # and again: never a new search in the old one's folder
        with pytest.raises(RayStateTorn, match="start the sweep again under another") as err:
            set_aside_torn(storage, "s")
        assert "\n" not in str(err.value)


def test_a_record_without_its_tracking_uri_needs_one_given(tmp_path):
    place = Place(tmp_path)
    cfg = SweepConfig(name="s", model={"path": str(tmp_path)})
    server = "http://team:s3cret@127.0.0.1:5999"
    record_sweep(cfg, place.storage, server)
    assert _recorded_uri(cfg, place, None) == server  # as recorded
    with pytest.raises(ConfigError) as err:  # another one: refused, masked
        _recorded_uri(cfg, place, "http://127.0.0.1:6000")
    assert "s3cret" not in str(err.value) and "team:***@" in str(err.value)
    (tmp_path / "runs" / "ray" / "s" / "sweeplab" / "tracking_uri").write_text("")
    with pytest.raises(ConfigError, match="names no tracking URI") as err:
        _recorded_uri(cfg, place, None)
    assert state_dir(place.storage, "s") in str(err.value)
    assert _recorded_uri(cfg, place, server) == server  # given again: recorded again
    assert _recorded_uri(cfg, place, None) == server
