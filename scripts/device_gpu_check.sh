#!/usr/bin/env bash
# The whole GPU check on a lent GPU machine, in one command (no make, no network there):
#
#   bash scripts/device_gpu_check.sh [--dry-run]
#
# 1. prints the GPU and the versions of what the machine's python3 holds;
# 2. installs the carried wheels (`make gpu-wheelhouse`: bench/gpu/wheelhouse) with
#    `pip install --target` into a scratch folder put first on PYTHONPATH, which never holds
#    the machine's own torch, transformers, huggingface-hub, accelerate, tokenizers or
#    safetensors (a carried copy would shadow them); pip's errors are shown as they come;
# 3. copies the carried WordNet (bench/gpu/nltk_data) to a folder only this account can write
#    (NLTK refuses data that others can write to);
# 4. checks that the trial path imports, and from where;
# 5. runs scripts/gpu_check.py under a time limit (GPU_CHECK_LIMIT_S, default 270 s: a device
#    call of 330 s leaves room in 15 minutes for a machine start and a second try; 1200 s for
#    --dry-run, toy sizes on a CPU that others share).
# JSON lines go to $OUT/gpu-check-<time>.jsonl when $OUT is set (the device returns $OUT),
# else to bench/gpu/ (bench/out/ for --dry-run). PYTHON picks the interpreter (python3);
# GPU_CARRY the folder holding wheelhouse/ and nltk_data/ (bench/gpu).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

dry=()
case "${1:-}" in
  --dry-run) dry=(--dry-run) ;;
  "") ;;
  *) echo "usage: $0 [--dry-run]" >&2; exit 2 ;;
esac
py=${PYTHON:-python3}
carry=${GPU_CARRY:-bench/gpu}
if [[ ${#dry[@]} -gt 0 ]]; then limit=${GPU_CHECK_LIMIT_S:-1200}  # toy sizes on a busy CPU
else limit=${GPU_CHECK_LIMIT_S:-270}
fi
if [[ -n "${OUT:-}" ]]; then out_dir=$OUT
elif [[ ${#dry[@]} -gt 0 ]]; then out_dir=bench/out
else out_dir=bench/gpu
fi
out_file=$out_dir/gpu-check-$(date -u +%Y%m%d-%H%M%S).jsonl
umask 022
# Nothing outside the machine can be reached: no library should try.
export HF_HUB_OFFLINE=1 HF_DATASETS_OFFLINE=1 TRANSFORMERS_OFFLINE=1 HF_EVALUATE_OFFLINE=1
scratch=$(mktemp -d "${TMPDIR:-/tmp}/gpu-check.XXXXXX")
trap 'rm -rf "$scratch"' EXIT  # the model (4.4 GB fp32 at TinyLlama's size), data, wheels
# Never carried: the machine's own (the same list as scripts/gpu_wheelhouse.py MACHINE_OWN).
machine_own='torch transformers huggingface_hub accelerate tokenizers safetensors'

echo "== machine"
if command -v nvidia-smi >/dev/null; then
  nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader || true
else
  echo "no nvidia-smi"
fi
"$py" - <<'EOF'
import importlib.metadata as md
import platform
import sys

print("python", platform.python_version(), sys.executable)
names = "torch transformers huggingface-hub accelerate tokenizers safetensors peft numpy pyarrow"
for name in names.split() + ["pandas", "fsspec", "sacrebleu", "flash-attn", "pip"]:
    try:
        print(f"  {name} {md.version(name)}")
    except md.PackageNotFoundError:
        print(f"  {name} -")
EOF

echo "== carried wheels: $carry/wheelhouse -> $scratch/site"
site=$scratch/site
shopt -s nullglob
wheels=("$carry"/wheelhouse/*.whl)
if [[ ${#wheels[@]} -eq 0 ]]; then
  echo "no wheels in $carry/wheelhouse: run \`make gpu-wheelhouse\` and carry bench/gpu/wheelhouse" >&2
  exit 3
fi
# One name per distribution: pip picks the wheel that fits this python (cp311/cp312 both ride).
mapfile -t names < <(printf '%s\n' "${wheels[@]##*/}" | cut -d- -f1 | sort -u)
for own in $machine_own; do
  if printf '%s\n' "${names[@]}" | grep -qix "$own"; then
    echo "$carry/wheelhouse carries $own, which would shadow the machine's own" >&2
    exit 3
  fi
done
"$py" -m pip install --quiet --no-index --no-deps --disable-pip-version-check \
  --find-links "$carry/wheelhouse" --target "$site" "${names[@]}" || {
  echo "pip install --target failed (its error above)" >&2
  exit 3
}
echo "installed: ${names[*]}"
export PYTHONPATH="$site:$PWD${PYTHONPATH:+:$PYTHONPATH}"

if [[ -f "$carry/nltk_data/corpora/wordnet.zip" ]]; then
  mkdir -p "$scratch/nltk_data/corpora"
  cp "$carry/nltk_data/corpora/wordnet.zip" "$scratch/nltk_data/corpora/"
  chmod -R go-w "$scratch"
  export NLTK_DATA=$scratch/nltk_data
fi

echo "== imports"
"$py" - "$site" <<'EOF'
import importlib
import os
import sys

site, repo = sys.argv[1], os.getcwd()
for name in ("torch", "transformers", "huggingface_hub", "accelerate", "tokenizers",
             "safetensors", "peft", "trl", "datasets", "evaluate", "pydantic", "nltk",
             "rouge_score", "sacrebleu", "yaml", "pyarrow", "sweeps.run.trial"):
    module = importlib.import_module(name)
    path = module.__file__ or ""
    where = "carried" if path.startswith(site) else "repo" if path.startswith(repo) else "machine"
    print(f"  {name} {getattr(module, '__version__', '')} ({where})")
from evaluation.wordnet import ensure_wordnet

print("  wordnet", ensure_wordnet())
EOF

echo "== gpu_check.py (limit ${limit}s) -> $out_file"
mkdir -p "$out_dir"
status=0
timeout --kill-after=20 "$limit" "$py" scripts/gpu_check.py "${dry[@]}" \
  --out "$out_file" --work "$scratch/work" --wheelhouse "$carry/wheelhouse" || status=$?
if [[ $status -eq 124 || $status -eq 137 ]]; then
  echo "gpu_check.py passed its ${limit}s limit: the figures measured so far are in $out_file" >&2
fi
echo "== exit $status: $out_file"
exit $status
