"""Buttons and modals: block_actions with a trigger that opens a modal, replace_original through
an action's response_url, view submissions with errors, and a Bolt app taking all of it."""

from __future__ import annotations

import json
from pathlib import Path

from sandbox.asgi_server import AsgiServer
from sandbox.demo_workspace import ADA, GRACE, LINUS, RESEARCH
from sandbox.server import SandboxServer
from tests.sandbox.fake_bot import SECRET, FakeBot, bolt_bot
from tests.sandbox.page_client import ask, click, draft_of, post, state
from tests.support.waiting import eventually


async def test_a_button_sends_block_actions_and_its_trigger_opens_a_modal(
    sandbox: SandboxServer, fake_bot: FakeBot
) -> None:
    await ask(sandbox, "/research what is Temporal?")
    draft = draft_of(sandbox)
    assert await click(sandbox, GRACE, "revise", draft["ts"]) == {"ok": True}

    [payload] = fake_bot.of_kind("block_actions")
    assert payload["user"]["id"] == GRACE and payload["user"]["username"] == "grace"
    assert payload["api_app_id"] == sandbox.workspace.app_id and payload["token"]
    assert payload["team"] == {"id": sandbox.workspace.team_id, "domain": sandbox.workspace.domain}
    assert payload["channel"] == {"id": RESEARCH, "name": "research"}
    assert payload["container"] == {
        "type": "message",
        "message_ts": draft["ts"],
        "channel_id": RESEARCH,
        "is_ephemeral": False,
    }
    assert payload["message"]["ts"] == draft["ts"] and payload["message"]["blocks"][-1]["block_id"] == "decision-1"
    assert payload["response_url"].startswith(f"{sandbox.url}response/")
    [action] = payload["actions"]
    assert action["action_id"] == "revise" and action["block_id"] == "decision-1" and action["type"] == "button"
    assert json.loads(action["value"]) == {"wf": "research-1", "round": 1} and float(action["action_ts"]) > 0

    # The bot spent the trigger on views.open: Grace sees the modal, Ada does not.
    view = (await state(sandbox, GRACE))["view"]
    assert view["callback_id"] == "decision_modal" and view["title"]["text"] == "Revise draft 1"
    assert (await state(sandbox, ADA))["view"] is None


async def test_someone_who_may_not_decide_is_told_so_privately(sandbox: SandboxServer) -> None:
    await ask(sandbox, "/research what is Temporal?")
    assert await click(sandbox, LINUS, "approve", draft_of(sandbox)["ts"]) == {"ok": True}

    linus, grace = await state(sandbox, LINUS), await state(sandbox, GRACE)
    assert [e["text"] for e in linus["ephemerals"]] == [f"Sorry <@{LINUS}>, you may not decide on this draft."]
    assert grace["ephemerals"] == [] and linus["view"] is None
    assert draft_of(sandbox)["blocks"][-1]["type"] == "actions"  # the buttons are still there


async def test_replace_original_through_an_actions_response_url(sandbox: SandboxServer) -> None:
    await ask(sandbox, "/research what is Temporal?")
    ts = draft_of(sandbox)["ts"]
    assert await click(sandbox, GRACE, "reject", ts) == {"ok": True}
    replaced = sandbox.workspace.message(RESEARCH, ts)
    assert replaced["text"] == "Rejected"
    assert replaced["blocks"][0]["elements"][0]["text"] == f"❌ Rejected by <@{GRACE}>"


async def test_a_view_submission_shows_errors_then_closes(sandbox: SandboxServer, fake_bot: FakeBot) -> None:
    await ask(sandbox, "/research what is Temporal?")
    draft = draft_of(sandbox)
    await click(sandbox, GRACE, "revise", draft["ts"])
    view = (await state(sandbox, GRACE))["view"]

    refused = await post(
        sandbox, "/sandbox/submit", user=GRACE, view_id=view["id"], values={"feedback": {"feedback": "bad"}}
    )
    assert refused == {
        "ok": False,
        "response_action": "errors",
        "errors": {"feedback": "Say what should change, in a few words."},
    }
    still_open = (await state(sandbox, GRACE))["view"]
    assert still_open["id"] == view["id"] and still_open["errors"] == refused["errors"]

    closed = await post(
        sandbox,
        "/sandbox/submit",
        user=GRACE,
        view_id=view["id"],
        values={"feedback": {"feedback": "Add the 2023 figures"}},
    )
    assert closed == {"ok": True, "response_action": "close"}
    assert (await state(sandbox, GRACE))["view"] is None

    submitted = fake_bot.of_kind("view_submission")[-1]
    assert submitted["user"]["id"] == GRACE and submitted["api_app_id"] == sandbox.workspace.app_id
    assert submitted["team"]["id"] == sandbox.workspace.team_id and submitted["token"]
    assert submitted["view"]["id"] == view["id"] and submitted["view"]["callback_id"] == "decision_modal"
    assert json.loads(submitted["view"]["private_metadata"])["kind"] == "revise"
    assert submitted["view"]["state"]["values"] == {
        "feedback": {"feedback": {"type": "plain_text_input", "value": "Add the 2023 figures"}}
    }
    updated = sandbox.workspace.message(RESEARCH, draft["ts"])
    assert "Revision requested by" in updated["blocks"][0]["elements"][0]["text"]
    assert [m["text"] for m in sandbox.workspace.replies(RESEARCH, draft["ts"])][1:] == [
        f"Thanks <@{GRACE}>, noted: _Add the 2023 figures_"
    ]


async def test_closing_a_modal_and_submitting_someone_elses_view(sandbox: SandboxServer) -> None:
    await ask(sandbox, "/research what is Temporal?")
    await click(sandbox, GRACE, "approve", draft_of(sandbox)["ts"])
    view = (await state(sandbox, GRACE))["view"]
    stolen = await post(sandbox, "/sandbox/submit", user=ADA, view_id=view["id"], values={})
    assert stolen == {"ok": False, "error": "view_not_found"}
    assert await post(sandbox, "/sandbox/close", user=GRACE, view_id=view["id"]) == {"ok": True}
    assert (await state(sandbox, GRACE))["view"] is None


async def test_a_bolt_app_accepts_what_the_sandbox_sends(tmp_path: Path) -> None:
    with SandboxServer(bot_url="http://127.0.0.1:9/", signing_secret=SECRET) as sandbox:
        bot = AsgiServer(bolt_bot(sandbox.base_url, sandbox.workspace.bot_token), name="bolt-bot").start()
        try:
            sandbox.bot.url = f"{bot.url}slack/events"
            assert await ask(sandbox, "/research what is Temporal?") == {"ok": True}
            await eventually(lambda: len(sandbox.workspace.ephemerals) == 2, "both ephemerals")
            ada = await state(sandbox, ADA)
            assert {e["text"] for e in ada["ephemerals"]} == {
                "Researching “what is Temporal?”…",
                "The draft is in the channel.",
            }
            draft = draft_of(sandbox)
            assert await click(sandbox, ADA, "revise", draft["ts"]) == {"ok": True}
            await eventually(lambda: bool(sandbox.workspace.views), "a view opened")
            view = (await state(sandbox, ADA))["view"]
            refused = await post(
                sandbox, "/sandbox/submit", user=ADA, view_id=view["id"], values={"feedback": {"feedback": "bad"}}
            )
            assert refused["errors"] == {"feedback": "Say more."}
            closed = await post(
                sandbox, "/sandbox/submit", user=ADA, view_id=view["id"], values={"feedback": {"feedback": "fine"}}
            )
            assert closed == {"ok": True, "response_action": "close"}
        finally:
            bot.stop()
