"""The ``verify_citations`` activity: is each cited claim said by a passage of a source it cites?

Two steps. Retrieval (activities/search/retrieval.py) finds, per claim, the passages (a sentence, or two side
by side) that could say it. Then a verdict: where a model is configured, the workflow has the model's
judge decide every claim from those candidates (``with_candidates``); offline, the word check here is the
verdict. The word check: a claim is supported when one passage of a source it cites holds at least
SUPPORT_THRESHOLD of its content words (weighted by rarity), every number it states, the same polarity
(a "not", "never", "without" on one side only breaks it) and every absolute word it uses ("all",
"always", "eliminates"), and the cited pages mention every name it uses (a capitalised word that does not
open its sentence). Asked to ``recite``, a claim its cited sources fail but another source passes is
supported by that one. The question gets a like test against every readable source, over passages of up
to four sentences (RELEVANCE_THRESHOLD). Passages that carry instructions planted for a model (``ignore
previous instructions``, mentions, requests to add links) support nothing, and a claim that repeats one
is ``injected``. The thresholds are calibrated by ``python -m bench.faithfulness`` (see bench/README.md).
Asked ``with_passages``, the check also answers, per claim and cited source, the best passage and its
score (for the evidence archive, workflows/evidence.py); every answer is bounded in number and length.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

from temporalio import activity

from activities.compute import compute
from activities.heartbeat import heartbeating
from activities.model.prompts import usable_sources
from activities.search.page_store import PageStore
from activities.search.retrieval import Passage, PassageIndex, numbers_in, passages, stems, terms_of, what_is_asked
from workflows.activity_io import ClaimCheck, ClaimVerdict, SupportingPassage, VerifyInput, VerifyOutput
from workflows.calls import VerifyCalls
from workflows.claims import Claim, split_claims, split_sentences
from workflows.declaring import implements
from workflows.evidence import EVIDENCE_BYTES, MAX_PASSAGES, cut, utf8_size
from workflows.models import Page

__all__ = [
    "RELEVANCE_THRESHOLD",
    "SUPPORT_THRESHOLD",
    "SupportIndex",
    "VerifyActivities",
    "is_injection",
    "passages",
]

SUPPORT_THRESHOLD = 0.7
RELEVANCE_THRESHOLD = 0.3
CLAIM_WINDOW = 2  # sentences a claim may draw on
QUESTION_WINDOW = 4  # sentences an answer to the question may draw on
CITED_CANDIDATES = 3  # passages of the cited sources shown to the judge per claim (and one more, below)
OTHER_CANDIDATES = 1  # and of the run's other sources, so a claim cited to the wrong one can be re-cited
QUESTION_CANDIDATES = 4  # passages that best answer the question, shown to the judge
CANDIDATE_CHARS = 400

_WORD = re.compile(r"[A-Za-z0-9][A-Za-z0-9+#'-]*")

_QUOTED = re.compile(r"`[^`\n]*`|\"[^\"\n]*\"|\u201c[^\u201d\n]*\u201d")
_CITATION = re.compile(r"\[\d{1,3}\]")
_SENTENCE_START = re.compile(r"(?:^|[.!?:;]\s+|\n)\W*([A-Za-z0-9][A-Za-z0-9+#'-]*)")
# Words that turn a statement around: "retried" and "not retried" share every content word. What they
# turn around is the next few content words of their clause.
_NEGATION = re.compile(
    r"\b(?:not|never|no|none|nor|neither|nothing|nobody|cannot|without|lacks?|fails? to|misses)\b|n't\b",
    re.IGNORECASE,
)
_CLAUSE_END = re.compile(r"[,;:.!?()]|\b(?:but|while|whereas|which|so|and then)\b", re.IGNORECASE)
NEGATION_SCOPE = 4
# Words that make a statement stronger than a source that hedges: "reduces" is not "eliminates".
_ABSOLUTE = re.compile(
    r"\b(?:all|always|every|everything|entirely|completely|fully|guarantee[sd]?|eliminat\w*|impossible|"
    r"solely|forever|any\s+(?:size|number|amount))\b",
    re.IGNORECASE,
)
_INJECTION = re.compile(
    r"\b(?:ignore|disregard|forget|override)\b[^.\n]{0,40}\b(?:instructions?|prompts?|rules|guidelines)\b"
    r"|\b(?:system|developer)\s+prompt\b"
    r"|\byou\s+are\s+now\b"
    r"|\bas\s+an?\s+(?:ai|language\s+model|assistant)\b"
    r"|<\s*[!@]"
    r"|(?<![\w@])@\u200b?(?:channel|here|everyone)\b"
    r"|\b(?:add|include|insert|append|post)\b[^.\n]{0,40}\blinks?\b"
    r"|\b(?:assistants?|ai|models?|llms?|chatbots?|bots?)\b[^.\n]{0,30}\b(?:must|should)\b[^.\n]{0,20}\b(?:say|write|tell|answer|reply|respond|claim|include|add)\b",
    re.IGNORECASE,
)


def is_injection(text: str) -> bool:
    """Text that addresses a model with instructions (or carries mentions), as pages plant them.

    What is quoted (in code spans or quotation marks) is talked about, not said: a page explaining
    that `<!here>` notifies a channel, or that pages may say "ignore previous instructions", is evidence.
    """
    return bool(_INJECTION.search(_QUOTED.sub(" ", text)))


class SupportIndex(PassageIndex):
    """The passages of a run's readable sources (planted instructions left out), and the word check."""

    def __init__(self, pages_by_number: dict[int, str], width: int = CLAIM_WINDOW) -> None:
        super().__init__(pages_by_number, width, keep=lambda passage: not is_injection(passage))

    def unknown_names(self, text: str, numbers: Iterable[int]) -> set[str]:
        """The names of ``text`` (capitalised words that do not open a sentence) that none of the pages
        ``numbers`` mentions anywhere."""
        names = terms_of(" ".join(names_in(text)))
        known = frozenset().union(*(self.page_terms.get(n, frozenset()) for n in numbers))
        return set(names - known)

    def best(
        self, text: str, numbers: Iterable[int] | None = None, *, weighted: bool = True, claim: bool = True
    ) -> float:
        """The best share of ``text``'s content words that one passage says (0..1), each word weighted
        by its rarity (or, unweighted, counted once); only the sources ``numbers`` are searched (all of
        them when None). A passage that lacks a number the text states, turns it around or hedges what
        it says absolutely says none of it."""
        return self.best_passage(text, numbers, weighted=weighted, claim=claim)[0]

    def best_passage(
        self, text: str, numbers: Iterable[int] | None = None, *, weighted: bool = True, claim: bool = True
    ) -> tuple[float, str]:
        """The best share (as :meth:`best`) and the passage that holds it ("" when none holds any). A
        question (not a ``claim``) states nothing, so nothing in it must agree."""
        if not terms_of(text):
            return 0.0, ""
        best, holder = 0.0, ""
        for passage in self.all_passages(numbers):
            if claim and not agrees(text, passage):
                continue
            share = self.share(text, passage, weighted=weighted)
            if share > best:
                best, holder = share, passage.text
        return best, holder

    def supports(self, text: str, numbers: Iterable[int]) -> tuple[bool, float]:
        """The word check's verdict on ``text`` against the sources ``numbers``, and its score."""
        numbers = list(numbers)
        score = self.best(text, numbers)
        # A name the cited pages never mention is not theirs to vouch for, however many words match.
        return score >= SUPPORT_THRESHOLD and not self.unknown_names(text, numbers), score

    def candidates(self, text: str, cited: Iterable[int], question: str = "") -> list[SupportingPassage]:
        """The passages the judge sees for a claim: the best of the sources it cites, one more found with
        the question's words too (a claim that paraphrases its source may share more with the question
        than with the source), then the best of the other sources."""
        cited = list(cited)
        others = [n for n in self.by_number if n not in cited]
        found = self.ranked(text, cited, limit=CITED_CANDIDATES)
        found += self.ranked(text, cited, limit=1, context=what_is_asked(question), besides=found)
        found += self.ranked(text, others, limit=OTHER_CANDIDATES)
        return [as_supporting(p, CANDIDATE_CHARS) for p in found]


def question_relevance(index: SupportIndex, question: str) -> float:
    """How much of what the question asks about one passage of up to QUESTION_WINDOW sentences holds
    (0..1), its words weighted by rarity: a word no page has at all weighs most, since a question about
    something the pages never mention is not theirs to answer. A name (a capitalised word that does not
    open its sentence, and not an acronym, which pages spell in many ways) no page mentions makes it 0:
    "the capital of France" is not answered by a page about Capital One."""
    names = [name for name in names_in(question) if not name.isupper()]
    if index.unknown_names(" ".join(["Named", *names]), index.by_number):
        return 0.0
    return index.best(what_is_asked(question), weighted=True, claim=False)


def names_in(text: str) -> list[str]:
    """Capitalised words that do not open a sentence: what a text names."""
    plain = _CITATION.sub(" ", text)
    openers = {m.start(1) for m in _SENTENCE_START.finditer(plain)}
    return [m.group(0) for m in _WORD.finditer(plain) if m.group(0)[0].isupper() and m.start() not in openers]


def agrees(text: str, passage: Passage) -> bool:
    """Whether ``passage`` could say ``text`` at all: every number the text states, the same polarity,
    and every absolute word the text uses."""
    if not numbers_in(text) <= passage.numbers:
        return False
    if not _absolutes(text) <= _absolutes(passage.text):
        return False
    # Each word both say must be turned around by both, or by neither. A negation with nothing after it
    # ("…needed only when it cannot.") turns around something said before: it may answer the other's.
    shared = terms_of(text) & passage.terms
    (claimed, claim_elided), (said, said_elided) = _negated(text), _negated(passage.text)
    return ((claimed - said) & shared == frozenset() or said_elided) and (
        (said - claimed) & shared == frozenset() or claim_elided
    )


def _negated(text: str) -> tuple[frozenset[str], bool]:
    """The content words (as stems) that a negation in ``text`` turns around, and whether one of its
    negations turns around nothing after it."""
    found: set[str] = set()
    elided = False
    for cue in _NEGATION.finditer(text):
        rest = text[cue.end() :]
        if end := _CLAUSE_END.search(rest):
            rest = rest[: end.start()]
        scope = list(dict.fromkeys(stems(rest)))[:NEGATION_SCOPE]
        found.update(scope)
        elided = elided or not scope
    return frozenset(found), elided


def _absolutes(text: str) -> set[str]:
    return {" ".join(m.group(0).lower().split()) for m in _ABSOLUTE.finditer(text)}


def as_supporting(passage: Passage, limit: int, score: float = 0.0) -> SupportingPassage:
    return SupportingPassage(number=passage.number, text=cut(passage.text, limit), score=round(score, 3))


def check(data: VerifyInput) -> VerifyOutput:
    """The verdict on every cited claim of ``data.text``, and the question's relevance to the sources."""
    usable = usable_sources(data.sources, data.pages)
    texts = {source.number: page.text for source, page in usable}
    index = SupportIndex(texts)
    relevance = question_relevance(SupportIndex(texts, QUESTION_WINDOW), data.question) if usable else 0.0
    checks = []
    room = MAX_PASSAGES if data.with_passages else 0
    room_bytes = EVIDENCE_BYTES
    candidate_bytes = EVIDENCE_BYTES if data.with_candidates else 0
    for position, claim in enumerate(split_claims(data.text)):
        statement = claim.statement
        supported_by: list[int] = []
        candidates: list[SupportingPassage] = []
        if is_injection(claim.text):
            verdict, score = ClaimVerdict.INJECTED, 0.0
        else:
            supported, score = index.supports(statement, claim.numbers)
            if not supported and data.recite:
                supported_by = _other_support(index, statement, claim.numbers)
                supported = bool(supported_by)
            verdict = ClaimVerdict.SUPPORTED if supported else ClaimVerdict.UNSUPPORTED
            for candidate in index.candidates(statement, claim.numbers, data.question):
                if utf8_size(candidate.text) <= candidate_bytes:
                    candidates.append(candidate)
                    candidate_bytes -= utf8_size(candidate.text)
        support = _supporting(index, claim, room, room_bytes) if verdict is not ClaimVerdict.INJECTED else []
        room -= len(support)
        room_bytes -= sum(utf8_size(passage.text) for passage in support)
        checks.append(
            ClaimCheck(
                index=position,
                statement=statement,
                numbers=list(claim.numbers),
                verdict=verdict,
                score=round(score, 3),
                passages=support,
                candidates=candidates,
                supported_by=supported_by,
            )
        )
    planted = [s.text.strip() for s in split_sentences(data.text) if not s.numbers and is_injection(s.text)]
    asked = index.ranked(what_is_asked(data.question), limit=QUESTION_CANDIDATES) if data.with_candidates else []
    return VerifyOutput(
        claims=checks,
        planted=planted,
        relevance=round(relevance, 3),
        relevant=bool(usable) and relevance >= RELEVANCE_THRESHOLD,
        question_passages=[as_supporting(p, CANDIDATE_CHARS) for p in asked],
    )


def _other_support(index: SupportIndex, statement: str, cited: Iterable[int]) -> list[int]:
    """The one source, other than those cited, whose passages pass the word check for ``statement``."""
    scored = [(index.supports(statement, [n]), n) for n in index.by_number if n not in set(cited)]
    passing = sorted(((score, n) for (ok, score), n in scored if ok), key=lambda item: (-item[0], item[1]))
    return [passing[0][1]] if passing else []


def _supporting(index: SupportIndex, claim: Claim, room: int, room_bytes: int) -> list[SupportingPassage]:
    """Per source the claim cites, the passage that best supports it: at most ``room`` passages holding
    at most ``room_bytes`` of text."""
    found = []
    for number in claim.numbers[: max(room, 0)]:
        score, passage = index.best_passage(claim.statement, [number])
        text = cut(passage)
        if passage and utf8_size(text) <= room_bytes:
            found.append(SupportingPassage(number=number, text=text, score=round(score, 3)))
            room_bytes -= utf8_size(text)
    return found


class VerifyActivities:
    """``verify_citations``, with the page store the full texts come back from. ``model_judges``: this
    worker has a model configured, whose judge decides the claims (the answer says so, with the
    candidates the judge needs); without one, the word check's verdicts are final."""

    def __init__(self, pages: PageStore | None = None, *, model_judges: bool = False) -> None:
        self._pages = pages
        self._model_judges = model_judges

    @implements(VerifyCalls.verify_citations)
    async def verify_citations(self, data: VerifyInput) -> VerifyOutput:
        async with heartbeating():
            pages = await self._full_texts(data.pages)
            wanted = data.with_candidates and self._model_judges
            data = data.model_copy(update={"pages": pages, "with_candidates": wanted})
            checked = await compute(check, data)
            return checked.model_copy(update={"model_judges": wanted})

    async def _full_texts(self, pages: list[Page]) -> list[Page]:
        if self._pages is None or not any(page.stored for page in pages):
            return pages
        return await self._pages.restore(activity.info().workflow_id, pages)
