"""Slack's limits on Block Kit messages and modal views, checked the way Slack checks them.

Errors read like Slack's own ``response_metadata.messages``:
``"[ERROR] must be at most 3000 characters [json-pointer:/blocks/2/text/text]"``.
"""

from __future__ import annotations

from typing import Any

__all__ = ["MAX_MESSAGE_TEXT", "block_errors", "blocks_text_length", "view_errors"]

MAX_MESSAGE_BLOCKS = 50
MAX_VIEW_BLOCKS = 100
MAX_MESSAGE_TEXT = 40_000  # top-level text; more is msg_too_long
# Slack refuses a message whose blocks hold more than about 12,000 characters of text in
# all (msg_blocks_too_long), although no single block is over its own limit. The limit is
# not documented; see slackapi/bolt-js#2509 and #2867.
MAX_BLOCKS_TEXT = 12_000

_TEXT_TYPES = ("plain_text", "mrkdwn")
_TEXT_LIMITS = {"section": 3000, "header": 150, "markdown": 12_000}
_BLOCK_TYPES = {
    "section",
    "header",
    "context",
    "context_actions",
    "divider",
    "actions",
    "input",
    "image",
    "rich_text",
    "markdown",
    "file",
    "video",
}


def _error(message: str, pointer: str) -> str:
    return f"[ERROR] {message} [json-pointer:{pointer}]"


def _text_object(obj: Any, pointer: str, limit: int, *, plain_only: bool = False) -> list[str]:
    if not isinstance(obj, dict) or obj.get("type") not in _TEXT_TYPES:
        return [_error("must be a text object", pointer)]
    if plain_only and obj["type"] != "plain_text":
        return [_error("must be a plain_text object", pointer + "/type")]
    text = obj.get("text")
    if not isinstance(text, str) or not text:
        return [_error("must be a non-empty string", pointer + "/text")]
    if len(text) > limit:
        return [_error(f"must be at most {limit} characters", pointer + "/text")]
    return []


def _max_len(obj: dict[str, Any], key: str, limit: int, pointer: str) -> list[str]:
    value = obj.get(key)
    if value is not None and (not isinstance(value, str) or len(value) > limit):
        return [_error(f"must be a string of at most {limit} characters", f"{pointer}/{key}")]
    return []


def _confirm(obj: dict[str, Any], pointer: str) -> list[str]:
    errors = _text_object(obj.get("title"), pointer + "/title", 100, plain_only=True)
    errors += _text_object(obj.get("text"), pointer + "/text", 300)
    for key in ("confirm", "deny"):
        errors += _text_object(obj.get(key), f"{pointer}/{key}", 30, plain_only=True)
    return errors


def _element(element: Any, pointer: str) -> list[str]:
    if not isinstance(element, dict) or not isinstance(element.get("type"), str):
        return [_error("must be an element object", pointer)]
    errors = _max_len(element, "action_id", 255, pointer)
    if element["type"] == "button":
        errors += _text_object(element.get("text"), pointer + "/text", 75, plain_only=True)
        errors += _max_len(element, "value", 2000, pointer) + _max_len(element, "url", 3000, pointer)
        if element.get("style") not in (None, "primary", "danger"):
            errors.append(_error("must be primary or danger", pointer + "/style"))
    elif element["type"] == "plain_text_input":
        if not 0 < element.get("max_length", 3000) <= 3000:
            errors.append(_error("must be between 1 and 3000", pointer + "/max_length"))
        if "placeholder" in element:
            errors += _text_object(element["placeholder"], pointer + "/placeholder", 150, plain_only=True)
    if "confirm" in element:
        errors += _confirm(element["confirm"], pointer + "/confirm")
    return errors


def _feedback_button(button: Any, pointer: str) -> list[str]:
    if not isinstance(button, dict):
        return [_error("must be a button object", pointer)]
    errors = _text_object(button.get("text"), pointer + "/text", 75, plain_only=True)
    errors += _max_len(button, "accessibility_label", 75, pointer)
    if not isinstance(button.get("value"), str) or not 0 < len(button["value"]) <= 2000:
        errors.append(_error("must be 1 to 2000 characters", pointer + "/value"))
    return errors


def _context_actions(block: dict[str, Any], pointer: str) -> list[str]:
    """https://docs.slack.dev/reference/block-kit/blocks/context-actions-block: up to 5 feedback or icon buttons."""
    elements = block.get("elements")
    if not isinstance(elements, list) or not 0 < len(elements) <= 5:
        return [_error("must have 1 to 5 elements", pointer + "/elements")]
    errors: list[str] = []
    for i, element in enumerate(elements):
        at = f"{pointer}/elements/{i}"
        kind = element.get("type") if isinstance(element, dict) else None
        if kind == "feedback_buttons":
            errors += _max_len(element, "action_id", 255, at)
            errors += _feedback_button(element.get("positive_button"), at + "/positive_button")
            errors += _feedback_button(element.get("negative_button"), at + "/negative_button")
        elif kind == "icon_button":
            errors += _max_len(element, "action_id", 255, at)
            errors += _text_object(element.get("text"), at + "/text", 75, plain_only=True)
        else:
            errors.append(_error("must be feedback_buttons or icon_button", at + "/type"))
    return errors


def _block(block: Any, pointer: str) -> list[str]:
    if not isinstance(block, dict) or block.get("type") not in _BLOCK_TYPES:
        return [_error("must be a known block type", pointer + "/type")]
    kind = block["type"]
    errors = _max_len(block, "block_id", 255, pointer)
    if kind in ("section", "header"):
        if kind == "header" or "text" in block or "fields" not in block:
            limit = _TEXT_LIMITS[kind]
            errors += _text_object(block.get("text"), pointer + "/text", limit, plain_only=kind == "header")
        fields = block.get("fields", [])
        if len(fields) > 10:
            errors.append(_error("must have at most 10 fields", pointer + "/fields"))
        for i, item in enumerate(fields):
            errors += _text_object(item, f"{pointer}/fields/{i}", 2000)
        if "accessory" in block:
            errors += _element(block["accessory"], pointer + "/accessory")
    elif kind == "markdown":
        text = block.get("text")
        if not isinstance(text, str) or not 0 < len(text) <= _TEXT_LIMITS["markdown"]:
            errors.append(_error("must be 1 to 12000 characters", pointer + "/text"))
    elif kind in ("context", "actions"):
        elements = block.get("elements")
        most = 10 if kind == "context" else 25
        if not isinstance(elements, list) or not 0 < len(elements) <= most:
            return [*errors, _error(f"must have 1 to {most} elements", pointer + "/elements")]
        for i, element in enumerate(elements):
            at = f"{pointer}/elements/{i}"
            is_text = kind == "context" and isinstance(element, dict) and element.get("type") in _TEXT_TYPES
            errors += _text_object(element, at, 3000) if is_text else _element(element, at)
    elif kind == "context_actions":
        errors += _context_actions(block, pointer)
    elif kind == "input":
        errors += _text_object(block.get("label"), pointer + "/label", 2000, plain_only=True)
        errors += _element(block.get("element"), pointer + "/element")
    return errors


def blocks_text_length(value: Any) -> int:
    """All the text a block list carries, the way msg_blocks_too_long counts it."""
    if isinstance(value, dict):
        return sum(len(v) if k == "text" and isinstance(v, str) else blocks_text_length(v) for k, v in value.items())
    if isinstance(value, list):
        return sum(blocks_text_length(v) for v in value)
    return 0


def block_errors(blocks: Any, *, most: int = MAX_MESSAGE_BLOCKS, pointer: str = "/blocks") -> list[str]:
    if not isinstance(blocks, list):
        return [_error("must be an array", pointer)]
    if len(blocks) > most:
        return [_error(f"must have at most {most} items", pointer)]
    errors: list[str] = []
    seen: set[str] = set()
    for i, block in enumerate(blocks):
        errors += _block(block, f"{pointer}/{i}")
        block_id = block.get("block_id") if isinstance(block, dict) else None
        if block_id is not None:
            if block_id in seen:
                errors.append(_error(f"duplicate block_id {block_id!r}", f"{pointer}/{i}/block_id"))
            seen.add(block_id)
    action_ids = [e["action_id"] for e in _elements(blocks) if e.get("action_id")]
    repeated = sorted({a for a in action_ids if action_ids.count(a) > 1})
    errors += [_error(f"duplicate action_id {a!r}", pointer) for a in repeated]
    return errors


def _elements(blocks: list[Any]) -> list[dict[str, Any]]:
    """The interactive elements of a block list: actions' elements, accessories, inputs' elements."""
    found = []
    for block in blocks:
        if isinstance(block, dict):
            found += block.get("elements", []) if block.get("type") == "actions" else []
            found += [block[key] for key in ("accessory", "element") if key in block]
    return [e for e in found if isinstance(e, dict)]


def view_errors(view: Any) -> list[str]:
    if not isinstance(view, dict):
        return [_error("must be a view object", "/view")]
    errors = [] if view.get("type") == "modal" else [_error("must be modal", "/view/type")]
    errors += _text_object(view.get("title"), "/view/title", 24, plain_only=True)
    for key in ("submit", "close"):
        if key in view:
            errors += _text_object(view[key], f"/view/{key}", 24, plain_only=True)
    errors += _max_len(view, "callback_id", 255, "/view") + _max_len(view, "private_metadata", 3000, "/view")
    blocks = view.get("blocks", [])
    errors += block_errors(blocks, most=MAX_VIEW_BLOCKS, pointer="/view/blocks")
    has_input = isinstance(blocks, list) and any(isinstance(b, dict) and b.get("type") == "input" for b in blocks)
    if has_input and "submit" not in view:
        errors.append(_error("a view with input blocks needs a submit button", "/view/submit"))
    return errors
