"""`configs/tinyllama.yaml`, unchanged but for sizes shrunk with `--set`, runs end to end on
the CPU against a model directory shaped like TinyLlama's hub repo and data files in the three
datasets' published layouts (not the demo's).

The model is what makes TinyLlama differ from the demo model: a Llama-2-style tokenizer (BPE
over `▁`-marked words, `<unk>`/`<s>`/`</s>` at ids 0-2, BOS added, no pad token, right
padding), grouped-query attention (fewer key/value heads than heads) and untied input and
output embeddings. Tiny random weights, a tokenizer trained here with `tokenizers`.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from tests.helpers import ROOT, SET_METRICS, run_sweeplab, sweep_runs, write_published

pytestmark = pytest.mark.integration


def build_hub_shaped_model(out: Path, texts: list[str]) -> Path:
    import torch
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, processors, trainers
    from transformers import LlamaConfig, LlamaForCausalLM, PreTrainedTokenizerFast

    backend = Tokenizer(models.BPE(unk_token="<unk>", byte_fallback=True))
    backend.pre_tokenizer = pre_tokenizers.Metaspace(replacement="▁", prepend_scheme="first")
    backend.decoder = decoders.Metaspace(replacement="▁", prepend_scheme="first")
    trainer = trainers.BpeTrainer(vocab_size=700, special_tokens=["<unk>", "<s>", "</s>"])
    backend.train_from_iterator(texts, trainer)
    backend.post_processor = processors.TemplateProcessing(
        single="<s> $A", pair="<s> $A <s> $B", special_tokens=[("<s>", 1)]
    )
    tokenizer = PreTrainedTokenizerFast(
        tokenizer_object=backend,
        bos_token="<s>",
        eos_token="</s>",
        unk_token="<unk>",
        padding_side="right",
        model_max_length=2048,
    )
    config = LlamaConfig(
        vocab_size=len(tokenizer),
        hidden_size=64,
        intermediate_size=176,
        num_hidden_layers=2,
        num_attention_heads=4,
        num_key_value_heads=2,  # grouped-query attention, as TinyLlama (32 heads, 4 kv heads)
        tie_word_embeddings=False,
        max_position_embeddings=2048,
        bos_token_id=1,
        eos_token_id=2,
        pad_token_id=None,
    )
    torch.manual_seed(0)
    LlamaForCausalLM(config).save_pretrained(out)
    tokenizer.save_pretrained(out)
    return out


@pytest.fixture(scope="module")
def hub_shaped(tmp_path_factory) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("hub-shaped")
    files = write_published(root / "data", alpaca=400, dolly=200, openorca=500, gpt35=100)
    orca = root / "Open-Orca" / "OpenOrca"  # the hub repo's two files; gpt4 picks one
    orca.mkdir(parents=True)
    for f in (root / "data").glob("*.parquet"):
        f.rename(orca / f.name)
    texts = [json.dumps(r) for r in json.loads(files["alpaca"].read_text())]
    texts += files["dolly"].read_text().splitlines()
    texts += ["### Instruction: ### Input: ### Response: ### System:"] * 20
    model = build_hub_shaped_model(root / "TinyLlama-1.1B-hub-shaped", texts)
    return {"alpaca": files["alpaca"], "dolly": files["dolly"], "openorca": orca, "model": model}


SHRINK = {  # sizes only; everything else is configs/tinyllama.yaml as shipped
    "data.max_rows": "300",
    "data.eval_size.alpaca": "8",
    "data.eval_size.dolly": "8",
    "data.eval_size.openorca": "8",
    "train.num_examples": "64",
    "train.max_steps": "8",
    "train.batch_size": "2",
    "train.grad_accum": "1",
    "train.max_length": "128",
    "train.report_every": "2",
    "generation.max_new_tokens": "8",
    "generation.batch_size": "8",
    "search.num_samples": "2",
    "search.max_concurrent": "2",
    "search.replicates": "0",  # the noise runs: a budget, like the trial count
    "search.resources.cpu": "1",
    "search.resources.gpu": "0",
}


def test_the_model_is_shaped_like_tinyllama(hub_shaped):
    from transformers import AutoConfig, AutoTokenizer

    tok = AutoTokenizer.from_pretrained(hub_shaped["model"])
    cfg = AutoConfig.from_pretrained(hub_shaped["model"])
    assert tok.pad_token is None and tok.padding_side == "right"
    assert tok("Hello there")["input_ids"][0] == tok.bos_token_id == 1
    assert tok.eos_token_id == 2 and tok.convert_ids_to_tokens(0) == "<unk>"
    assert cfg.num_key_value_heads < cfg.num_attention_heads and not cfg.tie_word_embeddings


def test_tinyllama_config_runs_end_to_end_on_cpu(hub_shaped, tmp_path, mlflow_uri):
    sets = {
        **SHRINK,
        "model.path": str(hub_shaped["model"]),
        **{f"data.{s}": str(hub_shaped[s]) for s in ("alpaca", "dolly", "openorca")},
    }
    args = [a for k, v in sets.items() for a in ("--set", f"{k}={v}")]
    config = str(ROOT / "configs" / "tinyllama.yaml")
    env = {k: v for k, v in os.environ.items() if k != "MLFLOW_TRACKING_URI"}
    # The data once, as a user checks it first; the sweep then reads it from the cache.
    data = run_sweeplab("data", config, *args, "--json", cwd=tmp_path, env=env)
    assert data.returncode == 0, data.stderr[-3000:]
    stats = json.loads(data.stdout)
    assert stats["openorca"]["available"] == 500  # the GPT-4 file only, not the GPT-3.5 one
    proc = run_sweeplab(
        "sweep", config, *args, "--name", "hubshape", "--tracking-uri", mlflow_uri,
        cwd=tmp_path, env=env, timeout=1500,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr[-4000:] + proc.stdout[-3000:]
    assert ": from the cache" in proc.stdout
    from mlflow import MlflowClient

    parents, children = sweep_runs(MlflowClient(tracking_uri=mlflow_uri), "hubshape")
    assert len(parents) == 1 and len(children) == 2
    params = parents[0].data.params
    assert params["config.model.revision"] == "036fa4651240b9a1487f709833b9e4b96b4c1574"
    assert params["config.data.revisions.alpaca"] == "dce01c9b08f87459cf36a430d809084718273017"
    assert params["config.data.openorca_subset"] == "gpt4"
    collections = {k: int(v) for k, v in params.items() if "openorca.collections." in k}
    assert set(collections) == {
        f"data_stats.openorca.collections.{c}" for c in ("cot", "flan", "niv", "t0")
    }
    assert sum(collections.values()) == 300
    for child in children:
        assert child.info.status == "FINISHED"
        assert child.data.params["curriculum"] in ("none", "two_phase")
        for name in SET_METRICS:
            assert 0.0 <= child.data.metrics[name] <= 1.0, name
