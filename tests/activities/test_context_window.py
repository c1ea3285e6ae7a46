"""The model's context window: asked of the server where it says it, every prompt of a run fitted to it (page
text cut by relevance), a 400 for length cut and asked again once, and a prompt that cannot fit not sent."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
from structlog.testing import capture_logs
from temporalio.exceptions import ApplicationError

from activities.model.context_window import ContextWindow, Window, discover_window, estimate_tokens
from activities.model.llm import build_research_model
from core.settings import Settings
from tests.fakes.openai_server import FakeOpenAI, by_prompt_kind, count_tokens
from workflows.activity_io import (
    ClaimToJudge,
    FinalizeInput,
    JudgeInput,
    PlanInput,
    ReflectInput,
    RevisionPlanInput,
    SupportingPassage,
    SynthesizeInput,
)
from workflows.models import Page, Source

DOCS = sorted((Path(__file__).parents[2] / "tests" / "data" / "corpus").glob("*.md"))
QUESTION = "Why should an AI agent use durable execution?"
ANSWER = "Durable execution lets an agent resume after a crash of its worker without repeating paid model calls."
CONTEXT_400 = {
    "error": {
        "message": "This model's maximum context length is 100000 tokens. However, you requested 180000 tokens.",
        "type": "invalid_request_error",
        "code": "context_length_exceeded",
    }
}


def _run_inputs() -> tuple[list[Source], list[Page]]:
    """The tests' corpus as a run's pages: long, with headings, code and tables; the answer at the very end
    of the last one."""
    sources, pages = [], []
    for number, path in enumerate(DOCS, 1):
        url = f"https://docs.example/{path.stem}"
        text = path.read_text() + ("\n\n" + ANSWER if number == len(DOCS) else "")
        sources.append(Source(number=number, url=url, title=path.stem))
        pages.append(Page(url=url, title=path.stem, text=text))
    return sources, pages


# ---------------------------------------------------------------- discovery


@pytest.mark.parametrize(("style", "source"), [("vllm", "vllm"), ("llamacpp", "llamacpp"), ("ollama", "ollama")])
async def test_the_window_is_read_where_the_server_says_it(client, style, source):
    with FakeOpenAI(context_tokens=3_000, context_style=style) as llm:
        # llama.cpp's /props (the server's n_ctx), not the larger n_ctx_train; Ollama's num_ctx, not model_info's
        assert await discover_window(client, llm.base_url, "m") == (3_000, source)


async def test_a_server_that_says_nothing_gets_the_default_and_the_setting_asks_nothing(client):
    with FakeOpenAI() as llm:
        assert await discover_window(client, llm.base_url, "m") == (8_192, "default")
        asked = len(llm.requests)
        windows = ContextWindow(client, llm.base_url, None, setting=2_048)
        with capture_logs() as logs:
            assert (await windows.of("m")).tokens == 2_048
            await windows.of("m")
        assert len(llm.requests) == asked
    assert [e["source"] for e in logs if e["event"] == "llm.context_window"] == ["setting"]  # said once


async def test_openai_is_not_asked_and_its_models_windows_are_known(client):
    assert await discover_window(client, "https://api.openai.com/v1", "gpt-4o-mini") == (128_000, "default")
    assert (await discover_window(client, "https://api.openai.com/v1", "gpt-4"))[0] == 8_192


class _Ollama(BaseHTTPRequestHandler):
    """Ollama's native API: a model loaded with a 16k window (OLLAMA_CONTEXT_LENGTH), a Modelfile without num_ctx."""

    def do_GET(self) -> None:
        running = {"models": [{"name": "qwen:7b", "model": "qwen:7b", "context_length": 16_384}]}
        self._send(running if self.path == "/api/ps" else None)

    def do_POST(self) -> None:
        self.rfile.read(int(self.headers["Content-Length"]))
        shown = {"parameters": "stop <|im_end|>", "model_info": {"qwen2.context_length": 32_768}}
        self._send(shown if self.path == "/api/show" else None)

    def _send(self, payload: dict | None) -> None:
        data = json.dumps(payload or {"error": "not found"}).encode()
        self.send_response(200 if payload else 404)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def ollama() -> Iterator[str]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Ollama)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}/v1"
    server.shutdown()
    server.server_close()


async def test_ollama_loaded_model_window_wins_and_without_num_ctx_the_default_is_small(client, ollama):
    assert await discover_window(client, ollama, "qwen:7b") == (16_384, "ollama")  # what it was loaded with
    assert await discover_window(client, ollama, "other") == (2_048, "ollama")  # not loaded, no num_ctx


# ---------------------------------------------------------------- fitting every prompt


def test_a_small_window_keeps_room_for_the_answer():
    small, large = Window(2_048, "default"), Window(128_000, "default", max_answer=4_096)
    assert small.answer == 512 and small.prompt + small.answer + small.margin == 2_048
    assert large.answer == 4_096
    assert estimate_tokens("abc" * 100) == 100 and estimate_tokens("日本") == 4  # wide characters count more


@pytest.mark.parametrize("style", ["llamacpp", "ollama", "vllm"])
async def test_every_prompt_of_a_run_fits_a_2048_token_window(client, style):
    sources, pages = _run_inputs()
    draft = "Durable execution keeps an agent's progress through crashes [1]."
    reply = by_prompt_kind(
        plan=json.dumps({"sub_questions": ["What is durable execution?", "Why would an agent need it?"]}),
        draft=draft,
        finalize=draft,
    )
    with FakeOpenAI(reply=reply, context_tokens=2_048, context_style=style) as llm:
        model = build_research_model(Settings(openai_base_url=llm.base_url, openai_api_key="sk-test"), client)
        await model.plan(PlanInput(question=QUESTION))
        revision = RevisionPlanInput(question=QUESTION, feedback="More on cost", previous_sub_questions=["A?"])
        await model.plan_revision(revision)
        reflect = ReflectInput(question=QUESTION, sub_questions=["Why agents?"], sources=sources, pages=pages)
        await model.reflect(reflect)
        assert (await model.synthesize(SynthesizeInput(question=QUESTION, sources=sources, pages=pages))).text == draft
        final = FinalizeInput(question=QUESTION, draft=draft, sources=sources, pages=pages, feedback="Shorter")
        assert (await model.finalize(final)).text == draft
        passages = [SupportingPassage(number=n, text=p.text[:1_000]) for n, p in enumerate(pages, 1)]
        claims = [ClaimToJudge(index=i, statement=f"Claim {i} about replay.", candidates=passages) for i in range(6)]
        judged = await model.judge(
            JudgeInput(question=QUESTION, claims=claims, by_meaning=True, question_passages=passages)
        )
        chats = llm.chat_requests
    assert len(chats) >= 6 and len(judged.verdicts) == 6 and judged.problem is None
    for request in chats:  # none refused, none cut by the server, each with room for its answer
        assert request.dropped_tokens == 0
        assert count_tokens(request.body["messages"]) + request.body["max_tokens"] <= 2_048


def test_the_cut_keeps_the_passage_that_answers_even_at_the_end_of_its_page():
    from activities.model import prompts

    sources, pages = _run_inputs()
    messages = prompts.synthesize_messages(SynthesizeInput(question=QUESTION, sources=sources, pages=pages), 1_400)
    user = messages[1]["content"]
    assert ANSWER in user and "[...]" in user
    assert all(f'<source number="{s.number}">' in user for s in sources)  # every page keeps a share
    assert count_tokens(messages) <= 1_400 and "Use ONLY the numbered sources" in messages[0]["content"]


# ---------------------------------------------------------------- too long


async def test_a_400_for_length_is_cut_to_the_window_it_names_and_asked_again_once(client):
    sources, pages = _run_inputs()
    with FakeOpenAI(reply=by_prompt_kind(draft="Answer [1]."), context_tokens=3_000, context_style="openai") as llm:
        # OpenAI's error names the window; nothing else says it, so the default (8,192) is tried first.
        model = build_research_model(Settings(openai_base_url=llm.base_url, openai_api_key="sk-test"), client)
        out = await model.synthesize(SynthesizeInput(question=QUESTION, sources=sources, pages=pages))
        refused, second = llm.chat_requests
        assert count_tokens(refused.body["messages"]) > count_tokens(second.body["messages"])
        assert out.text == "Answer [1]."
        assert count_tokens(second.body["messages"]) + second.body["max_tokens"] <= 3_000
        await model.synthesize(SynthesizeInput(question=QUESTION, sources=sources, pages=pages))
        assert len(llm.chat_requests) == 3  # learnt: the next prompt fits at once


async def test_a_second_400_for_length_fails_for_good_naming_the_setting(client):
    sources, pages = _run_inputs()
    with FakeOpenAI(reply=by_prompt_kind(draft="Answer [1].")) as llm:
        llm.fail_next(2, status=400, body=CONTEXT_400)
        model = build_research_model(Settings(openai_base_url=llm.base_url, openai_api_key="sk-test"), client)
        with pytest.raises(ApplicationError) as caught:
            await model.synthesize(SynthesizeInput(question=QUESTION, sources=sources, pages=pages))
        first, second = (count_tokens(r.body["messages"]) for r in llm.chat_requests)
    assert caught.value.non_retryable and "LLM_CONTEXT_TOKENS" in caught.value.message
    assert second <= first * 3 // 4 + 1


async def test_a_prompt_that_cannot_fit_even_cut_is_not_sent_and_says_why(client):
    sources, pages = _run_inputs()
    with FakeOpenAI() as llm:
        settings = Settings(openai_base_url=llm.base_url, openai_api_key="sk-test", llm_context_tokens=512)
        model = build_research_model(settings, client)
        with pytest.raises(ApplicationError) as caught:
            await model.synthesize(SynthesizeInput(question=QUESTION * 20, sources=sources, pages=pages))
        reflected = await model.reflect(
            ReflectInput(question=QUESTION * 20, sub_questions=["A?"], sources=sources, pages=pages)
        )
        assert llm.chat_requests == []
    assert caught.value.non_retryable and caught.value.type == "PromptCannotFit"
    assert "LLM_CONTEXT_TOKENS" in caught.value.message and "512-token" in caught.value.message
    assert reflected.queries == []  # the look for gaps is skipped; the run goes on to say why at the draft
