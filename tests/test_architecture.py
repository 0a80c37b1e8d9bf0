"""The house rules, checked: the layers of pyproject.toml's import-linter contract, no import cycle
anywhere in the package, and ruff clean (docs/DESIGN.md, "Layers")."""

import subprocess
import sys
from pathlib import Path

import grimp
import pytest

ROOT = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent


def _tool(name: str) -> str:
    path = BIN / name
    if not path.exists():
        pytest.fail(f"{name} is not installed beside {sys.executable} (pip install -e '.[dev]')")
    return str(path)


def test_layers_contract_is_kept():
    res = subprocess.run([_tool("lint-imports"), "--no-cache"], cwd=ROOT, capture_output=True, text=True)
    assert res.returncode == 0, res.stdout[-3000:] + res.stderr[-1000:]
    assert "0 broken" in res.stdout


def test_no_module_imports_form_a_cycle():
    graph = grimp.build_graph("deepperformer", cache_dir=None)
    cycles = set()
    for module in graph.modules:
        for imported in graph.find_modules_directly_imported_by(module):
            chain = graph.find_shortest_chain(importer=imported, imported=module)
            if chain:
                cycles.add(" -> ".join((module, *chain)))
    assert not cycles, "\n".join(sorted(cycles))


def test_no_library_module_imports_a_command():
    graph = grimp.build_graph("deepperformer", cache_dir=None)
    library = {m for m in graph.modules if not m.startswith("deepperformer.cli") and m != "deepperformer.__main__"}
    bad = {m for m in library if any(i.startswith("deepperformer.cli") for i in graph.find_modules_directly_imported_by(m))}
    assert not bad, bad


def test_ruff_is_clean():
    res = subprocess.run([_tool("ruff"), "check", "--no-cache", "."], cwd=ROOT, capture_output=True, text=True)
    assert res.returncode == 0, res.stdout[-3000:]
    res = subprocess.run([_tool("ruff"), "format", "--check", "."], cwd=ROOT, capture_output=True, text=True)
    assert res.returncode == 0, "not formatted (run `ruff format .`): " + res.stdout[-2000:]
