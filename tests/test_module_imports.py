"""Imports run one way (docs/architecture.md): the import-linter contracts of pyproject.toml hold (layers; production
code never imports simulators or bench); at module level a service imports the task it enqueues, a task imports its
service only inside its body, and no module of ours imports a module that imports it back."""

import ast
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = (
    "accounts",
    "audit",
    "backoffice",
    "contactcenter",
    "interactions",
    "metrics",
    "otp",
    "retention",
    "webhooks",
    "voice",
    "simulators",
    "bench",
)


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _modules() -> dict[str, Path]:
    return {
        _module_name(path): path
        for package in PACKAGES
        for path in (ROOT / package).rglob("*.py")
        if "migrations" not in path.parts
    }


def _module_level_imports(path: Path, name: str) -> set[str]:
    """What the module imports while it is imported: every import outside a function body, as module names (and
    `module.name` for `from module import name`, which may be a submodule)."""
    found: set[str] = set()
    package = name.split(".") if path.name == "__init__.py" else name.split(".")[:-1]

    def visit(statements):
        for node in statements:
            if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.Lambda):
                continue
            if isinstance(node, ast.Import):
                found.update(alias.name for alias in node.names)
            elif isinstance(node, ast.ImportFrom):
                base = package[: len(package) - node.level + 1] if node.level else []
                module = ".".join([*base, *([node.module] if node.module else [])])
                found.add(module)
                found.update(f"{module}.{alias.name}" for alias in node.names)
            for child in ast.iter_child_nodes(node):
                if isinstance(child, ast.stmt | ast.excepthandler):
                    visit([child])

    visit(ast.parse(path.read_text()).body)
    return found


def _graph() -> dict[str, set[str]]:
    modules = _modules()
    return {
        name: {imported for imported in _module_level_imports(path, name) if imported in modules} - {name}
        for name, path in modules.items()
    }


def _cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """The strongly connected components of more than one module (Tarjan, iterative)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []
    for root in graph:
        if root in index:
            continue
        work = [(root, iter(sorted(graph[root])))]
        index[root] = low[root] = len(index)
        stack.append(root)
        on_stack.add(root)
        while work:
            node, children = work[-1]
            child = next(children, None)
            if child is not None:
                if child not in index:
                    index[child] = low[child] = len(index)
                    stack.append(child)
                    on_stack.add(child)
                    work.append((child, iter(sorted(graph[child]))))
                elif child in on_stack:
                    low[node] = min(low[node], index[child])
                continue
            work.pop()
            if work:
                low[work[-1][0]] = min(low[work[-1][0]], low[node])
            if low[node] == index[node]:
                component = []
                while True:
                    member = stack.pop()
                    on_stack.discard(member)
                    component.append(member)
                    if member == node:
                        break
                if len(component) > 1:
                    found.append(sorted(component))
    return found


def test_no_module_level_import_cycle():
    assert _cycles(_graph()) == []


@pytest.mark.parametrize("tasks_module", ["interactions.tasks", "otp.tasks", "retention.tasks"])
def test_a_task_module_imports_no_service_at_module_level(tasks_module):
    services = {name for name in _graph()[tasks_module] if ".services" in f".{name}" or name.endswith("services")}
    assert services == set()


def test_interaction_services_import_the_task_they_enqueue_at_module_level():
    graph = _graph()
    assert "interactions.tasks" in graph["interactions.services.messages"]
    assert "interactions.tasks" in graph["interactions.services.delivery"]


def test_the_layer_contracts_hold():
    lint_imports = Path(sys.executable).parent / "lint-imports"
    result = subprocess.run([str(lint_imports)], cwd=ROOT, capture_output=True, text=True, timeout=120, check=False)
    assert result.returncode == 0, result.stdout[-3000:]
