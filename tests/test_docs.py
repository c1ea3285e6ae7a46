"""The README is a landing page that links every page of docs/, and docs/configuration.md names every setting."""

from __future__ import annotations

import re
from pathlib import Path

from core.settings import Settings

REPO = Path(__file__).resolve().parents[1]
README = (REPO / "README.md").read_text()


def test_every_setting_is_in_docs_configuration() -> None:
    documented = (REPO / "docs" / "configuration.md").read_text()
    missing = [name.upper() for name in Settings.model_fields if f"`{name.upper()}`" not in documented]
    assert not missing, f"settings missing from docs/configuration.md: {missing}"


def test_the_readme_links_every_docs_page_and_each_link_resolves() -> None:
    pages = {path.relative_to(REPO).as_posix() for path in (REPO / "docs").glob("*.md")}
    linked = set(re.findall(r"\]\(((?:docs|bench)/[^)#\s]+)", README))
    assert pages <= linked, f"pages the README does not link: {sorted(pages - linked)}"
    assert all((REPO / link).exists() for link in linked), sorted(link for link in linked if not (REPO / link).exists())


def test_the_readme_has_no_wall_of_text() -> None:
    assert len(README.splitlines()) <= 200
    assert max(len(line) for line in README.splitlines()) <= 300


def test_the_offline_corpus_is_not_in_docs() -> None:
    """docs/ is for people: a page added there must not change what the offline demo answers."""
    assert Settings(_env_file=None).research_corpus_dir == REPO / "corpus"
    corpus = {path.name for path in (REPO / "corpus").glob("*.md")}
    assert corpus and not corpus & {path.name for path in (REPO / "docs").glob("*.md")}
