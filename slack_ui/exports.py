"""The Export buttons under a published report: the report as a Markdown, HTML or PDF file in its thread.

Each button's value names the run and the format (bot/listeners/actions.py starts the upload,
workflows/exports.py). A value that is not one of ours raises MalformedId: the bot answers 400.
"""

from __future__ import annotations

import json
import re
from typing import Any

from slack_ui.blocks import MAX_BUTTON_VALUE
from slack_ui.ids import MAX_WORKFLOW_ID, MalformedId

__all__ = ["EXPORT_ACTION", "EXPORT_FORMATS", "decode_export_value", "encode_export_value", "export_buttons"]

# One action id per button (Slack wants them unique within a block); the listener matches all three.
EXPORT_ACTION = re.compile(r"^report_export_(md|html|pdf)$")
EXPORT_FORMATS = {"md": "Markdown", "html": "HTML", "pdf": "PDF"}


def encode_export_value(workflow_id: str, format: str) -> str:
    value = json.dumps({"wf": workflow_id, "format": format}, separators=(",", ":"))
    if len(value) > MAX_BUTTON_VALUE:
        raise ValueError(f"workflow id too long for a button value ({len(value)} > {MAX_BUTTON_VALUE})")
    return value


def decode_export_value(value: object) -> tuple[str, str]:
    """(workflow_id, format) from an Export button's value; MalformedId if it is not one."""
    what = "an export button value"
    try:
        data = json.loads(value) if isinstance(value, str) and len(value) <= MAX_BUTTON_VALUE else None
    except ValueError:
        data = None
    if not isinstance(data, dict):
        raise MalformedId(f"not {what}")
    workflow_id, format = data.get("wf"), data.get("format")
    if not isinstance(workflow_id, str) or not workflow_id.strip() or len(workflow_id) > MAX_WORKFLOW_ID:
        raise MalformedId(f"not {what}: no workflow id")
    if format not in EXPORT_FORMATS:
        raise MalformedId(f"not {what}: no format")
    return workflow_id, str(format)


def export_buttons(workflow_id: str) -> dict[str, Any]:
    """Export Markdown / HTML / PDF: for the asker and the approvers, who get the file in the thread."""
    return {
        "type": "actions",
        "block_id": "report_export",
        "elements": [
            {
                "type": "button",
                "action_id": f"report_export_{format}",
                "text": {"type": "plain_text", "text": f"Export {label}"},
                "value": encode_export_value(workflow_id, format),
            }
            for format, label in EXPORT_FORMATS.items()
        ],
    }
