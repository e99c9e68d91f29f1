"""A restored trial continues from the furthest complete checkpoint it wrote, not only the
one Ray's (possibly older) record names; copies cut short are passed over."""

from __future__ import annotations

import json
from pathlib import Path
from types import SimpleNamespace

import pyarrow.fs as pafs

from sweeps.run.checkpoints import checkpoint_dirs, furthest, prune, repair_restored, seal

FS = pafs.LocalFileSystem()


def _checkpoint(trial_dir: Path, index: int, step: int, sealed: bool = True) -> str:
    """A checkpoint folder as a trial reports it: records, adapter, trainer state."""
    ckpt = trial_dir / f"checkpoint_{index:06d}"
    (ckpt / "adapter").mkdir(parents=True)
    (ckpt / "adapter" / "adapter_model.safetensors").write_bytes(bytes([step % 256]) * 4096)
    (ckpt / "resume").mkdir()
    (ckpt / "resume" / "optimizer.pt").write_bytes(b"opt-%d" % step)
    metrics = {"objective": step / 100, "train/step": step}
    (ckpt / "trial.json").write_text(json.dumps({"step": step, "metrics": metrics}))
    if sealed:
        seal(ckpt, step, step // 8)
    return str(ckpt)


def test_the_named_checkpoint_when_it_is_the_furthest(tmp_path):
    trial = tmp_path / "trial"
    _checkpoint(trial, 0, 8)
    named = _checkpoint(trial, 1, 16)
    got = furthest(FS, str(trial), named)
    assert (got.step, got.iteration, got.named, got.path) == (16, 2, True, named)


def test_a_newer_checkpoint_than_rays_record_when_the_named_one_is_gone(tmp_path):
    # Given Ray's record naming checkpoint 0, deleted when checkpoint 1 was registered
    trial = tmp_path / "trial"
    newer = _checkpoint(trial, 1, 16)
    # When the trial is restored: step 16, with what it reported
    got = furthest(FS, str(trial), str(trial / "checkpoint_000000"))
    assert (got.step, got.iteration, got.named, got.path, got.index) == (16, 2, False, newer, 1)
    assert got.reported == {"objective": 0.16, "train/step": 16}


def test_a_copy_cut_short_or_written_over_is_passed_over(tmp_path):
    trial = tmp_path / "trial"
    named = _checkpoint(trial, 1, 16)
    torn = Path(_checkpoint(trial, 2, 24))
    (torn / "adapter" / "adapter_model.safetensors").write_bytes(b"\0" * 100)  # cut short
    (torn / "resume" / "optimizer.pt").unlink()
    assert furthest(FS, str(trial), named).step == 16
    # Same names, same sizes, another step's bytes: a folder being written over.
    (torn / "resume" / "optimizer.pt").write_bytes(b"opt-16")
    (torn / "adapter" / "adapter_model.safetensors").write_bytes(bytes([16]) * 4096)
    assert furthest(FS, str(trial), named).step == 16
    (torn / "adapter" / "adapter_model.safetensors").write_bytes(bytes([24]) * 4096)
    (torn / "resume" / "optimizer.pt").write_bytes(b"opt-24")
    assert furthest(FS, str(trial), named).step == 24  # whole again


def test_ties_go_to_the_named_one(tmp_path):
    trial = tmp_path / "trial"
    _checkpoint(trial, 3, 8)
    _checkpoint(trial, 4, 24)
    named = _checkpoint(trial, 5, 24)
    got = furthest(FS, str(trial), named)
    assert (got.step, got.path, got.named) == (24, named, True)


def test_an_unsealed_checkpoint_of_an_older_sweeplab_counts_only_as_ray_names_it(tmp_path):
    trial = tmp_path / "trial"
    named = _checkpoint(trial, 0, 8, sealed=False)
    _checkpoint(trial, 1, 16, sealed=False)  # not named, no manifest: cannot be checked
    got = furthest(FS, str(trial), named)
    assert (got.step, got.iteration, got.named) == (8, None, True)


def test_nothing_complete_means_none(tmp_path):
    trial = tmp_path / "trial"
    torn = Path(_checkpoint(trial, 0, 8))
    (torn / "trial.json").unlink()
    assert furthest(FS, str(trial), str(torn)) is None
    assert furthest(FS, str(tmp_path / "no-such-trial"), None) is None


class _Trial:
    """The parts of a Tune trial `repair_restored` reads and sets."""

    def __init__(self, trial_dir: Path, named: str | None):
        from ray.train import CheckpointConfig
        from ray.train._internal.checkpoint_manager import _CheckpointManager
        from ray.train._internal.session import _TrainingResult
        from ray.tune import Checkpoint

        self.storage = SimpleNamespace(
            storage_filesystem=FS, trial_fs_path=str(trial_dir), current_checkpoint_index=0
        )
        manager = _CheckpointManager(CheckpointConfig(num_to_keep=1))
        if named is not None:
            old = _TrainingResult(Checkpoint(named, FS), {"training_iteration": 1})
            manager.register_checkpoint(old)
        self.run_metadata = SimpleNamespace(checkpoint_manager=manager, last_result={"a": 1})
        self.invalidated = False

    @property
    def checkpoint(self):
        result = self.run_metadata.checkpoint_manager.latest_checkpoint_result
        return result.checkpoint if result else None

    def invalidate_json_state(self):
        self.invalidated = True


def test_repair_points_rays_record_at_the_furthest_and_deletes_the_rest(tmp_path):
    trial_dir = tmp_path / "trial"
    _checkpoint(trial_dir, 2, 24)
    newest = _checkpoint(trial_dir, 3, 32)
    torn = Path(_checkpoint(trial_dir, 4, 40))
    (torn / "resume" / "optimizer.pt").unlink()
    trial = _Trial(trial_dir, str(trial_dir / "checkpoint_000000"))  # gone
    repair = repair_restored(trial)
    assert "continues from step 32" in repair.said
    assert trial.checkpoint.path == newest and trial.storage.current_checkpoint_index == 3
    assert repair.reported == {"objective": 0.32, "train/step": 32, "training_iteration": 4}
    assert trial.run_metadata.last_result["training_iteration"] == 4
    assert sorted(checkpoint_dirs(FS, str(trial_dir))) == [3] and trial.invalidated
    assert repair_restored(trial) is None  # right now: nothing to do


def test_repair_starts_a_trial_afresh_when_nothing_whole_is_left(tmp_path):
    trial_dir = tmp_path / "trial"
    torn = Path(_checkpoint(trial_dir, 1, 16))
    (torn / "adapter" / "adapter_model.safetensors").unlink()
    trial = _Trial(trial_dir, str(torn))
    assert "starts afresh" in repair_restored(trial).said
    assert trial.checkpoint is None and checkpoint_dirs(FS, str(trial_dir)) == {}
    assert repair_restored(_Trial(tmp_path / "new", None)) is None  # never checkpointed


def test_prune_keeps_only_what_it_is_told(tmp_path):
    trial = tmp_path / "trial"
    a, b, c = (_checkpoint(trial, i, 8 * (i + 1)) for i in range(3))
    (trial / "checkpoint_tmp_x").mkdir()  # not Ray's numbered folder: never touched
    assert sorted(prune(FS, str(trial), {a, None, c + "/"})) == [b]
    assert sorted(checkpoint_dirs(FS, str(trial))) == [0, 2]
    assert (trial / "checkpoint_tmp_x").is_dir()


def test_on_an_object_store_the_others_are_downloaded_to_be_checked(tmp_path):
    """The same choice on a non-local filesystem (pyarrow's in-memory one, as an object
    store): the named checkpoint by its listing, a newer one by its downloaded bytes."""
    local = tmp_path / "trial"
    named = Path(_checkpoint(local, 1, 16))
    newer = Path(_checkpoint(local, 2, 24))
    (newer / "resume" / "optimizer.pt").write_bytes(b"opt-XX")  # same size, other bytes
    store = pafs._MockFileSystem()
    pafs.copy_files(str(local), "bucket/trial", pafs.LocalFileSystem(), store)
    named_key = f"bucket/trial/{named.name}"
    got = furthest(store, "bucket/trial", named_key)
    assert (got.step, got.named, got.path) == (16, True, named_key)
    with store.open_output_stream(f"bucket/trial/{newer.name}/resume/optimizer.pt") as fh:
        fh.write(b"opt-24")  # now whole
    got = furthest(store, "bucket/trial", named_key)
    assert (got.step, got.named, got.path) == (24, False, f"bucket/trial/{newer.name}")


def test_keep_latest_leaves_one_checkpoint_and_rays_list_names_it(tmp_path):
    """Ray keeps every checkpoint (no `num_to_keep`, so no forced snapshot per checkpoint):
    `KeepLatest` deletes the older ones as each new one is registered, on the storage and
    in Ray's list, so a trial's record stays one checkpoint long."""
    from ray.train import CheckpointConfig
    from ray.train._internal.checkpoint_manager import _CheckpointManager
    from ray.train._internal.session import _TrainingResult
    from ray.tune import Checkpoint

    from sweeps.run.checkpoint_keeper import KeepLatest

    trial_dir = tmp_path / "trial"
    trial = _Trial(trial_dir, None)
    manager = _CheckpointManager(CheckpointConfig(num_to_keep=None))
    cached = []
    trial.run_metadata = SimpleNamespace(
        checkpoint_manager=manager, invalidate_cache=lambda: cached.append(1)
    )
    keeper = KeepLatest()
    for index, step in enumerate((8, 16, 24)):
        ckpt = Checkpoint(_checkpoint(trial_dir, index, step), FS)
        manager.register_checkpoint(_TrainingResult(ckpt, {"training_iteration": index + 1}))
        keeper.on_trial_save(index, [], trial)
        assert sorted(checkpoint_dirs(FS, str(trial_dir))) == [index]
        assert [r.checkpoint.path for r in manager.best_checkpoint_results] == [ckpt.path]
    assert trial.checkpoint.path.endswith("checkpoint_000002")
    assert trial.invalidated and len(cached) == 2  # Ray's saved record rebuilt twice
    # one already gone (a resume pruned it): nothing to delete, no error
    (trial_dir / "checkpoint_000002").rename(tmp_path / "moved")
    ckpt = Checkpoint(_checkpoint(trial_dir, 3, 32), FS)
    manager.register_checkpoint(_TrainingResult(ckpt, {"training_iteration": 4}))
    keeper.on_trial_save(3, [], trial)
    assert sorted(checkpoint_dirs(FS, str(trial_dir))) == [3]
