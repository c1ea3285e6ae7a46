"""A final report as a Slack canvas: created once, shared with the run's channel, linked from the thread.

https://docs.slack.dev/reference/methods/canvases.create (Tier 2; scope canvases:write) makes a
standalone canvas; https://docs.slack.dev/reference/methods/canvases.access.set (Tier 3) lets the
channel read it; https://docs.slack.dev/reference/methods/files.info (Tier 4; scope files:read)
gives its permalink, since canvases.create answers only the id.

A retried report must not make a second canvas: the id is kept in the run's messages (under
CANVAS_KEY, which the workflow carries from report to report) and heartbeated as soon as Slack
answers, so the activity's next attempt finds it. A workspace that refuses canvases (a free plan,
canvases turned off, a scope not granted) gets the report in messages instead: :meth:`publish`
answers None.
"""

from __future__ import annotations

import structlog
from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient
from temporalio import activity

from activities.slack.limits import slack_error_code
from activities.slack.lookup import Run
from activities.slack.writes import SlackWrites
from slack_ui.canvas import canvas_title, report_canvas
from workflows.models import ResearchResult

__all__ = ["CANVAS_KEY", "ReportCanvas"]

log = structlog.get_logger(__name__)

CANVAS_KEY = "canvas"
# Refusals that mean "no canvases here", documented for canvases.create and canvases.access.set, and
# the scopes this needs not granted: the report goes out in messages.
_NO_CANVASES = frozenset(
    {
        "canvas_disabled_user_team",
        "canvas_creation_failed",
        "team_tier_cannot_create_canvases",
        "missing_scope",
        "not_allowed_token_type",
        "restricted_action",
        "not_supported_free_team",
    }
)


class ReportCanvas:
    def __init__(self, client: AsyncWebClient, writes: SlackWrites) -> None:
        self._client, self._writes = client, writes

    async def publish(self, run: Run, result: ResearchResult) -> str | None:
        """The canvas's permalink, creating and sharing the canvas if this run has none yet; None if
        the workspace refuses canvases."""
        try:
            canvas_id = run.messages.get(CANVAS_KEY) or _heartbeated() or await self._create(run, result)
            await self._writes.write(
                "canvases.access.set",
                run.channel,
                lambda: self._client.canvases_access_set(
                    canvas_id=canvas_id, access_level="read", channel_ids=[run.channel]
                ),
                waited=True,
            )
            info = await self._writes.write(
                "files.info", run.channel, lambda: self._client.files_info(file=canvas_id), waited=True
            )
        except SlackApiError as error:
            if slack_error_code(error) not in _NO_CANVASES:
                raise
            log.warning("slack_canvas_refused", workflow_id=result.workflow_id, error=slack_error_code(error))
            return None
        return str((info.get("file") or {}).get("permalink") or "") or None

    async def _create(self, run: Run, result: ResearchResult) -> str:
        answer = await self._writes.write(
            "canvases.create",
            run.channel,
            lambda: self._client.canvases_create(
                title=canvas_title(result), document_content={"type": "markdown", "markdown": report_canvas(result)}
            ),
            waited=True,
        )
        canvas_id = str(answer["canvas_id"])
        run.messages[CANVAS_KEY] = canvas_id
        if activity.in_activity():
            activity.heartbeat({CANVAS_KEY: canvas_id})  # a retry of this attempt finds it
        log.info("slack_canvas_created", workflow_id=result.workflow_id, canvas_id=canvas_id)
        return canvas_id


def _heartbeated() -> str | None:
    if not activity.in_activity():
        return None
    for details in activity.info().heartbeat_details:
        if isinstance(details, dict) and isinstance(details.get(CANVAS_KEY), str):
            return details[CANVAS_KEY]
    return None
