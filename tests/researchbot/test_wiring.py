"""The worker registers the activities from their objects, and only if every declared call has one."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest

from core.settings import Settings
from researchbot.wiring import build_activities, check_every_call_implemented
from workflows.calls import declarations
from workflows.declaring import implemented


def offline(tmp_path: Path) -> Settings:
    return Settings(_env_file=None, database_url=f"sqlite:///{tmp_path}/archive.db")


async def test_the_worker_registers_one_implementation_of_every_declared_call(tmp_path: Path) -> None:
    async with build_activities(offline(tmp_path)) as activities:
        registered = [implemented(method) for method in activities.all()]
    assert sorted(d.name for d in registered if d is not None) == sorted(d.name for d in declarations())


async def test_a_worker_missing_an_implementation_fails_at_once_naming_it(tmp_path: Path) -> None:
    async with build_activities(offline(tmp_path)) as activities:
        without_ratings = dataclasses.replace(activities, ratings=object())
        with pytest.raises(RuntimeError, match=r"missing: RatingCalls\.record_rating; more than one: none"):
            without_ratings.all()
        twice = [*activities.all(), activities.search.search]
        with pytest.raises(RuntimeError, match=r"missing: none; more than one: search by SearchActivities\.search"):
            check_every_call_implemented(twice)
