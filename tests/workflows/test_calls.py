"""Calls by reference: a declaration's name and options, an implementation checked against its types."""

from __future__ import annotations

from datetime import timedelta

import pytest
from temporalio import activity

from workflows import calls
from workflows.activity_io import PlanInput, PlanOutput, SearchInput, TextOutput
from workflows.calls import ModelCalls, RatingCalls
from workflows.declaring import declaration, implemented, implements
from workflows.models import ReportRating


def test_an_implementation_with_the_declared_types_is_registered_under_the_declared_name() -> None:
    class Ratings:
        @implements(RatingCalls.record_rating)
        async def record_rating(self, rating: ReportRating) -> bool:
            return True

    defn = activity._Definition.from_callable(Ratings.record_rating)  # the SDK's reading, as a worker registers it
    assert defn is not None and defn.name == "record_feedback"
    assert implemented(Ratings.record_rating) == declaration(RatingCalls.record_rating)


def test_an_implementation_taking_another_input_is_refused_when_defined() -> None:
    with pytest.raises(TypeError, match=r"implements ModelCalls\.plan_research .*takes \(SearchInput\)"):

        class Model:
            @implements(ModelCalls.plan_research)
            async def plan_research(self, data: SearchInput) -> PlanOutput:
                raise NotImplementedError


def test_an_implementation_returning_another_output_is_refused_when_defined() -> None:
    with pytest.raises(TypeError, match=r"-> TextOutput; the declaration takes \(PlanInput\) -> PlanOutput"):

        class Model:
            @implements(ModelCalls.plan_research)
            async def plan_research(self, data: PlanInput) -> TextOutput:
                raise NotImplementedError


def test_an_implementation_without_hints_or_not_async_is_refused() -> None:
    with pytest.raises(
        TypeError, match=r"implements ModelCalls\.plan_research \(.plan_research.\) but takes \(None\) -> None"
    ):

        class Untyped:
            @implements(ModelCalls.plan_research)
            async def plan_research(self, data):  # type: ignore[no-untyped-def]
                raise NotImplementedError

    with pytest.raises(TypeError, match="not async"):

        class Blocking:
            @implements(ModelCalls.plan_research)
            def plan_research(self, data: PlanInput) -> PlanOutput:
                raise NotImplementedError


def test_only_a_declaration_can_be_implemented() -> None:
    async def loose(self: object, data: PlanInput) -> PlanOutput:
        raise NotImplementedError

    with pytest.raises(TypeError, match="is not a declaration"):
        implements(loose)


def test_every_kind_of_call_has_a_schedule_to_close_bound() -> None:
    """Nothing outside (a page, a provider answering 429 for ever, a hung model) can hold a run: each
    declared call ends within its bound; the essential reports get theirs from the caller."""
    unbounded = [d.where for d in calls.declarations() if "schedule_to_close_timeout" not in d.options]
    assert unbounded == []
    assert "schedule_to_close_timeout" not in calls.ESSENTIAL
    assert "schedule_to_close_timeout" in calls.essential_options(timedelta(days=1))
    assert calls.READ["schedule_to_close_timeout"].total_seconds() <= 120
