"""A trial's end, kept beside its checkpoints, so a resumed sweep does not run it on.

Ray saves its record of the trials on its own period (`sweeps.run.checkpoint_keeper`), so a
driver killed just after a trial ended (finished, stopped by ASHA, or failed for good) can
leave a record that still calls the trial running; `resume` would then start it again from
its checkpoint, past the end its MLflow run already records. So when a trial ends, the driver
writes `ended.json` in the trial's folder on the sweep's storage *before* it queues the run's
end (whatever MLflow shows as ended has the file), and a restored trial whose folder has it
does not train: a finished one returns at once (Ray ends it with the result it last reported,
which is what its searcher and scheduler are told), a failed one fails again at once, saying
so. `resume --retry-failed` clears the failed trials' files before they run again.
"""

from __future__ import annotations

import json
import posixpath
from dataclasses import dataclass

import pyarrow.fs as pafs

from sweeps.run.checkpoints import read_json

ENDED = "ended.json"


@dataclass(frozen=True)
class Ended:
    step: int
    """The step it ended at; -1 when the file does not say (cut short by a kill)."""
    failed: bool

    @property
    def how(self) -> str:
        return "failed" if self.failed else "ended"


class HadFailed(RuntimeError):
    """A restored trial that had failed for good before the driver was killed."""


def _file(trial) -> tuple[pafs.FileSystem, str, str] | None:
    storage = getattr(trial, "storage", None)
    if storage is None:  # not a Ray trial (nothing to resume)
        return None
    fs, trial_dir = storage.storage_filesystem, storage.trial_fs_path
    return fs, trial_dir, posixpath.join(trial_dir, ENDED)


def mark_ended(trial, step: int | None, failed: bool = False) -> None:
    """Record in `trial`'s folder on the storage that it ended at `step` (raises OSError)."""
    if (where := _file(trial)) is None:
        return
    fs, trial_dir, path = where
    fs.create_dir(trial_dir, recursive=True)
    with fs.open_output_stream(path) as fh:
        fh.write(json.dumps({"step": step, "failed": failed}).encode("utf-8"))


def clear_ended(trial) -> None:
    """Forget `trial`'s end (a failed trial about to be retried; raises OSError)."""
    if (where := _file(trial)) is None:
        return
    fs, _, path = where
    if fs.get_file_info(path).type == pafs.FileType.File:
        fs.delete_file(path)


def ended_at(checkpoint) -> Ended | None:
    """How the trial that wrote `checkpoint` (a Ray checkpoint it is restored from) ended,
    or None when it has not."""
    fs = checkpoint.filesystem
    path = posixpath.join(posixpath.dirname(posixpath.normpath(checkpoint.path)), ENDED)
    try:
        if fs.get_file_info(path).type != pafs.FileType.File:
            return None
    except OSError:
        return None
    doc = read_json(fs, path) or {}  # there, it ended: a file cut short by a kill still says so
    step = doc.get("step")
    return Ended(step if isinstance(step, int) else -1, doc.get("failed") is True)


def restored_end(trial, retrying: set[str]) -> Ended | None:
    """How a restored Tune `trial` ended, or None when it is to run: it had not ended, or it
    had failed and is in `retrying` (`resume --retry-failed`: its file is cleared first)."""
    end = ended_at(trial.checkpoint) if trial.checkpoint is not None else None
    if end is not None and end.failed and trial.trial_id in retrying:
        clear_ended(trial)
        return None
    return end


def has_ended(checkpoint, sweep_name: str) -> bool:
    """In a restored trial: True when it had finished (it returns at once); HadFailed when
    it had failed for good; False when it is to train on."""
    end = ended_at(checkpoint)
    if end is not None and end.failed:
        raise HadFailed(
            "it had failed before the driver was killed; "
            f"`sweeplab resume {sweep_name} --retry-failed` runs it again"
        )
    return end is not None
