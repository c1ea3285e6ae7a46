"""The front door of POST /slack/events: capped, signed and well formed before anything is parsed."""

from __future__ import annotations

import json
import time
from collections.abc import AsyncIterator
from urllib.parse import urlencode

import httpx
import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response
from starlette.routing import Route
from structlog.testing import capture_logs

from bot.front_door import MAX_BODY_BYTES, FrontDoor, depth
from sandbox.signing import signed_headers

SECRET = "front-door-secret"
PATH = "/slack/events"


class Behind:
    """The app behind the door: it records every body that got through."""

    def __init__(self) -> None:
        self.bodies: list[bytes] = []

    async def events(self, request: Request) -> Response:
        self.bodies.append(await request.body())
        return PlainTextResponse("through")

    async def healthz(self, request: Request) -> Response:
        return PlainTextResponse("ok")


@pytest.fixture
def behind() -> Behind:
    return Behind()


@pytest.fixture
async def http(behind: Behind) -> AsyncIterator[httpx.AsyncClient]:
    app = Starlette(routes=[Route(PATH, behind.events, methods=["POST"]), Route("/healthz", behind.healthz)])
    transport = httpx.ASGITransport(app=FrontDoor(app, SECRET, PATH))
    async with httpx.AsyncClient(transport=transport, base_url="http://bot") as client:
        yield client


def payload(value: dict) -> bytes:
    return urlencode({"payload": json.dumps(value)}).encode()


COMMAND = urlencode({"command": "/research", "text": "why?", "user_id": "U1", "trigger_id": "1.2.3"}).encode()


async def test_a_signed_command_and_a_signed_event_pass_unchanged(http: httpx.AsyncClient, behind: Behind) -> None:
    event = json.dumps({"type": "url_verification", "challenge": "c"}).encode()
    assert (await http.post(PATH, content=COMMAND, headers=signed_headers(SECRET, COMMAND))).text == "through"
    ok = await http.post(PATH, content=event, headers=signed_headers(SECRET, event, content_type="application/json"))
    assert ok.status_code == 200
    assert behind.bodies == [COMMAND, event]


@pytest.mark.parametrize(
    ("body", "status", "reason"),
    [
        (b"payload=%7Bnot+json", 400, "payload is not valid JSON"),
        (b"payload=" + urlencode({"": json.dumps([1, 2])})[1:].encode(), 400, "payload must be a JSON object"),
        (b"payload=" + ("[" * 5000 + "]" * 5000).encode(), 400, "payload is not valid JSON"),
        (b"payload=" + ('{"a":' * 40 + "1" + "}" * 40).encode(), 400, "nested deeper"),
        (b"hello=world", 400, "neither a command nor an interactivity payload"),
        (b"a=1&&&=&", 400, "the form is malformed"),
        (payload({"type": "view_submission", "view": {"callback_id": "decision_modal"}}), 400, "needs view"),
        (payload({"type": "view_closed", "view": "callback_id"}), 400, "needs view with type and callback_id"),
        (payload({"type": "block_actions", "actions": []}), 400, "block_actions needs a list of actions"),
        (payload({"type": "block_actions", "actions": ["approve"]}), 400, "needs a list of actions"),
        (payload({"type": "event_callback", "event": "type"}), 400, "event_callback needs event with type"),
        (payload({"type": {"a": 1}}), 400, "type must be a string"),
        (
            payload({"type": "view_submission", "view": {"type": "modal", "callback_id": "x"}, "response_urls": [[]]}),
            400,
            "not of the types Slack sends",
        ),
    ],
    ids=[
        "broken-json",
        "json-list",
        "5000-deep",
        "40-deep",
        "not-slack",
        "bad-form",
        "view-without-type",
        "view-a-string",
        "no-actions",
        "actions-not-objects",
        "event-a-string",
        "type-an-object",
        "response-urls-not-objects",
    ],
)
async def test_signed_junk_is_a_clear_400(
    http: httpx.AsyncClient, behind: Behind, body: bytes, status: int, reason: str
) -> None:
    with capture_logs() as logs:
        answer = await http.post(PATH, content=body, headers=signed_headers(SECRET, body))
    assert (answer.status_code, reason in answer.text) == (status, True)
    assert behind.bodies == []
    assert [entry["log_level"] for entry in logs] == ["info"] and "exc_info" not in logs[0]


async def test_non_utf8_and_wrong_content_types_are_refused(http: httpx.AsyncClient, behind: Behind) -> None:
    latin = "text=caf\xe9".encode("latin-1")
    assert (await http.post(PATH, content=latin, headers=signed_headers(SECRET, latin))).status_code in (400, 401)
    xml = b"<command>/research</command>"
    assert (
        await http.post(PATH, content=xml, headers=signed_headers(SECRET, xml, content_type="text/xml"))
    ).status_code == 415
    assert behind.bodies == []


@pytest.mark.parametrize(
    "headers",
    [
        {},
        signed_headers("someone-else", COMMAND),
        signed_headers(SECRET, COMMAND, timestamp="not-a-number"),
        {
            **signed_headers(SECRET, COMMAND),
            "X-Slack-Request-Timestamp": "17\xb2".encode("latin-1"),
        },  # "17²": a digit to isdigit()
        signed_headers(SECRET, COMMAND, timestamp=int(time.time()) - 600),  # a replay, ten minutes late
        {**signed_headers(SECRET, COMMAND), "X-Slack-Signature": "v0=abc"},
    ],
    ids=["unsigned", "wrong-secret", "word-timestamp", "unicode-digits", "stale", "short-signature"],
)
async def test_unsigned_forged_and_replayed_requests_are_401(
    http: httpx.AsyncClient, behind: Behind, headers: dict
) -> None:
    answer = await http.post(PATH, content=COMMAND, headers=headers)
    assert answer.status_code == 401
    assert behind.bodies == []


async def test_an_oversized_body_is_refused_while_it_is_read(behind: Behind) -> None:
    received = 0

    async def app(scope: dict, receive: object, send: object) -> None:  # pragma: no cover - never reached
        raise AssertionError("an oversized body reached the app")

    door = FrontDoor(app, SECRET, PATH)
    chunk = b"x" * 65_536

    async def endless() -> AsyncIterator[bytes]:
        nonlocal received
        while True:
            received += len(chunk)
            yield chunk

    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=door), base_url="http://bot") as client:
        declared = await client.post(
            PATH, content=b"x", headers={**signed_headers(SECRET, b"x"), "Content-Length": "50000000"}
        )
        streamed = await client.post(PATH, content=endless(), headers=signed_headers(SECRET, b""))
    assert declared.status_code == streamed.status_code == 413
    assert received <= MAX_BODY_BYTES + 2 * len(chunk)  # read up to the cap, not to the end


async def test_other_paths_pass_and_no_secret_is_no_door(http: httpx.AsyncClient) -> None:
    assert (await http.get("/healthz")).text == "ok"
    with pytest.raises(ValueError, match="signing secret"):
        FrontDoor(Starlette(), "  ", PATH)


def test_depth_counts_without_recursion() -> None:
    assert depth("text") == 0
    assert depth({"a": [1, {"b": []}]}) == 4
    nested: list = []
    for _ in range(100_000):
        nested = [nested]
    assert depth(nested) > 32  # stops early, no RecursionError
