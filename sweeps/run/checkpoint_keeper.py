"""One checkpoint kept per trial, without Ray forcing a snapshot of the whole sweep at each.

With `CheckpointConfig(num_to_keep=1)` Ray deletes a trial's previous checkpoint as each new
one is registered, and, so that its saved record never names a deleted checkpoint, forces a
snapshot of the experiment (every trial's state, the searcher, every trial's folder copied
to the storage) each time (Ray calls it "a non-performant workaround"): a cost per result
that grows with the number of trials (at 1,000 trials, a 40 MB record written and copied at
every result). sweeplab does not need that workaround: every checkpoint is sealed and a
resumed trial is pointed at its furthest complete one (`sweeps.run.checkpoints`), whatever
the record names. So Ray keeps every checkpoint (no `num_to_keep`, snapshots on its own
adaptive period, ~5% of the time) and this callback deletes a trial's older checkpoints as
each new one is registered, from the storage and from Ray's list.
"""

from __future__ import annotations

from ray.tune import Callback

from sweeps.run.checkpoints import prune


class KeepLatest(Callback):
    """After a trial's checkpoint is registered: every older one deleted. (Ray calls
    `on_checkpoint` before it registers the checkpoint, `on_trial_save` after.)"""

    def on_trial_save(self, iteration, trials, trial, **info):
        manager = trial.run_metadata.checkpoint_manager
        latest = manager.latest_checkpoint_result
        if latest is None:
            return
        older = [r for r in manager.best_checkpoint_results if r is not latest]
        if not older:
            return
        manager._checkpoint_results = [latest]  # Ray's list (private): what it would keep
        trial.invalidate_json_state()
        trial.run_metadata.invalidate_cache()
        storage = trial.storage  # the older folders, and any a kill left, go as a resume's do
        prune(storage.storage_filesystem, storage.trial_fs_path, {latest.checkpoint.path})
