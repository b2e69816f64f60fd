"""The layout's rules, checked on the code itself: no import cycle between the project's
modules, no project import hidden inside a function, and a layer for every mcp_core module.

The layer order itself is import-linter's contract in pyproject.toml (`make lint`), written
down in docs/architecture.md.
"""

from __future__ import annotations

import ast
import tomllib
from pathlib import Path

import grimp

ROOT = Path(__file__).resolve().parent.parent
PACKAGES = (
    "askproai",
    "common",
    "tenants",
    "staff",
    "bookings",
    "routing",
    "integrations",
    "mcp_core",
)


def _project_graph() -> grimp.ImportGraph:
    # Names used only in annotations (`if TYPE_CHECKING:`) are not imports at run time.
    return grimp.build_graph(
        *PACKAGES, include_external_packages=False, exclude_type_checking_imports=True
    )


def import_cycles(graph: grimp.ImportGraph) -> list[list[str]]:
    """The groups of modules that import each other, directly or through others (Tarjan's
    strongly connected components of more than one module, and modules importing themselves)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    cycles: list[list[str]] = []
    counter = 0

    for root in sorted(graph.modules):
        if root in index:
            continue
        # Iterative depth-first search: (module, its not yet visited imports).
        work = [(root, iter(sorted(graph.find_modules_directly_imported_by(root))))]
        index[root] = low[root] = counter
        counter += 1
        stack.append(root)
        on_stack.add(root)
        while work:
            module, imports = work[-1]
            advanced = False
            for imported in imports:
                if imported not in index:
                    index[imported] = low[imported] = counter
                    counter += 1
                    stack.append(imported)
                    on_stack.add(imported)
                    work.append(
                        (imported, iter(sorted(graph.find_modules_directly_imported_by(imported))))
                    )
                    advanced = True
                    break
                if imported in on_stack:
                    low[module] = min(low[module], index[imported])
            if advanced:
                continue
            work.pop()
            if work:
                parent = work[-1][0]
                low[parent] = min(low[parent], low[module])
            if low[module] == index[module]:
                group = []
                while True:
                    member = stack.pop()
                    on_stack.discard(member)
                    group.append(member)
                    if member == module:
                        break
                imports_itself = module in graph.find_modules_directly_imported_by(module)
                if len(group) > 1 or imports_itself:
                    cycles.append(sorted(group))
    return cycles


def test_no_module_of_the_project_takes_part_in_an_import_cycle():
    graph = _project_graph()
    for migration in [m for m in graph.modules if ".migrations" in m]:
        graph.remove_module(migration)

    assert import_cycles(graph) == []


def test_the_cycle_check_finds_a_cycle_through_three_modules_and_nothing_in_a_chain():
    graph = grimp.ImportGraph()
    for importer, imported in [("a.x", "a.y"), ("a.y", "a.z"), ("a.z", "a.x"), ("a.z", "a.w")]:
        graph.add_import(importer=importer, imported=imported)
    chain = grimp.ImportGraph()
    for importer, imported in [("b.x", "b.y"), ("b.y", "b.z")]:
        chain.add_import(importer=importer, imported=imported)

    assert import_cycles(graph) == [["a.x", "a.y", "a.z"]]
    assert import_cycles(chain) == []


def _function_level_project_imports(path: Path) -> list[str]:
    found = []
    tree = ast.parse(path.read_text(), filename=str(path))
    for function in ast.walk(tree):
        if not isinstance(function, ast.FunctionDef | ast.AsyncFunctionDef):
            continue
        if function.name == "ready" and path.name == "apps.py":
            continue  # AppConfig.ready: Django's place for start-up registration
        for node in ast.walk(function):
            if isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                names = [node.module]
            elif isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            else:
                continue
            if any(name.split(".")[0] in PACKAGES for name in names):
                found.append(f"{path.relative_to(ROOT)}:{node.lineno} in {function.name}()")
    return found


def test_no_project_module_is_imported_inside_a_function():
    """An import placed in a function to get round a cycle is a cycle: one of the two modules
    is in the wrong place. (Third-party imports loaded on demand, such as an SDK used only
    when configured, are not checked.)"""
    found = [
        place
        for package in PACKAGES
        for path in sorted((ROOT / package).rglob("*.py"))
        if "migrations" not in path.parts
        for place in _function_level_project_imports(path)
    ]

    assert found == []


def test_every_mcp_core_module_has_its_layer_in_the_import_contract():
    config = tomllib.loads((ROOT / "pyproject.toml").read_text())
    contract = next(c for c in config["tool"]["importlinter"]["contracts"] if c["type"] == "layers")
    layered = {
        name.strip() for layer in contract["layers"] for name in layer.replace("|", ":").split(":")
    }
    modules = {
        f"mcp_core.{path.stem if path.suffix else path.name}"
        for path in (ROOT / "mcp_core").iterdir()
        if (path.suffix == ".py" and path.stem != "__init__")
        or (path.is_dir() and (path / "__init__.py").exists() and path.name != "migrations")
    }

    assert sorted(modules - layered) == []


def _raw_sql_calls(path: Path) -> list[str]:
    found = []
    for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
        if not isinstance(node, ast.Call):
            continue
        func = node.func
        name = func.attr if isinstance(func, ast.Attribute) else getattr(func, "id", "")
        if name in {"cursor", "raw", "extra", "RawSQL"}:
            found.append(f"{path.relative_to(ROOT)}:{node.lineno} {name}()")
    return found


def test_hand_written_sql_lives_only_in_the_queries_modules():
    """One way to touch a row: the ORM, and each app's own statements in its `queries.py`
    (ruff refuses `common.rows` elsewhere; this refuses raw cursors and raw SQL)."""
    found = [
        place
        for package in PACKAGES
        if package != "common"
        for path in sorted((ROOT / package).rglob("*.py"))
        if "migrations" not in path.parts and path.name != "queries.py"
        for place in _raw_sql_calls(path)
    ]

    assert found == []


def test_every_read_across_tenants_says_why():
    """`.all_tenants()` is the one way past the fail-closed manager; each use carries a
    `# all_tenants: <why>` comment on one of the three lines before it."""
    unexplained = []
    for package in PACKAGES:
        for path in sorted((ROOT / package).rglob("*.py")):
            if "migrations" in path.parts or path == ROOT / "common" / "scoping.py":
                continue
            lines = path.read_text().splitlines()
            for number, line in enumerate(lines):
                if ".all_tenants()" in line and not any(
                    "# all_tenants:" in before for before in lines[max(0, number - 3) : number + 1]
                ):
                    unexplained.append(f"{path.relative_to(ROOT)}:{number + 1}")

    assert unexplained == []
