"""One ``files.info`` per attached file: the reads of its parts reuse the first answer."""

from __future__ import annotations

from pathlib import Path

from activities.search.slack_files import SlackFiles, file_url
from sandbox import SlackApiServer
from tests.activities.test_slack_files import HANDBOOK, HERE, attach, reader, slack
from tests.support.documents import write_pdf

__all__ = ["reader", "slack"]  # the fixtures, shared with test_slack_files


async def test_each_file_is_asked_about_once(slack: SlackApiServer, reader: SlackFiles, tmp_path: Path) -> None:
    file_id = attach(slack, HERE, write_pdf(tmp_path / "handbook.pdf", HANDBOOK))
    await reader.search("expenses", 5, [file_id], HERE)
    for page in ("page=1", "page=2", "page=1"):
        await reader.read(file_url(HERE, file_id, page))
    assert len(slack.calls_to("files.info")) == 1


async def test_a_rate_limited_files_info_waits_as_slack_says(
    slack: SlackApiServer, reader: SlackFiles, tmp_path: Path
) -> None:
    """files.info is in the workspace's budget: a 429 waits for Retry-After and asks again, not a failed search."""
    file_id = attach(slack, HERE, write_pdf(tmp_path / "handbook.pdf", HANDBOOK))
    slack.rate_limit("files.info", retry_after=1)
    hits, refused = await reader.search("expenses", 5, [file_id], HERE)
    assert refused == [] and len(hits) == 2
    assert len(slack.calls_to("files.info")) == 2
