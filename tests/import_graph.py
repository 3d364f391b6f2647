"""An AST import graph of the envprint package: module-top and function-level imports, not TYPE_CHECKING."""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path


def _modules(root: Path) -> dict[str, Path]:
    out = {}
    for p in root.rglob("*.py"):
        parts = p.relative_to(root.parent).with_suffix("").parts
        name = ".".join(parts[:-1] if parts[-1] == "__init__" else parts)
        out[name] = p
    return out


def _lazy_tables(known: dict[str, Path]) -> dict[str, dict[str, str]]:
    """Returns package -> its ``_LAZY`` table (public name -> defining module), read from each ``__init__``."""
    tables = {}
    for name, path in known.items():
        if path.name != "__init__.py":
            continue
        for node in ast.parse(path.read_text()).body:
            if isinstance(node, ast.Assign) and any(isinstance(t, ast.Name) and t.id == "_LAZY" for t in node.targets):
                tables[name] = ast.literal_eval(node.value)
    return tables


def _targets(
    module: str,
    path: Path,
    node: ast.Import | ast.ImportFrom,
    known: dict[str, Path],
    lazy: dict[str, dict[str, str]] | None = None,
) -> Iterator[str]:
    """Yields the modules an import statement loads; a name a package loads on first use (its ``_LAZY``
    table) counts as an import of the module that defines it, since ``from package import name`` loads it."""
    if isinstance(node, ast.Import):
        yield from (a.name for a in node.names)
        return
    if node.level:
        base = module.split(".") if path.name == "__init__.py" else module.split(".")[:-1]
        base = base[: len(base) - (node.level - 1)]
        source = ".".join([*base, *([node.module] if node.module else [])])
    else:
        source = node.module or ""
    table = (lazy or {}).get(source, {})
    for alias in node.names:
        yield f"{source}.{alias.name}" if f"{source}.{alias.name}" in known else source
        if alias.name in table:
            yield table[alias.name]


def _packages_run(module: str, target: str, known: dict[str, Path]) -> Iterator[str]:
    """Returns the packages whose __init__ importing `target` runs first, leaving out `module`'s own.

    Importing ``a.b.c`` executes ``a/__init__`` and ``a/b/__init__`` before ``c``: an edge to each, or a
    cycle through a package's __init__ (``x.m`` imports ``a.b.c`` while ``a.b`` imports ``x.m``) goes
    unseen. `module`'s own packages are already initialising when it runs, so they add no edge.
    """
    parts = target.split(".")
    for end in range(1, len(parts)):
        package = ".".join(parts[:end])
        if package in known and package != module and not module.startswith(package + "."):
            yield package


def import_graph(root: Path) -> tuple[dict[str, set[str]], list[tuple[str, str, int]]]:
    """Returns (module -> modules it imports, the function-level imports of own modules as (module, target, line))."""
    known = _modules(root)
    lazy = _lazy_tables(known)
    graph: dict[str, set[str]] = {m: set() for m in known}
    deferred: list[tuple[str, str, int]] = []

    def visit(module: str, path: Path, node: ast.AST, depth: int) -> None:
        if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test):
            for child in node.orelse:
                visit(module, path, child, depth)
            return
        if isinstance(node, (ast.Import, ast.ImportFrom)):
            for target in _targets(module, path, node, known, lazy):
                if target in known and target != module:
                    graph[module].add(target)
                    if depth:
                        deferred.append((module, target, node.lineno))
                    graph[module].update(_packages_run(module, target, known))
            return
        inner = depth + isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef))
        for child in ast.iter_child_nodes(node):
            visit(module, path, child, inner)

    for module, path in known.items():
        visit(module, path, ast.parse(path.read_text()), 0)
    return graph, deferred


def find_cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Returns the strongly connected components with more than one module (each an import cycle).

    A package's own __init__ importing its submodules is not a cycle by itself; a submodule importing
    its package back (or another module that imports it) is.
    """
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    out: list[list[str]] = []
    counter = [0]

    def connect(v: str) -> None:
        index[v] = low[v] = counter[0]
        counter[0] += 1
        stack.append(v)
        on_stack.add(v)
        for w in graph.get(v, ()):
            if w not in index:
                connect(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                component.append(w)
                if w == v:
                    break
            if len(component) > 1:
                out.append(sorted(component))

    for v in sorted(graph):
        if v not in index:
            connect(v)
    return out
