"""Who is asking or clicking: a member of this workspace, a guest, or someone from another organisation in
a Slack Connect channel. RESEARCH_ALLOW_GUESTS and RESEARCH_ALLOW_EXTERNAL_USERS (both off by default) say
whether the last two may start runs (bot/caps.py) and decide on them (bot/decisions.py).

The request itself is believed first, at no Slack cost: an event's ``user_team``, an interaction's
``user.team_id`` name the person's own team. No payload says who is a guest (``is_restricted``: a
multi-channel guest, ``is_ultra_restricted``: a single-channel one), and a slash command does not name the
person's team, so then ``users.info`` (Tier 4) tells, within LOOKUP_WAIT (the ack is due within Slack's 3 s),
and its answer is kept for CACHE_TTL. When Slack cannot tell, the person is kept out for now: "try again".
https://docs.slack.dev/reference/methods/users.info , https://docs.slack.dev/apis/slack-connect
"""

from __future__ import annotations

import asyncio
import time
from collections import OrderedDict
from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

import structlog
from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient

from bot.ownership import AppIdentity, Owner
from core.settings import Settings

__all__ = [
    "CACHE_SIZE",
    "CACHE_TTL",
    "DECIDING_LOOKUP_WAIT",
    "LOOKUP_WAIT",
    "Bar",
    "People",
    "Person",
    "team_of_clicker",
]

log = structlog.get_logger(__name__)

# Seconds users.info may take before the person is told to try again. A start's deadline counts it
# (bot/start_in_time.py); a decision's delivery (DELIVER_WAIT, 2.6 s) comes after it, so it gets less. An answer
# that comes later is still kept, for the next try.
LOOKUP_WAIT = 1.0
DECIDING_LOOKUP_WAIT = 0.4
CACHE_TTL = 600.0  # seconds a users.info answer is kept: a member turned guest is seen within 10 minutes
CACHE_SIZE = 10_000  # people kept; the longest unseen go first


class Bar(StrEnum):
    """Why a person is kept out; also the ``cap`` a refused start is counted under."""

    GUEST = "guest"
    EXTERNAL = "external"
    UNKNOWN = "person_unknown"  # Slack could not say who they are


@dataclass(frozen=True)
class Person:
    """What users.info says of someone."""

    guest: bool
    team_id: str | None
    enterprise_id: str | None
    tz: str | None = None  # their IANA time zone, as their Slack profile says (a schedule's runs follow it)

    def external_to(self, ours: Owner) -> bool:
        if ours.enterprise_id and self.enterprise_id == ours.enterprise_id:
            return False  # another workspace of our own Enterprise Grid organisation
        return self.team_id != ours.team_id


class People:
    """users.info answers, kept for CACHE_TTL; one per bot (bot/app.py puts it in ``context["people"]``)."""

    def __init__(
        self, client: AsyncWebClient, identity: AppIdentity, ttl: float = CACHE_TTL, size: int = CACHE_SIZE
    ) -> None:
        self._client, self._identity, self._ttl, self._size = client, identity, ttl, size
        self._kept: OrderedDict[str, tuple[float, Person]] = OrderedDict()
        self._asking: dict[str, asyncio.Task[Person | None]] = {}  # one users.info at a time per person

    async def bar(
        self, settings: Settings, user_id: str, said_team: str | None = None, wait: float = LOOKUP_WAIT
    ) -> Bar | None:
        """Why ``user_id`` may not start or decide here, or None. ``said_team``: the person's own team (or
        organisation) as the request names it, None where it does not; ``wait``: for users.info."""
        allow_guests, allow_external = settings.research_allow_guests, settings.research_allow_external_users
        if allow_guests and allow_external:
            return None
        try:
            ours, _ = await asyncio.wait_for(self._identity.ours(self._client), wait)
        except Exception as error:
            log.warning("people.workspace_unknown", user=user_id, error=str(error) or repr(error))
            return Bar.UNKNOWN
        if said_team is not None:
            ours_too = said_team in (ours.team_id, ours.enterprise_id)
            if not ours_too and not allow_external and not ours.enterprise_id:  # in a Grid org, users.info says
                return Bar.EXTERNAL
            if ours_too and allow_guests:
                return None
        person = await self.person(user_id, wait)
        if person is None:
            return Bar.UNKNOWN
        if not allow_external and person.external_to(ours):
            return Bar.EXTERNAL
        if not allow_guests and person.guest:
            return Bar.GUEST
        return None

    async def person(self, user_id: str, wait: float = LOOKUP_WAIT) -> Person | None:
        """users.info's answer, kept or asked now; None if Slack did not answer within ``wait`` (logged)."""
        if (kept := self._kept.get(user_id)) is not None and kept[0] > time.monotonic():
            self._kept.move_to_end(user_id)
            return kept[1]
        asking = self._asking.get(user_id)
        if asking is None:
            asking = self._asking[user_id] = asyncio.ensure_future(self._ask(user_id))
            asking.add_done_callback(lambda _: self._asking.pop(user_id, None))
        try:
            return await asyncio.wait_for(asyncio.shield(asking), wait)
        except TimeoutError:
            log.warning("people.not_told", user=user_id, error=f"no answer within {wait} s")
            return None

    async def _ask(self, user_id: str) -> Person | None:
        try:
            answer = await self._client.users_info(user=user_id)
        except SlackApiError as error:
            if error.response.get("error") != "user_not_found":
                log.warning("people.not_told", user=user_id, error=error.response.get("error"))
                return None
            person = Person(guest=False, team_id=None, enterprise_id=None)  # not anyone of this workspace
        except Exception as error:
            log.warning("people.not_told", user=user_id, error=str(error) or repr(error))
            return None
        else:
            user = answer.get("user") or {}
            enterprise = user.get("enterprise_user") or {}
            person = Person(
                guest=bool(user.get("is_restricted") or user.get("is_ultra_restricted")),
                team_id=user.get("team_id"),
                enterprise_id=enterprise.get("enterprise_id"),
                tz=user.get("tz") if isinstance(user.get("tz"), str) else None,
            )
        self._kept[user_id] = (time.monotonic() + self._ttl, person)
        self._kept.move_to_end(user_id)
        while len(self._kept) > self._size:
            self._kept.popitem(last=False)
        return person


def team_of_clicker(body: Mapping[str, Any]) -> str | None:
    """An interaction payload's ``user.team_id``: the clicker's own team (in Slack Connect, not ours)."""
    user = body.get("user")
    team = user.get("team_id") if isinstance(user, Mapping) else None
    return team if isinstance(team, str) and team else None
