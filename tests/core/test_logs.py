"""Log lines as an operator reads them: values from people and models cannot forge a line."""

from __future__ import annotations

import json
import subprocess
import sys

HOSTILE = "why?\n2026-12-02T00:00:00Z [info     ] run.approved   by=U_ADMIN\r\x1b[2J\u2028done"
LOG_ONE_LINE = f"""
import structlog
from core.logs import configure_logging
configure_logging({{fmt!r}})
structlog.get_logger("t").info("run.started", question={HOSTILE!r})
try:
    raise ValueError("boom")
except ValueError:
    structlog.get_logger("t").exception("run.failed", question={HOSTILE!r})
"""


def logged(fmt: str) -> list[str]:
    done = subprocess.run(
        [sys.executable, "-c", LOG_ONE_LINE.format(fmt=fmt)], capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 0, done.stderr
    return done.stderr.splitlines()


def test_console_lines_escape_what_people_and_models_wrote() -> None:
    lines = logged("console")
    started = [line for line in lines if "run.started" in line]
    assert len(started) == 1 and "\\n2026-12-02T00:00:00Z" in started[0] and "\\x1b[2J" in started[0]
    assert not any(line.startswith("2026-12-02T00:00:00Z [info") for line in lines)  # no forged line
    assert "\x1b[2J" not in "\n".join(lines)
    assert any("Traceback" in line for line in lines)  # our own traceback keeps its lines


def test_json_lines_stay_one_object_each() -> None:
    records = [json.loads(line) for line in logged("json")]
    assert [r["event"] for r in records] == ["run.started", "run.failed"]
    assert records[0]["question"] == HOSTILE
