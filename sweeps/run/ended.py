"""A trial's end, kept beside its checkpoints, so a resumed sweep does not run it on.

Ray saves its record of the trials on its own period (`sweeps.run.checkpoint_keeper`), so a
driver killed just after a trial finished (or ASHA stopped it) can leave a record that still
calls the trial running; `resume` would then start it again from its checkpoint and train it
on, past the end its MLflow run already records. So when a trial finishes, the driver writes
`ended.json` in the trial's folder on the sweep's storage *before* it queues the run's end
(whatever MLflow shows as finished has the file), and a restored trial whose folder has it
returns at once without training or reporting: Ray ends it with the result it last reported,
which is what its searcher and scheduler are told.

A failed trial gets no such file: `resume --retry-failed` runs failed trials again on purpose.
"""

from __future__ import annotations

import json
import posixpath

import pyarrow.fs as pafs

ENDED = "ended.json"


def mark_ended(trial, step: int | None) -> None:
    """Record in `trial`'s folder on the storage that it ended at `step` (raises OSError)."""
    storage = getattr(trial, "storage", None)
    if storage is None:  # not a Ray trial (nothing to resume)
        return
    fs, trial_dir = storage.storage_filesystem, storage.trial_fs_path
    fs.create_dir(trial_dir, recursive=True)
    with fs.open_output_stream(posixpath.join(trial_dir, ENDED)) as fh:
        fh.write(json.dumps({"step": step}).encode("utf-8"))


def ended_at(checkpoint) -> int | None:
    """The step at which the trial that wrote `checkpoint` (a Ray checkpoint it is restored
    from) ended (-1: ended, step unknown), or None when it has not ended."""
    fs = checkpoint.filesystem
    path = posixpath.join(posixpath.dirname(posixpath.normpath(checkpoint.path)), ENDED)
    try:
        if fs.get_file_info(path).type != pafs.FileType.File:
            return None
    except OSError:
        return None
    try:  # there, it ended: a file cut short (a kill as it was written) still says so
        with fs.open_input_stream(path) as fh:
            step = json.loads(fh.read().decode("utf-8")).get("step")
    except (OSError, ValueError, UnicodeDecodeError, AttributeError):
        return -1
    return step if isinstance(step, int) else -1
