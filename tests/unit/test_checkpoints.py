"""A restored trial continues from the furthest complete checkpoint it wrote, not only the
one Ray's (possibly older) record names; copies cut short are passed over."""

from __future__ import annotations

import json
from pathlib import Path

import pyarrow.fs as pafs

from sweeps.run.checkpoints import MANIFEST, checkpoint_dirs, prune, restore, seal

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
    named = _checkpoint(trial, 1, 16)
    got = restore(FS, str(trial), named, tmp_path / "local")
    assert (got.step, got.iteration, got.unknown_to_ray) == (16, 2, False)
    assert got.source == named
    assert (got.path / "resume" / "optimizer.pt").read_bytes() == b"opt-16"


def test_a_newer_checkpoint_than_rays_record_is_taken_when_the_named_one_is_gone(tmp_path):
    # Given Ray's record naming checkpoint 0, deleted when checkpoint 1 was registered
    trial = tmp_path / "trial"
    newer = _checkpoint(trial, 1, 16)
    gone = str(trial / "checkpoint_000000")
    # When the trial is restored
    got = restore(FS, str(trial), gone, tmp_path / "local")
    # Then it continues from step 16, and Ray must be told of it
    assert (got.step, got.iteration, got.unknown_to_ray, got.source) == (16, 2, True, newer)


def test_a_copy_cut_short_is_passed_over(tmp_path):
    trial = tmp_path / "trial"
    named = _checkpoint(trial, 1, 16)
    torn = Path(_checkpoint(trial, 2, 24))
    (torn / "adapter" / "adapter_model.safetensors").write_bytes(b"\0" * 100)  # cut short
    (torn / "resume" / "optimizer.pt").unlink()
    got = restore(FS, str(trial), named, tmp_path / "local")
    assert (got.step, got.unknown_to_ray) == (16, False)
    # A folder written over with another step's bytes (same names, same sizes) too.
    (torn / "resume" / "optimizer.pt").write_bytes(b"opt-16")
    (torn / "adapter" / "adapter_model.safetensors").write_bytes(bytes([16]) * 4096)
    assert restore(FS, str(trial), named, tmp_path / "local").step == 16


def test_the_furthest_wins_and_ties_go_to_the_named_one(tmp_path):
    trial = tmp_path / "trial"
    _checkpoint(trial, 3, 8)
    twin = _checkpoint(trial, 4, 24)
    named = _checkpoint(trial, 5, 24)
    got = restore(FS, str(trial), named, tmp_path / "local")
    assert (got.step, got.source, got.unknown_to_ray) == (24, named, False)
    got = restore(FS, str(trial), str(trial / "checkpoint_000001"), tmp_path / "local")
    assert got.step == 24 and got.source in (twin, named) and got.unknown_to_ray


def test_an_unsealed_checkpoint_of_an_older_sweeplab_is_used_as_ray_names_it(tmp_path):
    trial = tmp_path / "trial"
    named = _checkpoint(trial, 0, 8, sealed=False)
    got = restore(FS, str(trial), named, tmp_path / "local")
    assert (got.step, got.iteration, got.unknown_to_ray) == (8, None, False)
    assert not (got.path / MANIFEST).exists()


def test_nothing_complete_means_a_fresh_start(tmp_path):
    trial = tmp_path / "trial"
    torn = Path(_checkpoint(trial, 0, 8))
    (torn / "trial.json").unlink()
    assert restore(FS, str(trial), str(torn), tmp_path / "local") is None
    assert not (tmp_path / "local").exists()
    assert restore(FS, str(tmp_path / "no-such-trial"), None, tmp_path / "local") is None


def test_prune_keeps_only_what_it_is_told(tmp_path):
    trial = tmp_path / "trial"
    a, b, c = (_checkpoint(trial, i, 8 * (i + 1)) for i in range(3))
    (trial / "checkpoint_tmp_x").mkdir()  # not Ray's numbered folder: never touched
    assert sorted(prune(FS, str(trial), {a, None, c + "/"})) == [b]
    assert sorted(checkpoint_dirs(FS, str(trial))) == [0, 2]
    assert (trial / "checkpoint_tmp_x").is_dir()
