"""Why a figure misses its target, written from the numbers measured in the same run."""

from __future__ import annotations


def _f(x: float, d: int = 1) -> str:
    return f"{x:.{d}f}"


def _driver(r: dict) -> str:
    """Where sweeplab's added seconds per result go, scale by scale, and why they change."""
    scales = r["driver_scales"]
    parts = []
    for n in scales:
        at = f"_at_{n}"
        results = r[f"driver_sweeplab_results{at}"]
        writes = r[f"driver_sweeplab_writes{at}"] / results
        calls = r.get(f"driver_sweeplab_store_calls{at}", r[f"driver_sweeplab_writes{at}"])
        send = r[f"driver_sweeplab_send_s_per_result{at}"]
        lean = r.get(f"driver_ray_keep_all_s_per_result{at}", float("nan"))
        parts.append(
            f"{n:,} trials: {r[f'driver_added_s_per_result{at}']:.3f} s added per result "
            f"(sweeplab {r[f'driver_sweeplab_s_per_result{at}']:.3f}, Ray keeping every "
            f"checkpoint {lean:.3f}, Ray with num_to_keep=1 "
            f"{r[f'driver_ray_s_per_result{at}']:.3f}); Ray's loop spent "
            f"{r.get(f'driver_sweeplab_logger_s_per_result{at}', float('nan')):.3f} s a result "
            f"in the MLflow logger, {r[f'driver_sweeplab_put_s_per_result{at}']:.3f} s of it "
            f"queuing {writes:.1f} writes; the outbox's thread sent them in {send:.3f} s "
            f"({calls / results:.1f} store calls a result) and had "
            f"{r[f'driver_sweeplab_backlog{at}']} left when Ray's last trial ended"
        )
    growth = r.get("driver_added_cost_growth")
    second = r.get("driver_added_cost_growth_from_second")
    grown = f"{growth:.2f}x" if growth is not None else "n/a"
    steady = f" and {second:.2f}x that at {scales[1]:,}" if second is not None else ""
    spans = [f"{a}_to_{b}" for a, b in zip(scales, scales[1:], strict=False)]
    marginal = [r.get(f"driver_added_marginal_s_per_result_{span}") for span in spans]
    per_extra = ""
    if len(marginal) > 1 and None not in marginal and marginal[0] > 0:
        per_extra = (
            " Per extra result, the fixed costs left out (each side's seconds from one scale "
            f"to the next over the results added): {marginal[0]:.3f} s added from "
            f"{scales[0]:,} to {scales[1]:,} trials, {marginal[-1]:.3f} s from {scales[-2]:,} to "
            f"{scales[-1]:,} ({marginal[-1] / marginal[0]:.2f}x). At {scales[0]:,} trials "
            "the sender's work hides in Ray's own start-up, when Ray's loop is idle."
        )
    return (
        "; ".join(parts) + f". The added cost at {scales[-1]:,} trials is {grown} that at "
        f"{scales[0]:,}{steady}.{per_extra} A short sweep is mostly start-up (the Tuner, the "
        "parent run, the first proposals), spread over few results. Each result costs "
        "sweeplab the same writes at every scale: queued on Ray's loop (on disk, fsynced) "
        "and sent beside it by one thread, a trial's consecutive writes in one store call; "
        "the sender runs in the same interpreter as Ray's loop, so the two share one lock, "
        "and at large scale the sender sets the pace (the backlog when the last trial ended "
        "is sent after it, and counted). With `num_to_keep=1` Ray snapshots its experiment "
        "state (every trial's record, 40 KB a trial here) at every checkpoint, so its own "
        "cost per result grows with the trials; sweeplab keeps one checkpoint a trial "
        "without that."
    )


def why(r: dict) -> dict[str, str]:
    out: dict[str, str] = {}
    if r.get("driver_scales"):
        out["driver_added_cost_growth"] = _driver(r)
    if "proposal_s_max_last_100" in r:
        for label, what in (("", "one objective"), ("_two_objectives", "two objectives")):
            if f"proposal_s_max_last_100{label}" not in r:
                continue
            out[f"proposal_s_max_last_100{label}"] = (
                f"{what}, {r['proposal_trials']} proposals: the last 100 took "
                f"{r[f'proposal_s_mean_last_100{label}']:.4f} s on average and "
                f"{r[f'proposal_s_max_last_100{label}']:.4f} s at most (the first 100: "
                f"{r[f'proposal_s_mean_first_100{label}']:.4f} s on average; Optuna's TPE "
                "models every finished trial at each proposal, so it grows with the "
                "history). The never-propose-twice check alone: "
                f"{1e6 * r[f'proposal_check_s_max_last_100{label}']:.0f} us at most (a set "
                f"lookup); {r[f'proposal_distinct{label}']} distinct configurations proposed."
            )
    if "confirm_plan_s_at_runs" in r:
        out["confirm_plan_s_at_runs"] = (
            f"`sweeplab confirm` read {r['confirm_runs_read']:,} of "
            f"{r['read_back_runs']:,} trial runs (paged, 1,000 a page) and chose its "
            f"configurations in {_f(r['confirm_plan_s_at_runs'])} s (in process: no interpreter "
            "start); its first configuration is the best trial's, the oldest run: "
            f"{str(r['confirm_best_first']).lower()}. Running the replicates is training time, "
            "not measured here."
        )
    if "overhead_ratio" in r:
        extra = r["overhead_sweep_s"] - r["overhead_bare_s"]
        in_trials = r["overhead_sum_trial_s_sweep"] - r["overhead_sum_trial_s_bare"]
        waves = r["overhead_trials"] / r["overhead_concurrency"]
        outside = extra - r["overhead_ray_startup_s"] - in_trials / r["overhead_concurrency"]
        out["overhead_ratio"] = (
            f"the sweep took {_f(r['overhead_sweep_s'])} s and the bare loop "
            f"{_f(r['overhead_bare_s'])} s for the same {r['overhead_trials']} trials, "
            f"{r['overhead_concurrency']} at a time ({extra:+.1f} s). Ray's start-up alone "
            f"measures {_f(r['overhead_ray_startup_s'])} s. The trials' own time summed is "
            f"{_f(r['overhead_sum_trial_s_sweep'])} s under Ray vs "
            f"{_f(r['overhead_sum_trial_s_bare'])} s bare ({in_trials:+.1f} s: reporting "
            "checkpoints to Tune). The rest, about "
            f"{outside / waves:.1f} s per wave of {r['overhead_concurrency']} trials, is spent "
            "outside the trials: Tune's actor start (reuse_actors keeps one worker process "
            "per concurrent slot, so torch, transformers, TRL and PEFT are imported once per "
            "worker, as in the bare pool), the experiment-state snapshots, copying each "
            "checkpoint into Tune's storage, and the driver's MLflow writes (the outbox, the "
            "leaderboard). These costs are fixed per sweep and per trial, so the ratio falls "
            "toward 1 as trials grow; bench trials are kept short to fit the bench in minutes. "
            "The largest objective difference between the two runs' trials is "
            f"{r.get('overhead_max_objective_diff', float('nan')):.2g} (the same work was done)."
        )
    if "eval_batch_speedup" in r:
        n, tokens = max(1, r["eval_prompts"]), r["eval_generated_tokens"]
        out["eval_batch_speedup"] = (
            f"{n} prompts, {tokens} tokens generated: {_f(r['eval_one_by_one_s'], 2)} s one by "
            f"one ({tokens / r['eval_one_by_one_s']:.0f} tokens/s) vs "
            f"{_f(r['eval_batched_s'], 2)} s batched ({tokens / r['eval_batched_s']:.0f} "
            f"tokens/s; batch {r['eval_batch_size']}, {r['eval_threads']} thread). The demo "
            f"model's answers are short (about {tokens / n:.0f} tokens against a budget of "
            f"{r['eval_max_new_tokens']}), so a batch's last decoding steps carry only its few "
            "longest answers (finished rows leave the batch), and a 1M-parameter model's "
            "decoding step costs mostly per-step dispatch, not arithmetic, at any batch size: "
            "batching cannot divide the one-by-one time by more than the number of rows that "
            "are still decoding."
        )
    if "parallel_speedup" in r:
        out["parallel_speedup"] = (
            f"two trials took {_f(r['parallel_concurrent_s'])} s side by side, "
            f"{_f(r['parallel_serial_s'])} s one after the other at the same "
            f"{r['parallel_threads_per_trial']} thread each, and "
            f"{_f(r['parallel_serial_all_threads_s'])} s one after the other with "
            f"{r['parallel_all_threads']} threads each (speedup "
            f"{_f(r['parallel_speedup_vs_serial_all_threads'], 2)} against that). Side by side, "
            "the two trials share the cores' caches and memory bandwidth (and, on a shared "
            "machine, with whatever else runs: the load average when the bench started was "
            f"{r.get('machine', {}).get('load_avg_at_start', ['?'])[0]})."
        )
    if "asha_step_fraction" in r:
        out["asha_step_fraction"] = (
            f"ASHA ({r['asha_scheduler']}) trained {r['asha_steps']} of "
            f"{r['asha_full_budget_steps']} steps; steps per trial {r['asha_steps_per_trial']}. "
            "Asynchronous halving promotes a trial whenever it beats the quantile of the "
            "results already at its rung, so the first trials meet no competition and run to "
            "the end; with 8 trials, 2 at a time and 6 reports, a simulation of Ray's rule on "
            "random objectives averages about 0.5 (0.42 with 16 trials and 8 reports), so the "
            "figure lands on either side of the target depending on the order the trials "
            "happen to finish in, and more trials than the bench can afford would pull it "
            "under."
        )
        out["asha_same_best"] = (
            f"full budget picked {r['fifo_best_config']}, ASHA picked {r['asha_best_config']}."
        )
    if "train_flops_fraction_of_peak" in r:
        v = r["train_variants"]
        pad, pack = v["padded"], v["padding_free_packed"]
        out["train_flops_fraction_of_peak"] = (
            f"torch.mm on the model's own GEMM shapes reaches "
            f"{r['train_matmul_peak_flops_per_s'] / 1e9:.1f} GFLOP/s at "
            f"{r['train_threads']} thread; a padded training step executes "
            f"{pad['counted_flops_per_position'] / 1e6:.2f} MFLOP per position (FlopCounterMode; "
            "it does not see the CPU's sdpa attention, so this is the Linear layers) "
            f"and takes {_f(pad['seconds_per_step'], 2)} s for "
            f"{pad['positions_per_step']:.0f} positions ({pad['useful_tokens_per_step']:.0f} "
            "useful), i.e. "
            f"{pad['executed_flops_per_s'] / 1e9:.2f} GFLOP/s. The profiler puts "
            f"{100 * pad['matmul_time_share']:.0f}% of a forward + backward's operator time in "
            "matmul kernels (padded); with hidden size 128 the rest dominates: attention, "
            "the LoRA branches (dropout, two skinny matmuls per adapted layer), norms, "
            "activations, the optimizer and the "
            "trainer's per-step Python cost are memory- or overhead-bound. Padding-free "
            f"packing removes the padding ({pack['useful_tokens_per_step']:.0f} useful tokens per "
            f"step, all of them useful) but is {_f(pack['seconds_per_step'], 2)} s per step: "
            "without flash-attention's varlen kernels the CPU computes attention over the "
            "whole flattened batch under a block-diagonal mask, quadratic in the batch's "
            "total length: useful tokens/s are "
            f"{pad['tokens_per_s']:.0f} padded and {pack['tokens_per_s']:.0f} packed."
        )
    if "metric_time_fraction" in r:
        out["metric_time_fraction"] = (
            f"scoring {r['metric_pairs']} pairs took {_f(r['metric_score_s_first'], 2)} s the "
            f"first time in a process and {_f(r['metric_score_s_again'], 2)} s again, against "
            f"{_f(r['metric_generation_s'], 2)} s of generation (over a trial's "
            f"{r['metric_evaluations_per_trial']} evaluations: "
            f"{r['metric_time_fraction']:.3f}; the first evaluation alone: "
            f"{r['metric_time_fraction_first_evaluation']:.3f}). BLEU's n-gram counts and "
            "METEOR's alignment are pure Python per pair, and generation got faster too (see "
            "eval_batch_speedup). Loading WordNet (once per process) takes "
            f"{_f(r['metric_wordnet_load_s'], 2)} s more; counted in, scoring's share of a "
            f"trial's evaluation time would be {r['metric_fraction_with_wordnet_load']:.2f}."
        )
    return out
