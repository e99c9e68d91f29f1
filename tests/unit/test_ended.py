"""A trial's end is kept in its folder on the storage, and a restored trial sees it through
the checkpoint it is restored from (on this disk and on an object store alike); a failed
trial's end is cleared when `resume --retry-failed` runs it again."""

from __future__ import annotations

from types import SimpleNamespace

import pyarrow.fs as pafs
import pytest
from ray.tune import Checkpoint

from sweeps.run.ended import ENDED, Ended, HadFailed, ended_at, has_ended, mark_ended, restored_end


def _trial(fs, trial_dir: str, trial_id: str = "t1", checkpoint=None):
    storage = SimpleNamespace(storage_filesystem=fs, trial_fs_path=trial_dir)
    return SimpleNamespace(storage=storage, trial_id=trial_id, checkpoint=checkpoint)


def test_a_trial_marked_ended_is_seen_so_from_its_checkpoint(tmp_path):
    fs = pafs.LocalFileSystem()
    trial_dir = tmp_path / "exp" / "trainable_abc"
    (trial_dir / "checkpoint_000003").mkdir(parents=True)
    checkpoint = Checkpoint(str(trial_dir / "checkpoint_000003"), filesystem=fs)
    assert ended_at(checkpoint) is None  # running: no mark
    mark_ended(_trial(fs, str(trial_dir)), 32)
    assert ended_at(checkpoint) == Ended(32, failed=False)
    # A trailing slash in Ray's path names the same folder.
    again = Checkpoint(str(trial_dir / "checkpoint_000003") + "/", filesystem=fs)
    assert ended_at(again) == Ended(32, failed=False)
    mark_ended(_trial(fs, str(trial_dir)), 40, failed=True)  # a retry that failed for good
    assert ended_at(checkpoint) == Ended(40, failed=True)


def test_on_an_object_store_too(tmp_path):
    # A SubTreeFileSystem stands in for a bucket: paths relative to its root, no local path.
    fs = pafs.SubTreeFileSystem(str(tmp_path), pafs.LocalFileSystem())
    mark_ended(_trial(fs, "bucket/exp/trainable_1"), None)  # its folder made as needed
    assert (tmp_path / "bucket" / "exp" / "trainable_1" / ENDED).is_file()
    checkpoint = Checkpoint("bucket/exp/trainable_1/checkpoint_000000", filesystem=fs)
    assert ended_at(checkpoint) == Ended(-1, failed=False)  # ended, step unknown


def test_an_unreadable_mark_still_means_ended_and_no_storage_is_a_no_op(tmp_path):
    fs = pafs.LocalFileSystem()
    (tmp_path / "t").mkdir()
    (tmp_path / "t" / ENDED).write_text("{cut")
    got = ended_at(Checkpoint(str(tmp_path / "t" / "checkpoint_000000"), filesystem=fs))
    assert got == Ended(-1, failed=False)
    mark_ended(SimpleNamespace(), 8)  # not a Ray trial: nothing written, nothing raised


def test_a_failed_trial_is_cleared_only_when_it_is_retried(tmp_path):
    fs = pafs.LocalFileSystem()
    trial_dir = tmp_path / "trainable_x"
    (trial_dir / "checkpoint_000000").mkdir(parents=True)
    checkpoint = Checkpoint(str(trial_dir / "checkpoint_000000"), filesystem=fs)
    trial = _trial(fs, str(trial_dir), "x", checkpoint)
    mark_ended(trial, 16, failed=True)
    assert restored_end(trial, retrying=set()) == Ended(16, failed=True)  # a plain resume
    assert (trial_dir / ENDED).is_file()
    assert restored_end(trial, retrying={"x"}) is None  # `--retry-failed`: it runs again
    assert not (trial_dir / ENDED).exists()
    # A finished trial is never run again, retried or not; one without a checkpoint runs.
    mark_ended(trial, 24)
    assert restored_end(trial, retrying={"x"}) == Ended(24, failed=False)
    assert restored_end(_trial(fs, str(tmp_path / "y"), "y"), retrying={"y"}) is None


def test_a_restored_trial_returns_if_finished_and_fails_if_failed(tmp_path):
    fs = pafs.LocalFileSystem()
    (tmp_path / "trainable_z" / "checkpoint_000001").mkdir(parents=True)
    checkpoint = Checkpoint(str(tmp_path / "trainable_z" / "checkpoint_000001"), filesystem=fs)
    trial = _trial(fs, str(tmp_path / "trainable_z"))
    assert has_ended(checkpoint, "demo") is False  # trains on
    mark_ended(trial, 8)
    assert has_ended(checkpoint, "demo") is True  # returns at once
    mark_ended(trial, 8, failed=True)
    with pytest.raises(HadFailed, match="`sweeplab resume demo --retry-failed` runs it again"):
        has_ended(checkpoint, "demo")
