"""A run waiting for a person: what is asked, who may answer, which answers are valid, and the record of
who answered. The draft's decision (workflows/decisions.py) and the plan's review (workflows/plan_review.py)
are its two uses; another kind of pause is one more ``Gate``.

A ``Gate`` is the rules of one kind of pause; a ``Waiting`` is one run waiting at it, and holds the bodies
of the workflow's handlers, so each handler is one line: the update is validated (refused before anything
is written to history), re-checked when it runs, then accepted and recorded; its signal fallback, for when
no worker answers in time, is checked as it arrives and, if refused, recorded with why, for its sender.
"""

from __future__ import annotations

from collections.abc import Callable, Collection
from dataclasses import dataclass
from typing import Generic, NamedTuple, Protocol, TypeVar

from temporalio import workflow
from temporalio.exceptions import ApplicationError

from workflows.models import GateAnswer, Receipt, ResearchRequest, RunStatus

__all__ = ["MAX_REFUSED_KEPT", "Asked", "Gate", "Run", "Waiting", "Words", "with_refused"]

MAX_REFUSED_KEPT = 20  # refused answers a run keeps in its records (each was told to its sender)


class Record(Protocol):
    """What a gate reads of a record (models.Answered on its answer)."""

    @property
    def round(self) -> int: ...

    @property
    def answer_id(self) -> str | None: ...

    applied: bool


A = TypeVar("A", bound=GateAnswer)
R = TypeVar("R", bound=Record)
C = TypeVar("C")  # what a gate reads of the run when an answer comes


class Asked(NamedTuple):
    """What a run asks at a gate now."""

    open: bool  # waiting for an answer here now
    round: int  # the round asked about (once answered, the last one asked)
    people: Collection[str]  # who may answer
    doing: str  # what the run is doing instead, when not open ("writing")


@dataclass(frozen=True)
class Words:
    """How a gate's refusals read; ``{doing}``, ``{answer}``, ``{current}`` and ``{by}`` are filled in."""

    answered: str
    not_open: str
    other_round: str
    not_allowed: str


@dataclass(frozen=True)
class Gate(Generic[A, R, C]):
    """The rules of one kind of pause."""

    record: type[R]  # the answer stamped with models.Answered
    receipt: type[Receipt]  # with a field named as the answer's ROUND_FIELD
    refused_as: str  # the type of the ApplicationError that refuses an update
    words: Words
    asked: Callable[[C], Asked]
    records: Callable[[C], list[R]]  # changed in place: the list is part of the run's state
    check: Callable[[A, C], str | None]  # the kind's own rules, once the answer is timely and its sender may answer
    acknowledgement: Callable[[A], str]
    # How a signal is handled, fixed per gate for the runs in flight: a change to either changes the
    # commands a recorded history replays. A repeated click (same id) may be dropped without a word; a
    # refused one is told to its sender, for runs past ``tell_patch`` when set.
    quiet_repeats: bool = False
    tell_patch: str | None = None

    def refusal(self, answer: A, context: C, *, pending: bool) -> str | None:
        """Why this answer cannot be taken now, in words for the person who gave it; None if it can."""
        asked, records = self.asked(context), self.records(context)
        answered = answer.round == asked.round and any(r.applied and r.round == asked.round for r in records)
        repeated = answer.answer_id is not None and any(r.applied and r.answer_id == answer.answer_id for r in records)
        if pending or answered or repeated:
            return self.words.answered
        if not asked.open:
            return self.words.not_open.format(doing=asked.doing)
        if answer.round != asked.round:
            return self.words.other_round.format(answer=answer.round, current=asked.round)
        if answer.answered_by not in asked.people:
            return self.words.not_allowed.format(by=answer.answered_by)
        return self.check(answer, context)


class Waiting(Generic[A, R, C]):
    """One run at one gate: the answer accepted and not yet taken, and the bodies of the gate's handlers."""

    def __init__(self, gate: Gate[A, R, C], context: Callable[[], C]) -> None:
        self.gate = gate
        self._context = context  # read when an answer comes: the run's request may change (a follow-up)
        self.pending: A | None = None

    def refusal(self, answer: A) -> str | None:
        return self.gate.refusal(answer, self._context(), pending=self.pending is not None)

    def validate(self, answer: A) -> None:
        """The update's validator: raising refuses it before anything is written to history."""
        if refusal := self.refusal(answer):
            raise ValueError(refusal)

    def update(self, answer: A) -> Receipt:
        # Re-checked here: two updates can pass their validators in one workflow task.
        if refusal := self.refusal(answer):
            raise ApplicationError(refusal, type=self.gate.refused_as)
        self._accept(answer, "update")
        said = {"accepted": True, "message": self.gate.acknowledgement(answer), answer.ROUND_FIELD: answer.round}
        return self.gate.receipt.model_validate(said)

    def signal(self, answer: A) -> R | None:
        """The same answer, for when no worker answered the update in time: never lost, applied now if it may
        be. Answers the record of a refused one whose sender should be told (they were told "queued")."""
        records = self.gate.records(self._context())
        clicked = answer.answer_id
        if self.gate.quiet_repeats and clicked is not None and any(r.answer_id == clicked for r in records):
            return None  # the same click once more (its update did get through): nothing to tell anyone
        if refusal := self.refusal(answer):
            refused = self._record(answer, "signal", applied=False, reason=refusal)
            records[:] = with_refused(records, refused)
            told = self.gate.tell_patch is None or workflow.patched(self.gate.tell_patch)
            return refused if told else None
        self._accept(answer, "signal")
        return None

    def take(self) -> A:
        """The accepted answer, once; the run goes on with it."""
        answer, self.pending = self.pending, None
        assert answer is not None
        return answer

    def _accept(self, answer: A, via: str) -> None:
        self.pending = answer
        self.gate.records(self._context()).append(self._record(answer, via))

    def _record(self, answer: A, via: str, applied: bool = True, reason: str | None = None) -> R:
        return self.gate.record(**answer.model_dump(), at=workflow.now(), via=via, applied=applied, reason=reason)


def with_refused(records: list[R], refused: R) -> list[R]:
    """``records`` with one more refused answer, keeping only the latest MAX_REFUSED_KEPT refused ones:
    a stream of refused clicks must not grow the run's status (and its history) without bound."""
    kept = [*records, refused]
    refusals = [r for r in kept if not r.applied]
    if len(refusals) <= MAX_REFUSED_KEPT:
        return kept
    dropped = refusals[0]
    return [r for r in kept if r is not dropped]


class Run(NamedTuple):
    """What ResearchWorkflow's gates read of the run when an answer comes."""

    status: RunStatus
    request: ResearchRequest

    def asked(self, *, open: bool, round: int) -> Asked:
        """The requester and the approvers may answer, at any of the run's gates."""
        people = {self.request.requested_by, *self.request.approvers}
        return Asked(open=open, round=round, people=people, doing=self.status.stage.value.replace("_", " "))
