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


SECRET_LINES = """
import structlog
from core.logs import configure_logging
configure_logging({fmt!r}, secrets=["sk-distinctive-key-4242", "signing-secret-4242"])
log = structlog.get_logger("t")
log.info("llm.call", note="sent sk-distinctive-key-4242 to the model", bot_token="xoxb-1-2-abcdef")
log.warning("respond.failed", url="https://hooks.slack.com/commands/T1/123/abcdefSECRET", secret="x" * 8)
try:
    raise RuntimeError("posting to https://hooks.slack.com/actions/T1/99/ZZZSECRET with signing-secret-4242 failed")
except RuntimeError:
    log.exception("respond.crashed")
import logging
logging.getLogger("slack_bolt").error("token xoxb-123456-abcdef refused")
log.info("llm.speed", tokens_per_second=12.5, first_token_seconds=0.75, prompt_tokens=900)
"""


def test_no_secret_and_no_response_url_reaches_a_log_line() -> None:
    for fmt in ("console", "json"):
        done = subprocess.run(
            [sys.executable, "-c", SECRET_LINES.format(fmt=fmt)], capture_output=True, text=True, timeout=60
        )
        assert done.returncode == 0, done.stderr
        output = done.stderr
        for secret in ("sk-distinctive-key-4242", "signing-secret-4242", "xoxb-", "SECRET", "hooks.slack.com"):
            assert secret not in output, (fmt, secret, output)
        assert output.count("[redacted]") >= 6 and "RuntimeError" in output and "respond.crashed" in output
        # Counts and rates whose names hold "token" are figures an operator needs, not secrets.
        assert "12.5" in output and "0.75" in output and "900" in output, output
