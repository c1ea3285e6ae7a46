"""The built-in research model used when no LLM is configured (neither OPENAI_API_KEY nor
OPENAI_BASE_URL): deterministic, no network, and it says plainly that it wrote in offline mode.

Plans split the question; the look for gaps after reading turns the sub-questions no read page
covers into follow-up queries; drafts are extractive: the page sentences that best answer the question,
found by the same retrieval the citation check uses (activities/search/retrieval.py: BM25 over the sentences,
without the words of how the question is asked), best first, then those that share the most terms with
the reviewer's feedback, each cited with its source number.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

from activities.compute import compute
from activities.model.offline_text import (
    STYLE_WORDS,
    Pick,
    candidates,
    cited_bullets,
    find_gaps,
    key_terms,
    pick_for_feedback,
    topic_of,
)
from activities.model.prompts import MAX_REVISION_SUB_QUESTIONS, usable_sources
from activities.search.retrieval import PassageIndex, terms_of, what_is_asked
from workflows.activity_io import (
    FinalizeInput,
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
from workflows.models import Page, Source, TokenUsage

__all__ = ["OFFLINE_NOTICE", "OfflineResearchModel", "key_terms", "split_question"]

OFFLINE_NOTICE = "_Offline mode: extractive summary, no language model configured._"
FEEDBACK_LINE = "Reviewer feedback taken into account:"
ANSWER_SENTENCES = 5
SHORT_ANSWER_SENTENCES = 3
NEIGHBOUR_SHARE = 0.25  # bench.claims_by_meaning: the answer's sentence among the picks, 36 → 40 of 50

_SHORTER = re.compile(r"\b(shorter|short|brief|briefly|briefer|concise|condense|trim|tl;?dr|too long)\b", re.I)
_ASKS_NEW = re.compile(
    r"\?|\b(more|also|add|adding|include|including|what about|how about|compare|comparison|"
    r"why|how|example|examples|expand|elaborate|cover|mention)\b",
    re.I,
)
_FILLER = re.compile(
    r"^(?:(?:please|can you|could you|would you|you should|also|and|add|adding|include|"
    r"including|cover|mention|expand on|elaborate on|more|some|a bit|details?|information|"
    r"info|on|about|an?|the|what about|how about)\b[\s,]*)+",
    re.I,
)
_CLAUSE = re.compile(
    r"(?<=[.?!;\n])\s*|,?\s+and\s+(?=(?:also|add|include|what|how|why|compare|mention|cover)\b)",
    re.I,
)
_CITE_REF = re.compile(r"\s*\[(\d+)\]")


def split_question(question: str, max_sub_questions: int = 5) -> list[str]:
    """2..max (at most 5) sub-questions: the question's own parts, else focused variants."""
    limit = max(2, min(5, max_sub_questions))
    text = " ".join(question.split())
    asks = text.endswith("?")
    parts = [p.strip(" ,.") for p in re.split(r"[?;]", text) if key_terms(p)] or [text.strip("?")]
    if len(parts) == 1:
        for separator in (r",\s*(?:and\s+)?|\s+and\s+", r"\s+and\s+", r",\s*"):
            pieces = [p.strip(" ,.") for p in re.split(separator, parts[0])]
            if len(pieces) >= 2 and all(len(p.split()) >= 3 for p in pieces):
                parts = pieces
                break
    result = _dedupe(p[:1].upper() + p[1:] + ("?" if asks else "") for p in parts)
    if len(result) < 2:
        topic = topic_of(text)
        variants = [
            f"How {topic} works",
            f"{topic} limitations and trade-offs",
            f"{topic} overview",
            f"{topic} examples and use cases",
        ]
        result = _dedupe(result + variants)[: max(2, min(3, limit))]
    return result[:limit]


def revision_sub_questions(question: str, feedback: str, previous: list[str]) -> list[str]:
    """New sub-questions only where the feedback asks for something new; at most three."""
    topic = topic_of(question)
    found: list[str] = []
    for clause in _CLAUSE.split(feedback):
        if not _ASKS_NEW.search(clause) or not key_terms(clause, extra_stop=STYLE_WORDS):
            continue
        wanted = _FILLER.sub("", clause.strip()).strip(" .!;")
        if len(key_terms(wanted)) < 2 or not set(key_terms(wanted)) & set(key_terms(question)):
            wanted = f"{topic} {wanted}".strip()
        found.append(wanted[:1].upper() + wanted[1:])
    seen = {q.lower() for q in previous}
    return [q for q in _dedupe(found) if q.lower() not in seen][:3]


class OfflineResearchModel:
    """A ResearchModel that needs nothing: same input, same output."""

    name = "offline"

    async def plan(self, data: PlanInput) -> PlanOutput:
        subs = split_question(data.question, data.max_sub_questions)
        return PlanOutput(sub_questions=subs, usage=_usage(data.question, "\n".join(subs)))

    async def plan_revision(self, data: RevisionPlanInput) -> PlanOutput:
        subs = revision_sub_questions(data.question, data.feedback, data.previous_sub_questions)
        if data.earlier is not None and not data.previous_sub_questions:
            # A follow-up's first plan: its own question, split as a first plan is; the earlier run is
            # material to write from, not something to search for.
            subs = _dedupe([*split_question(data.question, MAX_REVISION_SUB_QUESTIONS), *subs])
            subs = subs[:MAX_REVISION_SUB_QUESTIONS]
        return PlanOutput(sub_questions=subs, usage=_usage(data.question + data.feedback, "\n".join(subs)))

    async def judge(self, data: JudgeInput) -> JudgeOutput:
        """No second opinion offline: the deterministic check is the whole check (the workflow asks a
        judge only when a model is configured)."""
        return JudgeOutput()

    async def reflect(self, data: ReflectInput) -> ReflectOutput:
        return await compute(self._reflect, data)

    def _reflect(self, data: ReflectInput) -> ReflectOutput:
        """Sub-questions whose content words no read page covers become the follow-up queries."""
        queries = find_gaps(data.question, data.sub_questions, data.pages, data.max_queries)
        asked = data.question + "\n".join(data.sub_questions) + _corpus(usable_sources(data.sources, data.pages))
        return ReflectOutput(queries=queries, usage=_usage(asked, "\n".join(queries)))

    async def synthesize(self, data: SynthesizeInput) -> TextOutput:
        return await compute(self._synthesize, data)

    def _synthesize(self, data: SynthesizeInput) -> TextOutput:
        usable = usable_sources(data.sources, data.pages)
        feedback = (data.feedback or "").strip()
        lines = [OFFLINE_NOTICE, ""]
        if not usable:
            lines.append(f"I found no sources for \u201c{data.question}\u201d, so I cannot give a cited answer.")
        else:
            count = SHORT_ANSWER_SENTENCES if _SHORTER.search(feedback) else ANSWER_SENTENCES
            picked = answering_sentences(usable, data.question, count)
            if feedback and not _SHORTER.search(feedback):
                picked += pick_for_feedback(usable, feedback, picked)
            lines += [f"**{data.question}**", "", *cited_bullets(picked, in_page_order=False)]
        if feedback:
            lines += ["", f"{FEEDBACK_LINE} {feedback}"]
        text = "\n".join(lines)
        return TextOutput(text=text, usage=_usage(data.question + feedback + _corpus(usable), text))

    async def finalize(self, data: FinalizeInput) -> TextOutput:
        return await compute(self._finalize, data)

    def _finalize(self, data: FinalizeInput) -> TextOutput:
        numbers = {s.number for s in data.sources}
        feedback = data.feedback.strip()
        lines = [
            _CITE_REF.sub(lambda m: m.group(0) if int(m.group(1)) in numbers else "", line)
            for line in data.draft.strip().splitlines()
            if not line.startswith(FEEDBACK_LINE)
        ]
        if OFFLINE_NOTICE not in lines:
            lines = [OFFLINE_NOTICE, "", *lines]
        while lines and not lines[-1].strip():
            lines.pop()
        if feedback and _SHORTER.search(feedback):
            bullets = [i for i, line in enumerate(lines) if line.startswith("- ")]
            drop = set(bullets[SHORT_ANSWER_SENTENCES:])
            lines = [line for i, line in enumerate(lines) if i not in drop]
        elif feedback:
            usable = usable_sources(data.sources, data.pages)
            draft_text = "\n".join(lines)
            extra = [p for p in pick_for_feedback(usable, feedback, []) if p[3] not in draft_text]
            lines += cited_bullets(extra)
        if feedback:
            lines += ["", f"{FEEDBACK_LINE} {feedback}"]
        text = "\n".join(lines)
        return TextOutput(text=text, usage=_usage(data.draft + feedback, text))


def answering_sentences(usable: list[tuple[Source, Page]], question: str, count: int) -> list[Pick]:
    """The ``count`` sentences of the pages that best answer ``question``, best first: BM25 over the
    quotable sentences, with a quarter of their neighbours' score (an answer often names its subject in
    the sentence before). With nothing matching, each page's first sentence, so the draft still says what
    was read (and the citation check decides whether it answers)."""
    quotable = candidates(usable)
    index = PassageIndex({n: pick[3] for n, pick in enumerate(quotable)}, width=1)
    asked = terms_of(what_is_asked(question) or question)
    own = [sum(index.bm25(asked, p) for p in index.by_number.get(n, [])) for n in range(len(quotable))]

    def neighbours(n: int) -> float:
        near = [m for m in (n - 1, n + 1) if 0 <= m < len(quotable) and quotable[m][0] == quotable[n][0]]
        return sum(own[m] for m in near)

    scored = sorted(
        ((own[n] + NEIGHBOUR_SHARE * neighbours(n), n) for n in range(len(quotable)) if own[n] > 0),
        key=lambda item: -item[0],
    )
    picked = [quotable[n] for _, n in scored[:count]]
    if not picked:
        firsts = {pick[0]: pick for pick in reversed(quotable)}
        picked = [firsts[source] for source in sorted(firsts)][:count]
    return picked


def _corpus(usable: list[tuple[Source, Page]]) -> str:
    return "".join(page.text for _, page in usable)


def _usage(prompt: str, completion: str) -> TokenUsage:
    return TokenUsage(prompt_tokens=len(prompt) // 4, completion_tokens=len(completion) // 4, calls=1)


def _dedupe(items: Iterable[str]) -> list[str]:
    seen: set[str] = set()
    result: list[str] = []
    for item in items:
        if item and item.lower() not in seen:
            seen.add(item.lower())
            result.append(item)
    return result
