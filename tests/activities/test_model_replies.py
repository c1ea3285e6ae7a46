"""Replies that are not what was asked, as small local models give them: asked for again once with what was
wrong, then the documented fallback; and nothing a model writes is searched unless it passes a person's
checks. Over real HTTP: the loopback model (tests/fakes/openai_server.py) and a loopback SearXNG that records
the queries it got (tests/fakes/search_servers.py)."""

from __future__ import annotations

import json
from collections.abc import Callable

import httpx
import pytest
from structlog.testing import capture_logs
from temporalio.testing import ActivityEnvironment

from activities.model.chat_client import ChatClient
from activities.model.item_checks import item_problem
from activities.model.llm import ChatResearchModel, LlmActivities
from activities.model.offline_model import split_question
from activities.search.providers import SearchActivities, SearxngSearch
from tests.activities.llm_inputs import PAGES, QUESTION, SOURCES
from tests.fakes.openai_server import FakeOpenAI
from tests.fakes.search_servers import FakeWeb
from workflows.activity_io import ClaimToJudge, JudgeInput, PlanInput, ReflectInput, RevisionPlanInput, SearchInput

# What small models answered instead of the JSON asked for (the first is the look for gaps, cut).
FRAGMENTS = '{\n  "title": "The Pros of MongoDB in Big Data",\n  "text_type" : "bookmark",\n'
JUNK = {
    "fragments": FRAGMENTS,
    "empty object": "{}",
    "another key": json.dumps({"results": ["temporal schema migrations", "temporal pricing"]}),
    "prose around a list": 'Sure! Here they are: ["temporal schema migrations", "temporal pricing"]',
    "objects": json.dumps([{"query": "temporal schema migrations"}, {"query": "temporal pricing"}]),
    "truncated": '["temporal schema migrations", "temporal pri',
}
GOOD = ["temporal schema migrations", "temporal pricing"]


def answers(*texts: str) -> Callable[[list[dict]], str]:
    """A reply function giving ``texts`` in turn, then the last one again."""
    given = list(texts)
    return lambda messages: given.pop(0) if len(given) > 1 else given[0]


def chat(llm: FakeOpenAI, client: httpx.AsyncClient) -> ChatResearchModel:
    return ChatResearchModel(ChatClient(client, llm.base_url, None), "m")


def reflect_input() -> ReflectInput:
    return ReflectInput(question=QUESTION, sub_questions=["What is Temporal?"], sources=SOURCES, pages=PAGES)


def unparsed(logs: list[dict]) -> list[tuple[str, int]]:
    return [(e["step"], e["attempt"]) for e in logs if e["event"] == "llm.reply_unparsed"]


@pytest.mark.parametrize("junk", JUNK.values(), ids=JUNK.keys())
async def test_a_reply_not_the_asked_shape_is_asked_for_again_once_with_what_was_wrong(
    client: httpx.AsyncClient, junk: str
) -> None:
    with FakeOpenAI(reply=answers(junk, json.dumps({"queries": GOOD}))) as llm, capture_logs() as logs:
        out = await chat(llm, client).reflect(reflect_input())
        again = llm.chat_requests[-1].body["messages"]
    assert out.queries == GOOD and out.usage.calls == 2 and len(llm.chat_requests) == 2
    assert again[-2] == {"role": "assistant", "content": junk}
    assert again[-1]["role"] == "user" and again[-1]["content"].startswith("That was not the JSON asked for (")
    assert unparsed(logs) == [("reflect", 1)]


@pytest.mark.parametrize("junk", JUNK.values(), ids=JUNK.keys())
async def test_after_a_second_such_reply_each_step_falls_back(client: httpx.AsyncClient, junk: str) -> None:
    with FakeOpenAI(reply=lambda messages: junk) as llm, capture_logs() as logs:
        model = chat(llm, client)
        plan = await model.plan(PlanInput(question=QUESTION))
        revision = await model.plan_revision(
            RevisionPlanInput(question=QUESTION, feedback="Say more about pricing.", previous_sub_questions=["A?"])
        )
        gaps = await model.reflect(reflect_input())
    assert plan.sub_questions == split_question(QUESTION, 5) and plan.usage.calls == 2
    assert revision.sub_questions == [] and revision.usage.calls == 2  # the previous plan stands
    assert gaps.queries == [] and gaps.usage.calls == 2  # no gap queries: the loop ends
    assert len(llm.chat_requests) == 6
    assert unparsed(logs) == [(step, attempt) for step in ("plan", "revision", "reflect") for attempt in (1, 2)]


@pytest.mark.parametrize("junk", [FRAGMENTS, "{}", "All fine."])
async def test_the_judge_of_runs_from_before_asks_again_then_refutes_nothing_and_says_why(
    client: httpx.AsyncClient, junk: str
) -> None:
    claims = [ClaimToJudge(index=4, statement="Activities are retried.", passages=["Activities are retried."])]
    with FakeOpenAI(reply=lambda messages: junk) as llm, capture_logs() as logs:
        judged = await chat(llm, client).judge(JudgeInput(question=QUESTION, claims=claims))
    assert judged.refuted == [] and judged.usage.calls == 2 and len(llm.chat_requests) == 2  # the word check stands
    assert judged.problem == "the judge's answer was not the JSON asked for"
    assert unparsed(logs) == [("second_opinion", 1), ("second_opinion", 2)]


async def test_a_list_with_a_fragment_in_it_keeps_the_plain_items_and_logs_the_other(
    client: httpx.AsyncClient,
) -> None:
    reply = json.dumps({"queries": ["temporal schema migrations", 'title": "The Pros of MongoDB in Big Data']})
    with FakeOpenAI(reply=lambda messages: reply) as llm, capture_logs() as logs:
        out = await chat(llm, client).reflect(reflect_input())
    assert out.queries == ["temporal schema migrations"] and len(llm.chat_requests) == 1
    (refused,) = [e for e in logs if e["event"] == "llm.item_refused"]
    assert refused["item"] == 'title": "The Pros of MongoDB in Big Data'


async def test_no_junk_reaches_the_search_provider(client: httpx.AsyncClient, web: FakeWeb) -> None:
    """Plan, then the look for gaps, then search what they gave, as a research round does."""
    replies = answers(
        "{}",  # the plan, twice: the question's own parts are searched
        "{}",
        FRAGMENTS,  # the look for gaps: fragments, then a list with one among plain queries
        json.dumps({"queries": ["temporal schema migrations", 'text_type" : "bookmark', "<b>pricing</b>"]}),
    )
    with FakeOpenAI(reply=replies) as llm:
        llm_activities = LlmActivities(chat(llm, client))
        env = ActivityEnvironment()
        plan = await env.run(llm_activities.plan_research, PlanInput(question=QUESTION))
        gaps = await env.run(llm_activities.reflect_on_gaps, reflect_input())
    search = SearchActivities([SearxngSearch(client, web.url + "/searxng")])
    for query in [*plan.sub_questions, *gaps.queries]:
        await env.run(search.search, SearchInput(query=query))
    searched = [call.query["q"][0] for call in web.calls("/searxng")]
    assert searched == [*split_question(QUESTION, 5), "temporal schema migrations"]
    assert all(item_problem(q) is None for q in searched)
