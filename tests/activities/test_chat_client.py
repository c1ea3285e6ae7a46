"""The OpenAI-compatible chat client over real loopback HTTP: usage, keys, JSON mode, and which failures are retried.

Streaming, silence and context windows: tests/activities/test_chat_stream.py."""

from __future__ import annotations

import socket
from datetime import timedelta

import pytest
from temporalio.exceptions import ApplicationError

from activities.model.chat_client import ChatClient
from tests.activities.llm_inputs import HI
from tests.fakes.openai_server import FakeOpenAI


async def test_chat_client_returns_text_usage_and_sends_the_key(client):
    with FakeOpenAI(reply=lambda messages: "Hi back") as llm:
        completion = await ChatClient(client, llm.base_url, "sk-test").complete(HI, "gpt-x")
        sent = llm.chat_requests[-1]
    assert completion.text == "Hi back"
    assert completion.usage.calls == 1
    assert completion.usage.prompt_tokens == len("hello there") // 4
    assert completion.usage.completion_tokens == len("Hi back") // 4
    assert sent.headers["authorization"] == "Bearer sk-test"
    assert sent.body["model"] == "gpt-x" and sent.body["messages"] == HI
    assert "response_format" not in sent.body


async def test_chat_client_without_key_sends_no_authorization_and_estimates_missing_usage(client):
    with FakeOpenAI(include_usage=False, reply=lambda m: "nine characters") as llm:
        completion = await ChatClient(client, llm.base_url + "/", None).complete(HI, "llama3")
        sent = llm.chat_requests[-1]
    assert "authorization" not in sent.headers
    assert sent.path == "/v1/chat/completions"
    # No usage from the server: counted from the text, erring high (3 characters a token).
    assert completion.usage_estimated and completion.usage.calls == 1
    assert completion.usage.prompt_tokens == 4 and completion.usage.completion_tokens == 5


async def test_rate_limit_becomes_next_retry_delay(client):
    with FakeOpenAI() as llm:
        llm.fail_next(1, status=429, retry_after=1)
        chat = ChatClient(client, llm.base_url, "sk-test")
        with pytest.raises(ApplicationError) as caught:
            await chat.complete(HI, "m")
        assert caught.value.next_retry_delay == timedelta(seconds=1)
        assert not caught.value.non_retryable
        assert (await chat.complete(HI, "m")).text.startswith("Fake answer")


async def test_server_error_is_retryable(client):
    with FakeOpenAI() as llm:
        llm.fail_next(1, status=500)
        with pytest.raises(ApplicationError) as caught:
            await ChatClient(client, llm.base_url, "sk-test").complete(HI, "m")
    assert not caught.value.non_retryable
    assert "500" in caught.value.message


async def test_bad_key_is_not_retryable_and_names_the_setting(client):
    with FakeOpenAI() as llm:
        llm.fail_next(1, status=401)
        with pytest.raises(ApplicationError) as caught:
            await ChatClient(client, llm.base_url, "sk-wrong").complete(HI, "m")
    assert caught.value.non_retryable
    assert "OPENAI_API_KEY" in caught.value.message
    assert "sk-wrong" not in caught.value.message


async def test_bad_request_is_not_retryable(client):
    with FakeOpenAI() as llm:
        llm.fail_next(1, status=400)
        with pytest.raises(ApplicationError) as caught:
            await ChatClient(client, llm.base_url, None).complete(HI, "m")
    assert caught.value.non_retryable


async def test_json_mode_falls_back_when_the_server_refuses_it(client):
    with FakeOpenAI(refuse_json_mode=True, reply=lambda m: '{"ok": true}') as llm:
        completion = await ChatClient(client, llm.base_url, None).complete(HI, "m", json_mode=True)
        first, second = llm.chat_requests
    assert completion.text == '{"ok": true}'
    assert first.body["response_format"] == {"type": "json_object"}
    assert "response_format" not in second.body


async def test_every_call_bounds_its_answer(client):
    with FakeOpenAI() as llm:
        await ChatClient(client, llm.base_url, None, max_tokens=321).complete(HI, "m")
    assert llm.chat_requests[0].body["max_tokens"] == 321


async def test_a_server_that_wants_max_completion_tokens_gets_it(client):
    refusal = {"error": {"message": "Unsupported parameter: 'max_tokens'. Use 'max_completion_tokens' instead."}}
    with FakeOpenAI() as llm:
        llm.fail_next(status=400, body=refusal)
        completion = await ChatClient(client, llm.base_url, None, max_tokens=99).complete(HI, "o1")
        first, second = llm.chat_requests
    assert completion.text
    assert first.body["max_tokens"] == 99 and "max_tokens" not in second.body
    assert second.body["max_completion_tokens"] == 99


async def test_json_mode_is_sent_when_supported(client):
    with FakeOpenAI() as llm:
        await ChatClient(client, llm.base_url, None).complete(HI, "m", json_mode=True)
        assert len(llm.chat_requests) == 1
        assert llm.chat_requests[0].body["response_format"] == {"type": "json_object"}


async def test_unreachable_server_is_retryable_and_names_the_base_url(client):
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    with pytest.raises(ApplicationError) as caught:
        await ChatClient(client, f"http://127.0.0.1:{port}/v1", None).complete(HI, "m")
    assert not caught.value.non_retryable
    assert "OPENAI_BASE_URL" in caught.value.message


async def test_dropped_connection_is_retryable(client):
    with FakeOpenAI() as llm:
        llm.drop_next()
        chat = ChatClient(client, llm.base_url, None)
        with pytest.raises(ApplicationError) as caught:
            await chat.complete(HI, "m")
        assert not caught.value.non_retryable
        assert (await chat.complete(HI, "m")).usage.calls == 1
