"""The sandbox page in a real browser (Debian's Chromium driven by Playwright), against the fake bot.

Helpers for other browser tests (the full product against the real bot) are exported here:
:func:`launch_chromium`, :func:`require_chromium` and :class:`SandboxPage`.
"""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import pytest
from slack_sdk.web.async_client import AsyncWebClient

from sandbox.demo_workspace import ADA, GRACE, LINUS, RESEARCH
from sandbox.server import SandboxServer
from slack_ui.ids import decode_rating_value
from slack_ui.thread import RATING_ACTION, rating_buttons
from tests.sandbox.fake_bot import FakeBot
from tests.support.waiting import eventually
from workflows.models import Rating

__all__ = ["CHROMIUM", "CHROMIUM_ARGS", "SCREENSHOTS", "SandboxPage", "launch_chromium", "require_chromium"]

REPO_ROOT = Path(__file__).resolve().parents[2]
SCREENSHOTS = REPO_ROOT / "test-output"
CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
TIMEOUT_MS = 30_000  # generous: a loaded 2-core machine is slow, and these are waits, not timings

playwright_api = pytest.importorskip("playwright.async_api", reason="the playwright package is not installed")
expect = playwright_api.expect
expect.set_options(timeout=TIMEOUT_MS)


def require_chromium() -> None:
    """Skip, saying why loudly, if Debian's Chromium is not installed."""
    if not CHROMIUM.exists():
        pytest.skip(
            f"BROWSER TEST SKIPPED: no Chromium at {CHROMIUM}; install it with "
            "`apt-get install -y chromium` (scripts list it) to run the sandbox page in a browser"
        )


@asynccontextmanager
async def launch_chromium() -> AsyncIterator[playwright_api.Browser]:
    """Debian's headless Chromium under Playwright, closed on exit."""
    async with playwright_api.async_playwright() as playwright:
        browser = await playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        try:
            yield browser
        finally:
            await browser.close()


class SandboxPage:
    """The sandbox page, driven the way a person uses it."""

    def __init__(self, page: playwright_api.Page, url: str) -> None:
        self.page, self.url = page, url.rstrip("/")
        self.errors: list[str] = []  # uncaught script errors on the page
        page.on("pageerror", lambda error: self.errors.append(str(error)))
        page.set_default_timeout(TIMEOUT_MS)

    async def open(self, user: str = ADA, channel: str = RESEARCH) -> None:
        await self.page.goto(f"{self.url}/?user={user}&channel={channel}")
        await expect(self.page.locator("#live-dot.live")).to_have_count(1)
        await expect(self.page.locator("#channel-title")).not_to_be_empty()

    # -------------------------------------------------------------- where things are

    @property
    def channel(self) -> playwright_api.Locator:
        return self.page.get_by_test_id("channel-messages")

    @property
    def thread(self) -> playwright_api.Locator:
        return self.page.get_by_test_id("thread-messages")

    @property
    def modal(self) -> playwright_api.Locator:
        return self.page.get_by_test_id("modal")

    @property
    def confirm_dialog(self) -> playwright_api.Locator:
        return self.page.get_by_test_id("confirm")

    def message(
        self, text: str | re.Pattern[str], pane: playwright_api.Locator | None = None
    ) -> playwright_api.Locator:
        """The channel message (or thread message, given ``pane``) that shows ``text``."""
        return (pane or self.channel).get_by_test_id("message").filter(has_text=text)

    # -------------------------------------------------------------- doing things

    async def send(self, text: str) -> None:
        composer = self.page.get_by_test_id("composer")
        await composer.fill(text)
        await composer.press("Enter")

    async def click_button(self, label: str, message: playwright_api.Locator) -> None:
        await message.get_by_role("button", name=label, exact=True).click()

    async def switch_user(self, user: str) -> None:
        await self.page.get_by_test_id("user-switch").select_option(user)
        await expect(self.page.locator("#channel-meta")).to_contain_text("Viewing as")
        await expect(self.page.locator(f'#app[data-me="{user}"]')).to_have_count(1)  # their state is drawn

    async def fill_modal(self, label: str, value: str) -> None:
        await self.modal.get_by_label(label).fill(value)

    async def submit_modal(self) -> None:
        await self.modal.locator("[data-kind=submit-modal]").click()

    async def open_thread(self, message: playwright_api.Locator) -> None:
        await message.locator(".thread-summary").click()
        await expect(self.page.locator("#thread")).to_be_visible()

    async def screenshot(self, name: str) -> Path:
        SCREENSHOTS.mkdir(parents=True, exist_ok=True)
        path = SCREENSHOTS / name
        await self.page.screenshot(path=str(path))
        return path


# ------------------------------------------------------------------ the test


async def test_the_sandbox_page_end_to_end_with_a_fake_bot(sandbox: SandboxServer, fake_bot: FakeBot) -> None:
    require_chromium()
    async with launch_chromium() as browser:
        page = await browser.new_page(viewport={"width": 1440, "height": 900})
        ui = SandboxPage(page, sandbox.url)
        await ui.open(ADA)

        # Ada asks; the bot's draft shows for everyone, its ephemeral only for Ada.
        await ui.send("/research what is Temporal?")
        draft = ui.message("Draft 1 for review")
        await expect(draft).to_be_visible()
        started = ui.message("Started research on “what is Temporal?” for you")
        await expect(started).to_contain_text("Only visible to you")
        assert fake_bot.of_kind("command")[0]["text"] == "what is Temporal?"

        # Block Kit and mrkdwn, rendered: header, bold, italic, entities, bullets, code, links, mentions.
        await expect(draft.locator(".block.header")).to_have_text("Draft 1 for review")
        await expect(draft.locator("b", has_text="Summary")).to_be_visible()
        await expect(draft.locator("i", has_text="event history")).to_be_visible()
        await expect(draft).to_contain_text("state in its event history & replays it [1].")
        await expect(draft.locator(".line.li", has_text="Durable timers <days>")).to_be_visible()
        await expect(draft.locator("pre")).to_have_text("worker.run()")
        await expect(draft.locator("code", has_text="updates")).to_be_visible()
        await expect(draft.get_by_role("link", name="Temporal docs")).to_have_attribute(
            "href", "https://docs.temporal.io/"
        )
        await expect(draft.locator(".mention")).to_have_text("@Ada Lovelace")
        await expect(draft.get_by_role("button", name="Approve", exact=True)).to_have_class(re.compile("primary"))
        await ui.screenshot("sandbox-draft.png")

        # Grace does not see Ada's ephemeral; she asks for a revision through the modal.
        await ui.switch_user(GRACE)
        await expect(ui.message("Draft 1 for review")).to_be_visible()
        await expect(ui.channel.get_by_text("Started research on")).to_have_count(0)
        await ui.click_button("Revise", ui.message("Draft 1 for review"))
        await expect(ui.modal).to_be_visible()
        await expect(ui.modal.locator("#modal-title")).to_have_text("Revise draft 1")
        await ui.submit_modal()  # required and empty: the page says so before anything is sent
        await expect(ui.modal.get_by_test_id("field-error")).to_have_text("Please complete this required field.")
        assert fake_bot.of_kind("view_submission") == []
        await ui.fill_modal("What should change?", "bad")
        await ui.submit_modal()  # the bot answers response_action errors
        await expect(ui.modal.get_by_test_id("field-error")).to_have_text("Say what should change, in a few words.")
        await ui.screenshot("sandbox-modal.png")
        await ui.fill_modal("What should change?", "Add the 2023 figures")
        await ui.submit_modal()
        await expect(ui.modal).to_be_hidden()

        # The bot's chat.update arrives live; its reply is in the thread.
        decided = ui.message("Revision requested by")
        await expect(decided).to_contain_text("Revision requested by @Grace Hopper: “Add the 2023 figures”")
        await expect(decided.get_by_role("button")).to_have_count(1)  # only the thread link; the buttons went
        await ui.open_thread(decided)
        await expect(ui.message("noted", ui.thread)).to_contain_text(
            "Thanks @Grace Hopper, noted: Add the 2023 figures"
        )

        # A second draft: Linus may not decide and is told so privately; Reject asks first.
        await ui.switch_user(ADA)
        await ui.send("/research and durable timers?")
        second = ui.message("Question: and durable timers?")
        await expect(second).to_be_visible()
        await ui.switch_user(LINUS)
        await ui.click_button("Approve", second)
        refusal = ui.message("you may not decide")
        await expect(refusal).to_contain_text("Sorry @Linus Torvalds, you may not decide on this draft.")
        await expect(refusal).to_contain_text("Only visible to you")
        await ui.switch_user(GRACE)
        await expect(ui.channel.get_by_text("you may not decide")).to_have_count(0)
        await ui.click_button("Reject", second)
        await expect(ui.confirm_dialog).to_contain_text("Reject this draft?")
        await ui.confirm_dialog.get_by_role("button", name="Keep it").click()
        await expect(ui.confirm_dialog).to_be_hidden()
        assert [p["actions"][0]["action_id"] for p in fake_bot.of_kind("block_actions")] == ["revise", "approve"]
        await ui.click_button("Reject", second)
        await ui.confirm_dialog.get_by_role("button", name="Reject").click()
        await expect(ui.message("Rejected by @Grace Hopper")).to_be_visible()

        # A command the bot does not answer in time: Slack's own error, for the asker only.
        await ui.send("/research slow")
        timeout = ui.message('/research failed with the error "operation_timeout"')
        await expect(timeout).to_be_visible(timeout=TIMEOUT_MS)
        await expect(timeout).to_contain_text("Slackbot")
        await ui.screenshot("sandbox.png")
        await ui.switch_user(ADA)
        await expect(ui.channel.get_by_text("operation_timeout")).to_have_count(0)
        await expect(ui.message("Started research on “what is Temporal?” for you")).to_be_visible()

        # Reloading the page (and switching by URL) keeps everything.
        await ui.open(LINUS)
        await expect(ui.message("you may not decide")).to_be_visible()
        assert ui.errors == []


async def test_the_page_shows_a_streamed_message_and_its_task_cards_live(sandbox: SandboxServer) -> None:
    """A bot streams its progress into a thread: the cards show, change as chunks arrive, and the
    message says it streams until chat.stopStream."""
    require_chromium()
    bot = AsyncWebClient(token=sandbox.workspace.bot_token, base_url=sandbox.base_url, retry_handlers=[])
    root = (await bot.chat_postMessage(channel=RESEARCH, text="Research: why streams?"))["ts"]
    task = {"type": "task_update", "id": "q1", "title": "Why do streams help?", "status": "in_progress"}
    pending = {"type": "task_update", "id": "read", "title": "Read the best pages", "status": "pending"}
    started = await bot.chat_startStream(
        channel=RESEARCH,
        thread_ts=root,
        recipient_user_id=ADA,
        recipient_team_id=sandbox.workspace.team_id,
        task_display_mode="plan",
        chunks=[{"type": "plan_update", "title": "Researching"}, task, pending],
    )
    async with launch_chromium() as browser:
        ui = SandboxPage(await browser.new_page(viewport={"width": 1440, "height": 900}), sandbox.url)
        await ui.open(ADA)
        await ui.open_thread(ui.message("Research: why streams?"))
        stream = ui.thread.get_by_test_id("stream")
        cards = stream.get_by_test_id("task-card")
        await expect(cards).to_have_count(2)
        await expect(cards.nth(0)).to_have_attribute("data-status", "in_progress")
        await expect(cards.nth(0)).to_contain_text("Why do streams help?")
        await expect(stream.get_by_test_id("stream-live")).to_be_visible()

        # Chunks arrive while the page is open: the same cards change in place.
        source = {"type": "url", "url": "https://example.org/streams", "text": "[1] Streams"}
        read = {**pending, "status": "complete", "details": "1/1 pages read", "sources": [source]}
        await bot.chat_appendStream(channel=RESEARCH, ts=started["ts"], chunks=[{**task, "status": "complete"}, read])
        await expect(cards.nth(0)).to_have_attribute("data-status", "complete")
        await expect(cards).to_have_count(2)
        link = cards.nth(1).get_by_role("link", name="[1] Streams")
        await expect(link).to_have_attribute("href", "https://example.org/streams")
        await bot.chat_stopStream(channel=RESEARCH, ts=started["ts"])
        await expect(stream).to_have_attribute("data-state", "stopped")
        await expect(stream.get_by_test_id("stream-live")).to_have_count(0)
        await ui.screenshot("sandbox-stream.png")
        assert ui.errors == []


async def test_the_page_opens_a_canvas_as_a_document_and_sends_feedback_clicks(
    sandbox: SandboxServer, fake_bot: FakeBot
) -> None:
    """A report's markdown block renders its Markdown; its canvas opens beside the channel, rendered
    (raw HTML as text, only safe links); its 👍 sends block_actions with the clicked half of the buttons."""
    require_chromium()
    bot = AsyncWebClient(token=sandbox.workspace.bot_token, base_url=sandbox.base_url, retry_handlers=[])
    markdown = (
        "# Findings\n\nStreams **help** [1].\n\n<script>alert('x')</script>\n\n[bad](javascript:alert(1))\n\n"
        "## Sources\n\n1. [Streams](https://example.org/streams)\n\nAsked by ![](@" + ADA + ")"
    )
    created = await bot.canvases_create(
        title="Research report: why streams?", document_content={"type": "markdown", "markdown": markdown}
    )
    await bot.canvases_access_set(canvas_id=created["canvas_id"], access_level="read", channel_ids=[RESEARCH])
    url = (await bot.files_info(file=created["canvas_id"]))["file"]["permalink"]
    blocks = [
        {"type": "markdown", "text": "Streams **help** a lot [1], see [Streams](https://example.org/streams)."},
        {"type": "section", "text": {"type": "mrkdwn", "text": f"📄 The whole report: <{url}|open the canvas>"}},
        rating_buttons("research-1"),
    ]
    await bot.chat_postMessage(channel=RESEARCH, text="Research report: why streams?", blocks=blocks)
    async with launch_chromium() as browser:
        ui = SandboxPage(await browser.new_page(viewport={"width": 1440, "height": 900}), sandbox.url)
        await ui.open(ADA)
        report = ui.message("The whole report")
        shown = report.get_by_test_id("markdown-block")  # the report's Markdown, rendered as Slack renders it
        await expect(shown.locator("strong")).to_have_text("help")
        await expect(shown.get_by_role("link", name="Streams")).to_have_attribute("href", "https://example.org/streams")
        await report.get_by_role("link", name="open the canvas").click()
        canvas = ui.page.get_by_test_id("canvas")
        await expect(ui.page.locator("#canvas-title")).to_have_text("Research report: why streams?")
        await expect(canvas.get_by_role("heading", name="Findings")).to_be_visible()
        await expect(canvas.locator("strong")).to_have_text("help")
        await expect(canvas.get_by_role("link", name="Streams")).to_have_attribute(
            "href", "https://example.org/streams"
        )
        await expect(canvas).to_contain_text("<script>alert('x')</script>")  # shown, never run
        await expect(canvas.get_by_role("link", name="bad")).to_have_count(0)
        await expect(canvas).to_contain_text("Asked by @")
        await ui.screenshot("sandbox-canvas.png")

        await report.get_by_role("button", name="This report was useful").click()
        clicks = await eventually(lambda: fake_bot.of_kind("block_actions"), "the rating click reaching the bot")
        (action,) = clicks[-1]["actions"]
        assert action["type"] == "feedback_buttons" and action["action_id"] == RATING_ACTION
        assert decode_rating_value(action["value"]) == ("research-1", Rating.POSITIVE)
        assert ui.errors == []


async def test_the_page_asks_by_mention_and_in_the_dm_pane(sandbox: SandboxServer, fake_bot: FakeBot) -> None:
    require_chromium()
    async with launch_chromium() as browser:
        page = await browser.new_page(viewport={"width": 1440, "height": 900})
        ui = SandboxPage(page, sandbox.url)
        await ui.open(ADA)

        # A mention in #research: delivered as app_mention, answered in the mention's thread.
        await ui.send("@researchbot what is a task queue?")
        asked = ui.message("what is a task queue?")
        await expect(asked.locator(".mention")).to_have_count(1)
        await ui.open_thread(asked)
        await expect(ui.message("On it:", ui.thread)).to_be_visible()
        [event] = [body["event"] for body in fake_bot.of_kind("event_callback")]
        assert event["type"] == "app_mention" and event["text"] == "<@U0BOT> what is a task queue?"

        # A reply in that thread (the bot is in #research): delivered as a message event with its thread.
        await ui.page.locator("#thread-input").fill("and how are they polled?")
        await ui.page.locator("#thread-input").press("Enter")
        await expect(ui.message("and how are they polled?", ui.thread)).to_be_visible()
        reply = (await eventually(lambda: _events(fake_bot, "and how are they polled?"), "the thread reply's event"))[0]
        assert reply["type"] == "message" and reply["channel_type"] == "channel"
        assert reply["thread_ts"] == event["ts"] and reply["user"] == ADA

        # The DM pane: opening it offers the bot's prompts; a prompt is a question; the status shows
        # under the thread until the bot answers there.
        await page.get_by_test_id("open-dm").click()
        prompts = page.get_by_test_id("pane-prompts")
        await expect(prompts.get_by_role("button", name="Durable?")).to_be_visible()
        await expect(page.locator("#channel-title")).to_have_text("ResearchBot")
        await ui.send("think about retries")
        thinking = ui.message("think about retries")
        await expect(thinking).to_be_visible()
        await expect(page.get_by_test_id("pane-status")).to_contain_text("ResearchBot is thinking…")
        await prompts.get_by_role("button", name="Durable?").click()
        durable = ui.message("What is durable?")
        await ui.open_thread(durable)
        await expect(ui.message("On it: What is durable?", ui.thread)).to_be_visible()
        kinds = [
            (body["event"]["type"], body["event"].get("channel_type")) for body in fake_bot.of_kind("event_callback")
        ]
        assert kinds[2:] == [("app_home_opened", None), ("message", "im"), ("message", "im")]
        await ui.screenshot("sandbox-dm-pane.png")
        assert ui.errors == []


def _events(bot: FakeBot, text: str) -> list[dict]:
    """The events the bot received about a message saying ``text``."""
    return [body["event"] for body in bot.of_kind("event_callback") if body["event"].get("text") == text]
