"""Tag and artifact names are spelled once, in common/tags.py: no other module writes a
`sweeplab.*` tag name as a literal (docstrings and comments may mention them)."""

from __future__ import annotations

import ast

from tests.helpers import ROOT

PACKAGES = ("common", "training", "evaluation", "mlflow_server", "sweeps")


def _literals(tree: ast.AST) -> list[tuple[int, str]]:
    docstrings = {
        id(node.value)
        for node in ast.walk(tree)
        if isinstance(node, ast.Expr) and isinstance(node.value, ast.Constant)
    }
    return [
        (node.lineno, node.value)
        for node in ast.walk(tree)
        if isinstance(node, ast.Constant)
        and isinstance(node.value, str)
        and id(node) not in docstrings
        and node.value.startswith(("sweeplab.", "mlflow.parentRunId", "eval/predictions"))
    ]


def test_tag_and_artifact_names_live_in_common_tags():
    found = []
    for pkg in PACKAGES:
        for path in sorted((ROOT / pkg).rglob("*.py")):
            if path == ROOT / "common" / "tags.py":
                continue
            tree = ast.parse(path.read_text(encoding="utf-8"))
            found += [f"{path.relative_to(ROOT)}:{n}: {v!r}" for n, v in _literals(tree)]
    assert found == []
