"""The import graph follows the README's layout table, and no module imports itself round a circle.

The rules are read from the README ("may import" column of the Layout
table), so the manual and the code cannot drift apart: a new dependency
between folders is either written into the table or fails here. Imports are
read with ``ast`` from every module of the five packages, imports inside
functions included (they run too); only ``if TYPE_CHECKING:`` blocks are left
out, since they never run.
"""

from __future__ import annotations

import ast
import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = ("streams", "detectors", "store", "alerts", "monitor")


def layout_rules(readme: str) -> dict[str, tuple[str, ...] | None]:
    """folder -> modules it may import (None: anything), from the README's Layout table."""
    section = readme[readme.index("\n## Layout"):]
    section = section[:section.find("\n## ", 1) if "\n## " in section[1:] else len(section)]
    rules: dict[str, tuple[str, ...] | None] = {}
    for line in section.splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        m = re.fullmatch(r"`([a-z_]+)/`", cells[0]) if len(cells) == 3 else None
        if m:
            allowed = cells[2]
            rules[m.group(1)] = None if allowed.startswith("anything") else tuple(re.findall(r"`([a-z_.]+)`", allowed))
    return rules


def _type_checking(node: ast.If) -> bool:
    return isinstance(node.test, ast.Name) and node.test.id == "TYPE_CHECKING" or (
        isinstance(node.test, ast.Attribute) and node.test.attr == "TYPE_CHECKING")


def imports_of(source: str, module: str) -> set[str]:
    """Dotted names a module imports, ``from a import b`` as ``a.b`` (b may be a module or a name)."""
    found: set[str] = set()

    def visit(node: ast.AST) -> None:
        if isinstance(node, ast.If) and _type_checking(node):
            for child in node.orelse:
                visit(child)
            return
        if isinstance(node, ast.Import):
            found.update(a.name for a in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                parent = module.rsplit(".", node.level)[0]
                base = f"{parent}.{base}" if base else parent
            found.add(base)
            found.update(f"{base}.{a.name}" for a in node.names if a.name != "*")
        for child in ast.iter_child_nodes(node):
            visit(child)

    visit(ast.parse(source))
    return found


def module_graph(root: Path = ROOT) -> dict[str, set[str]]:
    """Every module of the packages -> the modules of the packages it imports."""
    files = {}
    for package in PACKAGES:
        for path in (root / package).rglob("*.py"):
            parts = path.relative_to(root).with_suffix("").parts
            files[".".join(parts[:-1] if parts[-1] == "__init__" else parts)] = path
    graph = {}
    for name, path in files.items():
        graph[name] = {n for n in imports_of(path.read_text(encoding="utf-8"), name) if n in files and n != name}
    return graph


def violations(graph: dict[str, set[str]], rules: dict[str, tuple[str, ...] | None]) -> list[str]:
    """Imports from one folder into another that the layout table does not allow."""
    out = []
    for module, targets in sorted(graph.items()):
        package = module.split(".")[0]
        allowed = rules.get(package, ())
        if allowed is None:
            continue
        for target in sorted(targets):
            other = target.split(".")[0]
            if other == package:
                continue
            if not any(target == a or target.startswith(a + ".") for a in allowed):
                out.append(f"{module} imports {target}; {package}/ may import: {', '.join(allowed) or 'nothing'}")
    return out


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected groups of more than one node (Tarjan): each is an import cycle."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    out: list[list[str]] = []

    def strongconnect(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        on_stack.add(v)
        for w in graph.get(v, ()):
            if w not in index:
                strongconnect(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            group = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                group.append(w)
                if w == v:
                    break
            if len(group) > 1:
                out.append(sorted(group))

    for v in sorted(graph):
        if v not in index:
            strongconnect(v)
    return out


def package_graph(graph: dict[str, set[str]]) -> dict[str, set[str]]:
    out: dict[str, set[str]] = {}
    for module, targets in graph.items():
        package = module.split(".")[0]
        out.setdefault(package, set()).update(t.split(".")[0] for t in targets if t.split(".")[0] != package)
    return out


def test_the_readme_states_a_rule_for_every_package():
    rules = layout_rules((ROOT / "README.md").read_text(encoding="utf-8"))
    assert set(PACKAGES) <= set(rules), rules
    assert rules["alerts"] is not None and "monitor" not in rules["alerts"]


def test_imports_between_packages_follow_the_layout_table():
    rules = layout_rules((ROOT / "README.md").read_text(encoding="utf-8"))
    assert violations(module_graph(), rules) == []


def test_no_import_cycles():
    graph = module_graph()
    assert cycles(graph) == []
    assert cycles(package_graph(graph)) == []


def test_the_checks_catch_a_forbidden_import_and_a_cycle():
    rules = {"alerts": ("detectors", "store"), "monitor": ("alerts",), "streams": ("detectors.periods",)}
    graph = {"alerts.fanout": {"monitor.config", "store.models"}, "monitor.config": {"alerts.fanout"},
             "streams.records": {"detectors.periods"}, "streams.contract": {"detectors.registry"}}
    assert violations(graph, rules) == [
        "alerts.fanout imports monitor.config; alerts/ may import: detectors, store",
        "streams.contract imports detectors.registry; streams/ may import: detectors.periods",
    ]
    assert cycles(graph) == [["alerts.fanout", "monitor.config"]]
    assert cycles(package_graph(graph)) == [["alerts", "monitor"]]


def test_imports_inside_functions_count_and_type_checking_ones_do_not():
    source = ("from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    from monitor.app import Loanwatch\n"
              "def f():\n    from alerts import fanout\n    import store.models\n")
    assert imports_of(source, "x.y") >= {"alerts", "alerts.fanout", "store.models"}
    assert "monitor.app" not in imports_of(source, "x.y")
