"""Which checkpoint a resumed trial continues from: the furthest complete one it wrote.

Ray's record of a trial's checkpoint (in the experiment state) is saved some time after the
checkpoint itself (on Ray's own period: `sweeps.run.checkpoint_keeper`), and the checkpoint
it names is deleted as soon as the next one is registered. A driver killed in between leaves
a record naming a checkpoint that is gone, while a newer one sits beside it: Ray would fail
the trial on resume ("does not exist on storage anymore"). So every checkpoint a trial
reports is sealed with a manifest (its step, its report number, each file's sha256), and
before a resumed sweep starts its trials, each trial's record is pointed at the sealed
checkpoint with the highest step in its folder on the sweep's storage (checked file by file;
a copy cut short by the kill is passed over), and the folders passed over are deleted.
"""

from __future__ import annotations

import json
import posixpath
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import pyarrow.fs as pafs

from common.files import content_id
from common.tags import TRIAL_RECORD
from sweeps.run.storage import on_this_disk

MANIFEST = "sweeplab_checkpoint.json"
REPORTED = "reported.json"
"""In a checkpoint: the result the trial reported with it (metrics, training-curve and
system-metric points), for a driver that was killed before it could log it."""


@contextmanager
def checkpoint_folder(checkpoint) -> Iterator[Path]:
    """A Ray checkpoint's folder, to read: in place when the sweep's storage is this disk
    (Ray's `as_directory` copies it to a temporary folder first, as it does from anything
    but pyarrow's own local filesystem), downloaded from an object store."""
    if on_this_disk(checkpoint.filesystem):
        yield Path(checkpoint.path)
        return
    with checkpoint.as_directory() as path:
        yield Path(path)


def _digests(folder: Path) -> dict[str, str]:
    return {
        p.relative_to(folder).as_posix(): content_id(p, 64)
        for p in sorted(folder.rglob("*"))
        if p.is_file() and p.name != MANIFEST
    }


def seal(folder: Path, step: int, iteration: int) -> None:
    """Write `folder`'s manifest: its training step, its report number (Tune's
    `training_iteration`), and the sha256 and size of every file in it."""
    files = _digests(folder)
    sizes = {name: (folder / name).stat().st_size for name in files}
    record = {"step": step, "iteration": iteration, "files": files, "sizes": sizes}
    (folder / MANIFEST).write_text(json.dumps(record), encoding="utf-8")


def read_json(fs: pafs.FileSystem, path: str) -> dict | None:
    """The JSON object at `path` on `fs`; None when it is absent, unreadable or not one."""
    try:
        with fs.open_input_stream(path) as fh:
            doc = json.loads(fh.read().decode("utf-8"))
    except (OSError, ValueError, UnicodeDecodeError):
        return None
    return doc if isinstance(doc, dict) else None


def checkpoint_dirs(fs: pafs.FileSystem, trial_dir: str) -> dict[int, str]:
    """Ray's `checkpoint_<index>` folders under `trial_dir`, by index."""
    try:
        infos = fs.get_file_info(pafs.FileSelector(trial_dir, allow_not_found=True))
    except OSError:
        return {}
    found = {}
    for info in infos:
        prefix, _, index = info.base_name.partition("_")
        if info.type == pafs.FileType.Directory and prefix == "checkpoint" and index.isdigit():
            found[int(index)] = posixpath.normpath(info.path)
    return found


def step_of(fs: pafs.FileSystem, path: str) -> int:
    """The training step of the checkpoint at `path`; -1 when it is gone or unreadable."""
    for name in (MANIFEST, TRIAL_RECORD):
        doc = read_json(fs, posixpath.join(path, name))
        if doc is not None and isinstance(doc.get("step"), int):
            return doc["step"]
    return -1


def _sizes(fs: pafs.FileSystem, path: str) -> dict[str, int]:
    try:
        infos = fs.get_file_info(pafs.FileSelector(path, recursive=True))
    except OSError:
        return {}
    return {posixpath.relpath(i.path, path): i.size for i in infos if i.type == pafs.FileType.File}


def _complete(fs: pafs.FileSystem, path: str, manifest: dict, deep: bool) -> bool:
    """Every file the manifest lists is there at its size (a listing) and, when `deep`,
    with its sha256 (read in place on a local disk, downloaded from an object store)."""
    files, sizes = manifest.get("files"), manifest.get("sizes", {})
    if not isinstance(files, dict) or not isinstance(sizes, dict):
        return False
    have = _sizes(fs, path)
    if any(name not in have or have[name] != sizes.get(name, have[name]) for name in files):
        return False
    if not deep:
        return True
    if on_this_disk(fs):
        digests = _digests(Path(path))
    else:
        with tempfile.TemporaryDirectory(prefix="sweeplab-ckpt-") as tmp:
            try:
                pafs.copy_files(path, tmp, fs, pafs.LocalFileSystem())
            except OSError:
                return False
            digests = _digests(Path(tmp))
    return all(digests.get(name) == digest for name, digest in files.items())


@dataclass(frozen=True)
class Furthest:
    """The furthest complete checkpoint of a trial, and whether it is the one Ray's record
    names (then nothing needs repair)."""

    path: str
    index: int
    step: int
    iteration: int | None
    reported: dict
    """What the trial reported with it (`REPORTED`, else the metrics in `trial.json`)."""
    named: bool


def furthest(fs: pafs.FileSystem, trial_dir: str, named: str | None) -> Furthest | None:
    """The complete checkpoint with the highest step in `trial_dir`, the one at `named`
    (Ray's record's; None: none) winning ties; None when nothing complete is there. Sealed
    checkpoints are checked against their manifest: the named one by its files' sizes (Ray
    registered it whole; a kill may have cut its deletion short), the others by their bytes
    too (a copy cut short, or one written over); an unsealed one (an older sweeplab's)
    counts only if it is the named one, as Ray has it."""
    named = posixpath.normpath(named) if named else None
    found = []
    for index, path in checkpoint_dirs(fs, trial_dir).items():
        manifest = read_json(fs, posixpath.join(path, MANIFEST))
        if manifest is None and path != named:
            continue
        step = manifest.get("step") if manifest else step_of(fs, path)
        if isinstance(step, int) and step >= 0:
            found.append((step, path == named, index, path, manifest))
    for step, is_named, index, path, manifest in sorted(found, reverse=True):
        record = read_json(fs, posixpath.join(path, TRIAL_RECORD))
        whole = manifest is None or _complete(fs, path, manifest, deep=not is_named)
        if record is None or not whole:
            continue
        reported = read_json(fs, posixpath.join(path, REPORTED)) or record.get("metrics")
        iteration = (manifest or {}).get("iteration")
        return Furthest(path, index, step, iteration, dict(reported or {}), is_named)
    return None


def prune(fs: pafs.FileSystem, trial_dir: str, keep: set[str | None]) -> list[str]:
    """Delete the trial's checkpoint folders other than `keep` (paths on `fs`): those a
    resume passed over (older, or cut short), which Ray's record does not name, so Ray
    would never delete them. Returns the paths deleted."""
    keep = {posixpath.normpath(k) for k in keep if k}
    gone = []
    for path in checkpoint_dirs(fs, trial_dir).values():
        if path in keep:
            continue
        try:
            fs.delete_dir(path)
        except OSError:
            continue
        gone.append(path)
    return gone


@dataclass(frozen=True)
class Repair:
    """What `repair_restored` did to a trial's record: `said` in a few words; when it now
    names a checkpoint Ray never saw reported, that checkpoint and its result (to log:
    the killed driver may not have)."""

    said: str
    checkpoint: object | None = None
    reported: dict | None = None
    step: int | None = None
    """The step of the checkpoint it continues from."""


def repair_restored(trial) -> Repair | None:
    """Before a restored Tune `trial` starts: its record pointed at its furthest complete
    checkpoint, or at none when the one it names is gone or cut short and no other is
    complete (it starts afresh rather than fail); the other folders deleted. None when the
    record was right. Uses Ray's internal trial state (checkpoint manager, storage context)."""
    from ray.train._internal.session import _TrainingResult
    from ray.tune import Checkpoint

    storage = trial.storage
    fs, trial_dir = storage.storage_filesystem, storage.trial_fs_path
    named = trial.checkpoint.path if trial.checkpoint is not None else None
    manager = trial.run_metadata.checkpoint_manager
    best = furthest(fs, trial_dir, named)
    # Ray's record stays as it is only when it names the best: then Ray deletes that one.
    prune(fs, trial_dir, {best.path if best else None, named if best and best.named else None})
    if best is None and named is None or best is not None and best.named:
        return None
    if best is None:
        manager._checkpoint_results = []
        manager._latest_checkpoint_result = None
        trial.invalidate_json_state()
        return Repair("starts afresh (the checkpoint Ray's record names is gone, none is whole)")
    reported = dict(best.reported)
    if best.iteration is not None:
        reported["training_iteration"] = best.iteration
    checkpoint = Checkpoint(best.path, filesystem=fs)
    manager._checkpoint_results = [_TrainingResult(checkpoint=checkpoint, metrics=reported)]
    manager._latest_checkpoint_result = manager._checkpoint_results[0]
    trial.run_metadata.last_result = {**trial.run_metadata.last_result, **reported}
    storage.current_checkpoint_index = best.index  # the next one goes after it
    trial.invalidate_json_state()
    said = f"continues from step {best.step}, a checkpoint newer than Ray's record names"
    return Repair(said, checkpoint, reported, best.step)
