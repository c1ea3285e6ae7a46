"""A sandbox Slack with the people the tests talk about, served on loopback for as long as a fixture needs it."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from typing import Any

from sandbox import SlackApiServer, Workspace

__all__ = ["APPROVER", "ASKER", "PEOPLE", "STRANGER", "sandbox_slack"]

ASKER, APPROVER, STRANGER = "UASKER", "UAPPROVER", "USTRANGER"
# Someone who asks, someone the bot's settings let approve, and someone who may do neither.
PEOPLE = {"asker": ASKER, "approver": APPROVER, "stranger": STRANGER}


@contextmanager
def sandbox_slack(people: Mapping[str, str] = PEOPLE, **workspace: Any) -> Iterator[SlackApiServer]:
    """A sandbox Slack's Web API over a :class:`Workspace` made with ``workspace`` and holding ``people``
    (name to user id); a fixture adds its channels."""
    state = Workspace(**workspace)
    for name, user_id in people.items():
        state.add_user(name, id=user_id)
    with SlackApiServer(state) as server:
        yield server
