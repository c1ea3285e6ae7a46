"""The sandbox Slack Web API, over real HTTP, through the same client the bot uses."""

from __future__ import annotations

import json

import httpx
import pytest
from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient

from sandbox import RATE_LIMITS, RateLimit, SlackApiServer, Workspace, workspace_file


async def error_of(call) -> str:
    with pytest.raises(SlackApiError) as caught:
        await call
    assert caught.value.response.status_code == 200
    assert caught.value.response["ok"] is False
    return caught.value.response["error"]


def section(text: str) -> dict:
    return {"type": "section", "text": {"type": "mrkdwn", "text": text}}


async def test_auth_is_checked(slack: SlackApiServer, client: AsyncWebClient) -> None:
    me = await client.auth_test()
    assert me["user_id"] == slack.workspace.bot_user_id and me["team_id"] == slack.workspace.team_id
    wrong = AsyncWebClient(token="xoxb-wrong", base_url=slack.base_url, retry_handlers=[])
    assert await error_of(wrong.chat_postMessage(channel="CGENERAL", text="hi")) == "invalid_auth"
    anonymous = AsyncWebClient(base_url=slack.base_url, retry_handlers=[])
    assert await error_of(anonymous.auth_test()) == "not_authed"
    assert slack.workspace.messages["CGENERAL"] == []


async def test_form_encoded_requests_and_token_in_body(slack: SlackApiServer) -> None:
    blocks = json.dumps([section("*hello*")])
    async with httpx.AsyncClient(base_url=slack.base_url) as http:
        posted = await http.post(
            "chat.postMessage",
            data={"token": slack.workspace.bot_token, "channel": "#general", "text": "hi", "blocks": blocks},
        )
        refused = await http.post("chat.postMessage", data={"channel": "CGENERAL", "text": "hi"})
    assert posted.status_code == 200 and posted.json()["ok"] is True
    assert posted.json()["channel"] == "CGENERAL"
    assert slack.workspace.messages["CGENERAL"][0]["blocks"] == [section("*hello*")]
    assert refused.status_code == 200 and refused.json() == {"ok": False, "error": "not_authed"}


async def test_channel_access_follows_membership(slack: SlackApiServer, client: AsyncWebClient) -> None:
    # chat:write.public: a public channel takes posts without the bot joining it; reading it does not
    posted = await client.chat_postMessage(channel="CGENERAL", text="hello")
    assert posted["channel"] == "CGENERAL" and posted["message"]["text"] == "hello"
    assert await error_of(client.conversations_history(channel="CGENERAL")) == "not_in_channel"
    assert await error_of(client.chat_postMessage(channel="CSECRET", text="x")) == "not_in_channel"
    assert await error_of(client.chat_postMessage(channel="CNOPE", text="x")) == "channel_not_found"
    assert await error_of(client.conversations_join(channel="CSECRET")) == "channel_not_found"
    assert await error_of(client.conversations_info(channel="CSECRET")) == "channel_not_found"
    joined = await client.conversations_join(channel="CGENERAL")
    assert joined["channel"]["is_member"] is True and "warning" not in joined.data
    assert (await client.conversations_join(channel="CGENERAL"))["warning"] == "already_in_channel"
    assert [m["text"] for m in (await client.conversations_history(channel="CGENERAL"))["messages"]] == ["hello"]
    info = await client.conversations_info(channel="CTEAM")
    assert info["channel"]["is_private"] is True and info["channel"]["is_member"] is True
    assert slack.workspace.messages["CSECRET"] == []


@pytest.mark.filterwarnings("ignore:The top-level `text` argument is missing")
async def test_message_content_is_validated(slack: SlackApiServer, client: AsyncWebClient) -> None:
    assert await error_of(client.chat_postMessage(channel="CTEAM")) == "no_text"
    assert await error_of(client.chat_postMessage(channel="CTEAM", text="x" * 40_001)) == "msg_too_long"
    too_many = [section(f"block {n}") for n in range(51)]
    assert await error_of(client.chat_postMessage(channel="CTEAM", text="t", blocks=too_many)) == "invalid_blocks"
    button = {"type": "button", "text": {"type": "plain_text", "text": "Go"}, "action_id": "go", "value": "v" * 2001}
    twice = {**button, "value": "v"}
    for bad in (
        [section("x" * 3001)],
        [{"type": "actions", "elements": [button]}],
        [{"type": "nonsense"}],
        [{"type": "actions", "elements": [twice, twice]}],
    ):
        with pytest.raises(SlackApiError) as caught:
            await client.chat_postMessage(channel="CTEAM", text="t", blocks=bad)
        assert caught.value.response["error"] == "invalid_blocks"
        assert caught.value.response["response_metadata"]["messages"][0].startswith("[ERROR]")
    # Each block within its limit, but too much text in all: Slack's msg_blocks_too_long
    long_blocks = [section("y" * 3000) for _ in range(5)]
    too_long = client.chat_postMessage(channel="CTEAM", text="t", blocks=long_blocks)
    assert await error_of(too_long) == "msg_blocks_too_long"
    assert slack.workspace.messages["CTEAM"] == []
    ok = await client.chat_postMessage(channel="CTEAM", text="t", blocks=[section("x" * 3000)] * 3)
    assert ok["ok"] is True


async def test_threads_broadcasts_and_metadata(slack: SlackApiServer, client: AsyncWebClient) -> None:
    metadata = {"event_type": "step", "event_payload": {"step": "root"}}
    root = await client.chat_postMessage(channel="CTEAM", text="root", metadata=metadata)
    reply = await client.chat_postMessage(channel="CTEAM", text="reply", thread_ts=root["ts"])
    broadcast = await client.chat_postMessage(
        channel="CTEAM", text="for all", thread_ts=reply["ts"], reply_broadcast=True
    )
    assert broadcast["message"]["thread_ts"] == root["ts"]  # a reply's ts stands for its thread
    no_thread = client.chat_postMessage(channel="CTEAM", text="x", thread_ts="1.000001")
    assert await error_of(no_thread) == "thread_not_found"

    thread = (await client.conversations_replies(channel="CTEAM", ts=root["ts"], include_all_metadata=True))["messages"]
    assert [m["text"] for m in thread] == ["root", "reply", "for all"]
    assert thread[0]["metadata"] == metadata and thread[0]["reply_count"] == 2
    assert thread[2]["subtype"] == "thread_broadcast"

    history = (await client.conversations_history(channel="CTEAM"))["messages"]
    assert [m["text"] for m in history] == ["for all", "root"]  # newest first; a plain reply stays in its thread
    assert all("metadata" not in m for m in history)  # only with include_all_metadata
    with_metadata = (await client.conversations_history(channel="CTEAM", include_all_metadata=True))["messages"]
    assert with_metadata[1]["metadata"] == metadata


async def test_history_pages_with_a_cursor(client: AsyncWebClient) -> None:
    for n in range(5):
        await client.chat_postMessage(channel="CTEAM", text=f"m{n}")
    first = await client.conversations_history(channel="CTEAM", limit=2)
    assert [m["text"] for m in first["messages"]] == ["m4", "m3"] and first["has_more"] is True
    cursor = first["response_metadata"]["next_cursor"]
    rest = await client.conversations_history(channel="CTEAM", limit=10, cursor=cursor)
    assert [m["text"] for m in rest["messages"]] == ["m2", "m1", "m0"] and rest["has_more"] is False


async def test_update_ephemeral_permalink_and_users(slack: SlackApiServer, client: AsyncWebClient) -> None:
    posted = await client.chat_postMessage(channel="CTEAM", text="before", blocks=[section("before")])
    updated = await client.chat_update(channel="CTEAM", ts=posted["ts"], text="after", blocks=[section("after")])
    assert updated["ts"] == posted["ts"] and updated["message"]["blocks"] == [section("after")]
    assert slack.workspace.message("CTEAM", posted["ts"])["text"] == "after"
    assert await error_of(client.chat_update(channel="CTEAM", ts="1.000001", text="x")) == "message_not_found"
    human = slack.workspace.post("CTEAM", user="UALICE", text="mine")
    assert await error_of(client.chat_update(channel="CTEAM", ts=human["ts"], text="x")) == "cant_update_message"

    await client.chat_postEphemeral(channel="CTEAM", user="UALICE", text="just you")
    assert [(e["user"], e["text"]) for e in slack.workspace.ephemerals] == [("UALICE", "just you")]
    assert await error_of(client.chat_postEphemeral(channel="CTEAM", user="UBOB", text="x")) == "user_not_in_channel"

    link = await client.chat_getPermalink(channel="CTEAM", message_ts=posted["ts"])
    assert link["permalink"].endswith(f"/archives/CTEAM/p{posted['ts'].replace('.', '')}")
    assert (await client.users_info(user="UALICE"))["user"]["name"] == "alice"
    assert await error_of(client.users_info(user="UNOBODY")) == "user_not_found"


def modal(title: str = "Approve draft 1", blocks: int = 1) -> dict:
    return {
        "type": "modal",
        "callback_id": "decision_modal",
        "title": {"type": "plain_text", "text": title},
        "submit": {"type": "plain_text", "text": "Approve"},
        "blocks": [section("hi")] * blocks,
    }


async def test_views_need_a_fresh_trigger_and_a_valid_view(slack: SlackApiServer, client: AsyncWebClient) -> None:
    workspace = slack.workspace
    trigger = workspace.issue_trigger("UALICE")
    opened = await client.views_open(trigger_id=trigger, view=modal())
    assert opened["view"]["callback_id"] == "decision_modal" and opened["view"]["user"] == "UALICE"
    assert await error_of(client.views_open(trigger_id=trigger, view=modal())) == "exchanged_trigger_id"
    assert await error_of(client.views_open(trigger_id="123.abc", view=modal())) == "invalid_trigger_id"
    expired = workspace.issue_trigger("UALICE", ttl=0)
    assert await error_of(client.views_open(trigger_id=expired, view=modal())) == "expired_trigger_id"
    for bad in (modal(title="A title that is far too long"), modal(blocks=101), {**modal(), "type": "home"}):
        fresh = workspace.issue_trigger("UALICE")
        assert await error_of(client.views_open(trigger_id=fresh, view=bad)) == "invalid_arguments"

    view_id, view_hash = opened["view"]["id"], opened["view"]["hash"]
    updated = await client.views_update(view_id=view_id, hash=view_hash, view=modal(title="Thanks"))
    assert updated["view"]["title"]["text"] == "Thanks"
    assert await error_of(client.views_update(view_id=view_id, hash=view_hash, view=modal())) == "hash_conflict"


async def test_rate_limit_injection(slack: SlackApiServer, client: AsyncWebClient) -> None:
    slack.rate_limit("chat.postMessage", times=2, retry_after=7)
    for _ in range(2):
        with pytest.raises(SlackApiError) as caught:
            await client.chat_postMessage(channel="CTEAM", text="x")
        assert caught.value.response.status_code == 429
        assert caught.value.response.headers["Retry-After"] == "7"
        assert caught.value.response["error"] == "ratelimited"
    assert slack.workspace.messages["CTEAM"] == []
    await client.chat_postMessage(channel="CTEAM", text="third time")
    assert [m["text"] for m in slack.workspace.messages["CTEAM"]] == ["third time"]
    assert len(slack.calls_to("chat.postMessage")) == 3


async def test_a_lost_response_still_takes_effect(slack: SlackApiServer, client: AsyncWebClient) -> None:
    slack.lose_response("chat.postMessage")
    with pytest.raises(Exception) as cut:
        await client.chat_postMessage(channel="CTEAM", text="sent once")
    assert not isinstance(cut.value, SlackApiError)  # the connection broke mid-answer
    slack.lose_response("chat.update", how="error")
    ts = slack.workspace.messages["CTEAM"][0]["ts"]
    with pytest.raises(SlackApiError) as failed:
        await client.chat_update(channel="CTEAM", ts=ts, text="changed")
    assert failed.value.response.status_code == 500
    assert [m["text"] for m in slack.workspace.messages["CTEAM"]] == ["changed"]
    await client.chat_postMessage(channel="CTEAM", text="next")  # faults are spent
    assert len(slack.workspace.messages["CTEAM"]) == 2


async def test_response_url_answers_five_times(slack: SlackApiServer) -> None:
    url = slack.response_url("CGENERAL", "UALICE")
    async with httpx.AsyncClient() as http:
        answers = [await http.post(url, json={"response_type": "ephemeral", "text": f"n{n}"}) for n in range(6)]
    assert [a.status_code for a in answers] == [200] * 5 + [404]
    assert answers[-1].json()["error"] == "used_url"
    assert [(e["user"], e["channel"]) for e in slack.workspace.ephemerals] == [("UALICE", "CGENERAL")] * 5
    assert slack.workspace.messages["CGENERAL"] == []


def test_workspace_saves_and_loads(tmp_path) -> None:
    workspace = Workspace()
    channel = workspace.add_channel("general", members=["UALICE"], bot_member=True)
    root = workspace.post(channel.id, text="root", metadata={"event_type": "e", "event_payload": {}})
    workspace.post(channel.id, text="reply", thread_ts=root["ts"])
    workspace.post_ephemeral(channel.id, "UALICE", text="psst")
    workspace_file.save(workspace, tmp_path / "workspace.json")

    loaded = workspace_file.load(tmp_path / "workspace.json")
    assert workspace_file.to_dict(loaded) == workspace_file.to_dict(workspace)
    assert [m["text"] for m in loaded.replies(channel.id, root["ts"])] == ["root", "reply"]
    later = loaded.add_channel("later")
    assert later.id not in workspace.channels  # ids keep counting from the loaded ones
    assert float(loaded.new_ts()) > float(root["ts"])


def test_the_tiers_are_slacks() -> None:
    assert RATE_LIMITS["chat.update"].per_minute == 50 and not RATE_LIMITS["chat.update"].per_channel  # Tier 3
    assert RATE_LIMITS["chat.postEphemeral"].per_minute == 100  # Tier 4
    assert RATE_LIMITS["chat.postMessage"].per_minute == 60 and RATE_LIMITS["chat.postMessage"].per_channel
    assert SlackApiServer().enforce_rate_limits is False  # the tests post faster than Slack allows


async def test_tier_limits_answer_429_with_retry_after_per_method_and_channel(slack: SlackApiServer) -> None:
    # Slow buckets (a minute to refill a call), so the counts do not depend on how fast this machine is.
    limited = SlackApiServer(
        slack.workspace,
        enforce_rate_limits=True,
        rate_limits={
            "chat.postMessage": RateLimit(per_minute=1, burst=2, per_channel=True),
            "chat.update": RateLimit(per_minute=1, burst=3),
        },
    )
    with limited:
        client = AsyncWebClient(token=slack.workspace.bot_token, base_url=limited.base_url, retry_handlers=[])
        posted = [await client.chat_postMessage(channel="CTEAM", text=f"post {n}") for n in range(2)]
        with pytest.raises(SlackApiError) as caught:
            await client.chat_postMessage(channel="CTEAM", text="one too many")
        assert caught.value.response.status_code == 429 and caught.value.response["error"] == "ratelimited"
        assert 1 <= int(caught.value.response.headers["Retry-After"]) <= 60
        await client.chat_postMessage(channel="CGENERAL", text="another channel has its own budget")

        for n in range(3):  # chat.update's budget is the workspace's, across channels
            await client.chat_update(channel="CTEAM", ts=posted[n % 2]["ts"], text=f"edit {n}")
        with pytest.raises(SlackApiError):
            await client.chat_update(channel="CGENERAL", ts=posted[0]["ts"], text="over the tier")
        await client.auth_test()  # a method without a limit here is never refused

        assert limited.rate_limited == {"chat.postMessage": 1, "chat.update": 1}
        texts = sorted(m["text"] for m in slack.workspace.messages["CTEAM"])
        assert texts == ["edit 1", "edit 2"]  # nothing refused took effect
