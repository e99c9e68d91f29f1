"""`make gpu-wheelhouse`: what `scripts/device_gpu_check.sh` brings to the lent GPU machine,
which has no network: wheels of the packages gpu-check needs that its image lacks (at the
versions installed here, which the device-shaped test proves), and WordNet zipped for METEOR.

    python scripts/gpu_wheelhouse.py [--out bench/gpu] [--python 3.12 --python 3.11]

The machine's own transformers, huggingface-hub, torch, accelerate, tokenizers and safetensors
are never carried: `pip install --target` puts carried wheels ahead of the machine's, so a
carried huggingface-hub 2.x would shadow its 1.33 (which its transformers 5.17 requires).
peft is on the image too, at a version nobody recorded; it is carried at the tested version
because sweeplab calls its API directly. Compiled wheels (pydantic-core) are fetched for each
`--python` (3.12 is the machine's; 3.11 is this venv's, for the test); multiprocess ships one
wheel per Python. rouge_score has only an sdist: its wheel is built here.
"""

from __future__ import annotations

import argparse
import importlib.metadata as metadata
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
# What the trial path imports that the machine's image (bench/gpu/device_packages.txt) lacks,
# plus peft (see above); their own requirements that the image lacks are listed too.
CARRIED = (
    "trl",
    "peft",
    "datasets",
    "evaluate",
    "dill",
    "multiprocess",
    "nltk",
    "defusedxml",
    "rouge_score",
    "pydantic",
    "pydantic-core",
    "annotated-types",
    "typing-inspection",
)
# Never carried: the machine's own, which a carried copy would shadow.
MACHINE_OWN = (
    "torch",
    "transformers",
    "huggingface-hub",
    "accelerate",
    "tokenizers",
    "safetensors",
)
# The machine's glibc is 2.28 or newer, so it takes manylinux wheels of 2_28 and older; pip
# expands none of the PEP 600 tags it is given (a lone manylinux_2_28 refuses a 2_17 wheel).
PLATFORMS = ("manylinux_2_28_x86_64", "manylinux_2_17_x86_64", "manylinux2014_x86_64")
LIMIT_MIB = 64


def pins(names: tuple[str, ...] = CARRIED) -> list[str]:
    """`name==version` of each package as installed in this venv."""
    return [f"{name}=={metadata.version(name)}" for name in names]


def platform_args() -> list[str]:
    """pip's `--platform` options for the machine."""
    return [arg for p in PLATFORMS for arg in ("--platform", p)]


def _pip(*args: str) -> None:
    subprocess.run([sys.executable, "-m", "pip", *args], check=True)


def build(out: Path, pythons: list[str]) -> Path:
    """The wheelhouse at `out/wheelhouse` and WordNet at `out/nltk_data`; returns `out`."""
    wheels, nltk_data = out / "wheelhouse", out / "nltk_data"
    shutil.rmtree(wheels, ignore_errors=True)
    shutil.rmtree(nltk_data, ignore_errors=True)
    binary = [p for p in pins() if not p.startswith("rouge_score==")]
    for version in pythons:
        abi = "cp" + version.replace(".", "")
        _pip(
            "download", "-q", "--no-deps", "--only-binary=:all:", "--dest", str(wheels),
            "--python-version", version, "--implementation", "cp", "--abi", abi,
            "--abi", "none", *platform_args(), *binary,
        )  # fmt: skip
    rouge = next(p for p in pins() if p.startswith("rouge_score=="))
    _pip("wheel", "-q", "--no-deps", "--wheel-dir", str(wheels), rouge)
    _zip_wordnet(nltk_data / "corpora" / "wordnet.zip")
    mib = sum(f.stat().st_size for d in (wheels, nltk_data) for f in d.rglob("*")) / 2**20
    print(f"{out}: {len(list(wheels.glob('*.whl')))} wheels + WordNet, {mib:.1f} MiB")
    if mib >= LIMIT_MIB:
        raise SystemExit(f"{out}: {mib:.1f} MiB, over the {LIMIT_MIB} MiB a device call carries")
    return out


def _zip_wordnet(dest: Path) -> None:
    """This venv's WordNet (`make setup`) as `corpora/wordnet.zip`, entries under wordnet/."""
    from evaluation.wordnet import ensure_wordnet

    source = Path(ensure_wordnet())
    dest.parent.mkdir(parents=True, exist_ok=True)
    with zipfile.ZipFile(dest, "w", zipfile.ZIP_DEFLATED) as z:
        for f in sorted(source.rglob("*")):
            if f.is_file():
                z.write(f, Path("wordnet") / f.relative_to(source))


def make_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--out", type=Path, default=ROOT / "bench" / "gpu")
    p.add_argument("--python", action="append", help="target Pythons (default: 3.12, 3.11)")
    return p


def main(argv: list[str] | None = None) -> int:
    args = make_parser().parse_args(argv)
    if str(ROOT) not in sys.path:
        sys.path.insert(0, str(ROOT))
    build(args.out, args.python or ["3.12", "3.11"])
    return 0


if __name__ == "__main__":
    sys.exit(main())
