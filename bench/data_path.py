"""The data path at the real datasets' sizes, on the CPU: `sweeplab data` on synthetic files
of Alpaca's 52k, Dolly's 15k and OpenOrca's 1M (GPT-4 subset) rows in their published layouts.

    python -m bench.data_path [--alpaca 52002] [--dolly 15011] [--openorca 994896]
                              [--max-rows 200000] [--out bench/out/data_path]

Each run is a fresh `sweeplab data configs/tinyllama.yaml --set data.*=FILES` process, timed
with its peak RSS (`/usr/bin/time -v`, else `getrusage` of the children): first with an empty
data cache (the sources are read), then again (the prepared data comes from runs/data_cache/).
Rows have about the real datasets' text lengths (Alpaca ~270-character answers, Dolly
contexts, OpenOrca ~700-character questions with system prompts and `niv.`/`flan.`/`t0.`/`cot.`
ids). The files are written once per size and kept under --out.
"""

from __future__ import annotations

import argparse
import json
import random
import re
import resource
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

ROOT = Path(__file__).resolve().parents[1]
SIZES = {"alpaca": 52002, "dolly": 15011, "openorca": 994896}
# The published GPT-4 subset's sub-collections, roughly.
COLLECTIONS = (("niv", 0.35), ("flan", 0.35), ("t0", 0.2), ("cot", 0.1))
SYSTEMS = (
    "",
    "You are an AI assistant. You will be given a task. You must generate a detailed and long "
    "answer.",
    "You are a helpful assistant, who always provide explanation. Think like you are answering "
    "to a five year old.",
    "You are an AI assistant that follows instruction extremely well. Help as much as you can.",
)


def _sentences(rng: random.Random, n: int = 4000) -> list[str]:
    words = [
        "".join(rng.choice("abcdefghijklmnopqrstuvwxyz") for _ in range(rng.randint(2, 9)))
        for _ in range(3000)
    ]
    return [" ".join(rng.choices(words, k=rng.randint(6, 18))).capitalize() + "." for _ in range(n)]


def _text(rng: random.Random, pool: list[str], chars: int, i: int) -> str:
    out, size = [f"({i})"], 0
    while size < chars:
        s = rng.choice(pool)
        out.append(s)
        size += len(s) + 1
    return " ".join(out)


def write_files(out: Path, sizes: dict[str, int]) -> dict[str, Path]:
    """The three files at `sizes`, written once (kept while their sizes are the same)."""
    tag = "-".join(str(sizes[s]) for s in ("alpaca", "dolly", "openorca"))
    folder = out / tag
    files = {
        "alpaca": folder / "alpaca_data.json",
        "dolly": folder / "databricks-dolly-15k.jsonl",
        "openorca": folder / "1M-GPT4-Augmented.parquet",
    }
    if (folder / ".complete").exists():
        return files
    folder.mkdir(parents=True, exist_ok=True)
    rng = random.Random(0)
    pool = _sentences(rng)
    alpaca = [
        {
            "instruction": _text(rng, pool, 60, i),
            "input": _text(rng, pool, 60, i) if i % 3 == 0 else "",
            "output": _text(rng, pool, 270, i),
        }
        for i in range(sizes["alpaca"])
    ]
    files["alpaca"].write_text(json.dumps(alpaca, indent=4), encoding="utf-8")
    del alpaca
    with files["dolly"].open("w", encoding="utf-8") as fh:
        for i in range(sizes["dolly"]):
            row = {
                "instruction": _text(rng, pool, 70, i),
                "context": _text(rng, pool, 360, i) if i % 2 == 0 else "",
                "response": _text(rng, pool, 360, i),
                "category": rng.choice(("open_qa", "closed_qa", "brainstorming", "summarization")),
            }
            fh.write(json.dumps(row) + "\n")
    _write_orca(files["openorca"], sizes["openorca"], rng, pool)
    (folder / ".complete").touch()
    return files


def _write_orca(path: Path, n: int, rng: random.Random, pool: list[str]) -> None:
    names, weights = zip(*COLLECTIONS, strict=True)
    writer = None
    for start in range(0, n, 50_000):
        rows = [
            {
                "id": f"{rng.choices(names, weights)[0]}.{i}",
                "system_prompt": rng.choice(SYSTEMS),
                "question": _text(rng, pool, 700, i),
                "response": _text(rng, pool, 500, i),
            }
            for i in range(start, min(n, start + 50_000))
        ]
        table = pa.Table.from_pylist(rows)
        writer = writer or pq.ParquetWriter(path, table.schema)
        writer.write_table(table)
    writer.close()


def measure(cmd: list[str], cwd: Path) -> dict:
    """Seconds and peak RSS (MB) of one process."""
    timer = Path("/usr/bin/time")
    full = [str(timer), "-v", *cmd] if timer.exists() else cmd
    started = time.perf_counter()
    proc = subprocess.run(full, cwd=cwd, capture_output=True, text=True)
    seconds = time.perf_counter() - started
    if proc.returncode != 0:
        raise SystemExit(f"{' '.join(cmd)} failed: {proc.stderr.strip()[-2000:]}")
    found = re.search(r"Maximum resident set size \(kbytes\): (\d+)", proc.stderr)
    kb = int(found.group(1)) if found else resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    cpu = sum(
        float(m.group(1))
        for m in re.finditer(r"(?:User|System) time \(seconds\): ([\d.]+)", proc.stderr)
    )
    return {
        "seconds": round(seconds, 1),
        "cpu_seconds": round(cpu, 1),  # user + system: less sensitive to a loaded machine
        "peak_rss_mb": round(kb / 1024),
        "stdout": proc.stdout,
    }


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser("python -m bench.data_path", description=__doc__.split("\n")[0])
    for source, n in SIZES.items():
        p.add_argument(f"--{source}", type=int, default=n, help=f"{source} rows ({n})")
    p.add_argument("--max-rows", default="200000", help="data.max_rows ('null': all rows)")
    p.add_argument("--out", type=Path, default=ROOT / "bench" / "out" / "data_path")
    p.add_argument("--extra", nargs="*", default=[], help="more --set key=value overrides")
    args = p.parse_args(argv)
    sizes = {s: getattr(args, s) for s in SIZES}
    started = time.perf_counter()
    files = write_files(args.out, sizes)
    print(f"files for {sizes}: {time.perf_counter() - started:.0f} s", flush=True)
    project = args.out / "project"
    shutil.rmtree(project, ignore_errors=True)
    project.mkdir(parents=True)
    sets = [f"data.{s}={f.resolve()}" for s, f in files.items()]
    sets += [f"data.max_rows={args.max_rows}", *args.extra]
    cmd = [sys.executable, "-m", "sweeps.cli", "data", str(ROOT / "configs" / "tinyllama.yaml")]
    cmd += [a for kv in sets for a in ("--set", kv)]
    results = {}
    for label in ("cold", "cached"):
        results[label] = measure(cmd, project)
        r = results[label]
        print(
            f"sweeplab data ({label}): {r['seconds']} s wall, {r['cpu_seconds']} s CPU, "
            f"peak RSS {r['peak_rss_mb']} MB",
            flush=True,
        )
    print(results["cached"]["stdout"])
    return 0


if __name__ == "__main__":
    sys.exit(main())
