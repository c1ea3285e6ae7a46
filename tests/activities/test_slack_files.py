"""Files attached to a question in Slack, read by the worker over HTTP from the sandbox Slack: files.info with
the bot's token, then url_private with ``Authorization: Bearer``, then documents.py's converters and checks."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import httpx
import pytest
from slack_sdk.web.async_client import AsyncWebClient

from activities.search.documents import DocumentLimits
from activities.search.pages import PageReader
from activities.search.providers import SearchActivities
from activities.search.slack_files import FileRefused, SlackFiles, file_url
from sandbox import SlackApiServer, files
from tests.activities.conftest import ALICE, BOB
from tests.support.documents import write_pdf, write_zip_bomb
from tests.support.slack import sandbox_slack
from workflows.activity_io import SearchInput

HERE, ELSEWHERE = "CHERE", "CELSEWHERE"
HANDBOOK = ["Travel is booked through the travel desk.", "Expenses are filed within 30 days of the trip."]


@pytest.fixture
def slack() -> Iterator[SlackApiServer]:
    with sandbox_slack({"alice": ALICE, "bob": BOB}) as server:
        server.workspace.add_channel("here", id=HERE, members=[ALICE, BOB], bot_member=True)
        server.workspace.add_channel("elsewhere", id=ELSEWHERE, members=[BOB], bot_member=True)
        yield server


@pytest.fixture
async def reader(slack: SlackApiServer) -> AsyncIterator[SlackFiles]:
    client = AsyncWebClient(token=slack.workspace.bot_token, base_url=slack.base_url, retry_handlers=[])
    async with httpx.AsyncClient() as http:
        yield SlackFiles(client, http, limits=DocumentLimits(max_file_bytes=200_000))


def attach(slack: SlackApiServer, channel: str, path: Path, user: str = ALICE) -> str:
    """``path`` attached to a message of ``user`` in ``channel``, as the sandbox page does; its file id."""
    shared = files.share_person_file(slack.workspace, user, path.name, path.read_bytes())
    message = slack.workspace.post(channel, user=user, text="<@UBOT> what does it say?", files=[shared])
    files.mark_shared(slack.workspace, [shared], channel, message["ts"])
    return shared["id"]


async def test_an_attached_pdf_is_read_page_by_page(slack: SlackApiServer, reader: SlackFiles, tmp_path: Path) -> None:
    file_id = attach(slack, HERE, write_pdf(tmp_path / "handbook.pdf", HANDBOOK))
    hits, refused = await reader.search("When are expenses filed?", 5, [file_id], HERE)
    assert refused == []
    assert [hit.url for hit in hits] == [file_url(HERE, file_id, "page=1"), file_url(HERE, file_id, "page=2")]
    assert [hit.title for hit in hits] == ["handbook.pdf, p. 1", "handbook.pdf, p. 2"]
    best = await reader.search("When are expenses filed?", 1, [file_id], HERE)
    assert [hit.url for hit in best[0]] == [file_url(HERE, file_id, "page=2")]
    title, text, note = await reader.read(file_url(HERE, file_id, "page=2"))
    assert (title, text) == ("handbook.pdf, p. 2", HANDBOOK[1])
    assert note.startswith("from the Slack file handbook.pdf, SHA-256 ")
    # Only ids and the bot's token were used: files.info each time, the bytes through the private URL.
    assert slack.calls_to("files.info")[0].params == {"file": file_id}


async def test_the_private_url_needs_the_bot_token(slack: SlackApiServer, tmp_path: Path) -> None:
    file_id = attach(slack, HERE, write_pdf(tmp_path / "handbook.pdf", HANDBOOK))
    client = AsyncWebClient(token=slack.workspace.bot_token, base_url=slack.base_url)
    info = (await client.files_info(file=file_id))["file"]
    assert info["channels"] == [HERE] and info["user"] == ALICE
    assert info["url_private"].startswith(slack.url)
    async with httpx.AsyncClient() as http:
        assert (await http.get(info["url_private"])).status_code == 401
        wrong = await http.get(info["url_private"], headers={"Authorization": "Bearer xoxb-not-the-token"})
        assert wrong.status_code == 401
        right = await http.get(info["url_private"], headers={"Authorization": f"Bearer {slack.workspace.bot_token}"})
        assert right.status_code == 200 and right.content.startswith(b"%PDF")
        gone = info["url_private"].replace(file_id, "F0NOTHERE")
        assert (
            await http.get(gone, headers={"Authorization": f"Bearer {slack.workspace.bot_token}"})
        ).status_code == 404


async def test_a_file_of_another_conversation_is_refused(
    slack: SlackApiServer, reader: SlackFiles, tmp_path: Path
) -> None:
    foreign = attach(slack, ELSEWHERE, write_pdf(tmp_path / "payroll.pdf", ["Salaries."]), user=BOB)
    hits, refused = await reader.search("salaries", 5, [foreign], HERE)
    assert hits == []
    assert refused == [f"attached file {foreign}: it is not shared in the conversation the question was asked in"]
    with pytest.raises(FileRefused, match="not shared in the conversation"):
        await reader.read(file_url(HERE, foreign, "page=1"))
    # A run in the terminal has no conversation: no Slack file is its source.
    assert (await reader.search("salaries", 5, [foreign], None))[0] == []


async def test_an_unknown_file_too_big_a_file_and_a_zip_bomb_are_refused(
    slack: SlackApiServer, reader: SlackFiles, tmp_path: Path
) -> None:
    big = attach(slack, HERE, _write(tmp_path / "big.txt", b"roadmap " * 30_000))
    bomb = attach(slack, HERE, write_zip_bomb(tmp_path / "roadmap.docx"))
    notes = attach(slack, HERE, _write(tmp_path / "tool.exe", b"MZ"))
    hits, refused = await reader.search("roadmap", 5, ["F0NOSUCH", big, bomb, notes], HERE)
    assert hits == []
    assert refused[0] == "attached file F0NOSUCH: Slack does not let the bot read it (file_not_found)"
    assert "more than CORPUS_MAX_FILE_BYTES=200,000" in refused[1]
    assert "roadmap.docx:" in refused[2] and "(a zip bomb?)" in refused[2]
    assert "tool.exe: not a format the corpus reads (.exe)" in refused[3]


async def test_the_read_step_and_the_search_step_take_slack_files(
    slack: SlackApiServer, reader: SlackFiles, tmp_path: Path
) -> None:
    file_id = attach(slack, HERE, write_pdf(tmp_path / "handbook.pdf", HANDBOOK))
    found = await SearchActivities([], reader).search(
        SearchInput(query="expenses", limit=5, channel=HERE, files=[file_id, "F0NOSUCH"])
    )
    assert [hit.provider for hit in found.hits] == ["slack-file", "slack-file"]
    assert found.failures == ["attached file F0NOSUCH: Slack does not let the bot read it (file_not_found)"]
    async with httpx.AsyncClient() as http:
        pages = PageReader(http, corpus=None, allow_private_networks=False, max_bytes=10_000, slack_files=reader)  # type: ignore[arg-type]
        page = await pages.read(file_url(HERE, file_id, "page=2"), "", 1_000)
        assert page.ok and page.title == "handbook.pdf, p. 2" and page.text == HANDBOOK[1]
        assert page.note and "SHA-256" in page.note
        refused = await pages.read(file_url(ELSEWHERE, file_id, "page=2"), "handbook.pdf, p. 2", 1_000)
        assert not refused.ok and refused.error == "it is not shared in the conversation the question was asked in"


def _write(path: Path, content: bytes) -> Path:
    path.write_bytes(content)
    return path
