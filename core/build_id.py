"""The worker's default build id: the package version plus a hash of the workflow code.

Two workers with the same workflows/ sources get the same build id, so a restart or a second replica
joins the version already running; any change to workflows/ makes a new one, which an operator
promotes (researchbot/promotion.py). Activity code is left out: it does not change what a run replays.
"""

from __future__ import annotations

import hashlib
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path

WORKFLOWS_DIR = Path(__file__).resolve().parent.parent / "workflows"
HASH_LENGTH = 12


def package_version() -> str:
    try:
        return version("researchbot")
    except PackageNotFoundError:  # run from a checkout that was never installed
        return "0"


def workflows_hash(folder: Path = WORKFLOWS_DIR) -> str:
    """SHA-256 over every .py file's path (relative, so the checkout's location does not count) and bytes."""
    digest = hashlib.sha256()
    for path in sorted(folder.rglob("*.py")):
        if "__pycache__" in path.parts:
            continue
        digest.update(path.relative_to(folder).as_posix().encode())
        digest.update(b"\0")
        digest.update(path.read_bytes())
        digest.update(b"\0")
    return digest.hexdigest()[:HASH_LENGTH]


def default_build_id() -> str:
    """For example ``0.1.0-3f2a9c1b7e4d``."""
    return f"{package_version()}-{workflows_hash()}"
