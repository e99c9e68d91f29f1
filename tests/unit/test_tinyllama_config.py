"""`configs/tinyllama.yaml` is a sweep the seed's author would run on one 8-GPU node."""

import re

from sweeps.config import load_config
from tests.helpers import ROOT

COMMIT = re.compile(r"[0-9a-f]{40}")


def test_tinyllama_fills_the_node_and_judges_curricula_after_the_switch():
    cfg = load_config(ROOT / "configs" / "tinyllama.yaml")
    search, train = cfg.search, cfg.train
    assert search.max_concurrent == 8 and search.resources.gpu == 1  # 8 GPUs busy
    assert search.num_samples % search.max_concurrent == 0  # whole waves
    # ASHA's first rung comes after two_phase trials have switched to the mixture.
    phase1_steps = round(train.max_steps * train.phase1_fraction)
    assert search.scheduler.grace_period * train.report_every > phase1_steps
    assert search.scheduler.grace_period < train.num_reports  # a rung exists at all
    # Enough rows that no sequence repeats: rows per phase >= sequences the steps consume.
    assert train.num_examples >= train.max_steps * train.batch_size * train.grad_accum
    assert train.num_examples <= 52002 - cfg.data.eval_size.alpaca  # Alpaca-only still fits


def test_tinyllama_pins_what_it_can_and_samples_openorca_gpt4():
    cfg = load_config(ROOT / "configs" / "tinyllama.yaml")
    assert COMMIT.fullmatch(cfg.model.revision)
    assert COMMIT.fullmatch(cfg.data.revisions.alpaca) and COMMIT.fullmatch(
        cfg.data.revisions.dolly
    )
    assert cfg.data.revisions.openorca is None  # no hash could be looked up: main, said so
    text = (ROOT / "configs" / "tinyllama.yaml").read_text()
    assert "# openorca: no commit hash" in text
    assert cfg.data.openorca_subset == "gpt4"
    assert cfg.data.data_files("openorca") == ("1M-GPT4-Augmented.parquet",)
    assert cfg.data.max_rows == 200000 and cfg.data.sample_seed == 0
