"""The packages import one way: each layer imports only the layers below it, read from the source with ast.

    researchbot (entry points)
      ├─ activities ─┐   (peers: neither imports the other)
      └─ bot ────────┤
                  slack_ui (Slack presentation)
                     workflows (deterministic orchestration, models)
                        core (settings, errors, the Temporal connection)
    sandbox: a local Slack, standing alone.

tests/ and bench/ may import anything; nothing imports them. Within bot/, a listener module
(bot/listeners/*.py) imports no other listener module: what two listeners share lives beside them
in bot/ (decisions.py, start_in_time.py, runs.py) or below, in slack_ui/.

No two of our modules import each other, directly or through others, at module level: a loop makes
import order matter and hides which module a reader should start from.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]

ALLOWED: dict[str, frozenset[str]] = {
    "core": frozenset(),
    "workflows": frozenset(),
    "slack_ui": frozenset({"core", "workflows"}),
    "activities": frozenset({"core", "workflows", "slack_ui"}),
    "bot": frozenset({"core", "workflows", "slack_ui"}),
    "sandbox": frozenset(),
    "researchbot": frozenset({"core", "workflows", "slack_ui", "activities", "bot", "sandbox"}),
}
APP_PACKAGES = frozenset(ALLOWED) | {"tests", "bench"}


def imported_packages(source: str) -> set[str]:
    """Top-level app packages a module imports, anywhere in it (function-level imports included)."""
    found: set[str] = set()
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            found.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            found.add(node.module.split(".")[0])
    return found & APP_PACKAGES


def violations(root: Path) -> list[str]:
    problems = []
    for package, allowed in ALLOWED.items():
        for path in sorted((root / package).rglob("*.py")):
            for imported in sorted(imported_packages(path.read_text(encoding="utf-8")) - allowed - {package}):
                problems.append(f"{path.relative_to(root)} imports {imported}")
    return problems


def module_name(root: Path, path: Path) -> str:
    parts = list(path.relative_to(root).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def module_level(body: list[ast.stmt]) -> Iterator[ast.Import | ast.ImportFrom]:
    """The imports that run when the module is imported: not in functions, not under ``if TYPE_CHECKING``."""
    for node in body:
        if isinstance(node, ast.Import | ast.ImportFrom):
            yield node
        elif isinstance(node, ast.If):
            checking = isinstance(node.test, ast.Name | ast.Attribute) and ast.unparse(node.test).endswith(
                "TYPE_CHECKING"
            )
            yield from module_level(node.orelse if checking else node.body + node.orelse)
        elif isinstance(node, ast.Try):
            handlers = [statement for handler in node.handlers for statement in handler.body]
            yield from module_level(node.body + handlers + node.orelse + node.finalbody)
        elif isinstance(node, ast.With):
            yield from module_level(node.body)


def import_graph(root: Path) -> dict[str, set[str]]:
    """Each of our modules and the modules of ours it imports at module level. ``from a import b`` counts as
    importing ``a.b`` when that is a module; a package's ``__init__`` is counted only when named itself."""
    paths = {module_name(root, path): path for package in ALLOWED for path in (root / package).rglob("*.py")}
    graph: dict[str, set[str]] = {}
    for name, path in paths.items():
        here = name.split(".") if path.stem == "__init__" else name.split(".")[:-1]
        targets: list[str] = []
        for node in module_level(ast.parse(path.read_text(encoding="utf-8")).body):
            if isinstance(node, ast.Import):
                targets += [alias.name for alias in node.names]
                continue
            base = node.module or ""
            if node.level:
                base = ".".join([*here[: len(here) - node.level + 1], *([node.module] if node.module else [])])
            targets += [f"{base}.{alias.name}" if f"{base}.{alias.name}" in paths else base for alias in node.names]
        graph[name] = set()
        for target in targets:
            while target not in paths and "." in target:
                target = target.rsplit(".", 1)[0]
            if target in paths and target != name:
                graph[name].add(target)
    return graph


def import_loops(graph: dict[str, set[str]]) -> list[list[str]]:
    """The groups of modules that reach each other through imports (strongly connected, Tarjan), sorted."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    loops: list[list[str]] = []

    def visit(module: str) -> None:
        index[module] = low[module] = len(index)
        stack.append(module)
        for imported in sorted(graph[module]):
            if imported not in index:
                visit(imported)
                low[module] = min(low[module], low[imported])
            elif imported in stack:
                low[module] = min(low[module], index[imported])
        if low[module] == index[module]:
            group = stack[stack.index(module) :]
            del stack[stack.index(module) :]
            if len(group) > 1:
                loops.append(sorted(group))

    for module in sorted(graph):
        if module not in index:
            visit(module)
    return sorted(loops)


def listener_imports(root: Path) -> list[str]:
    """Listener modules that import a sibling listener module (the package's __init__ registers them all)."""
    listeners = root / "bot" / "listeners"
    names = {path.stem for path in listeners.glob("*.py")} - {"__init__"}
    problems = []
    for path in sorted(listeners.glob("*.py")):
        if path.stem == "__init__":
            continue
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Import):
                modules = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom):
                package = "bot.listeners" if node.level == 1 else "bot" if node.level == 2 else ""
                base = ".".join(part for part in (package, node.module or "") if part) if node.level else node.module
                modules = [base or ""] + [f"{base}.{alias.name}" for alias in node.names]
            else:
                continue
            for module in modules:
                parts = module.split(".")
                if parts[:2] == ["bot", "listeners"] and len(parts) > 2 and parts[2] in names - {path.stem}:
                    problems.append(f"{path.relative_to(root)} imports bot.listeners.{parts[2]}")
    return sorted(set(problems))


def test_every_package_imports_only_the_layers_below_it() -> None:
    assert violations(REPO) == []


def test_every_app_package_has_a_layer() -> None:
    packages = {path.parent.name for path in REPO.glob("*/__init__.py")}
    assert packages - {"tests", "bench"} == set(ALLOWED)


def test_a_planted_reverse_import_is_caught(tmp_path: Path) -> None:
    for package in ALLOWED:
        (tmp_path / package).mkdir()
        (tmp_path / package / "__init__.py").write_text("")
    (tmp_path / "core" / "settings.py").write_text("def f():\n    from bot.app import build_app\n")
    (tmp_path / "slack_ui" / "thread.py").write_text(
        "import activities.slack.reporter\nfrom workflows.models import Draft\n"
    )
    (tmp_path / "bot" / "app.py").write_text(
        "from activities.slack.reporter import SlackReporter\nfrom . import server\n"
    )
    (tmp_path / "activities" / "slack.py").write_text("from slack_ui import thread\n")
    assert violations(tmp_path) == [
        "core/settings.py imports bot",
        "slack_ui/thread.py imports activities",
        "bot/app.py imports activities",
    ]


def test_no_listener_imports_another_listener() -> None:
    assert listener_imports(REPO) == []


def test_a_planted_listener_import_is_caught(tmp_path: Path) -> None:
    listeners = tmp_path / "bot" / "listeners"
    listeners.mkdir(parents=True)
    (listeners / "__init__.py").write_text("from bot.listeners import actions, commands, views\n")
    (listeners / "actions.py").write_text(
        "from bot.listeners.commands import parse\nfrom bot.decisions import deliver\n"
    )
    (listeners / "views.py").write_text("def f():\n    from . import actions\n    from .commands import x\n")
    (listeners / "commands.py").write_text(
        "import bot.listeners.views\nfrom bot import listeners\nfrom ..runs import r\n"
    )
    assert listener_imports(tmp_path) == [
        "bot/listeners/actions.py imports bot.listeners.commands",
        "bot/listeners/commands.py imports bot.listeners.views",
        "bot/listeners/views.py imports bot.listeners.actions",
        "bot/listeners/views.py imports bot.listeners.commands",
    ]


def test_no_modules_import_each_other() -> None:
    assert import_loops(import_graph(REPO)) == []


def test_a_planted_import_loop_is_caught(tmp_path: Path) -> None:
    for package in ALLOWED:
        (tmp_path / package).mkdir()
        (tmp_path / package / "__init__.py").write_text("")
    (tmp_path / "sandbox" / "methods.py").write_text("import sandbox.streams\n")
    (tmp_path / "sandbox" / "streams.py").write_text("from sandbox.methods import method\n")
    (tmp_path / "bot" / "a.py").write_text("from . import b\n")
    (tmp_path / "bot" / "b.py").write_text("from bot.c import f\n")
    (tmp_path / "bot" / "c.py").write_text("from .a import g\n")
    # Not loops: an import inside a function, or only for type checkers, runs after both modules exist.
    (tmp_path / "core" / "x.py").write_text("from core.y import f\n")
    (tmp_path / "core" / "y.py").write_text(
        "from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    from core.x import g\ndef h():\n    import core.x\n"
    )
    assert import_loops(import_graph(tmp_path)) == [["bot.a", "bot.b", "bot.c"], ["sandbox.methods", "sandbox.streams"]]
