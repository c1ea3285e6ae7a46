"""The whole product in a real browser: the sandbox page, the real bot, a worker and Temporal.

A person types /research, watches the progress stream as task cards, approves with feedback and reads
the final report; someone who may not approve is refused. Screenshots go to test-output/.
"""

from __future__ import annotations

from pathlib import Path

from temporalio.testing import WorkflowEnvironment

from core.settings import Settings
from researchbot.dev import product_stack
from sandbox.demo_workspace import ADA, LINUS
from tests.sandbox.test_browser import SandboxPage, expect, launch_chromium, require_chromium
from tests.support.ports import free_port

QUESTION = "How does Temporal retry activities?"


async def test_ask_watch_approve_with_feedback_and_refuse_a_stranger(env: WorkflowEnvironment, tmp_path: Path) -> None:
    require_chromium()
    settings = Settings(
        _env_file=None, research_task_queue=f"browser-{tmp_path.name}", database_url=f"sqlite:///{tmp_path}/archive.db"
    )
    async with (
        product_stack(
            env.client, settings, bot_port=free_port(), sandbox_port=free_port(), state_file=tmp_path / "sandbox.json"
        ) as stack,
        launch_chromium() as browser,
    ):
        assert stack.sandbox is not None
        page = await browser.new_page(viewport={"width": 1440, "height": 1000})
        ui = SandboxPage(page, stack.sandbox.page_url)
        await ui.open(ADA)
        await ui.send(f"/research {QUESTION}")

        root = ui.message(QUESTION)
        await expect(root.locator(".thread-summary")).to_be_visible(timeout=30_000)
        await ui.open_thread(root)
        # Progress streams (SLACK_PROGRESS=stream, the default): one message of task cards, stopped with the draft.
        stream = ui.thread.get_by_test_id("stream")
        await expect(stream).to_have_count(1)
        await expect(stream.get_by_test_id("task-card").filter(has_text="Read the best pages")).to_be_visible()
        await expect(stream).to_have_attribute("data-state", "stopped", timeout=30_000)
        await expect(stream.get_by_test_id("plan-title")).to_have_text("Draft 1 is ready")
        await expect(stream.get_by_test_id("task-card")).not_to_have_count(0)
        draft = ui.message("Draft 1 for review", ui.thread)
        await expect(draft.get_by_role("button", name="Approve", exact=True)).to_be_visible()

        await ui.switch_user(LINUS)
        await ui.click_button("Approve", ui.message("Draft 1 for review", ui.thread))
        await expect(ui.page.get_by_text("can decide on this draft").first).to_be_visible()
        await expect(ui.modal).to_be_hidden()

        await ui.switch_user(ADA)
        await ui.click_button("Approve", ui.message("Draft 1 for review", ui.thread))
        await expect(ui.modal).to_be_visible()
        await ui.fill_modal("Anything to change in the final report?", "Add a one-line summary at the top.")
        await ui.submit_modal()
        await expect(ui.modal).to_be_hidden()

        report = ui.message("Research report", ui.thread)
        await expect(report).to_contain_text("Reviewer feedback taken into account", timeout=30_000)
        await expect(ui.message("Draft 1 for review", ui.thread)).to_contain_text("Approved by")
        await expect(ui.message("Draft 1 for review", ui.thread).get_by_role("button", name="Approve")).to_have_count(0)
        await ui.screenshot("product-thread.png")

        await ui.click_button("Export PDF", report)  # Ada asked: the file comes into the thread
        await expect(ui.thread.get_by_test_id("file")).to_contain_text("Research report (PDF)", timeout=30_000)
        await ui.screenshot("product-export.png")
        assert ui.errors == []
