"""The layout holds: imports go one way, the heavy libraries stay in their rooms, the
reading commands never load the training stack, and functions stay short."""

from __future__ import annotations

import ast
import json
import subprocess
import sys

import pytest

from tests.helpers import ROOT

PACKAGES = ("common", "training", "evaluation", "mlflow_server", "sweeps", "demo")
# package -> project packages it may import
ALLOWED = {
    "common": set(),
    "training": {"common"},
    "evaluation": {"common"},
    "mlflow_server": {"common"},
    "sweeps": {"common", "training", "evaluation", "mlflow_server"},
    "demo": {"common", "training"},
}
# third-party library -> the only package that may import it
OWNER = {"trl": "training", "peft": "training", "ray": "sweeps", "mlflow": "mlflow_server"}
HEAVY = ("torch", "transformers", "trl", "peft", "ray")


def _modules():
    for pkg in PACKAGES:
        for path in sorted((ROOT / pkg).rglob("*.py")):
            if "metrics" in path.relative_to(ROOT).parts:  # evaluate's own module files
                continue
            yield pkg, path, ast.parse(path.read_text(encoding="utf-8"))


def _imported(tree: ast.AST) -> set[str]:
    names = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names |= {a.name.split(".")[0] for a in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module.split(".")[0])
    return names


def test_imports_go_one_way_and_heavy_libraries_stay_in_their_package():
    problems = []
    for pkg, path, tree in _modules():
        for name in _imported(tree):
            if name in PACKAGES and name != pkg and name not in ALLOWED[pkg]:
                problems.append(f"{path.relative_to(ROOT)} imports {name}")
            if name in OWNER and OWNER[name] != pkg:
                problems.append(f"{path.relative_to(ROOT)} imports {name} (only {OWNER[name]})")
    assert problems == []


def test_every_package_says_what_it_owns_and_may_import():
    for pkg in PACKAGES:
        doc = ast.get_docstring(ast.parse((ROOT / pkg / "__init__.py").read_text()))
        assert doc and "import" in doc, pkg


def test_no_function_over_80_lines():
    long = [
        f"{path.relative_to(ROOT)}:{node.lineno} {node.name} ({node.end_lineno - node.lineno + 1})"
        for _, path, tree in _modules()
        for node in ast.walk(tree)
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef)
        and node.end_lineno - node.lineno + 1 > 80
    ]
    assert long == []


def test_no_module_over_400_lines_outside_data_tables():
    big = [
        f"{path.relative_to(ROOT)} ({n})"
        for _, path, _ in _modules()
        if (n := len(path.read_text().splitlines())) > 400 and not path.name.endswith("_table.py")
    ]
    assert big == []


PROBE = """
import json, sys
from sweeps.cli import main
try:
    main(sys.argv[1:])
except SystemExit:
    pass
print(json.dumps(sorted({m.split('.')[0] for m in sys.modules} & set(%r))))
"""


@pytest.mark.parametrize(
    "argv",
    [
        ["--help"],
        ["validate", "configs/demo.yaml"],
        ["data", "configs/demo.yaml"],
        ["report", "no-such-sweep", "--tracking-uri", "sqlite:///{tmp}/mlflow.db"],
        ["promote", "no-such-sweep", "--tracking-uri", "sqlite:///{tmp}/mlflow.db"],
        ["predict", "no-such-sweep", "--tracking-uri", "sqlite:///{tmp}/mlflow.db"],
    ],
)
def test_reading_commands_never_import_the_training_stack(argv, tmp_path, demo_assets):
    argv = [a.replace("{tmp}", str(tmp_path)) for a in argv]
    argv = [str(ROOT / a) if a.startswith("configs/") else a for a in argv]
    if argv[0] == "data":  # the demo data wherever the session built it
        argv += [f"--set=data.{s}={demo_assets[s]}" for s in ("alpaca", "dolly", "openorca")]
    proc = subprocess.run(
        [sys.executable, "-c", PROBE % (HEAVY,), *argv],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert json.loads(proc.stdout.strip().splitlines()[-1]) == []


def test_the_sweep_driver_imports_ray_but_not_the_training_stack(tmp_path):
    """The driver schedules trials and logs them; the workers train. Importing torch,
    transformers, TRL and PEFT in the driver cost every sweep ~3 s before Ray started (they
    load where a model is: a trial's worker, or the driver when it scores an uncached base)."""
    code = (
        "import json, sys\n"
        "import sweeps.run.launch, sweeps.run.tuner, sweeps.run.confirm\n"
        f"print(json.dumps(sorted({{m.split('.')[0] for m in sys.modules}} & set({HEAVY!r}))))"
    )
    proc = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=300
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert json.loads(proc.stdout.strip().splitlines()[-1]) == ["ray"]
