"""scripts/gpu_check.py's pure parts: the TinyLlama shape, its FLOP count, the JSON lines
(the dry run end to end, on the lent machine's versions:
tests/integration/test_device_gpu_check.py)."""

from __future__ import annotations

import json
import os
import subprocess
import sys

from bench.tinyllama import TINYLLAMA, TOY, matmul_params
from tests.helpers import ROOT

sys.path.insert(0, str(ROOT / "scripts"))

import gpu_check  # noqa: E402


def test_tinyllama_dimensions_and_matmul_weights():
    assert (TINYLLAMA["num_hidden_layers"], TINYLLAMA["hidden_size"]) == (22, 2048)
    assert (TINYLLAMA["num_attention_heads"], TINYLLAMA["num_key_value_heads"]) == (32, 4)
    assert (TINYLLAMA["intermediate_size"], TINYLLAMA["vocab_size"]) == (5632, 32000)
    # TinyLlama-1.1B: 1.100B parameters = matmul weights + the 65.5M input embedding + norms.
    total = matmul_params(TINYLLAMA) + 32000 * 2048 + (2 * 22 + 1) * 2048
    assert total == 1_100_048_384
    # The toy keeps the proportions: grouped-query 8:1, SwiGLU 2.75x.
    assert TOY["num_attention_heads"] // TOY["num_key_value_heads"] == 8
    assert TOY["intermediate_size"] / TOY["hidden_size"] == 2.75


def test_json_lines_are_written_as_they_come(tmp_path):
    emit = gpu_check.JsonLines(tmp_path / "out.jsonl")
    emit("solo", train_tokens_per_s=12.5)
    # Readable before the writer is closed (a timeout still leaves every figure so far).
    rows = [json.loads(x) for x in (tmp_path / "out.jsonl").read_text().splitlines()]
    assert rows[0]["event"] == "solo" and rows[0]["train_tokens_per_s"] == 12.5


def test_lora_parameters_of_the_tinyllama_config():
    class Cfg:
        class lora:  # noqa: N801
            r = 16
            target_modules = ("q_proj", "k_proj", "v_proj", "o_proj")

    # q, o: 16 x (2048 + 2048); k, v: 16 x (2048 + 256); 22 layers.
    assert gpu_check._lora_params(TINYLLAMA, Cfg) == 22 * 16 * (2 * 4096 + 2 * 2304)


def _override(overrides: list[str], key: str) -> int:
    return int(next(o.split("=", 1)[1] for o in overrides if o.startswith(key + "=")))


def test_gpu_trial_trains_as_many_rows_as_its_steps_take_and_the_demo_corpus_holds():
    from demo.corpus import DEFAULT_SIZES
    from sweeps.config import load_config

    cfg = load_config(ROOT / "configs" / "tinyllama.yaml", gpu_check.GPU_OVERRIDES).train
    rows = _override(gpu_check.GPU_OVERRIDES, "train.num_examples")
    assert rows == cfg.max_steps * cfg.batch_size * cfg.grad_accum == 40 * 8 * 4
    held_out = load_config(ROOT / "configs" / "tinyllama.yaml").data.eval_size.alpaca
    assert rows <= DEFAULT_SIZES["alpaca"] - held_out  # 1280 <= 3000 - 198


def test_training_rate_is_that_of_the_summed_interval_time():
    # Two intervals of equal tokens at 100 and 300 tokens/s: 2 units in 1/100 + 1/300 s.
    assert gpu_check.harmonic_mean([100.0, 300.0]) == 2 / (1 / 100 + 1 / 300) == 150.0
    assert gpu_check.harmonic_mean([]) == 0.0 and gpu_check.harmonic_mean([0.0, 50.0]) == 50.0


def test_wheel_names_are_one_per_distribution(tmp_path):
    for name in (
        "pydantic_core-2.50.5-cp311-cp311-manylinux2014_x86_64.manylinux_2_17_x86_64.whl",
        "pydantic_core-2.50.5-cp312-cp312-manylinux2014_x86_64.manylinux_2_17_x86_64.whl",
        "multiprocess-0.70.19-py311-none-any.whl",
        "trl-1.16.0-py3-none-any.whl",
    ):
        (tmp_path / name).write_bytes(b"")
    assert gpu_check.wheel_names(tmp_path) == ["multiprocess", "pydantic_core", "trl"]


def test_a_failed_wheelhouse_install_shows_pips_own_error(tmp_path, monkeypatch, capsys):
    (tmp_path / "wheelhouse").mkdir()
    (tmp_path / "wheelhouse" / "notapackage-1.0-py3-none-any.whl").write_bytes(b"not a zip")
    monkeypatch.setattr(gpu_check, "TRIAL_PACKAGES", ("no_such_module_xyz",))
    monkeypatch.setattr(gpu_check, "OPTIONAL_PACKAGES", ())
    found = gpu_check.packages(tmp_path / "wheelhouse")
    assert found["missing"] == ["no_such_module_xyz"] and found["installed_from_wheelhouse"] == []
    assert found["pip_error"] and "notapackage" in found["pip_error"]
    assert "notapackage" in capsys.readouterr().err


def test_the_tokenizer_has_an_id_for_each_of_the_models_and_each_decodes_to_text():
    import random

    from bench.tinyllama import train_tokenizer

    # Two sentences give a few hundred merges; filler words make up the rest of 2,048.
    tok = train_tokenizer(["The cat sat on the mat.", "A dog ran in the park."], 2048)
    assert len(tok) == 2048
    rng = random.Random(0)
    ids = [rng.randrange(3 + 256, 2048) for _ in range(300)]  # past the specials and bytes
    assert all(tok.decode([i]) for i in ids)
    text = tok.decode(tok("The cat sat.")["input_ids"], skip_special_tokens=True)
    assert text.strip() == "The cat sat."  # the demo text still round-trips
    assert tok.pad_token is None  # Llama-style: the trial sets pad = eos


def _wheel(folder, name: str) -> None:
    """A minimal pure-Python wheel holding the module `name`."""
    import zipfile

    dist = f"{name}-1.0.dist-info"
    files = {
        f"{name}.py": "VALUE = 7\n",
        f"{dist}/METADATA": f"Metadata-Version: 2.1\nName: {name}\nVersion: 1.0\n",
        f"{dist}/WHEEL": "Wheel-Version: 1.0\nRoot-Is-Purelib: true\nTag: py3-none-any\n",
    }
    files[f"{dist}/RECORD"] = "".join(f"{f},,\n" for f in [*files, f"{dist}/RECORD"])
    with zipfile.ZipFile(folder / f"{name}-1.0-py3-none-any.whl", "w") as z:
        for path, text in files.items():
            z.writestr(path, text)


def test_wheelhouse_install_reaches_the_shared_stages_worker_processes(tmp_path, monkeypatch):
    # Given a missing trial package that only the wheelhouse holds
    (tmp_path / "wheelhouse").mkdir()
    _wheel(tmp_path / "wheelhouse", "sweeplab_probe_pkg")
    monkeypatch.setattr(gpu_check, "TRIAL_PACKAGES", ("sweeplab_probe_pkg",))
    monkeypatch.setattr(gpu_check, "OPTIONAL_PACKAGES", ())
    monkeypatch.setattr(sys, "path", list(sys.path))
    monkeypatch.setenv("PYTHONPATH", "/elsewhere")
    # when it is installed
    found = gpu_check.packages(tmp_path / "wheelhouse")
    assert found["installed_from_wheelhouse"] == ["sweeplab_probe_pkg"]
    assert found["missing"] == [] and found["pip_error"] is None
    # then a child process (a worker of the shared stage) imports it too
    proc = subprocess.run(
        [sys.executable, "-c", "import sweeplab_probe_pkg as m; print(m.VALUE)"],
        capture_output=True,
        text=True,
    )
    assert proc.stdout.strip() == "7", proc.stderr
    target = str(tmp_path / "site")
    assert os.environ["PYTHONPATH"].split(os.pathsep) == [target, str(ROOT), "/elsewhere"]


def test_readme_device_call_carries_the_wheelhouse_and_leaves_room_for_a_second_try():
    import re

    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    call = dict(re.findall(r"^    (command|carry|timeout_s): +(.+)$", readme, re.M))
    assert call["command"] == "bash scripts/device_gpu_check.sh"
    carry = json.loads(call["carry"])
    assert carry == ["bench/gpu/wheelhouse", "bench/gpu/nltk_data"]
    ignored = (ROOT / ".gitignore").read_text().split()
    assert all(f"/{path}/" in ignored for path in carry)  # ignored: travels only if carried
    script = (ROOT / "scripts" / "device_gpu_check.sh").read_text()
    limit = int(re.search(r"limit=\$\{GPU_CHECK_LIMIT_S:-(\d+)\}\nfi", script).group(1))
    timeout_s = int(call["timeout_s"])
    # The check, its 20 s kill grace and ~40 s of installs fit one call; two calls and a
    # machine start (up to 4 min) fit the 15 minutes of device time.
    assert limit + 20 + 40 <= timeout_s and 2 * timeout_s + 240 <= 15 * 60
