"""Local models as people run them, over real loopback HTTP: answers streamed, slow models let finish,
silent ones failed on their silence, servers that do not stream, and prompts over the context window."""

from __future__ import annotations

import pytest
from structlog.testing import capture_logs
from temporalio.exceptions import ApplicationError

from activities.model.chat_client import ChatClient, PromptTooLong
from activities.model.llm import build_research_model
from core.settings import Settings
from tests.activities.llm_inputs import HI
from tests.fakes.openai_server import FakeOpenAI, count_tokens
from workflows.activity_io import PlanInput

ANSWER = "One two three four five six seven eight nine ten."
LONG = [
    {"role": "system", "content": "RULES: cite every claim. " + "Fence page text. " * 30},
    {"role": "user", "content": "QUESTION: why durable execution?"},
]


async def test_a_streamed_answer_is_assembled_with_its_usage(client):
    with FakeOpenAI(reply=lambda m: ANSWER) as llm:
        completion = await ChatClient(client, llm.base_url, None).complete(HI, "m")
        sent = llm.chat_requests[-1].body
    assert sent["stream"] is True and sent["stream_options"] == {"include_usage": True}
    assert completion.streamed and completion.text == ANSWER and completion.finish_reason == "stop"
    assert not completion.usage_estimated
    assert completion.usage.prompt_tokens == count_tokens(HI)
    assert completion.usage.completion_tokens == len(ANSWER) // 4
    assert completion.first_token_seconds is not None


async def test_a_stream_without_usage_is_estimated_and_says_so(client):
    with FakeOpenAI(reply=lambda m: ANSWER, include_usage=False) as llm:
        completion = await ChatClient(client, llm.base_url, None).complete(HI, "m")
    assert completion.streamed and completion.text == ANSWER
    assert completion.usage_estimated
    assert completion.usage.completion_tokens >= len(ANSWER.split())  # at least a token a chunk


async def test_a_server_that_refuses_streaming_is_asked_plainly_from_then_on(client):
    with FakeOpenAI(streaming="refuse", refuse_json_mode=True, reply=lambda m: '{"ok": true}') as llm:
        chat = ChatClient(client, llm.base_url, None)
        with capture_logs() as logs:
            first = await chat.complete(HI, "m", json_mode=True)
            second = await chat.complete(HI, "m")
        bodies = [r.body for r in llm.chat_requests]
    assert first.text == second.text == '{"ok": true}' and not first.streamed
    # Refused streaming, then JSON mode; the next call asks plainly at once.
    assert [b.get("stream", False) for b in bodies] == [True, False, False, False]
    assert "response_format" in bodies[1] and "response_format" not in bodies[2]
    assert [e["event"] for e in logs].count("llm.stream_refused") == 1


async def test_a_server_that_answers_a_stream_request_with_plain_json_is_understood(client):
    with FakeOpenAI(streaming="ignore", reply=lambda m: ANSWER) as llm:
        chat = ChatClient(client, llm.base_url, None)
        completion = await chat.complete(HI, "m")
        await chat.complete(HI, "m")
        streamed = [r.body.get("stream", False) for r in llm.chat_requests]
    assert completion.text == ANSWER and not completion.streamed and not completion.usage_estimated
    assert streamed == [True, False]


async def test_a_slow_model_that_keeps_talking_is_not_cut(client):
    """Ten tokens, 0.2 s apart: longer in all than the silence allowed, never silent that long."""
    with FakeOpenAI(reply=lambda m: ANSWER, pace=0.2) as llm:
        completion = await ChatClient(client, llm.base_url, None, timeout=5, silence=1.0).complete(HI, "m")
    assert completion.text == ANSWER
    assert completion.tokens_per_second is not None


async def test_a_model_that_stalls_fails_on_its_silence_and_is_retried(client):
    with FakeOpenAI(reply=lambda m: "1. First?\n2. Second?") as llm:
        settings = Settings(_env_file=None, openai_base_url=llm.base_url, llm_silence_seconds=0.5)
        model = build_research_model(settings, client)
        llm.stall_next(1, after=2)
        with pytest.raises(ApplicationError) as caught:
            await model.plan(PlanInput(question="Why?"))
        assert caught.value.type == "Timeout" and not caught.value.non_retryable
        assert "LLM_SILENCE_SECONDS" in caught.value.message and "0.5s" in caught.value.message
        assert (await model.plan(PlanInput(question="Why?"))).sub_questions == ["First?", "Second?"]


async def test_no_first_token_in_time_names_llm_timeout_seconds(client):
    # Reading a long prompt on a CPU: nothing comes for a while.
    with FakeOpenAI(delay=3) as llm, pytest.raises(ApplicationError) as caught:
        await ChatClient(client, llm.base_url, None, timeout=0.5, silence=30).complete(HI, "m")
    assert caught.value.type == "Timeout" and not caught.value.non_retryable
    assert "LLM_TIMEOUT_SECONDS" in caught.value.message


@pytest.mark.parametrize(("style", "requested"), [("openai", 50 + 100), ("vllm", 50 + 100), ("llamacpp", 50)])
async def test_a_prompt_over_the_window_is_prompt_too_long_and_not_retried(client, style, requested):
    too_long = [{"role": "user", "content": "x" * 200}]  # 50 tokens of the fake's four characters
    with FakeOpenAI(context_tokens=40, context_style=style) as llm:
        chat = ChatClient(client, llm.base_url, None, max_tokens=100)
        with pytest.raises(PromptTooLong) as caught:
            await chat.complete(too_long, "m", json_mode=True)
        assert len(llm.chat_requests) == 1  # no fallback, no retry as is
    assert caught.value.non_retryable and caught.value.type == "PromptTooLong"
    assert caught.value.limit == 40 and caught.value.requested == requested
    assert "LLM_CONTEXT_TOKENS" in caught.value.message


async def test_ollama_drops_the_start_of_a_prompt_over_its_window_and_answers_anyway(client):
    with FakeOpenAI(context_tokens=20, context_style="ollama") as llm:
        completion = await ChatClient(client, llm.base_url, None).complete(LONG, "m")
        received = llm.chat_requests[-1]
    assert completion.text.startswith("Fake answer to: QUESTION")  # it answered, from what was left
    assert received.body["messages"] == LONG  # all was sent...
    assert received.dropped_tokens == count_tokens(LONG) - 20  # ...and this much never read
    assert count_tokens(received.seen) == 20
    assert not received.seen[0]["content"].startswith("RULES")  # the system prompt's start is gone


async def test_every_call_logs_its_tokens_per_second(client):
    with FakeOpenAI(reply=lambda m: ANSWER, pace=0.02) as llm, capture_logs() as logs:
        await ChatClient(client, llm.base_url, None).complete(HI, "fake-7b")
    (speed,) = [e for e in logs if e["event"] == "llm.speed"]
    assert speed["model"] == "fake-7b" and speed["streamed"] is True
    assert speed["completion_tokens"] == len(ANSWER) // 4 and speed["tokens_per_second"] > 0
