"""The demo base model: byte-level tokenizer, tiny Llama, hub-like save/load, build cache."""

from __future__ import annotations

import json

import pytest
import torch
from transformers import AutoModelForCausalLM, AutoTokenizer

from demo import corpus
from demo import model as dm

# Small enough to build in a few seconds; the real default is 300 steps, batch 32, seq 128.
TINY = {"steps": 20, "batch_size": 8, "seq_len": 64, "n_docs": 300, "threads": 1}


@pytest.fixture(scope="module")
def built(tmp_path_factory) -> tuple:
    out = tmp_path_factory.mktemp("models") / "demo-llama"
    messages: list[str] = []
    threads = torch.get_num_threads()
    path = dm.build_demo_model(out, seed=0, **TINY, progress=messages.append)
    assert torch.get_num_threads() == threads  # the build's thread setting does not leak
    return path, messages


@pytest.fixture(scope="module")
def tokenizer(built):
    return AutoTokenizer.from_pretrained(built[0])


def test_tokenizer_round_trips_corpus_text_and_unicode(tokenizer):
    rows = corpus.generate_rows(seed=5, sizes={"alpaca": 60, "dolly": 60, "openorca": 60})
    texts = [v for table in rows.values() for r in table for v in r.values()]
    texts += [
        "Zoë walked to Tréval.",
        "naïve café — 漢字, emoji 😀, tab\tand  two spaces\n\nnew lines ",
        " leading space, trailing space ",
        "### System:\nsys\n\n### Instruction:\nq\n\n### Response:\n",
    ]
    for text in texts:
        ids = tokenizer(text)["input_ids"]
        assert tokenizer.unk_token_id not in ids
        assert tokenizer.decode(ids, skip_special_tokens=True) == text


def test_special_tokens_and_bos(tokenizer):
    assert len(tokenizer) == dm.VOCAB_SIZE
    assert (tokenizer.unk_token, tokenizer.bos_token, tokenizer.eos_token, tokenizer.pad_token) == (
        "<unk>",
        "<s>",
        "</s>",
        "<pad>",
    )
    assert (tokenizer.unk_token_id, tokenizer.bos_token_id, tokenizer.eos_token_id) == (0, 1, 2)
    assert tokenizer.pad_token_id == 3
    ids = tokenizer("The capital of Velmora is Arden.")["input_ids"]
    assert ids[0] == tokenizer.bos_token_id and tokenizer.eos_token_id not in ids


def test_template_markers_tokenize_compactly(tokenizer):
    for marker in dm.TEMPLATE_MARKERS:
        assert len(tokenizer(marker, add_special_tokens=False)["input_ids"]) <= 3, marker


def test_left_padding_batches(tokenizer):
    tokenizer.padding_side = "left"
    batch = tokenizer(["Arden", "The Sel River flows through Arden."], padding=True)
    short = batch["input_ids"][0]
    assert short[0] == tokenizer.pad_token_id and batch["attention_mask"][0][0] == 0
    assert batch["attention_mask"][1] == [1] * len(short)


def test_build_saves_safetensors_that_load_like_a_hub_model(built, tokenizer):
    path, messages = built
    assert (path / "model.safetensors").is_file()
    assert not list(path.glob("*.bin"))
    assert (path / "tokenizer.json").is_file() and (path / "config.json").is_file()
    model = AutoModelForCausalLM.from_pretrained(path)
    cfg = model.config
    assert cfg.model_type == "llama" and cfg.tie_word_embeddings
    assert (cfg.vocab_size, cfg.hidden_size, cfg.num_hidden_layers) == (1024, 128, 4)
    assert (cfg.num_attention_heads, cfg.max_position_embeddings) == (4, 512)
    assert (cfg.bos_token_id, cfg.eos_token_id, cfg.pad_token_id) == (1, 2, 3)
    n_params = sum(p.numel() for p in model.parameters())
    assert 500_000 < n_params < 2_000_000
    assert any("pretraining" in m for m in messages)
    # no temp dirs left next to it, and readable by others (mkdtemp would make it private)
    assert [p.name for p in path.parent.iterdir()] == ["demo-llama"]
    assert path.stat().st_mode & 0o777 == 0o755


def test_pretraining_lowered_the_loss(built):
    record = dm.read_marker(built[0])
    assert record["settings"]["steps"] == TINY["steps"]
    assert record["initial_loss"] > 6.0  # about ln(1024) = 6.93 at random init
    assert record["final_loss"] < record["initial_loss"] - 1.0


def test_generate_runs_on_a_prompt(built, tokenizer):
    model = AutoModelForCausalLM.from_pretrained(built[0])
    tokenizer.padding_side = "left"
    prompts = [
        "### Instruction:\nWhat is the capital of Velmora?\n\n### Response:\n",
        "The capital of Velmora is",
    ]
    enc = tokenizer(prompts, return_tensors="pt", padding=True)
    with torch.no_grad():
        out = model.generate(**enc, max_new_tokens=8, do_sample=False)
    assert out.shape[0] == 2 and enc["input_ids"].shape[1] < out.shape[1]
    assert out.shape[1] <= enc["input_ids"].shape[1] + 8


def test_second_build_is_a_cache_hit_and_new_settings_rebuild(built):
    path, _ = built
    weights = path / "model.safetensors"
    stamp = weights.stat().st_mtime_ns
    messages: list[str] = []
    assert dm.build_demo_model(path, seed=0, **TINY, progress=messages.append) == path
    assert weights.stat().st_mtime_ns == stamp
    assert messages and messages[0].startswith("cached")

    other = {**TINY, "steps": 3}
    dm.build_demo_model(path, seed=0, **other)
    assert dm.read_marker(path)["settings"]["steps"] == 3


def test_build_is_deterministic(tmp_path):
    small = {**TINY, "steps": 3}
    a = dm.build_demo_model(tmp_path / "a", seed=1, **small)
    b = dm.build_demo_model(tmp_path / "b", seed=1, **small)
    assert (a / "tokenizer.json").read_bytes() == (b / "tokenizer.json").read_bytes()
    ma = AutoModelForCausalLM.from_pretrained(a).state_dict()
    mb = AutoModelForCausalLM.from_pretrained(b).state_dict()
    assert all(torch.equal(ma[k], mb[k]) for k in ma)
    ra, rb = dm.read_marker(a), dm.read_marker(b)
    assert ra["settings_hash"] == rb["settings_hash"] and ra["final_loss"] == rb["final_loss"]


def test_main_prints_the_summary(tmp_path, capsys):
    out = tmp_path / "m"
    argv = ["--out", str(out), "--steps", "2", "--seed", "0", "--threads", "1"]
    assert dm.main(argv) == 0
    text = capsys.readouterr().out
    assert "2 steps" in text and "parameters" in text and "loss" in text
    assert dm.main(argv) == 0
    assert "cached" in capsys.readouterr().out
    assert json.loads((out / dm.MARKER_NAME).read_text())["settings"]["steps"] == 2
