"""What a promoted model carries besides weights: its code and its pinned requirements; and
the local wheelhouse they install from offline.

Code: the template, the greedy generator and the verified loader, copied byte for byte into
a package named `sweeplab_serving` (not `training`/`evaluation`, so a loaded model can only
import its own copy, never an installed sweeplab's). Requirements: exact versions, as
installed here, of what the model imports, plus a constraints file pinning everything those
pull in, so a fresh virtualenv gets the environment the model was checked in.

`python -m sweeps.promote.shipping DIR` downloads those exact wheels into DIR once (through
the configured package index); `pip install --no-index --find-links DIR -r requirements.txt`
then installs a promoted model's requirements with no network.
"""

from __future__ import annotations

import importlib.util
import re
import shutil
import subprocess
import sys
from importlib import metadata
from pathlib import Path

PACKAGE = "sweeplab_serving"
SHIPPED = {
    "template.py": "training.template",
    "generate.py": "evaluation.generate",
    "verified_load.py": "training.verified_load",
}
# What the model imports when it loads and predicts (mlflow-skinny holds the pyfunc and the
# scoring server; sqlalchemy and alembic let it load straight from a SQL registry store).
DIRECT = (
    "mlflow-skinny",
    "torch",
    "transformers",
    "peft",
    "safetensors",
    "tokenizers",
    "huggingface-hub",
    "numpy",
    "pandas",
    "sqlalchemy",
    "alembic",
)


def _key(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def build_code_dir(dest: Path) -> Path:
    """`dest/sweeplab_serving/` holding the shipped modules; the path to give `code_paths`."""
    pkg = dest / PACKAGE
    pkg.mkdir(parents=True)
    (pkg / "__init__.py").write_text('"""Generation code shipped inside a promoted model."""\n')
    for name, module in SHIPPED.items():
        shutil.copyfile(importlib.util.find_spec(module).origin, pkg / name)
    return pkg


def pinned(names=DIRECT) -> list[str]:
    """`name==version` of each, as installed in this environment."""
    return [f"{n}=={metadata.version(n)}" for n in names]


def closure(names=DIRECT) -> list[str]:
    """Exact pins of `names` and everything they require here (markers evaluated)."""
    from packaging.markers import default_environment
    from packaging.requirements import Requirement

    env = {**default_environment(), "extra": ""}
    found: dict[str, str] = {}
    todo = list(names)
    while todo:
        name = todo.pop()
        if _key(name) in found:
            continue
        dist = metadata.distribution(name)
        found[_key(name)] = dist.version
        for spec in dist.requires or []:
            req = Requirement(spec)
            if req.marker is None or req.marker.evaluate(env):
                todo.append(req.name)
    return [f"{k}=={v}" for k, v in sorted(found.items())]


def requirements(dest: Path) -> list[str]:
    """The model's pip requirements: direct pins and `-c` a constraints file written here."""
    constraints = dest / "constraints.txt"
    constraints.write_text("\n".join(closure()) + "\n", encoding="utf-8")
    return [*pinned(), f"-c {constraints}"]


def download_wheels(dest: Path) -> Path:
    """The exact wheels of the closure into `dest` (once; needs the package index)."""
    dest.mkdir(parents=True, exist_ok=True)
    pins = dest / "pins.txt"
    pins.write_text("\n".join(closure()) + "\n", encoding="utf-8")
    pip = [sys.executable, "-m", "pip", "download", "--no-deps", "-q", "-d", str(dest)]
    subprocess.run([*pip, "-r", str(pins)], check=True)
    return dest


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    if len(args) != 1:
        print("usage: python -m sweeps.promote.shipping WHEEL_DIR", file=sys.stderr)
        return 2
    print(f"wheels: {download_wheels(Path(args[0]))}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
