"""One worker's Slack writes, scheduled by what they mean rather than by when they arrive.

Two classes of write share each method's rate budget (activities/slack/limits.py BUDGETS):

- **waited**: what a person waits for (a run's root, plan, draft with its buttons, the decision
  replacing the buttons, the final report, a reminder, a refusal). These go first, in arrival order.
- **informing**: what only informs (the progress checklist or stream, the root's status line). These take
  the budget the waited writes leave over: they go at the budget's average rate and spend at most
  their share of its burst (``Budget.informing_burst``, activities/slack/limits.py), the rest staying free
  for the next click. Only the latest state of each message is sent: a newer informing write of a message
  replaces the one still waiting, in its place in the line. A message's
  **final** state (the progress of a run whose draft is out) goes before the intermediate states of
  other runs' messages, in the order the runs got there: when the budget is short, what a run ends on
  is shown first, and the run that ended first first. So that
  a steady stream of waited writes cannot starve them, an informing write that has waited
  ``starve_after`` seconds goes before the waited ones, taking every other slot at most: a backlog
  of informing writes then shares the budget with the waited ones instead of going first.

Each budget is a line of its own (chat.update per workspace, chat.postMessage per channel), served
by a task that grants one write per slot. A 429 from Slack (another worker spent the same budget)
pauses that line for the Retry-After and puts the write back at the head of its class: Slack did
not take it, so sending it again cannot double it. Writes of the same message are sent one at a
time, in the order they were granted.

With a :class:`~activities.slack.shared_budget.SharedBudget` (DATABASE_URL is PostgreSQL), the workers of a
workspace spend one budget: each slot is taken from the line's row in the database, and a 429 pauses
the line for every worker. Which write gets a slot is still chosen here, by the rules above. Because
informing writes spend little of the burst, a worker's waited write still finds the burst free while
another worker's informing writes flow at the average rate. A message's states sent by two workers land
in the order the workflow made them: a state claims the message just before its send and holds it until
Slack answers, so a newer state waits for an older one still being sent, and an older one is never sent
after a newer one. When the database does not answer, the in-process budget decides, as it does alone on
SQLite.

A write may carry a deadline (``within`` seconds): one not granted by then is withdrawn and raises
:class:`TooLate`, never sent. An activity gives its writes a deadline a margin before its own
start-to-close timeout, so an attempt Temporal is about to time out and retry cannot post after the
retry looked for its message (a doubled post); an attempt cancelled meanwhile (a heartbeat found it
timed out, or the run was cancelled) withdraws its waiting writes too.
"""

from __future__ import annotations

import asyncio
import time
import uuid
from collections import OrderedDict, deque
from collections.abc import Awaitable, Callable, Hashable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, TypeVar

import structlog
from opentelemetry.trace import SpanKind
from slack_sdk.errors import SlackApiError

from activities.slack.limits import BUDGETS, PER_CHANNEL, Budget, retry_after
from activities.slack.shared_budget import SharedBudget
from core import tracing

__all__ = ["SlackWrites", "Superseded", "TooLate"]

log = structlog.get_logger(__name__)
T = TypeVar("T")

STARVE_AFTER = 5.0  # seconds an informing write may wait before it goes ahead of waited ones
CLAIM_AGAIN = 0.1  # seconds between asks while another worker's older state of the message is being sent
RATE_LIMITED_TRIES = 5  # tries of a waited write met by 429s before the activity fails and Temporal retries it


class Superseded(Exception):
    """An informing write replaced, before its turn, by a newer state of the same message."""


class TooLate(Exception):
    """A write not granted by its deadline: withdrawn, never sent."""


@dataclass(eq=False)
class _Entry:
    waited: bool
    message: Hashable | None
    since: float
    final: bool = False
    final_since: float = 0.0  # when its message's state became final: finals go in that order
    final_at: datetime | None = None  # the same by the workflow's clock, which all workers share
    granted: asyncio.Future[None] = field(default_factory=lambda: asyncio.get_running_loop().create_future())


class _Line:
    """The writes waiting for one budget, and the budget's state (a generic cell-rate algorithm). With a
    shared budget, the state is a copy of the database's as of its last answer, on this worker's clock."""

    def __init__(self, budget: Budget, method: str, scope: str) -> None:
        self.budget, self.method, self.scope = budget, method, scope
        self.theoretical = 0.0  # when the next write would be due at the average rate
        self.paused_until = 0.0
        self.starved_last = False  # the last slot went to a starving informing write ahead of waited ones
        self.waited: deque[_Entry] = deque()
        self.informing: OrderedDict[Hashable, _Entry] = OrderedDict()
        self.serving: asyncio.Task[None] | None = None
        self.wake = asyncio.Event()  # a waited or final write came in: its turn may be sooner than the slot slept for

    def due(self, now: float) -> float:
        """When the next write may go: a waited one may spend the burst, an informing one only its share
        (the rest is kept for clicks): a final state more, so it finds the slots intermediate ones left."""
        if self.waited:
            burst = self.budget.burst
        else:
            first = self._first_informing()
            final = first is not None and self.informing[first].final
            burst = self.budget.informing_burst(final=final)
        earliest = max(self.theoretical, now) - (burst - 1) * self.budget.interval
        return max(now, earliest, self.paused_until)

    def spend(self, now: float) -> None:
        self.theoretical = max(self.theoretical, now) + self.budget.interval

    def choose(self, now: float, starve_after: float) -> tuple[Hashable | None, _Entry]:
        """The write to go now, and its key among the informing writes (None: a waited one): a waited
        one, unless none waits or an informing one starves. Starving informing writes take every other
        slot at most, and none of the burst, so a backlog of them cannot hold up a click."""
        first = self._first_informing()
        oldest = None if first is None else self.informing[first]
        regular = self.theoretical <= now  # not a slot of the burst, which stays the waited writes'
        starving = oldest is not None and now - oldest.since >= starve_after and regular and not self.starved_last
        if first is not None and oldest is not None and (not self.waited or starving):
            return first, oldest
        return None, self.waited[0]

    def remove(self, key: Hashable | None, entry: _Entry) -> _Entry | None:
        """Take the chosen write out of the line; what now stands in its place (an informing write of
        the same message, newer, came in while the shared budget was asked), or None if it is gone."""
        if key is None:
            if entry not in self.waited:
                return None
            self.waited.remove(entry)
            self.starved_last = False
            return entry
        taken = self.informing.pop(key, None)
        self.starved_last = taken is not None and bool(self.waited)
        return taken

    def next_final_at(self, entry: _Entry) -> datetime | None:
        """When the oldest final waiting after ``entry`` was made final (the workflow's clock), if any."""
        waiting = [other.final_at for other in self.informing.values() if other is not entry and other.final_at]
        return min(waiting, default=None)

    def _first_informing(self) -> Hashable | None:
        """The informing write to go next: the final state that became final first, else the first in
        the line. (A message keeps its place in the line from its first waiting state, which says
        nothing about when its run ended: finals in line order would let a run that drafted late
        overtake one that drafted early.)"""
        first, final, final_since = None, None, 0.0
        for key, entry in self.informing.items():
            if entry.final and (final is None or entry.final_since < final_since):
                final, final_since = key, entry.final_since
            if first is None:
                first = key
        return first if final is None else final

    def __bool__(self) -> bool:
        return bool(self.waited or self.informing)


class SlackWrites:
    """Schedules the Slack writes of all runs on one worker (make one per worker).

    ``write`` waits for the write's turn and sends it, again after a 429; it also remembers what
    each message last got, so an update that would change nothing is not sent (``already_sent``/``sent``).
    """

    def __init__(
        self,
        budgets: dict[str, Budget] | None = None,
        *,
        starve_after: float = STARVE_AFTER,
        rate_limited_tries: int = RATE_LIMITED_TRIES,
        remember: int = 10_000,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], Awaitable[Any]] = asyncio.sleep,
        shared: SharedBudget | None = None,
    ) -> None:
        self._budgets = BUDGETS if budgets is None else budgets
        self._shared = shared  # the workspace's budget, shared with the other workers (PostgreSQL)
        self._starve_after, self._rate_limited_tries = starve_after, rate_limited_tries
        self._clock, self._sleep = clock, sleep
        self._lines: dict[tuple[str, str], _Line] = {}
        self._sending: dict[Hashable, tuple[asyncio.Lock, int]] = {}  # message -> its lock, writers using it
        self._sent: OrderedDict[Hashable, str] = OrderedDict()
        self._remember = remember
        self.rate_limited = 0  # 429s met, for logs and benchmarks

    async def write(
        self,
        method: str,
        channel: str,
        send: Callable[[], Awaitable[T]],
        *,
        waited: bool,
        message: Hashable | None = None,
        final: bool = False,
        within: float | None = None,
        reported_at: datetime | None = None,
    ) -> T:
        """Send ``send()`` in its turn. An informing write of a ``message`` raises :class:`Superseded`
        if a newer write of the same message arrives before its turn; a ``final`` one (the message's
        last state) goes before the others. A write not granted ``within`` seconds raises :class:`TooLate`.
        A 429 sends it again in a later turn: an informing write until it goes through (nobody awaits
        it, and its message must reach its latest state), a waited one ``rate_limited_tries`` times in
        all, then the 429 is raised for Temporal to retry the activity after Retry-After. With a shared
        budget, an informing write's ``reported_at`` (when the workflow made the report) is checked against
        the newest state the other workers sent to the same message: an older one raises Superseded."""
        line = self._line(method, channel)
        entry = _Entry(waited, message, self._clock(), final)
        entry.final_since, entry.final_at = entry.since, reported_at if final else None
        deadline = None if within is None else entry.since + within
        tries = 0
        while True:
            self._enqueue(line, entry, again=tries > 0)
            await self._granted(entry, deadline)
            tries += 1
            claim = await self._claim(message, reported_at) if reported_at is not None and not waited else None
            try:
                with _traced(method, waited, tries):
                    return await self._send_in_order(message, send)
            except SlackApiError as error:
                if error.response.status_code != 429:
                    raise
                self.rate_limited += 1
                pause = retry_after(error)
                tracing.event("slack.rate_limited", {"slack.method": method, "slack.retry_after": pause})
                line.paused_until = max(line.paused_until, self._clock() + pause)
                if self._shared is not None:  # the other workers must not meet the same 429
                    await self._shared.pause(line.method, line.scope, pause)
                log.info("slack_rate_limited", method=method, retry_after=pause, waited=waited)
                if waited and tries >= self._rate_limited_tries:
                    raise  # slack_failure makes it a Temporal retry after Retry-After
                entry = _Entry(waited, message, entry.since, final, entry.final_since, entry.final_at)
            finally:
                if claim is not None and self._shared is not None:
                    await self._shared.release(claim[0], claim[1])

    async def read(
        self, method: str, channel: str, send: Callable[[], Awaitable[T]], *, within: float | None = None
    ) -> T:
        """A read in its method's budget, like a waited write: a 429 waits for Retry-After and calls again."""
        return await self.write(method, channel, send, waited=True, within=within)

    async def _claim(self, message: Hashable | None, reported_at: datetime) -> tuple[str, str] | None:
        """Claim the message's newest state for this send, waiting while an older state's send on another
        worker is under way (so it cannot land after this one); raise Superseded if a newer one was sent.
        The claim to release once Slack answered, or None (one worker, or the database away: send)."""
        if self._shared is None or message is None:
            return None  # one worker: its own line keeps a message's states in order
        key = ":".join(map(str, message)) if isinstance(message, tuple) else str(message)
        sender = uuid.uuid4().hex
        while True:
            claim = await self._shared.newest(key, reported_at, sender)
            if claim is None:
                return None  # unknown (database away): send
            if claim.newest:
                return key, sender
            if claim.busy <= 0:
                raise Superseded()
            await self._sleep(min(claim.busy, CLAIM_AGAIN))

    async def _granted(self, entry: _Entry, deadline: float | None) -> None:
        """Wait for the entry's turn; past ``deadline``, withdraw it (the line skips it) and raise TooLate."""
        if deadline is None:
            await entry.granted
            return
        timer = asyncio.ensure_future(self._sleep(max(0.0, deadline - self._clock())))
        try:
            await asyncio.wait({entry.granted, timer}, return_when=asyncio.FIRST_COMPLETED)
        except asyncio.CancelledError:
            entry.granted.cancel()  # the attempt was cancelled: its write is withdrawn with it
            raise
        finally:
            timer.cancel()
        if not entry.granted.done():
            entry.granted.cancel()  # withdrawn: _serve skips a done entry
            raise TooLate()
        await entry.granted  # granted (or superseded) in time

    def already_sent(self, message: Hashable, content: str) -> bool:
        return self._sent.get(message) == content

    def sent(self, message: Hashable, content: str) -> None:
        self._sent[message] = content
        self._sent.move_to_end(message)
        while len(self._sent) > self._remember:
            self._sent.popitem(last=False)

    # ------------------------------------------------------------ the lines

    def _line(self, method: str, channel: str) -> _Line:
        key = (method, channel if method in PER_CHANNEL else "")
        if key not in self._lines:
            self._lines[key] = _Line(self._budgets.get(method, Budget(interval=0.0, burst=1)), *key)
        return self._lines[key]

    def _enqueue(self, line: _Line, entry: _Entry, *, again: bool) -> None:
        message = entry.message
        if message is not None and (other := line.informing.get(message)) is not None:
            if again and not entry.waited:
                # A write sent back by a 429 is older than the one that came in meanwhile.
                entry.granted.set_exception(Superseded())
                return
            if not other.granted.done():  # (done: its writer was cancelled)
                other.granted.set_exception(Superseded())  # stale: this write carries a newer state
            if entry.waited:
                del line.informing[message]
            else:
                entry.since = other.since  # it takes the older one's place, and its wait so far
                if other.final:
                    entry.final_since, entry.final_at = other.final_since, other.final_at or entry.final_at
        if entry.waited:
            line.waited.appendleft(entry) if again else line.waited.append(entry)
        elif message is None:
            line.informing[object()] = entry
        else:
            line.informing[message] = entry  # keeps the older one's place in the line
            if again:
                line.informing.move_to_end(message, last=False)
        if entry.waited or entry.final:
            line.wake.set()  # its turn may be sooner than the slot the line sleeps for
        if line.serving is None or line.serving.done():
            line.serving = asyncio.create_task(self._serve(line))

    async def _serve(self, line: _Line) -> None:
        """Grant one write per slot, choosing at each slot which write goes."""
        while line:
            now = self._clock()
            due = line.due(now)
            if due > now:
                await self._nap(line, due - now)
                continue
            key, entry = line.choose(now, self._starve_after)
            if entry.granted.done():
                line.remove(key, entry)
                continue  # its writer gave up (the activity was cancelled) while it waited
            if not await self._take(line, entry):
                continue  # not yet, for the workspace: the line's copy of the budget now says when
            granted = line.remove(key, entry)
            if granted is None or granted.granted.done():
                continue  # withdrawn while the database answered: the slot goes unused
            granted.granted.set_result(None)
            await asyncio.sleep(0)  # let the granted write start before choosing the next

    async def _take(self, line: _Line, entry: _Entry) -> bool:
        """Spend the line's next slot, from the shared budget if there is one: True if it was taken.
        Without an answer from the database, this worker's own budget grants it."""
        slot = None
        if self._shared is not None and line.budget.interval > 0:
            # A waited write may spend the burst, an informing one only the average rate, in the
            # database as here: so another worker's click still finds the burst while these flow.
            slot = await self._shared.take(
                line.method,
                line.scope,
                line.budget,
                burst=entry.waited,
                final=entry.final,
                since=entry.final_at,
                then=line.next_final_at(entry),
            )
        now = self._clock()
        if slot is None:
            line.spend(now)
            return True
        # The database's state, moved to this worker's clock: line.due() then naps until the slot
        # the database named, instead of asking it again and again.
        line.theoretical = now + slot.theoretical
        line.paused_until = max(line.paused_until, now + slot.paused)
        return slot.granted

    async def _nap(self, line: _Line, seconds: float) -> None:
        """Sleep until the next slot, or until a waited or final write comes in."""
        line.wake.clear()
        napping = asyncio.ensure_future(self._sleep(seconds))
        woken = asyncio.ensure_future(line.wake.wait())
        try:
            await asyncio.wait({napping, woken}, return_when=asyncio.FIRST_COMPLETED)
        finally:
            for task in (napping, woken):
                task.cancel()

    async def _send_in_order(self, message: Hashable | None, send: Callable[[], Awaitable[T]]) -> T:
        if message is None:
            return await send()
        lock, users = self._sending.get(message, (asyncio.Lock(), 0))
        self._sending[message] = (lock, users + 1)
        try:
            async with lock:
                return await send()
        finally:
            lock, users = self._sending[message]
            if users == 1:
                del self._sending[message]
            else:
                self._sending[message] = (lock, users - 1)


@contextmanager
def _traced(method: str, waited: bool, tries: int) -> Iterator[None]:
    """One call to Slack as a child of the activity's span (core/tracing.py): its method, and the HTTP status
    and Slack error when Slack refuses it (a 429 among them). Never the message's text."""
    attributes = {"slack.method": method, "slack.waited": waited, "slack.try": tries}
    with tracing.span(f"slack {method}", attributes, kind=SpanKind.CLIENT) as span:
        try:
            yield
        except SlackApiError as error:
            data = error.response.data  # a dict from Slack; a proxy's 5xx may answer plain text
            span.set_attribute("http.response.status_code", error.response.status_code)
            span.set_attribute("slack.error", str(data.get("error") or "") if isinstance(data, dict) else "")
            raise
