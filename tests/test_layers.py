"""The layers of the architecture, enforced from the import graph.

Every module under ``src/meterline`` is parsed with ``ast``; nothing is imported or executed.
The graph has one edge per module-level import (``if TYPE_CHECKING:`` blocks included: a
type-only import still couples the modules); ``from x import y`` resolves to ``x.y`` when
``y`` is a submodule. The rules:

* each module of ``meterline.kernel`` imports nothing of ours, not even another kernel
  module (stdlib, pydantic and iso4217 only);
* only the HTTP edge (``api``, ``ui``, ``app``, ``cli``, ``demo``, ``__main__``) imports
  ``meterline.api`` or ``meterline.ui``;
* no import cycles;
* a function-level import of ``meterline.*`` is listed in ``ALLOWED_LOCAL_IMPORTS`` with its
  reason (an import hidden in a function to dodge a cycle is a cycle);
* pure modules import no SQLAlchemy, no ``meterline.db`` and no HTTP library, not even
  through the modules of ours they import;
* modules that compute from loaded data (``NO_QUERIES``) import no session, repository or
  event store.

``KNOWN_VIOLATIONS`` lists what is not fixed yet; it may only shrink: a listed violation
that no longer exists fails the test, so whoever fixes one removes it from the list.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from dataclasses import dataclass
from functools import cache
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1] / "src"
PACKAGE = "meterline"

# May import meterline.api / meterline.ui: the HTTP edge and the entry points that build it.
EDGE = (
    "meterline.api",
    "meterline.ui",
    "meterline.app",
    "meterline.cli",
    "meterline.cli_licensing",
    "meterline.demo",
)
EDGE_MODULES = ("meterline.__main__",)

PURE = (
    "meterline.pricing.charge_models",
    "meterline.pricing.commands",
    "meterline.pricing.fields",
    "meterline.pricing.display",
    "meterline.invoicing.amounts",
    "meterline.invoicing.proration",
    "meterline.invoicing.lines",
    "meterline.discounts.compute",
    "meterline.taxes.compute",
    "meterline.metering.aggregations",
    "meterline.metering.folds",
    "meterline.kernel.calendar",
    "meterline.metering.windows",
    "meterline.kernel",  # and every module below it
    "meterline.licensing.verifier",
    "meterline.licensing.offline_files",
)
IMPURE_ROOTS = ("sqlalchemy", "meterline.db", "fastapi", "starlette", "httpx")

# Modules that run no query: they may use ORM rows as data (so they are not pure), but they
# import no session, repository or store; their callers load what they read.
NO_QUERIES = ("meterline.invoicing.compute",)
QUERYING = (
    "sqlalchemy.orm",
    "meterline.db.engine",
    "meterline.metering.backend",
    "meterline.metering.service",
    "meterline.metering.stores.sql",
    "meterline.metering.query",
)

# Alembic loads revision files by path and runs ``upgrade()`` only when applying that
# revision; an import inside it dodges nothing, so revisions are exempt from the local rule.
MIGRATIONS = ("meterline.db.migrations",)

# Function-level imports of meterline.* that are allowed: (importer, imported) -> reason.
_CLI_START_UP = "each command imports what it runs: `meterline --help` builds no server"
ALLOWED_LOCAL_IMPORTS: dict[tuple[str, str], str] = {
    ("meterline.cli", "meterline.accounts.platform"): _CLI_START_UP,
    ("meterline.cli", "meterline.accounts.service"): _CLI_START_UP,
    ("meterline.cli", "meterline.app"): _CLI_START_UP,
    ("meterline.cli", "meterline.invoicing.clock"): _CLI_START_UP,
    ("meterline.cli", "meterline.db.engine"): _CLI_START_UP,
    ("meterline.cli", "meterline.accounts.operator"): _CLI_START_UP,
    ("meterline.cli", "meterline.invoicing.dry_run"): _CLI_START_UP,
    ("meterline.cli_start", "meterline.accounts.service"): _CLI_START_UP,
    ("meterline.cli_start", "meterline.db.engine"): _CLI_START_UP,
    ("meterline.cli_start", "meterline.db.migrate"): _CLI_START_UP,
    ("meterline.cli_start", "meterline.kernel.errors"): _CLI_START_UP,
    ("meterline.cli", "meterline.demo"): _CLI_START_UP,
    ("meterline.cli", "meterline.kernel.durations"): _CLI_START_UP,
    ("meterline.cli", "meterline.kernel.errors"): _CLI_START_UP,
    ("meterline.cli", "meterline.kernel.instants"): _CLI_START_UP,
    ("meterline.cli", "meterline.observability"): _CLI_START_UP,
    ("meterline.cli_licensing", "meterline.licensing.license_file"): _CLI_START_UP,
    ("meterline.cli_licensing", "meterline.licensing.connectors"): _CLI_START_UP,
    ("meterline.cli_licensing", "meterline.licensing.signing_keys"): _CLI_START_UP,
    ("meterline.cli_licensing", "meterline.db.engine"): _CLI_START_UP,
    ("meterline.cli_licensing", "meterline.kernel.errors"): _CLI_START_UP,
}

# (rule, detail) pairs not fixed yet, each with its reason. Only shrinks.
KNOWN_VIOLATIONS: set[tuple[str, str]] = set()


@dataclass(frozen=True)
class Import:
    importer: str
    imported: str
    line: int
    local: bool  # inside a function body


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


@cache
def _modules() -> dict[str, Path]:
    return {
        _module_name(path): path
        for path in sorted((ROOT / PACKAGE).rglob("*.py"))
        if "__pycache__" not in path.parts
    }


def _is_package(name: str) -> bool:
    return _modules()[name].name == "__init__.py"


def _resolve_from(module: str, node: ast.ImportFrom) -> str:
    if not node.level:
        return node.module or ""
    base = module.split(".")
    if not _is_package(module):
        base = base[:-1]
    base = base[: len(base) - (node.level - 1)]
    return ".".join(base + ([node.module] if node.module else []))


def _targets(module: str, node: ast.Import | ast.ImportFrom) -> Iterator[str]:
    if isinstance(node, ast.Import):
        for alias in node.names:
            yield alias.name
        return
    source = _resolve_from(module, node)
    for alias in node.names:
        submodule = f"{source}.{alias.name}"
        yield submodule if submodule in _modules() else source


def _walk(module: str, node: ast.AST, local: bool) -> Iterator[Import]:
    for child in ast.iter_child_nodes(node):
        if isinstance(child, ast.Import | ast.ImportFrom):
            for target in _targets(module, child):
                yield Import(module, target, child.lineno, local)
        inner = local or isinstance(child, ast.FunctionDef | ast.AsyncFunctionDef)
        yield from _walk(module, child, inner)


@cache
def _imports() -> tuple[Import, ...]:
    found: list[Import] = []
    for module, path in _modules().items():
        tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
        found.extend(_walk(module, tree, local=False))
    return tuple(found)


def _within(name: str, roots: tuple[str, ...]) -> bool:
    return any(name == root or name.startswith(root + ".") for root in roots)


def _ours(name: str) -> bool:
    return _within(name, (PACKAGE,))


def _ancestors(name: str) -> list[str]:
    parts = name.split(".")
    return [".".join(parts[:i]) for i in range(1, len(parts))]


def _graph() -> dict[str, set[str]]:
    """Module → the modules of ours it imports at module level.

    Importing ``a.b.c`` first runs ``a/__init__`` and ``a/b/__init__``, so those are edges
    too (except the importer's own packages, which are already running)."""
    graph: dict[str, set[str]] = {module: set() for module in _modules()}
    for imp in _imports():
        if imp.local or imp.imported not in graph:
            continue
        own = set(_ancestors(imp.importer))
        for target in [*_ancestors(imp.imported), imp.imported]:
            if target in graph and target != imp.importer and target not in own:
                graph[imp.importer].add(target)
    return graph


def _impure_path(graph: dict[str, set[str]], start: str) -> list[str] | None:
    """A chain of module-level imports from ``start`` to an I/O library, if there is one."""
    outside: dict[str, list[str]] = {}
    for imp in _imports():
        if not imp.local and _within(imp.imported, IMPURE_ROOTS):
            outside.setdefault(imp.importer, []).append(imp.imported)
    paths = {start: [start]}
    frontier = [start]
    while frontier:
        following: list[str] = []
        for node in frontier:
            if node in outside:
                return [*paths[node], sorted(outside[node])[0]]
            for succ in sorted(graph[node]):
                if succ not in paths:
                    paths[succ] = [*paths[node], succ]
                    following.append(succ)
        frontier = following
    return None


def _cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components with more than one module (Tarjan), each as a cycle."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    components: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for succ in sorted(graph[node]):
            if succ not in index:
                visit(succ)
                low[node] = min(low[node], low[succ])
            elif succ in on_stack:
                low[node] = min(low[node], index[succ])
        if low[node] == index[node]:
            component: list[str] = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                component.append(member)
                if member == node:
                    break
            if len(component) > 1:
                components.append(component)

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return [_one_cycle(graph, set(component)) for component in components]


def _one_cycle(graph: dict[str, set[str]], component: set[str]) -> list[str]:
    """A shortest cycle through the component's smallest module, for a readable report."""
    start = min(component)
    paths = {start: [start]}
    frontier = [start]
    while frontier:
        following: list[str] = []
        for node in frontier:
            for succ in sorted(graph[node] & component):
                if succ == start:
                    return [*paths[node], start]
                if succ not in paths:
                    paths[succ] = [*paths[node], succ]
                    following.append(succ)
        frontier = following
    raise AssertionError(f"no cycle through {start}")  # unreachable for an SCC


def _violations() -> set[tuple[str, str]]:
    found: set[tuple[str, str]] = set()
    for imp in _imports():
        edge = f"{imp.importer} -> {imp.imported}"
        if imp.local:
            allowed = (imp.importer, imp.imported) in ALLOWED_LOCAL_IMPORTS
            if _ours(imp.imported) and not allowed and not _within(imp.importer, MIGRATIONS):
                found.add(("function-level import", edge))
            continue
        kernel = ("meterline.kernel",)
        if _within(imp.importer, kernel) and _ours(imp.imported):
            found.add(("kernel imports ours", edge))
        querying = _within(imp.imported, QUERYING) or imp.imported.endswith(".repository")
        if imp.importer in NO_QUERIES and querying:
            found.add(("module runs queries", edge))
        at_edge = _within(imp.importer, EDGE) or imp.importer in EDGE_MODULES
        if not at_edge and _within(imp.imported, ("meterline.api", "meterline.ui")):
            found.add(("domain imports api/ui", edge))
    graph = _graph()
    for module in graph:
        if _within(module, PURE):
            path = _impure_path(graph, module)
            if path is not None:
                found.add(("pure module imports I/O", " -> ".join(path)))
    for cycle in _cycles(graph):
        found.add(("cycle", " -> ".join(cycle)))
    return found


def test_the_graph_sees_the_package() -> None:
    # A parser that found nothing would pass every rule below.
    modules = _modules()
    assert "meterline.kernel.money" in modules
    assert "meterline.api" in modules
    assert any(imp.imported == "meterline.kernel.money" for imp in _imports())


def test_relative_and_submodule_imports_resolve() -> None:
    node = ast.parse("from . import money").body[0]
    assert isinstance(node, ast.ImportFrom)
    assert list(_targets("meterline.kernel.instants", node)) == ["meterline.kernel.money"]
    node = ast.parse("from meterline.kernel.money import round_money").body[0]
    assert isinstance(node, ast.ImportFrom)
    assert list(_targets("meterline.app", node)) == ["meterline.kernel.money"]


def test_cycles_are_found_and_reported() -> None:
    graph = {"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}
    assert _cycles(graph) == [["a", "b", "c", "a"]]
    assert _cycles({"a": {"b"}, "b": set()}) == []


def test_local_imports_are_seen() -> None:
    tree = ast.parse("def f():\n    from meterline.db import engine\n")
    [imp] = _walk("meterline.x", tree, local=False)
    assert imp.local


def test_import_layers() -> None:
    found = _violations()
    new = sorted(found - KNOWN_VIOLATIONS)
    fixed = sorted(KNOWN_VIOLATIONS - found)
    assert not new, "layer violations:\n" + "\n".join(f"  {rule}: {what}" for rule, what in new)
    assert not fixed, "fixed, remove from KNOWN_VIOLATIONS:\n" + "\n".join(
        f"  {rule}: {what}" for rule, what in fixed
    )


def test_allowed_local_imports_still_exist() -> None:
    seen = {(imp.importer, imp.imported) for imp in _imports() if imp.local}
    stale = sorted(set(ALLOWED_LOCAL_IMPORTS) - seen)
    assert not stale, f"remove from ALLOWED_LOCAL_IMPORTS: {stale}"
