"""Signed Events API envelopes of any ``type`` with any JSON value in every field: the front door refuses
them with a 4xx, or Bolt answers them with no 5xx. (Not mutations of real payloads: the generator makes
envelopes from scratch, as an attacker with a leaked signing secret, or a buggy proxy, would.)"""

from __future__ import annotations

import json
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from slack_bolt.async_app import AsyncApp

from bot.front_door import Refused, check_shape
from sandbox.signing import signed_headers
from tests.bot.conftest import SECRET, FakeTemporal, bolt_request

JSON = "application/json"
_SCALARS = st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=20)
_VALUES = st.recursive(
    _SCALARS,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8), inner, max_size=3),
    max_leaves=8,
)
_TYPES = st.sampled_from(["url_verification", "event_callback", "app_rate_limited", "zzz", ""]) | _VALUES
_FIELDS = ["token", "team_id", "api_app_id", "challenge", "enterprise_id", "event_id", "event_time", "authorizations"]
_EVENT_TYPES = st.sampled_from(["app_mention", "message", "app_home_opened", "assistant_thread_started"]) | _VALUES


@st.composite
def envelopes(draw: st.DrawFn) -> dict[str, Any]:
    body: dict[str, Any] = {"type": draw(_TYPES)}
    for name in draw(st.lists(st.sampled_from(_FIELDS), unique=True)):
        body[name] = draw(_VALUES)
    if draw(st.booleans()):
        event = {"type": draw(_EVENT_TYPES)}
        for name in draw(st.lists(st.sampled_from(["user", "channel", "ts", "text", "thread_ts", "bot_id"]))):
            event[name] = draw(_VALUES)
        body["event"] = event if draw(st.booleans()) else draw(_VALUES)
    return body


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(envelope=envelopes())
async def test_signed_envelopes_of_any_shape_get_no_5xx(
    app: AsyncApp, temporal: FakeTemporal, envelope: dict[str, Any]
) -> None:
    body = json.dumps(envelope)
    try:
        check_shape(JSON, body.encode())
    except Refused as refused:
        status = refused.status
    else:
        status = 0
    if status:
        assert 400 <= status < 500
        return
    response = await app.async_dispatch(bolt_request(body, signed_headers(SECRET, body, content_type=JSON)))
    assert response.status < 500, (envelope, response.status, response.body)
    assert temporal.starts == []
