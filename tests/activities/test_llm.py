"""The LLM activities: the chat model over a loopback OpenAI, the four activities in Temporal's ActivityEnvironment,
and choosing the model from the settings."""

from __future__ import annotations

import json

import pytest
import structlog
from temporalio.exceptions import ApplicationError
from temporalio.testing import ActivityEnvironment

from activities.model.chat_client import ChatClient
from activities.model.llm import (
    OFFLINE_NOTICE,
    ChatResearchModel,
    LlmActivities,
    OfflineResearchModel,
    build_research_model,
)
from core.errors import ConfigError
from core.settings import Settings
from tests.activities.llm_inputs import PAGES, QUESTION, SOURCES, synth
from tests.fakes.openai_server import FakeOpenAI, by_prompt_kind
from workflows.activity_io import FinalizeInput, PlanInput, RevisionPlanInput

# ---------------------------------------------------------------- the chat model and activities


async def test_chat_model_plan_parses_and_falls_back(client):
    with FakeOpenAI(reply=lambda m: "1. What is Temporal?\n2. How does replay work?") as llm:
        model = ChatResearchModel(ChatClient(client, llm.base_url, None), "default-model")
        out = await model.plan(PlanInput(question=QUESTION, model="override"))
        assert out.sub_questions == ["What is Temporal?", "How does replay work?"]
        assert llm.chat_requests[-1].body["model"] == "override"
        assert out.usage.calls == 1
        llm.reply = lambda m: "I cannot help with that."
        out = await model.plan(PlanInput(question=QUESTION))
        assert len(out.sub_questions) == 2 and out.sub_questions[0] == "What is Temporal?"
        assert llm.chat_requests[-1].body["model"] == "default-model"


async def test_chat_model_without_readable_sources_does_not_call_the_llm(client):
    with FakeOpenAI() as llm:
        model = ChatResearchModel(ChatClient(client, llm.base_url, None), "m")
        out = await model.synthesize(synth(sources=[SOURCES[2]]))
        assert "I found no sources" in out.text and llm.chat_requests == []


async def test_chat_model_empty_answer_is_retryable(client):
    with FakeOpenAI(reply=lambda m: "  ") as llm:
        model = ChatResearchModel(ChatClient(client, llm.base_url, None), "m")
        with pytest.raises(ApplicationError) as caught:
            await model.synthesize(synth())
    assert not caught.value.non_retryable


async def test_activities_over_the_chat_model(client):
    reply = by_prompt_kind(
        plan=json.dumps({"sub_questions": ["A?", "B?", "C?"]}),
        revision="NONE",
        draft="```markdown\nTemporal replays history [2].\n```",
        finalize=lambda messages: "Temporal replays its event history [2], see [1].",
    )
    env = ActivityEnvironment()
    heartbeats: list = []
    env.on_heartbeat = lambda *details: heartbeats.append(details)
    with FakeOpenAI(reply=reply) as llm:
        acts = LlmActivities(ChatResearchModel(ChatClient(client, llm.base_url, "sk-secret"), "m"))
        with structlog.testing.capture_logs() as logs:
            plan = await env.run(acts.plan_research, PlanInput(question=QUESTION))
            revision = await env.run(
                acts.plan_revision,
                RevisionPlanInput(question=QUESTION, feedback="shorter", previous_sub_questions=["A?"]),
            )
            draft = await env.run(acts.synthesize_draft, synth())
            final = await env.run(
                acts.finalize_answer,
                FinalizeInput(
                    question=QUESTION, draft=draft.text, sources=SOURCES, pages=PAGES, feedback="cite the docs too"
                ),
            )
    assert plan.sub_questions == ["A?", "B?", "C?"]
    assert revision.sub_questions == []
    assert draft.text == "Temporal replays history [2]."
    assert final.text.startswith("Temporal replays its event history")
    assert heartbeats, "the activities heartbeat while waiting on the model"
    logs = [entry for entry in logs if entry["event"] != "llm.speed"]  # the chat client's, per call
    events = [entry["event"] for entry in logs]
    assert events == ["llm.plan_research", "llm.plan_revision", "llm.synthesize_draft", "llm.finalize_answer"]
    assert all(entry["model"] == "m" and entry["calls"] == 1 for entry in logs)
    assert "sk-secret" not in repr(logs)


async def test_activities_over_the_offline_model():
    env = ActivityEnvironment()
    acts = LlmActivities(OfflineResearchModel())
    plan = await env.run(acts.plan_research, PlanInput(question=QUESTION))
    draft = await env.run(acts.synthesize_draft, synth())
    final = await env.run(
        acts.finalize_answer,
        FinalizeInput(question=QUESTION, draft=draft.text, sources=SOURCES, pages=PAGES, feedback="shorter"),
    )
    assert len(plan.sub_questions) >= 2
    assert OFFLINE_NOTICE in draft.text and OFFLINE_NOTICE in final.text
    assert final.text.count("\n- ") <= 3


def test_activity_names():
    acts = LlmActivities(OfflineResearchModel())
    names = [
        getattr(fn, "__temporal_activity_definition").name
        for fn in (acts.plan_research, acts.plan_revision, acts.synthesize_draft, acts.finalize_answer)
    ]
    assert names == ["plan_research", "plan_revision", "synthesize_draft", "finalize_answer"]


# ---------------------------------------------------------------- choosing the model


def settings(**values) -> Settings:
    values.setdefault("openai_base_url", None)
    values.setdefault("openai_api_key", None)
    return Settings(_env_file=None, **values)


async def test_build_offline_when_nothing_is_set(client):
    assert isinstance(build_research_model(settings(), client), OfflineResearchModel)


async def test_build_with_only_a_key_uses_openai(client):
    model = build_research_model(settings(openai_api_key="sk-test", llm_model="gpt-x"), client)
    assert isinstance(model, ChatResearchModel) and model.name == "gpt-x"
    assert model._chat.host == "api.openai.com"


async def test_build_with_a_local_base_url_talks_to_it(client):
    with FakeOpenAI() as llm:
        model = build_research_model(settings(openai_base_url=llm.base_url), client)
        out = await model.plan(PlanInput(question=QUESTION))
        assert len(out.sub_questions) >= 2
        assert "authorization" not in llm.chat_requests[-1].headers


async def test_build_refuses_a_base_url_that_is_not_http(client):
    with pytest.raises(ConfigError, match="OPENAI_BASE_URL"):
        build_research_model(settings(openai_base_url="localhost:11434/v1"), client)
