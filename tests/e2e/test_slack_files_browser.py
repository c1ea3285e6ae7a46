"""A file attached on the sandbox page, in a real browser: Ada picks a PDF (made with fpdf2 here) with the
📎 control, mentions the bot, and the draft in the mention's thread cites the PDF's page. The real bot,
a worker and Temporal run behind the page (researchbot dev's stack). A screenshot goes to test-output/."""

from __future__ import annotations

from pathlib import Path

import pytest
from temporalio.testing import WorkflowEnvironment

from core.settings import Settings
from researchbot.dev import product_stack
from sandbox.demo_workspace import ADA
from tests.sandbox.test_browser import SandboxPage, expect, launch_chromium, require_chromium
from tests.support.documents import write_pdf
from tests.support.ports import free_port

pytestmark = pytest.mark.slow

QUESTION = "When must Orion travel expenses be filed?"
HANDBOOK = [
    "The Orion handbook covers the team's travel.",
    "Orion travel expenses must be filed within 30 days of the trip, with every receipt attached.",
]


async def test_a_pdf_attached_on_the_page_is_cited_by_the_draft(env: WorkflowEnvironment, tmp_path: Path) -> None:
    require_chromium()
    pdf = write_pdf(tmp_path / "handbook.pdf", HANDBOOK)
    settings = Settings(
        _env_file=None, research_task_queue=f"files-{tmp_path.name}", database_url=f"sqlite:///{tmp_path}/archive.db"
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
        await page.get_by_test_id("attach").set_input_files(str(pdf))
        await expect(page.get_by_test_id("attached")).to_have_text("📄 handbook.pdf")
        await ui.send(f"@researchbot {QUESTION}")

        asked = ui.message(QUESTION)
        await expect(asked.get_by_test_id("file")).to_contain_text("handbook.pdf")
        await expect(page.get_by_test_id("attached")).to_have_text("")
        await expect(asked.locator(".thread-summary")).to_be_visible(timeout=30_000)
        await ui.open_thread(asked)
        draft = ui.message("Draft 1 for review", ui.thread)
        await expect(draft).to_contain_text("handbook.pdf, p. 2", timeout=60_000)
        await expect(draft).to_contain_text("30 days")
        await ui.screenshot("slack-file-cited.png")
        assert ui.errors == []
