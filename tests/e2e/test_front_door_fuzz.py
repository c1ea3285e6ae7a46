"""1,000+ hostile requests at a real `researchbot bot` process: never a 5xx, never a traceback.

Hypothesis mutates real payloads (a slash command, block_actions, view_submission, an Events API
callback): keys dropped, values of the wrong type, huge strings, deep nesting, bytes that are not
UTF-8, bad or stale timestamps (replays), wrong content types, signed and unsigned. Afterwards the
bot must be healthy, its memory must not have grown by more than 20 MB, its log must hold no
traceback, and no run may have been started or decided by a request that was not signed.
"""

from __future__ import annotations

import copy
import json
import re
import signal
import subprocess
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import httpx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from temporalio.api.enums.v1 import EventType
from temporalio.client import WorkflowExecutionStatus
from temporalio.testing import WorkflowEnvironment

from sandbox import Channel, SlackApiServer
from sandbox.payloads import block_actions, command_form, view_submission
from sandbox.signing import signed_headers
from slack_ui.replies import decision_modal
from tests.support.bot_process import clean_env, spawn_bot, wait_until_healthy
from tests.support.ports import free_port
from tests.support.slack import sandbox_slack
from workflows.models import DecisionKind

pytestmark = pytest.mark.slow

SECRET = "fuzz-signing-secret"
EXAMPLES = 1000
MAX_RSS_GROWTH = 20 * 1024 * 1024
FORM = "application/x-www-form-urlencoded"
EVIL_TEAM = "TEVIL"  # what unsigned requests claim to be: no run may ever carry it
OTHER = "UOTHER"  # signed clicks come from someone who may not decide, so they are refused at once


@dataclass
class Bot:
    url: str
    process: subprocess.Popen[bytes]
    log: Path
    victim: str  # a run every click and submission points at
    channel: Channel


def rss(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) * 1024
    raise AssertionError("no VmRSS")


@pytest.fixture(scope="module")
def slack() -> Iterator[SlackApiServer]:
    with sandbox_slack({"asker": "UASKER", "other": OTHER}) as server:
        yield server


# ------------------------------------------------------------------ what the requests are made of

json_leaf = st.one_of(
    st.none(), st.booleans(), st.integers(), st.floats(allow_nan=False), st.text(max_size=40), st.just("x" * 100_000)
)
junk = st.recursive(
    json_leaf,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8), inner, max_size=3),
    max_leaves=10,
)


DEEP = re.compile(r'"__deep_(\d+)__"')


def deep(depth: int) -> str:
    """A stand-in for JSON nested ``depth`` levels deep, spelled out only in the encoded body
    (json.dumps itself would hit Python's recursion limit first)."""
    return f"__deep_{depth}__"


def encode(value: Any) -> str:
    return DEEP.sub(
        lambda match: '{"a":' * int(match.group(1)) + '"deep"' + "}" * int(match.group(1)), json.dumps(value)
    )


def mutate(data: Any, draw: st.DrawFn) -> Any:
    """One change somewhere in ``data``: a key dropped, a value replaced by junk or deep nesting."""
    if not isinstance(data, dict) or not data or draw(st.integers(0, 3)) == 0:
        return draw(st.one_of(junk, st.integers(1, 6000).map(deep)))
    key = draw(st.sampled_from(sorted(data)))
    copy = dict(data)
    action = draw(st.sampled_from(["drop", "replace", "descend"]))
    if action == "drop":
        del copy[key]
    elif action == "replace":
        copy[key] = draw(st.one_of(junk, st.integers(1, 6000).map(deep)))
    else:
        copy[key] = mutate(copy[key], draw)
    return copy


@dataclass
class Bases:
    """Real payloads as Slack sends them, for this workspace, and the same claiming another team."""

    command: dict[str, str]
    click: dict[str, Any]
    submission: dict[str, Any]
    event: dict[str, Any]


def bases(slack: SlackApiServer, channel: Channel, victim: str) -> Bases:
    ws = slack.workspace
    asker, other = ws.users["UASKER"], ws.users[OTHER]
    command = command_form(
        ws,
        channel=channel,
        user=asker,
        text="What is a task queue?",
        response_url=slack.response_url(channel.id, asker.id),
    )
    draft = {"ts": "1700000000.000100", "text": "draft", "blocks": []}
    button = {"type": "button", "action_id": "approve", "value": f"{victim}|1"}
    click = block_actions(
        ws,
        channel=channel,
        user=other,
        source=draft,
        element=button,
        block_id="decide",
        response_url=slack.response_url(channel.id, other.id),
    )
    view = {
        **decision_modal(DecisionKind.APPROVE, victim, 1, "What is a task queue?"),
        "id": "VFUZZ",
        "state": {"values": {}},
    }
    submission = view_submission(ws, user=other, view=view)
    event = {
        "token": command["token"],
        "team_id": ws.team_id,
        "api_app_id": ws.app_id,
        "type": "event_callback",
        "event_id": "Ev0FUZZ",
        "event_time": int(time.time()),
        "event": {"type": "app_mention", "user": "UASKER", "text": "<@UBOT> hi", "channel": channel.id, "ts": "1.0"},
    }
    return Bases(command, click, submission, event)


def claiming(payload: dict[str, Any], team: str) -> dict[str, Any]:
    """The payload as if from another workspace (what a forger would try)."""
    forged = copy.deepcopy(payload)
    if "team_id" in forged:
        forged["team_id"] = team
    if isinstance(forged.get("team"), dict):
        forged["team"]["id"] = team
    return forged


@st.composite
def request(draw: st.DrawFn, base: Bases) -> tuple[bytes, dict[str, str], bool]:
    """(body, headers, signed): a real payload, mutated, encoded and (maybe) signed, or mangled."""
    is_signed = draw(st.sampled_from([True, True, True, False]))  # most reach past the signature
    kind = draw(st.sampled_from(["command", "block_actions", "view_submission", "event"]))
    if kind == "command":
        fields: Any = {**base.command, "trigger_id": uuid.uuid4().hex}
        fields = fields if is_signed else claiming(fields, EVIL_TEAM)
        fields = mutate(fields, draw) if draw(st.booleans()) else fields
        body = urlencode(
            {k: encode(v) if not isinstance(v, str) else v for k, v in fields.items()}
            if isinstance(fields, dict)
            else {"text": encode(fields)}
        ).encode()
    else:
        payload: Any = {"block_actions": base.click, "view_submission": base.submission, "event": base.event}[kind]
        payload = payload if is_signed else claiming(payload, EVIL_TEAM)
        payload = mutate(payload, draw) if draw(st.integers(0, 4)) else payload
        text = encode(payload)
        body = (text if kind == "event" else urlencode({"payload": text})).encode()
    mangle = draw(st.sampled_from(["none", "none", "non_utf8", "truncate", "garbage"]))
    if mangle == "non_utf8":
        body = body[: len(body) // 2] + b"\xff\xfe\xc3(" + body[len(body) // 2 :]
    elif mangle == "truncate":
        body = body[: draw(st.integers(0, max(0, len(body) - 1)))]
    elif mangle == "garbage":
        body = draw(st.binary(max_size=2000))
    content_type = "application/json" if kind == "event" else FORM
    content_type = draw(
        st.sampled_from([content_type] * 4 + ["text/plain", "multipart/form-data", "", "application/json"])
    )
    stamp = draw(st.sampled_from(["now"] * 8 + ["stale", "future", "junk", "empty"]))
    timestamp = {
        "now": int(time.time()),
        "stale": int(time.time()) - 3600,  # a replay of an old request
        "future": int(time.time()) + 3600,
        # Printable ASCII without surrounding spaces: a header with a control character (NUL) or a value
        # that starts or ends with whitespace cannot be sent (HTTP strips it), so never arrives as such.
        "junk": draw(st.text(st.characters(min_codepoint=0x20, max_codepoint=0x7E), max_size=12).map(str.strip)),
        "empty": "",
    }[stamp]
    if is_signed:
        headers = signed_headers(SECRET, body, timestamp=timestamp, content_type=content_type)
    else:
        forged = draw(st.sampled_from(["missing", "wrong_secret", "garbage"]))
        headers = signed_headers("not-the-secret", body, timestamp=timestamp, content_type=content_type)
        if forged == "missing":
            headers.pop("X-Slack-Signature")
        elif forged == "garbage":
            headers["X-Slack-Signature"] = draw(
                st.text(max_size=80).filter(lambda s: s.isascii() and s.isprintable()).map(str.strip)
            )
    return body, {k: v for k, v in headers.items() if isinstance(v, str) and v.isascii()}, is_signed


# ------------------------------------------------------------------ the test


@pytest.fixture(scope="module")
async def bot(tmp_path_factory: pytest.TempPathFactory, slack: SlackApiServer, env: WorkflowEnvironment) -> Any:
    tmp = tmp_path_factory.mktemp("fuzz")
    port, log = free_port(), tmp / "bot.log"
    queue = f"fuzz-{uuid.uuid4().hex[:8]}"
    settings = clean_env(
        tmp,
        PORT=str(port),
        SLACK_BOT_TOKEN=slack.workspace.bot_token,
        SLACK_API_URL=slack.base_url,
        SLACK_SIGNING_SECRET=SECRET,
        TEMPORAL_ADDRESS=env.client.service_client.config.target_host,
        RESEARCH_TASK_QUEUE=queue,
    )
    with log.open("wb") as out:
        process = spawn_bot(settings, tmp, output=out)
    url = f"http://127.0.0.1:{port}"
    try:
        await wait_until_healthy(process, url)
        channel = slack.workspace.add_channel("fuzz", members=["UASKER", OTHER])
        victim = f"research-{slack.workspace.team_id}-UASKER-{channel.id}-{'0' * 20}"
        await env.client.start_workflow("ResearchWorkflow", id=victim, task_queue=queue + "-nobody")  # never runs
        yield Bot(url, process, log, victim, channel)
    finally:
        async for run in env.client.list_workflows(f"TaskQueue='{queue}' OR TaskQueue='{queue}-nobody'"):
            if run.status == WorkflowExecutionStatus.RUNNING:
                await env.client.get_workflow_handle(run.id).terminate("fuzz over")
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()


async def test_a_thousand_hostile_requests_get_no_5xx_and_no_traceback(
    bot: Bot, slack: SlackApiServer, env: WorkflowEnvironment
) -> None:
    answers: dict[int, int] = {}
    with httpx.Client(base_url=bot.url, timeout=30) as http:
        http.get("/healthz")
        baseline = rss(bot.process.pid)

        @settings(
            max_examples=EXAMPLES,
            deadline=None,
            derandomize=True,
            suppress_health_check=list(HealthCheck),
            database=None,
        )
        @given(request(bases(slack, bot.channel, bot.victim)))
        def hostile(sent: tuple[bytes, dict[str, str], bool]) -> None:
            body, headers, is_signed = sent
            answer = http.post("/slack/events", content=body, headers=headers)
            answers[answer.status_code] = answers.get(answer.status_code, 0) + 1
            assert answer.status_code < 500, (answer.status_code, answer.text[:200], body[:300], headers)
            if not is_signed:
                assert answer.status_code in (400, 401, 413, 415), (answer.status_code, answer.text[:200])

        hostile()
        assert http.get("/healthz").status_code == 200
        growth = rss(bot.process.pid) - baseline
    assert sum(answers.values()) >= EXAMPLES
    assert growth < MAX_RSS_GROWTH, f"RSS grew by {growth / 1e6:.1f} MB"
    log = bot.log.read_text(errors="replace")
    assert "Traceback" not in log, log[log.find("Traceback") - 500 :][:3000]
    forged = [run.id async for run in env.client.list_workflows(f"WorkflowId STARTS_WITH 'research-{EVIL_TEAM}'")]
    assert forged == [], "an unsigned request started a run"
    history = await env.client.get_workflow_handle(bot.victim).fetch_history()
    touched = {
        EventType.EVENT_TYPE_WORKFLOW_EXECUTION_SIGNALED,
        EventType.EVENT_TYPE_WORKFLOW_EXECUTION_UPDATE_ACCEPTED,
    }
    assert not [e for e in history.events if e.event_type in touched], "an unsigned request decided a run"
    print(f"fuzz answers by status: {dict(sorted(answers.items()))}, RSS growth {growth / 1e6:.1f} MB")
