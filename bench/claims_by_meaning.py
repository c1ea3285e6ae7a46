"""Claims judged by meaning, measured on writing that looks like a real model's (part of bench.faithfulness).

Every question of tests/data/eval/corpus_questions.json (answerable by the corpus or not) goes through
the real workflow on a Temporal dev server with the real activities (local search over the tests' copy
of the corpus, tests/data/corpus/, page reader, citation check, archive). Three ways:

- ``evaluate_judged``: the model is tests/fakes/paraphrasing_model (loopback HTTP): its drafts paraphrase
  what is true and reuse the pages' words for what is false, in every labelled category; its judge is
  right, or wrong on a share of claims (``judge_error``). Every draft that can be approved is approved
  with feedback, so the final answers are checked too.
- ``evaluate_offline``: no model; the offline writer answers and the word check decides.
- ``word_check_by_category``: the offline word check alone on the labelled claim set
  (tests/data/eval/claims/), each claim against the page it cites.
"""

from __future__ import annotations

import argparse
import asyncio
import time
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from temporalio.client import Client

from activities import verify
from activities.model.prompts import prompt_kind
from activities.search.local_corpus import LocalCorpus
from bench.faithfulness import eval_worker, run_question
from core.settings import REPO_ROOT
from tests.fakes.openai_server import by_prompt_kind
from tests.fakes.paraphrasing_model import FALSE_KINDS, ParaphrasingModel, holds, key, load_labelled
from workflows.claims import UNVERIFIED_MARK, split_claims
from workflows.models import Draft, ResearchResult
from workflows.research import FINAL_FALLBACK_NOTE

# The corpus the labelled questions and claims were written against; a copy, so corpus/ may change.
CORPUS = REPO_ROOT / "tests" / "data" / "corpus"
TRUE_KINDS = ("answer", "paraphrased", "verbatim")
# Runs at once: more only queue their workflow tasks behind each other's citation checks on 2 cores.
CONCURRENT_RUNS = 8


async def run_all(client: Client, queue: str, questions: list[str], **kwargs: Any) -> list[Any]:
    """Every question's run, at most CONCURRENT_RUNS at a time, in order."""
    gate = asyncio.Semaphore(CONCURRENT_RUNS)

    async def one(question: str) -> Any:
        async with gate:
            return await run_question(client, queue, question, **kwargs)

    return await asyncio.gather(*(one(q) for q in questions))


@dataclass
class Judged:
    """What became of each kind of claim written, and of the questions."""

    written: Counter[str] = field(default_factory=Counter)
    flagged: Counter[str] = field(default_factory=Counter)  # marked or removed
    published_unmarked: Counter[str] = field(default_factory=Counter)
    recited_right: int = 0  # right fact, wrong citation: cited to the source that says it
    answerable: int = 0
    answerable_declined: int = 0
    unanswerable: int = 0
    unanswerable_answered: int = 0
    finals: int = 0
    finals_fell_back: int = 0
    tokens: Counter[str] = field(default_factory=Counter)  # by prompt kind
    calls: Counter[str] = field(default_factory=Counter)
    seconds: Counter[str] = field(default_factory=Counter)
    declined: list[str] = field(default_factory=list)
    misses: list[str] = field(default_factory=list)


def _shown(draft: Draft) -> dict[str, tuple[tuple[int, ...], bool]]:
    """Each claim of a draft by key: its citations and whether it is marked."""
    return {key(c.statement): (c.numbers, UNVERIFIED_MARK in c.text) for c in split_claims(draft.text)}


def score_judged(
    question: str, draft: Draft, written: dict[str, str], numbers: dict[str, int], tally: Judged, model: Any
) -> None:
    shown = _shown(draft)
    for statement, kind in written.items():
        tally.written[kind] += 1
        found = shown.get(key(statement.rsplit("[", 1)[0]))
        if kind in TRUE_KINDS or kind == "memory":
            if found is None or found[1]:
                tally.flagged[kind] += 1
                if kind != "memory":
                    tally.misses.append(f"{question}: [{kind} flagged] {statement}")
            else:
                tally.published_unmarked[kind] += 1
        elif kind == "wrong_citation":
            label = model.label_of(statement.rsplit("[", 1)[0])
            if label is None or found is None or found[1]:
                tally.flagged[kind] += 1
            elif numbers.get(label.source) in found[0]:
                tally.recited_right += 1
            else:
                tally.published_unmarked[kind] += 1
                tally.misses.append(f"{question}: [wrong citation kept] {statement}")
        elif found is not None and not found[1]:
            tally.published_unmarked[kind] += 1
            tally.misses.append(f"{question}: [{kind} published] {statement}")
        else:
            tally.flagged[kind] += 1


async def evaluate_judged(client: Client | None = None, judge_error: float = 0.0, only: int | None = None) -> Judged:
    questions, claims = load_labelled()
    model = ParaphrasingModel(judge_error=judge_error, questions=questions, claims=claims)
    tally = Judged()
    answers = {"plan": model.plan, "revision": "NONE", "draft": model.draft, "finalize": model.finalize}
    answers["judge"] = model.judge
    inner = by_prompt_kind(**answers)

    def reply(messages: list[dict]) -> str:  # metered by prompt kind, as the fake server counts tokens
        started = time.perf_counter()
        text = inner(messages)
        kind = prompt_kind(messages) or "other"
        tally.tokens[kind] += sum(len(str(m.get("content", ""))) for m in messages) // 4 + len(text) // 4
        tally.calls[kind] += 1
        tally.seconds[kind] += time.perf_counter() - started
        return text

    answerable = [c["question"] for c in questions["answerable"]][:only]
    unanswerable = questions["unanswerable"][: None if only is None else max(1, only // 4)]
    asked = answerable + unanswerable
    async with eval_worker(client, reply, "meaning", corpus=CORPUS) as (temporal, queue):
        runs = await run_all(temporal, queue, asked)
    for question, (draft, result) in zip(asked, runs, strict=True):
        declined = bool(draft.check and draft.check.declined)
        if question in unanswerable:
            tally.unanswerable += 1
            tally.unanswerable_answered += not declined
            continue
        tally.answerable += 1
        if declined:
            tally.answerable_declined += 1
            tally.declined.append(question)
            continue
        numbers = {s.url.removeprefix("local://"): s.number for s in draft.sources}
        score_judged(question, draft, model.written.get(question, {}), numbers, tally, model)
        _score_final(result, tally)
    return tally


def _score_final(result: ResearchResult | None, tally: Judged) -> None:
    if result is not None:
        tally.finals += 1
        tally.finals_fell_back += FINAL_FALLBACK_NOTE in result.answer


@dataclass
class Offline:
    answerable: int = 0
    declined: int = 0
    cites_answer: int = 0
    unanswerable: int = 0
    answered: int = 0
    declined_questions: list[str] = field(default_factory=list)
    missed_answers: list[str] = field(default_factory=list)


async def evaluate_offline(client: Client | None = None, only: int | None = None) -> Offline:
    """The question set through the offline workflow: declines, and whether the draft cites the passage
    that answers the question."""
    questions, _ = load_labelled()
    cases = questions["answerable"][:only]
    unanswerable = questions["unanswerable"][: None if only is None else max(1, only // 4)]
    asked = [c["question"] for c in cases] + unanswerable
    tally = Offline()
    async with eval_worker(client, None, "offline", corpus=CORPUS) as (temporal, queue):
        runs = await run_all(temporal, queue, asked, feedback=None)
    for question, (draft, _) in zip(asked, runs, strict=True):
        declined = bool(draft.check and draft.check.declined)
        if question in unanswerable:
            tally.unanswerable += 1
            tally.answered += not declined
            continue
        case = next(c for c in cases if c["question"] == question)
        tally.answerable += 1
        tally.declined += declined
        if declined:
            tally.declined_questions.append(question)
        cited = any(
            holds(c.statement, case["answer"]) or holds(case["answer"], c.statement) for c in split_claims(draft.text)
        )
        tally.cites_answer += cited and not declined
        if not cited and not declined:
            tally.missed_answers.append(question)
    return tally


def word_check_by_category() -> dict[str, tuple[int, int]]:
    """Per category of the labelled claim set: (claims the offline word check passes, claims)."""
    _, claims = load_labelled()
    corpus = LocalCorpus(CORPUS)
    files = sorted(p.name for p in CORPUS.glob("*.md"))
    number = {name: n for n, name in enumerate(files, 1)}
    index = verify.SupportIndex({n: corpus.read(f"local://{name}")[1] for name, n in number.items()})
    passed: Counter[str] = Counter()
    total: Counter[str] = Counter()
    for claim in claims:
        cited = number[claim["cites"]]
        supported, _ = index.supports(claim["claim"], [cited])
        total[claim["category"]] += 1
        passed[claim["category"]] += supported
    return {kind: (passed[kind], total[kind]) for kind in total}


def share(part: int, whole: int) -> str:
    return f"{part}/{whole} ({part / whole:.0%})" if whole else "0/0"


def report_judged(tally: Judged, label: str, out=print) -> None:
    out(f"{label}:")
    for kind in (*TRUE_KINDS, "wrong_citation", *FALSE_KINDS):
        written = tally.written[kind]
        if kind in TRUE_KINDS:
            out(f"  true {kind:12} flagged (marked or removed): {share(tally.flagged[kind], written)}")
        elif kind == "wrong_citation":
            out(
                f"  right fact, wrong citation: re-cited {share(tally.recited_right, written)}, marked "
                f"{tally.flagged[kind]}, kept on the wrong source {tally.published_unmarked[kind]}"
            )
        else:
            out(f"  false {kind:11} published unmarked: {share(tally.published_unmarked[kind], written)}")
    out(f"  answerable questions declined: {share(tally.answerable_declined, tally.answerable)}")
    out(f"  unanswerable questions answered with cited text: {share(tally.unanswerable_answered, tally.unanswerable)}")
    out(f"  final answers that fell back to the approved draft: {share(tally.finals_fell_back, tally.finals)}")
    total = sum(tally.tokens.values())
    out(
        f"  judging's cost: {share(tally.tokens['judge'], total)} of the tokens, "
        f"{share(tally.calls['judge'], sum(tally.calls.values()))} of the model calls"
    )
    for line in tally.misses[:40]:
        out(f"    {line}")
    for question in tally.declined:
        out(f"    declined: {question}")


def report_offline(tally: Offline, checks: dict[str, tuple[int, int]], out=print) -> None:
    out("offline (no model; the word check decides):")
    out(f"  answerable questions declined: {share(tally.declined, tally.answerable)}")
    out(f"  unanswerable questions answered with cited text: {share(tally.answered, tally.unanswerable)}")
    out(f"  drafts citing the passage that answers the question: {share(tally.cites_answer, tally.answerable)}")
    for question in tally.declined_questions:
        out(f"    declined: {question}")
    for question in tally.missed_answers:
        out(f"    answer passage not cited: {question}")
    out("  word check on the labelled claims (passed, against the page each cites):")
    for kind, (passed, total) in sorted(checks.items()):
        truth = (
            "true"
            if kind in ("verbatim", "paraphrased")
            else "true, wrong page"
            if kind == "wrong_citation"
            else "false"
        )
        out(f"    {kind:15} ({truth}): passed {share(passed, total)}")


async def evaluate_all(only: int | None, judge_errors: list[float]) -> None:
    """Each way in turn, printed as it finishes."""
    for error in judge_errors:
        started = time.perf_counter()
        tally = await evaluate_judged(judge_error=error, only=only)
        report_judged(tally, f"judge wrong on {error:.0%} of claims ({time.perf_counter() - started:.0f} s)")
    started = time.perf_counter()
    offline = await evaluate_offline(only=only)
    report_offline(offline, word_check_by_category())
    print(f"  ({time.perf_counter() - started:.0f} s)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--only", type=int, default=None, help="the first N answerable questions (and N/4 others)")
    parser.add_argument(
        "--judge-error", type=float, action="append", help="share of claims the judge gets wrong (repeatable)"
    )
    args = parser.parse_args()
    asyncio.run(evaluate_all(args.only, args.judge_error or [0.0, 0.2]))


if __name__ == "__main__":
    main()
