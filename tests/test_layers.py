"""The packages import one way: each layer imports only the layers below it, read from the source with ast.

    researchbot (entry points)
      ├─ activities ─┐   (peers: neither imports the other)
      └─ bot ────────┤
                  slack_ui (Slack presentation)
                     workflows (deterministic orchestration, models)
                        core (settings, errors, the Temporal connection)
    sandbox: a local Slack, standing alone.

tests/ and bench/ may import anything; nothing imports them.
"""

from __future__ import annotations

import ast
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
    (tmp_path / "slack_ui" / "thread.py").write_text("import activities.slack\nfrom workflows.models import Draft\n")
    (tmp_path / "bot" / "app.py").write_text("from activities.slack import SlackReporter\nfrom . import server\n")
    (tmp_path / "activities" / "slack.py").write_text("from slack_ui import thread\n")
    assert violations(tmp_path) == [
        "core/settings.py imports bot",
        "slack_ui/thread.py imports activities",
        "bot/app.py imports activities",
    ]
