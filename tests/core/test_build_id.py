"""The worker's default build id: new workflow code is a new version, the same code the same one."""

from __future__ import annotations

import re
import shutil
from pathlib import Path

import pytest
from pydantic import ValidationError

from core.build_id import WORKFLOWS_DIR, default_build_id, package_version, workflows_hash
from core.settings import Settings


def copy_of_workflows(tmp_path: Path) -> Path:
    return Path(shutil.copytree(WORKFLOWS_DIR, tmp_path / "elsewhere" / "workflows"))


def test_the_default_is_the_package_version_and_a_hash_of_the_workflow_sources() -> None:
    assert re.fullmatch(rf"{re.escape(package_version())}-[0-9a-f]{{12}}", default_build_id())
    assert Settings(_env_file=None).worker_build_id == default_build_id()


def test_the_same_sources_anywhere_give_the_same_hash(tmp_path: Path) -> None:
    copy = copy_of_workflows(tmp_path)
    (copy / "__pycache__").mkdir(exist_ok=True)
    (copy / "__pycache__" / "stale.py").write_text("compiled leftovers do not count")
    assert workflows_hash(copy) == workflows_hash()


def test_a_change_to_workflow_code_is_a_new_build_id(tmp_path: Path) -> None:
    copy = copy_of_workflows(tmp_path)
    research = copy / "research.py"
    research.write_text(research.read_text() + "\n# a comment is a change too\n")
    assert workflows_hash(copy) != workflows_hash()
    renamed = copy_of_workflows(tmp_path / "again")
    first = min(renamed.glob("*.py"))
    first.rename(first.with_name("renamed_" + first.name))
    assert workflows_hash(renamed) != workflows_hash()


def test_the_operator_may_set_the_build_id_and_deployment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("WORKER_BUILD_ID", "3f2a9c1")
    monkeypatch.setenv("WORKER_DEPLOYMENT_NAME", "research-eu")
    monkeypatch.setenv("WORKER_VERSIONING", "off")
    settings = Settings(_env_file=None)
    assert (settings.worker_build_id, settings.worker_deployment_name, settings.worker_versioning) == (
        "3f2a9c1",
        "research-eu",
        False,
    )


@pytest.mark.parametrize(("name", "value"), [("WORKER_DEPLOYMENT_NAME", "research.eu"), ("WORKER_BUILD_ID", "a b")])
def test_names_temporal_cannot_take_are_refused(name: str, value: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(name, value)
    with pytest.raises(ValidationError, match=name.lower()):
        Settings(_env_file=None)
