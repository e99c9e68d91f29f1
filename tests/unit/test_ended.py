"""A finished trial's end is kept in its folder on the storage, and a restored trial sees it
through the checkpoint it is restored from (on this disk and on an object store alike)."""

from __future__ import annotations

from types import SimpleNamespace

import pyarrow.fs as pafs
from ray.tune import Checkpoint

from sweeps.run.ended import ENDED, ended_at, mark_ended


def _trial(fs, trial_dir: str):
    return SimpleNamespace(storage=SimpleNamespace(storage_filesystem=fs, trial_fs_path=trial_dir))


def test_a_trial_marked_ended_is_seen_so_from_its_checkpoint(tmp_path):
    fs = pafs.LocalFileSystem()
    trial_dir = tmp_path / "exp" / "trainable_abc"
    (trial_dir / "checkpoint_000003").mkdir(parents=True)
    checkpoint = Checkpoint(str(trial_dir / "checkpoint_000003"), filesystem=fs)
    assert ended_at(checkpoint) is None  # running: no mark
    mark_ended(_trial(fs, str(trial_dir)), 32)
    assert ended_at(checkpoint) == 32
    # A trailing slash in Ray's path names the same folder.
    assert ended_at(Checkpoint(str(trial_dir / "checkpoint_000003") + "/", filesystem=fs)) == 32


def test_on_an_object_store_too(tmp_path):
    # A SubTreeFileSystem stands in for a bucket: paths relative to its root, no local path.
    fs = pafs.SubTreeFileSystem(str(tmp_path), pafs.LocalFileSystem())
    mark_ended(_trial(fs, "bucket/exp/trainable_1"), None)  # its folder made as needed
    assert (tmp_path / "bucket" / "exp" / "trainable_1" / ENDED).is_file()
    checkpoint = Checkpoint("bucket/exp/trainable_1/checkpoint_000000", filesystem=fs)
    assert ended_at(checkpoint) == -1  # ended, step unknown


def test_an_unreadable_mark_still_means_ended_and_no_storage_is_a_no_op(tmp_path):
    fs = pafs.LocalFileSystem()
    (tmp_path / "t").mkdir()
    (tmp_path / "t" / ENDED).write_text("{cut")
    assert ended_at(Checkpoint(str(tmp_path / "t" / "checkpoint_000000"), filesystem=fs)) == -1
    mark_ended(SimpleNamespace(), 8)  # not a Ray trial: nothing written, nothing raised
