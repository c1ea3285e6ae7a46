"""The language-model activities of a research run: plan, plan a revision, look for gaps after reading,
write a draft, finalize.

``LlmActivities`` receives a ``ResearchModel``: ``ChatResearchModel`` over any OpenAI-compatible
endpoint, or ``OfflineResearchModel`` when neither OPENAI_API_KEY nor OPENAI_BASE_URL is set.
``build_research_model`` picks one from the settings.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from functools import partial
from typing import Protocol, TypeVar
from urllib.parse import urlsplit

import httpx
import structlog
from temporalio import activity
from temporalio.exceptions import ApplicationError

from activities.compute import compute
from activities.heartbeat import heartbeating
from activities.model import prompts, spend
from activities.model.chat_client import ChatClient, Completion, PromptTooLong
from activities.model.context_window import ContextWindow, Window, message_tokens
from activities.model.offline_model import OFFLINE_NOTICE, OfflineResearchModel, split_question
from activities.search.page_store import PageStore
from core import tracing
from core.errors import ConfigError
from core.settings import Settings
from core.workspace_tokens import WorkspaceTokens
from slack_ui.ids import parse_workflow_id
from workflows.activity_io import (
    ClaimToJudge,
    FinalizeInput,
    JudgedClaim,
    JudgeInput,
    JudgeOutput,
    PlanInput,
    PlanOutput,
    ReflectInput,
    ReflectOutput,
    RevisionPlanInput,
    SynthesizeInput,
    TextOutput,
)
from workflows.calls import ModelCalls
from workflows.declaring import implements
from workflows.models import Page, TokenUsage

__all__ = [
    "DEFAULT_OPENAI_BASE_URL",
    "OFFLINE_NOTICE",
    "ChatResearchModel",
    "LlmActivities",
    "OfflineResearchModel",
    "ResearchModel",
    "build_research_model",
]

DEFAULT_OPENAI_BASE_URL = "https://api.openai.com/v1"

log = structlog.get_logger(__name__)
Input = TypeVar("Input")
Output = TypeVar("Output", PlanOutput, ReflectOutput, TextOutput)
Parsed = TypeVar("Parsed")
Build = Callable[[int | None], list[dict]]  # a prompt's messages, fitted to a budget of tokens (None: no bound)
CANNOT_FIT = "PromptCannotFit"  # the type of the failure of a prompt too long for the window even cut
_NO_ROOM = "some claims and their passages did not fit the model's context window"
TOKENS_METRIC = "research_llm_tokens"  # a counter, on the worker's Prometheus endpoint
WORKSPACE_TOKENS_METRIC = "research_workspace_tokens"  # the same tokens, by workspace


class ResearchModel(Protocol):
    """What the research activities need from a language model."""

    name: str

    async def plan(self, data: PlanInput) -> PlanOutput: ...

    async def plan_revision(self, data: RevisionPlanInput) -> PlanOutput: ...

    async def reflect(self, data: ReflectInput) -> ReflectOutput: ...

    async def synthesize(self, data: SynthesizeInput) -> TextOutput: ...

    async def finalize(self, data: FinalizeInput) -> TextOutput: ...

    async def judge(self, data: JudgeInput) -> JudgeOutput: ...


class ChatResearchModel:
    """A ResearchModel over an OpenAI-compatible chat endpoint.

    Each input's ``model`` overrides ``default_model`` (LLM_MODEL) for that call. With ``windows``, every
    prompt is fitted to the model's context window (see ``_ask``).
    """

    def __init__(self, chat: ChatClient, default_model: str, windows: ContextWindow | None = None) -> None:
        self._chat = chat
        self.name = default_model
        self._windows = windows

    async def plan(self, data: PlanInput) -> PlanOutput:
        messages = partial(prompts.plan_messages, data.question, data.max_sub_questions)

        def parse(text: str) -> list[str]:
            subs = prompts.parse_sub_questions(text, limit=max(2, data.max_sub_questions))
            if len(subs) < 2:
                raise ValueError(f"{len(subs)} usable sub-questions; give at least 2")
            return subs

        subs, usage = await self._ask_parsed("plan", messages, data.model, parse)
        return PlanOutput(sub_questions=subs or split_question(data.question, data.max_sub_questions), usage=usage)

    async def plan_revision(self, data: RevisionPlanInput) -> PlanOutput:
        messages = partial(
            prompts.revision_messages, data.question, data.feedback, data.previous_sub_questions, earlier=data.earlier
        )
        subs, usage = await self._ask_parsed(
            "revision",
            messages,
            data.model,
            lambda text: prompts.parse_revision_sub_questions(text, data.previous_sub_questions),
        )
        return PlanOutput(sub_questions=subs or [], usage=usage)  # none new: the previous plan stands

    async def reflect(self, data: ReflectInput) -> ReflectOutput:
        try:
            queries, usage = await self._ask_parsed(
                "reflect",
                partial(prompts.reflect_messages, data),
                data.model,
                lambda text: prompts.parse_gap_queries(text, data.sub_questions, data.max_queries),
            )
        except ApplicationError as error:
            if error.type != CANNOT_FIT:
                raise
            return ReflectOutput(queries=[])  # the look for gaps is optional: the run goes on to its draft
        return ReflectOutput(queries=queries or [], usage=usage)  # no gap queries: the loop ends

    async def synthesize(self, data: SynthesizeInput) -> TextOutput:
        if not prompts.usable_sources(data.sources, data.pages):
            text = (
                f"I found no sources for \u201c{data.question}\u201d, so I cannot give a cited "
                "answer. Try rephrasing the question, or another search provider."
            )
            return TextOutput(text=text, usage=TokenUsage())
        reply = await self._ask("draft", partial(prompts.synthesize_messages, data), data.model)
        return TextOutput(text=self._answer(reply), usage=reply.usage)

    async def finalize(self, data: FinalizeInput) -> TextOutput:
        reply = await self._ask("finalize", partial(prompts.finalize_messages, data), data.model)
        return TextOutput(text=self._answer(reply), usage=reply.usage)

    async def judge(self, data: JudgeInput) -> JudgeOutput:
        if data.by_meaning:
            return await self._judge_by_meaning(data)
        if not data.claims:
            return JudgeOutput()
        window = await self._window(data.model)
        messages, judged = prompts.judge_messages(data, window.prompt if window else None)
        if not judged:
            return JudgeOutput(problem=_NO_ROOM)

        def parse(text: str) -> list[int]:
            refuted = prompts.parse_refuted(text, judged)
            if refuted is None:
                raise ValueError('the answer has no "verdicts" list')
            return refuted

        refuted, usage = await self._ask_parsed("second_opinion", lambda _: messages, data.model, parse)
        # Garbled twice: nothing refuted, so the word check stands, and the footer can say why.
        problem = "the judge's answer was not the JSON asked for" if refuted is None else None
        return JudgeOutput(refuted=[data.claims[n - 1].index for n in refuted or []], problem=problem, usage=usage)

    async def _judge_by_meaning(self, data: JudgeInput) -> JudgeOutput:
        """Every claim judged from its candidate passages, in batches of bounded prompts. An answer that
        is not the JSON asked for is asked for again once, with what was wrong; a claim still without a
        verdict stays unjudged (the workflow never counts it verified)."""
        known = {p.number for c in data.claims for p in c.candidates} | {p.number for p in data.question_passages}
        verdicts: list[JudgedClaim] = []
        answers: bool | None = None
        usage = TokenUsage()
        problems: list[str] = []
        window = await self._window(data.model)
        batches = prompts.meaning_batches(data, window.prompt if window else None)
        if len({c.index for batch in batches for c in batch}) < len(data.claims):
            problems.append(_NO_ROOM)  # claims that cannot fit even alone: unjudged, and the footer says why
        for position, batch in enumerate(batches):
            messages = _judging(data, batch, ask_question=position == 0)
            parse = partial(prompts.parse_meaning, count=len(batch), known_sources=known)
            try:
                parsed, spent = await self._ask_parsed("judge", messages, data.model, parse)
            except ApplicationError as error:
                if error.type != CANNOT_FIT:
                    raise
                problems.append(_NO_ROOM)
                continue
            usage = usage + spent
            if parsed is None:
                problems.append("the judge's answer was not the JSON asked for")
                continue
            if parsed.answers_question is not None:  # answered when any batch's passages answer it
                answers = bool(answers) or parsed.answers_question
            for number, claim in enumerate(batch, 1):
                if number in parsed.verdicts:
                    verdict, sources = parsed.verdicts[number]
                    verdicts.append(JudgedClaim(index=claim.index, verdict=verdict, sources=sources))
            if len(parsed.verdicts) < len(batch):
                problems.append("the judge gave no verdict on some claims")
        return JudgeOutput(
            verdicts=verdicts, answers_question=answers, problem="; ".join(dict.fromkeys(problems)) or None, usage=usage
        )

    def _model(self, requested: str | None) -> str:
        return requested or self.name

    async def _ask_parsed(
        self, step: str, messages: Build, model: str | None, parse: Callable[[str], Parsed]
    ) -> tuple[Parsed | None, TokenUsage]:
        """The JSON answer, parsed; one that ``parse`` refuses (ValueError) is asked for again once, with
        what was wrong. None after two refusals: the caller falls back. Usage counts both calls."""
        usage = TokenUsage()
        for attempt in (1, 2):
            reply = await self._ask(step, messages, model, json_mode=True)
            usage = usage + reply.usage
            try:
                return parse(reply.text), usage
            except ValueError as error:
                log.warning(
                    "llm.reply_unparsed",
                    step=step,
                    attempt=attempt,
                    model=self._model(model),
                    error=str(error),
                    reply=reply.text[:200],
                )
                messages = _followed_by(
                    messages,
                    [
                        {"role": "assistant", "content": reply.text[:2_000]},
                        {"role": "user", "content": f"That was not the JSON asked for ({error}). Answer in JSON only."},
                    ],
                )
        return None, usage

    async def _ask(self, step: str, build: Build, model: str | None, *, json_mode: bool = False) -> Completion:
        """One call, its prompt fitted to the model's window (what it leaves beside the answer's room). A
        server that still refuses it as too long (PromptTooLong) gets it cut again, to the window it says
        or to three quarters, once; a prompt that cannot fit at all is not sent (PromptCannotFit)."""
        name = self._model(model)
        window = await self._window(model)
        budget = window.prompt if window else None
        # Fitting ranks page text (BM25): CPU work, kept off the event loop so that other activities'
        # heartbeats still go out while many runs write at once.
        messages = await compute(self._fitted, step, build, budget, window)
        try:
            reply = await self._complete(messages, name, window, json_mode)
        except PromptTooLong as refused:
            tried = message_tokens(messages)
            if refused.limit and self._windows is not None:
                window = self._windows.learn(name, refused.limit)
            budget = min(window.prompt, tried * 3 // 4) if window and refused.limit else tried * 3 // 4
            log.warning("llm.prompt_cut_again", step=step, model=name, tried=tried, budget=budget, limit=refused.limit)
            messages = await compute(self._fitted, step, build, budget, window)
            reply = await self._complete(messages, name, window, json_mode)  # refused again: non-retryable
        return reply

    async def _complete(self, messages: list[dict], model: str, window: Window | None, json_mode: bool) -> Completion:
        answer = window.answer if window else None
        reply = await self._chat.complete(messages, model, json_mode=json_mode, max_tokens=answer)
        spend.record(reply.usage)  # spent even if the answer is refused below and the attempt retried
        return reply

    async def _window(self, model: str | None) -> Window | None:
        return await self._windows.of(self._model(model)) if self._windows is not None else None

    def _fitted(self, step: str, build: Build, budget: int | None, window: Window | None) -> list[dict]:
        try:
            return build(budget)
        except prompts.PromptCannotFit as error:
            size = f"{window.tokens}-token context window ({window.source})" if window else "context window"
            log.warning("llm.prompt_cannot_fit", step=step, needed=error.needed, budget=error.budget)
            raise ApplicationError(
                f"the {step} prompt cannot fit the model's {size}: with {window.answer if window else 0} tokens "
                f"kept for the answer, {error.budget} are left, and the question with the instructions alone "
                f"takes {error.needed}. Ask a shorter question, or use a model with a larger window and set "
                "LLM_CONTEXT_TOKENS to it",
                type=CANNOT_FIT,
                non_retryable=True,
            ) from None

    def _answer(self, reply: Completion) -> str:
        text = prompts.clean_answer(reply.text)
        if not text:
            # Retryable: an empty answer is usually a hiccup (or a length cut-off) on the server.
            raise ApplicationError(
                f"the {self._chat.service} returned an empty answer (finish_reason={reply.finish_reason})",
                type="EmptyAnswer",
            )
        return text


class LlmActivities:
    """The five language-model activities; register the bound methods on a worker."""

    def __init__(
        self, model: ResearchModel, pages: PageStore | None = None, workspaces: WorkspaceTokens | None = None
    ) -> None:
        self._model = model
        self._pages = pages  # the full page texts, which workflow history carries only as excerpts
        self._workspaces = workspaces  # each workspace's tokens per day, for its cap (bot/caps.py)

    @implements(ModelCalls.plan_research)
    async def plan_research(self, data: PlanInput) -> PlanOutput:
        out = await self._metered(self._model.plan, data)
        self._log("llm.plan_research", data.model, out.usage, sub_questions=len(out.sub_questions))
        return out

    @implements(ModelCalls.plan_revision)
    async def plan_revision(self, data: RevisionPlanInput) -> PlanOutput:
        out = await self._metered(self._model.plan_revision, data)
        self._log("llm.plan_revision", data.model, out.usage, sub_questions=len(out.sub_questions))
        return out

    @implements(ModelCalls.reflect_on_gaps)
    async def reflect_on_gaps(self, data: ReflectInput) -> ReflectOutput:
        data = data.model_copy(update={"pages": await self._full_texts(data.pages)})
        out = await self._metered(self._model.reflect, data)
        self._log("llm.reflect_on_gaps", data.model, out.usage, pages=len(data.pages), queries=len(out.queries))
        return out

    @implements(ModelCalls.synthesize_draft)
    async def synthesize_draft(self, data: SynthesizeInput) -> TextOutput:
        data = data.model_copy(update={"pages": await self._full_texts(data.pages)})
        out = await self._metered(self._model.synthesize, data)
        self._log(
            "llm.synthesize_draft",
            data.model,
            out.usage,
            sources=len(data.sources),
            violations=len(data.violations),
            chars=len(out.text),
        )
        return out

    @implements(ModelCalls.finalize_answer)
    async def finalize_answer(self, data: FinalizeInput) -> TextOutput:
        data = data.model_copy(update={"pages": await self._full_texts(data.pages)})
        out = await self._metered(self._model.finalize, data)
        self._log("llm.finalize_answer", data.model, out.usage, chars=len(out.text))
        return out

    @implements(ModelCalls.judge_claims)
    async def judge_claims(self, data: JudgeInput) -> JudgeOutput:
        out = await self._metered(self._model.judge, data)
        judged = {"refuted": len(out.refuted)} if not data.by_meaning else {"judged": len(out.verdicts)}
        self._log("llm.judge_claims", data.model, out.usage, claims=len(data.claims), **judged)
        return out

    async def _full_texts(self, pages: list[Page]) -> list[Page]:
        if self._pages is None or not any(page.stored for page in pages):
            return pages
        return await self._pages.restore(activity.info().workflow_id, pages)

    async def _metered(self, call: Callable[[Input], Awaitable[Output]], data: Input) -> Output:
        """Run one model call; its usage includes what earlier failed attempts spent."""
        with spend.metering() as meter:
            try:
                async with heartbeating(details=meter.total):
                    out = await call(data)
            finally:  # a failed attempt spent its tokens too
                await self._charge_workspace(meter.attempt)
        return out.model_copy(update={"usage": meter.earlier + out.usage})

    async def _charge_workspace(self, usage: TokenUsage) -> None:
        """This attempt's tokens, to the day's total of the workspace the run was asked in (its id says
        which; runs from the CLI have none): counted on /metrics, and kept for the daily cap. Best effort."""
        if not activity.in_activity() or not (tokens := usage.prompt_tokens + usage.completion_tokens):
            return
        address = parse_workflow_id(activity.info().workflow_id)
        if address is None:
            return
        counter = activity.metric_meter().create_counter(
            WORKSPACE_TOKENS_METRIC, "LLM tokens used by research runs, by Slack workspace", "tokens"
        )
        counter.add(tokens, {"workspace": address.team_id})
        if self._workspaces is None:
            return
        try:
            await asyncio.to_thread(self._workspaces.add, address.team_id, tokens)
        except Exception as error:
            log.warning("llm.workspace_tokens_not_kept", team_id=address.team_id, error=str(error) or repr(error))

    def _log(self, event: str, requested: str | None, usage: TokenUsage, **fields: object) -> None:
        model = requested or self._model.name
        if activity.in_activity():
            info = activity.info()
            fields.update(workflow_id=info.workflow_id, attempt=info.attempt)
            tokens = activity.metric_meter().create_counter(
                TOKENS_METRIC, "LLM tokens used by research runs, by model and kind (prompt, completion)", "tokens"
            )
            tokens.add(usage.prompt_tokens, {"model": model, "kind": "prompt"})
            tokens.add(usage.completion_tokens, {"model": model, "kind": "completion"})
        # On the activity's span (core/tracing.py): counts only, never the prompt or the answer.
        tracing.annotate(
            {
                "gen_ai.request.model": model,
                "gen_ai.usage.input_tokens": usage.prompt_tokens,
                "gen_ai.usage.output_tokens": usage.completion_tokens,
                "llm.calls": usage.calls,
            }
        )
        log.info(
            event,
            model=model,
            prompt_tokens=usage.prompt_tokens,
            completion_tokens=usage.completion_tokens,
            calls=usage.calls,
            **fields,
        )


def _judging(data: JudgeInput, batch: list[ClaimToJudge], *, ask_question: bool) -> Build:
    return lambda budget: prompts.meaning_messages(data, batch, ask_question=ask_question, budget=budget)


def _followed_by(build: Build, extra: list[dict]) -> Build:
    """``build``'s messages and then ``extra``, fitted together: the prompt gives up the room they take."""
    room = message_tokens(extra)

    def fitted(budget: int | None) -> list[dict]:
        return [*build(None if budget is None else budget - room), *extra]

    return fitted


def build_research_model(settings: Settings, client: httpx.AsyncClient) -> ResearchModel:
    """Offline when neither OPENAI_API_KEY nor OPENAI_BASE_URL is set; else the chat endpoint."""
    if settings.llm_is_offline:
        log.info("llm.offline_mode", reason="neither OPENAI_API_KEY nor OPENAI_BASE_URL is set")
        return OfflineResearchModel()
    base_url = (settings.openai_base_url or DEFAULT_OPENAI_BASE_URL).strip()
    parts = urlsplit(base_url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ConfigError(
            f"OPENAI_BASE_URL={base_url!r} is not an http(s) URL; "
            "use e.g. https://api.openai.com/v1 or http://localhost:11434/v1"
        )
    key = settings.openai_api_key.get_secret_value() if settings.openai_api_key else None
    chat = ChatClient(
        client,
        base_url,
        key,
        timeout=settings.llm_timeout_seconds,
        silence=settings.llm_silence_seconds,
        max_tokens=settings.llm_max_tokens,
    )
    log.info("llm.configured", base_url=base_url, model=settings.llm_model, api_key_set=bool(key))
    windows = ContextWindow(
        client, base_url, key, setting=settings.llm_context_tokens, max_answer=settings.llm_max_tokens
    )  # LLM_CONTEXT_TOKENS, or asked of the server at the first call
    return ChatResearchModel(chat, settings.llm_model, windows)


async def check_llm_reachable(settings: Settings) -> None:
    """Fail fast, before a run starts, when the configured LLM endpoint does not answer at all.

    Any HTTP answer counts as reachable (many servers have no /models); only a refused or
    timed-out connection is an error.
    """
    if settings.llm_is_offline:
        return
    base_url = (settings.openai_base_url or DEFAULT_OPENAI_BASE_URL).rstrip("/")
    try:
        async with httpx.AsyncClient(timeout=httpx.Timeout(5.0)) as client:
            await client.get(f"{base_url}/models")
    except httpx.HTTPError as error:
        raise ConfigError(
            f"cannot reach the LLM at {base_url} ({type(error).__name__}); "
            "check OPENAI_BASE_URL, or unset it and OPENAI_API_KEY for the offline mode"
        ) from error
