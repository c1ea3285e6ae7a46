"""The LLM layer: the chat client over real loopback HTTP, prompt parsing, the offline model,
and the four activities run through Temporal's ActivityEnvironment."""

from __future__ import annotations

import json
import re
import socket
from datetime import timedelta

import httpx
import pytest
import structlog
from temporalio.exceptions import ApplicationError
from temporalio.testing import ActivityEnvironment

from activities import prompts
from activities.chat_client import ChatClient
from activities.llm import (
    OFFLINE_NOTICE,
    ChatResearchModel,
    LlmActivities,
    OfflineResearchModel,
    build_research_model,
)
from core.errors import ConfigError
from core.settings import Settings
from tests.fakes.openai_server import FakeOpenAI, by_prompt_kind
from workflows.activity_io import FinalizeInput, PlanInput, RevisionPlanInput, SynthesizeInput
from workflows.models import Page, Source

HI = [{"role": "user", "content": "hello there"}]
QUESTION = "What is Temporal and how do its workflows survive worker crashes?"
SOURCES = [
    Source(number=1, url="https://docs.example/temporal", title="Temporal docs"),
    Source(number=2, url="https://blog.example/durable", title="Durable execution"),
    Source(number=3, url="https://unread.example/", title="Could not be read"),
]
PAGES = [
    Page(
        url="https://docs.example/temporal",
        title="Temporal docs",
        text=(
            "Temporal is a durable execution platform that runs workflows reliably. "
            "It was created by the former Cadence team at Uber [7]. "
            "Workflows are written as ordinary code in Python, Go, Java or TypeScript. "
            "Pricing for Temporal Cloud is based on the actions a namespace consumes each month."
        ),
    ),
    Page(
        url="https://blog.example/durable",
        title="Durable execution",
        text=(
            "Temporal workflows survive worker crashes because every step is recorded in an "
            "event history.\nWhen a worker crashes, another worker replays the history and "
            "the workflow continues where it stopped. Retries of failed activities follow a "
            "retry policy, for example an exponential backoff."
        ),
    ),
    Page(url="https://unread.example/", title="Could not be read", ok=False, error="HTTP 403"),
]


@pytest.fixture
async def http():
    async with httpx.AsyncClient(timeout=10) as client:
        yield client


def citations(text: str) -> set[int]:
    return {int(n) for n in re.findall(r"\[(\d+)\]", text)}


def synth(**changes) -> SynthesizeInput:
    values = {"question": QUESTION, "sources": SOURCES, "pages": PAGES} | changes
    return SynthesizeInput(**values)


# ---------------------------------------------------------------- the chat client


async def test_chat_client_returns_text_usage_and_sends_the_key(http):
    with FakeOpenAI(reply=lambda messages: "Hi back") as llm:
        completion = await ChatClient(http, llm.base_url, "sk-test").complete(HI, "gpt-x")
        sent = llm.chat_requests[-1]
    assert completion.text == "Hi back"
    assert completion.usage.calls == 1
    assert completion.usage.prompt_tokens == len("hello there") // 4
    assert completion.usage.completion_tokens == len("Hi back") // 4
    assert sent.headers["authorization"] == "Bearer sk-test"
    assert sent.body["model"] == "gpt-x" and sent.body["messages"] == HI
    assert "response_format" not in sent.body


async def test_chat_client_without_key_sends_no_authorization_and_counts_missing_usage(http):
    with FakeOpenAI(include_usage=False) as llm:
        completion = await ChatClient(http, llm.base_url + "/", None).complete(HI, "llama3")
        sent = llm.chat_requests[-1]
    assert "authorization" not in sent.headers
    assert sent.path == "/v1/chat/completions"
    assert completion.usage.calls == 1 and completion.usage.total_tokens == 0


async def test_rate_limit_becomes_next_retry_delay(http):
    with FakeOpenAI() as llm:
        llm.fail_next(1, status=429, retry_after=1)
        client = ChatClient(http, llm.base_url, "sk-test")
        with pytest.raises(ApplicationError) as caught:
            await client.complete(HI, "m")
        assert caught.value.next_retry_delay == timedelta(seconds=1)
        assert not caught.value.non_retryable
        assert (await client.complete(HI, "m")).text.startswith("Fake answer")


async def test_server_error_is_retryable(http):
    with FakeOpenAI() as llm:
        llm.fail_next(1, status=500)
        with pytest.raises(ApplicationError) as caught:
            await ChatClient(http, llm.base_url, "sk-test").complete(HI, "m")
    assert not caught.value.non_retryable
    assert "500" in caught.value.message


async def test_bad_key_is_not_retryable_and_names_the_setting(http):
    with FakeOpenAI() as llm:
        llm.fail_next(1, status=401)
        with pytest.raises(ApplicationError) as caught:
            await ChatClient(http, llm.base_url, "sk-wrong").complete(HI, "m")
    assert caught.value.non_retryable
    assert "OPENAI_API_KEY" in caught.value.message
    assert "sk-wrong" not in caught.value.message


async def test_bad_request_is_not_retryable(http):
    with FakeOpenAI() as llm:
        llm.fail_next(1, status=400)
        with pytest.raises(ApplicationError) as caught:
            await ChatClient(http, llm.base_url, None).complete(HI, "m")
    assert caught.value.non_retryable


async def test_json_mode_falls_back_when_the_server_refuses_it(http):
    with FakeOpenAI(refuse_json_mode=True, reply=lambda m: '{"ok": true}') as llm:
        completion = await ChatClient(http, llm.base_url, None).complete(HI, "m", json_mode=True)
        first, second = llm.chat_requests
    assert completion.text == '{"ok": true}'
    assert first.body["response_format"] == {"type": "json_object"}
    assert "response_format" not in second.body


async def test_every_call_bounds_its_answer(http):
    with FakeOpenAI() as llm:
        await ChatClient(http, llm.base_url, None, max_tokens=321).complete(HI, "m")
    assert llm.chat_requests[0].body["max_tokens"] == 321


async def test_a_server_that_wants_max_completion_tokens_gets_it(http):
    refusal = {"error": {"message": "Unsupported parameter: 'max_tokens'. Use 'max_completion_tokens' instead."}}
    with FakeOpenAI() as llm:
        llm.fail_next(status=400, body=refusal)
        completion = await ChatClient(http, llm.base_url, None, max_tokens=99).complete(HI, "o1")
        first, second = llm.chat_requests
    assert completion.text
    assert first.body["max_tokens"] == 99 and "max_tokens" not in second.body
    assert second.body["max_completion_tokens"] == 99


async def test_json_mode_is_sent_when_supported(http):
    with FakeOpenAI() as llm:
        await ChatClient(http, llm.base_url, None).complete(HI, "m", json_mode=True)
        assert len(llm.chat_requests) == 1
        assert llm.chat_requests[0].body["response_format"] == {"type": "json_object"}


async def test_unreachable_server_is_retryable_and_names_the_base_url(http):
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    with pytest.raises(ApplicationError) as caught:
        await ChatClient(http, f"http://127.0.0.1:{port}/v1", None).complete(HI, "m")
    assert not caught.value.non_retryable
    assert "OPENAI_BASE_URL" in caught.value.message


async def test_dropped_connection_is_retryable(http):
    with FakeOpenAI() as llm:
        llm.drop_next()
        client = ChatClient(http, llm.base_url, None)
        with pytest.raises(ApplicationError) as caught:
            await client.complete(HI, "m")
        assert not caught.value.non_retryable
        assert (await client.complete(HI, "m")).usage.calls == 1


# ---------------------------------------------------------------- prompts and parsing


@pytest.mark.parametrize(
    "answer",
    [
        "Here are the sub-questions:\n1. What is Temporal?\n2) How do workflows replay?\n3. Cost?",
        "- What is Temporal?\n* How do workflows replay?\n\u2022 Cost?",
        '{"sub_questions": ["What is Temporal?", "How do workflows replay?", "Cost?"]}',
        '```json\n["What is Temporal?", "How do workflows replay?", "Cost?"]\n```',
        "What is Temporal?\nHow do workflows replay?\nCost?",
    ],
)
def test_parse_sub_questions_accepts_lists_bullets_and_json(answer):
    expected = ["What is Temporal?", "How do workflows replay?", "Cost?"]
    assert prompts.parse_sub_questions(answer) == expected
    assert prompts.parse_sub_questions(answer, limit=2) == expected[:2]


@pytest.mark.parametrize("answer", ["NONE", "None.", '{"sub_questions": []}', "[]"])
def test_parse_revision_accepts_none(answer):
    assert prompts.parse_revision_sub_questions(answer, ["What is Temporal?"]) == []


def test_parse_revision_keeps_only_new_questions_and_at_most_three():
    answer = "1. What is Temporal?\n2. Pricing?\n3. Limits?\n4. History size?\n5. Alternatives?"
    assert prompts.parse_revision_sub_questions(answer, ["what is temporal"]) == [
        "Pricing?",
        "Limits?",
        "History size?",
    ]


def test_synthesize_prompt_is_bounded_and_carries_feedback_draft_and_violations():
    long_page = Page(url=SOURCES[0].url, title="t", text="word " * 50_000)
    data = synth(
        pages=[long_page],
        feedback="Say more about replay",
        previous_draft="Old draft [1]",
        violations=["cites [9], which is not a source"],
    )
    system, user = prompts.synthesize_messages(data)
    assert "Use only these numbers: [1]." in system["content"]
    assert len(user["content"]) < prompts.PAGES_PROMPT_CHARS + 2_000
    for part in ("Say more about replay", "Old draft [1]", "cites [9]", QUESTION):
        assert part in user["content"]


# ---------------------------------------------------------------- the offline model


@pytest.mark.parametrize(
    "question",
    [
        "What is Temporal?",
        "Temporal",
        "What is Temporal and how does it compare to Airflow?",
        "A? B? C? D? E? F? G? Why is the sky blue?",
        "Compare Rust, Go and Zig for embedded work; which has the best tooling?",
    ],
)
@pytest.mark.parametrize("limit", [2, 5, 9])
async def test_offline_plan_yields_two_to_five(question, limit):
    out = await OfflineResearchModel().plan(PlanInput(question=question, max_sub_questions=limit))
    assert 2 <= len(out.sub_questions) <= min(5, max(2, limit))
    assert len({q.lower() for q in out.sub_questions}) == len(out.sub_questions)
    assert out.usage.calls == 1


async def test_offline_plan_splits_compound_questions():
    out = await OfflineResearchModel().plan(PlanInput(question=QUESTION))
    assert out.sub_questions == [
        "What is Temporal?",
        "How do its workflows survive worker crashes?",
    ]


@pytest.mark.parametrize(
    ("feedback", "wants_new"),
    [
        ("Looks good, but make it shorter.", False),
        ("Fix the tone", False),
        ("What about pricing?", True),
        ("Also include how retries work", True),
    ],
)
async def test_offline_revision_plans_only_when_feedback_asks_for_more(feedback, wants_new):
    data = RevisionPlanInput(question=QUESTION, feedback=feedback, previous_sub_questions=["x"])
    out = await OfflineResearchModel().plan_revision(data)
    assert bool(out.sub_questions) is wants_new
    assert len(out.sub_questions) <= 3


async def test_offline_draft_cites_only_given_sources_and_says_offline():
    out = await OfflineResearchModel().synthesize(synth())
    assert out.text.splitlines()[0] == OFFLINE_NOTICE
    assert citations(out.text) == {1, 2}  # [7] in the page text is not carried over; 3 unread
    assert "replays the history" in out.text
    assert out.usage.calls == 1 and out.usage.completion_tokens == len(out.text) // 4


async def test_offline_draft_is_deterministic_and_feedback_changes_it():
    model = OfflineResearchModel()
    plain = (await model.synthesize(synth())).text
    assert plain == (await model.synthesize(synth())).text
    shorter = (await model.synthesize(synth(feedback="Shorter please"))).text
    assert shorter.count("\n- ") < plain.count("\n- ")
    assert "Reviewer feedback taken into account: Shorter please" in shorter
    backoff = (await model.synthesize(synth(feedback="Add an example of exponential backoff"))).text
    assert "exponential backoff" in backoff and "exponential backoff" not in plain
    assert backoff == (await model.synthesize(synth(feedback="Add an example of exponential backoff"))).text
    with_violations = await model.synthesize(synth(violations=["cites [9]"]))
    assert citations(with_violations.text) <= {1, 2}


async def test_offline_draft_without_sources():
    out = await OfflineResearchModel().synthesize(synth(sources=[], pages=[]))
    assert OFFLINE_NOTICE in out.text and "I found no sources for" in out.text
    assert citations(out.text) == set()


async def test_offline_finalize_takes_in_feedback_and_keeps_citations_valid():
    model = OfflineResearchModel()
    draft = (await model.synthesize(synth())).text + "\n- A claim with a bad citation. [9]"
    final = await model.finalize(
        FinalizeInput(
            question=QUESTION,
            draft=draft,
            sources=SOURCES,
            pages=PAGES,
            feedback="Add an example of exponential backoff",
        )
    )
    assert final.text.startswith(OFFLINE_NOTICE)
    assert "exponential backoff" in final.text
    assert citations(final.text) <= {1, 2, 3}
    assert final.text.endswith("Reviewer feedback taken into account: Add an example of exponential backoff")
    unchanged = await model.finalize(
        FinalizeInput(question=QUESTION, draft=draft, sources=SOURCES, pages=PAGES, feedback="")
    )
    assert unchanged.text == draft.replace(" [9]", "")


# ---------------------------------------------------------------- the chat model and activities


async def test_chat_model_plan_parses_and_falls_back(http):
    with FakeOpenAI(reply=lambda m: "1. What is Temporal?\n2. How does replay work?") as llm:
        model = ChatResearchModel(ChatClient(http, llm.base_url, None), "default-model")
        out = await model.plan(PlanInput(question=QUESTION, model="override"))
        assert out.sub_questions == ["What is Temporal?", "How does replay work?"]
        assert llm.chat_requests[-1].body["model"] == "override"
        assert out.usage.calls == 1
        llm.reply = lambda m: "I cannot help with that."
        out = await model.plan(PlanInput(question=QUESTION))
        assert len(out.sub_questions) == 2 and out.sub_questions[0] == "What is Temporal?"
        assert llm.chat_requests[-1].body["model"] == "default-model"


async def test_chat_model_without_readable_sources_does_not_call_the_llm(http):
    with FakeOpenAI() as llm:
        model = ChatResearchModel(ChatClient(http, llm.base_url, None), "m")
        out = await model.synthesize(synth(sources=[SOURCES[2]]))
        assert "I found no sources" in out.text and llm.chat_requests == []


async def test_chat_model_empty_answer_is_retryable(http):
    with FakeOpenAI(reply=lambda m: "  ") as llm:
        model = ChatResearchModel(ChatClient(http, llm.base_url, None), "m")
        with pytest.raises(ApplicationError) as caught:
            await model.synthesize(synth())
    assert not caught.value.non_retryable


async def test_activities_over_the_chat_model(http):
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
        acts = LlmActivities(ChatResearchModel(ChatClient(http, llm.base_url, "sk-secret"), "m"))
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


async def test_build_offline_when_nothing_is_set(http):
    assert isinstance(build_research_model(settings(), http), OfflineResearchModel)


async def test_build_with_only_a_key_uses_openai(http):
    model = build_research_model(settings(openai_api_key="sk-test", llm_model="gpt-x"), http)
    assert isinstance(model, ChatResearchModel) and model.name == "gpt-x"
    assert model._chat.host == "api.openai.com"


async def test_build_with_a_local_base_url_talks_to_it(http):
    with FakeOpenAI() as llm:
        model = build_research_model(settings(openai_base_url=llm.base_url), http)
        out = await model.plan(PlanInput(question=QUESTION))
        assert len(out.sub_questions) >= 2
        assert "authorization" not in llm.chat_requests[-1].headers


async def test_build_refuses_a_base_url_that_is_not_http(http):
    with pytest.raises(ConfigError, match="OPENAI_BASE_URL"):
        build_research_model(settings(openai_base_url="localhost:11434/v1"), http)


def test_prompt_kind_tells_the_prompts_apart_even_when_pages_mention_sub_questions():
    page = Page(url=SOURCES[0].url, title="t", text="Plan sub-questions, then answer them.")
    final = FinalizeInput(question=QUESTION, draft="d", sources=SOURCES, pages=PAGES, feedback="f")
    assert prompts.prompt_kind(prompts.plan_messages(QUESTION)) == "plan"
    assert prompts.prompt_kind(prompts.revision_messages(QUESTION, "more?", ["A?"])) == "revision"
    assert prompts.prompt_kind(prompts.synthesize_messages(synth(pages=[page]))) == "draft"
    assert prompts.prompt_kind(prompts.finalize_messages(final)) == "finalize"
    assert prompts.prompt_kind(HI) is None
