"""Block Kit pieces within Slack's limits: blocks, one message, a body spread over several.

A :class:`Message` is ``{"text": ..., "blocks": [...]}``, to pass as ``chat_postMessage(**message)``
or ``chat_update(**message)``; its ``text`` is the fallback Slack shows in notifications and to
screen readers. The messages of a run's thread are built from these in :mod:`slack_ui.thread`; modals
and the slash command's own answers in :mod:`slack_ui.replies`.
"""

from __future__ import annotations

from typing import Any, TypedDict

from slack_ui.mrkdwn import neutralise_mentions, split_text

__all__ = [
    "MAX_BLOCKS",
    "MAX_BUTTON_TEXT",
    "MAX_BUTTON_VALUE",
    "MAX_HEADER_CHARS",
    "MAX_SECTION_CHARS",
    "MESSAGE_TEXT_BUDGET",
    "Block",
    "Message",
    "blocks_text_length",
    "context",
    "header",
    "message",
    "paginate",
    "plain",
    "section",
    "sections",
]

Block = dict[str, Any]

MAX_BLOCKS = 50
MAX_SECTION_CHARS = 3000
MAX_HEADER_CHARS = 150
MAX_BUTTON_TEXT = 75
MAX_BUTTON_VALUE = 2000
# Slack refuses a message whose blocks carry more than about 12,000 characters of text in
# all (msg_blocks_too_long, undocumented: slackapi/bolt-js#2509); stay well under it.
MESSAGE_TEXT_BUDGET = 9_000
FALLBACK_CHARS = 300
TAIL_TEXT_ROOM = 1_000  # what a message's closing blocks (buttons, a decision line, a footer) may hold
MAX_TAIL_BLOCKS = 3  # a footer, the 👍 / 👎 buttons and the Export buttons


class Message(TypedDict):
    text: str
    blocks: list[Block]


def plain(text: str, limit: int) -> Block:
    text = neutralise_mentions(text)
    text = text if len(text) <= limit else text[: limit - 1] + "…"
    return {"type": "plain_text", "text": text or " ", "emoji": True}


def section(mrkdwn: str) -> Block:
    return {"type": "section", "text": {"type": "mrkdwn", "text": mrkdwn}}


def sections(mrkdwn: str) -> list[Block]:
    return [section(part) for part in split_text(mrkdwn, MAX_SECTION_CHARS)]


def context(*mrkdwn: str) -> Block:
    return {"type": "context", "elements": [{"type": "mrkdwn", "text": text} for text in mrkdwn[:10]]}


def header(text: str) -> Block:
    return {"type": "header", "text": plain(text, MAX_HEADER_CHARS)}


def blocks_text_length(value: Any) -> int:
    """The text a block list carries, counted as Slack counts it for msg_blocks_too_long."""
    if isinstance(value, dict):
        return sum(len(v) if k == "text" and isinstance(v, str) else blocks_text_length(v) for k, v in value.items())
    if isinstance(value, list):
        return sum(map(blocks_text_length, value))
    return 0


def message(fallback: str, blocks: list[Block]) -> Message:
    """A message within Slack's limits: if the blocks are too many or too long, the last ones are cut."""
    cut = False
    while len(blocks) > MAX_BLOCKS or blocks_text_length(blocks) > MESSAGE_TEXT_BUDGET:
        blocks, cut = blocks[: min(len(blocks), MAX_BLOCKS) - 1], True
    if cut:
        blocks.append(context("_…cut to fit in one Slack message._"))
    if len(fallback) > FALLBACK_CHARS:  # cut between words, never inside a <@mention> or an &entity;
        fallback = fallback[: FALLBACK_CHARS - 1].rsplit(" ", 1)[0] + "…"
    return {"text": fallback, "blocks": blocks}


def paginate(head: list[Block], body: list[Block], tail: list[Block], fallback: str) -> list[Message]:
    """Spread ``body`` over as many messages as it needs: ``head`` opens the first, ``tail`` (at most
    MAX_TAIL_BLOCKS blocks) closes the last. Where the body breaks does not depend on the tail, so a message can be
    rebuilt with another tail (buttons, then who decided) and still match the parts posted before it."""
    if len(tail) > MAX_TAIL_BLOCKS or blocks_text_length(tail) > TAIL_TEXT_ROOM:
        raise ValueError(f"a tail is at most {MAX_TAIL_BLOCKS} blocks of at most TAIL_TEXT_ROOM characters")
    reserved = [*head, context("_Part 10 of 10_")]
    room_blocks = MAX_BLOCKS - len(reserved) - MAX_TAIL_BLOCKS
    room_text = MESSAGE_TEXT_BUDGET - blocks_text_length(reserved) - TAIL_TEXT_ROOM
    pages: list[list[Block]] = [[]]
    for block in body:
        page = pages[-1]
        if page and (len(page) >= room_blocks or blocks_text_length([*page, block]) > room_text):
            pages.append(page := [])
        page.append(block)
    if len(pages) == 1:
        return [message(fallback, [*head, *pages[0], *tail])]
    count = len(pages)
    return [
        message(
            f"{fallback} (part {n} of {count})",
            [*(head if n == 1 else []), context(f"_Part {n} of {count}_"), *page, *(tail if n == count else [])],
        )
        for n, page in enumerate(pages, 1)
    ]
