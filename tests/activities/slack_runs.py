"""A run reported to the sandbox Slack the way the workflow reports it, shared by the Slack reporter tests."""

from __future__ import annotations

from typing import Any

from activities.slack.reporter import SlackReporter
from sandbox import SlackApiServer
from workflows.activity_io import ProgressInput, ProgressKind, ProgressReceipt
from workflows.models import RunStatus, SlackContext, Stage

ALICE, BOB = "UALICE", "UBOB"


class RecordingReporter:
    """Stands in for the logging reporter that runs without Slack get."""

    def __init__(self) -> None:
        self.inputs: list[ProgressInput] = []

    async def report(self, input: ProgressInput) -> ProgressReceipt:
        self.inputs.append(input)
        return ProgressReceipt()


class Run:
    """Sends reports the way the workflow does: it keeps the receipts' messages and passes them back."""

    def __init__(self, reporter: SlackReporter, slack: SlackContext) -> None:
        self.reporter, self.slack = reporter, slack
        self.messages: dict[str, str] = {}
        self.status = RunStatus(
            workflow_id="research-1", question="Is <!channel> safe?", requested_by=ALICE, stage=Stage.STARTING
        )

    def input(self, kind: ProgressKind, **changes: Any) -> ProgressInput:
        result, refused = changes.pop("result", None), changes.pop("refused", None)
        self.status = self.status.model_copy(update=changes)
        return ProgressInput(
            kind=kind,
            status=self.status,
            slack=self.slack,
            approvers=[BOB],
            messages=self.messages,
            result=result,
            refused=refused,
        )

    async def send(self, kind: ProgressKind, **changes: Any) -> ProgressReceipt:
        receipt = await self.reporter.report(self.input(kind, **changes))
        self.messages.update(receipt.messages)
        return receipt


def context_in(channel: str = "CRESEARCH", team_id: str | None = None) -> SlackContext:
    return SlackContext(channel_id=channel, user_id=ALICE, team_id=team_id)


def thread_of(slack: SlackApiServer, run: Run) -> list[dict]:
    return slack.workspace.replies(run.slack.channel_id, run.messages["root"])
