"""The import rule of docs/design.md: adapters -> projections -> actors -> core, never upwards.

Only tests and the command-line entry point (``adapters/cli.py``) may import ``bench``.
"""

import ast
import pathlib

import pytest

ROOT = pathlib.Path(__file__).resolve().parent.parent
RANK = {"core": 0, "actors": 1, "projections": 2, "adapters": 3}
CLI_FILES = {ROOT / "adapters" / "cli.py"}


def _imported_modules(tree: ast.AST, path: pathlib.Path) -> list[tuple[int, str]]:
    found: list[tuple[int, str]] = []
    package = path.relative_to(ROOT).with_suffix("").parts
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found.extend((node.lineno, alias.name) for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level == 0 and node.module:
                found.append((node.lineno, node.module))
            elif node.level > 0:
                # A relative import resolves inside the file's own package chain.
                base = package[: len(package) - node.level]
                found.append((node.lineno, ".".join([*base, node.module or ""])))
    return found


def _violations() -> list[str]:
    bad = []
    for layer, rank in RANK.items():
        for path in sorted((ROOT / layer).rglob("*.py")):
            tree = ast.parse(path.read_text(), filename=str(path))
            for lineno, module in _imported_modules(tree, path):
                top = module.split(".")[0]
                if top in RANK and RANK[top] > rank:
                    bad.append(f"{path.relative_to(ROOT)}:{lineno} ({layer}) imports {module}")
                if top == "bench" and path not in CLI_FILES:
                    bad.append(f"{path.relative_to(ROOT)}:{lineno} imports bench outside the CLI")
    return bad


def test_no_import_points_up_the_layers() -> None:
    assert _violations() == []


def test_the_checker_sees_an_upward_import(tmp_path: pathlib.Path) -> None:
    """Guard against a checker that cannot fail: an upward import in core is reported."""
    tree = ast.parse("from adapters import cli\nimport projections.live\n")
    fake = ROOT / "core" / "fake.py"
    modules = [m for _, m in _imported_modules(tree, fake)]
    assert modules == ["adapters", "projections.live"]
    assert all(RANK[m.split(".")[0]] > RANK["core"] for m in modules)


@pytest.mark.parametrize("layer", sorted(RANK))
def test_layer_is_a_package(layer: str) -> None:
    assert (ROOT / layer / "__init__.py").is_file()
