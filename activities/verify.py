"""The ``verify_citations`` activity: is each cited claim said by a passage of a source it cites?

Deterministic, no model: a claim's content words (activities/offline_text.key_terms) are weighted by
their rarity across the run's pages (IDF over passages), and the claim is supported when one passage
(a sentence, or two sentences side by side) of a source it cites holds at least SUPPORT_THRESHOLD of
that weight and every number the claim states, and the cited pages mention every name (capitalised
word) it uses. The question gets a like test against every readable source, its words counted alike,
over passages of up to four sentences (RELEVANCE_THRESHOLD): a run whose pages only share a word with
the question has nothing to cite. Passages that carry instructions planted for a model (``ignore previous
instructions``, mentions, requests to add links) support nothing, and a claim that repeats one is
``injected``. The thresholds are calibrated by ``python -m bench.faithfulness`` (see README.md).
Asked ``with_passages``, the check also answers, per claim and cited source, the best passage and its
score (for the evidence archive, workflows/evidence.py), bounded in number and length.
"""

from __future__ import annotations

import asyncio
import math
import re
from collections import Counter
from collections.abc import Iterable

from temporalio import activity

from activities.heartbeat import heartbeating
from activities.offline_text import key_terms
from activities.page_store import PageStore
from activities.prompts import usable_sources
from workflows import VERIFY_CITATIONS
from workflows.activity_io import ClaimCheck, ClaimVerdict, SupportingPassage, VerifyInput, VerifyOutput
from workflows.claims import Claim, split_claims, split_sentences
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
RELEVANCE_THRESHOLD = 0.6
MAX_PASSAGES_PER_PAGE = 2_000
STEM_CHARS = 5
CLAIM_WINDOW = 2  # sentences a claim may draw on
QUESTION_WINDOW = 4  # sentences an answer to the question may draw on

_SENTENCE_END = re.compile(r"(?<=[.!?])\s+|\n\s*\n|\n(?=\s*(?:[-*+#|>]|\d+[.)])\s)")
_WORD = re.compile(r"[A-Za-z0-9][A-Za-z0-9+#'-]*")  # as activities/offline_text.key_terms reads words
_QUOTED = re.compile(r"`[^`\n]*`|\"[^\"\n]*\"|\u201c[^\u201d\n]*\u201d")
_SUFFIXES = (
    ("ations", ""),
    ("ation", ""),
    ("ings", ""),
    ("ing", ""),
    ("ies", "y"),
    ("ied", "y"),
    ("ie", "y"),  # key_terms has already dropped a plural's "s": "retries" comes as "retrie"
    ("ed", ""),
    ("es", ""),
    ("ers", ""),
    ("er", ""),
    ("ly", ""),
    ("s", ""),
)
_NUMBER = re.compile(r"\b\d+(?:[.,]\d+)*\b")
_CITATION = re.compile(r"\[\d{1,3}\]")
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


def passages(text: str, width: int = 2) -> list[str]:
    """A page's sentences, and each run of up to ``width`` neighbouring sentences: what a text is checked against."""
    sentences = [" ".join(s.split()) for s in _SENTENCE_END.split(text) if s and s.strip()]
    sentences = sentences[:MAX_PASSAGES_PER_PAGE]
    runs = [" ".join(sentences[i : i + size]) for size in range(2, width + 1) for i in range(len(sentences) - size + 1)]
    return sentences + runs


def terms_of(text: str) -> frozenset[str]:
    """Content words cut to their first STEM_CHARS letters: "verify", "verifies" and "verification" match."""
    return frozenset(_stem(term) for term in key_terms(text))


def _stem(word: str) -> str:
    for suffix, replacement in _SUFFIXES:
        if word.endswith(suffix) and len(word) - len(suffix) >= 3:
            word = word[: -len(suffix)] + replacement
            break
    return word[:STEM_CHARS]


class SupportIndex:
    """The passages of a run's readable sources, by source number, with IDF weights over all of them."""

    def __init__(self, pages_by_number: dict[int, str], width: int = CLAIM_WINDOW) -> None:
        # Per source: each passage's terms, the numbers it states, and its text (for the evidence archive).
        self._passages: dict[int, list[tuple[frozenset[str], frozenset[str], str]]] = {}
        self._page_terms: dict[int, frozenset[str]] = {}
        document_frequency: Counter[str] = Counter()
        count = 0
        for number, text in pages_by_number.items():
            self._page_terms[number] = terms_of(text)
            units = []
            for passage in passages(text, width):
                if is_injection(passage):
                    continue  # planted instructions are not evidence of anything
                terms = terms_of(passage)
                units.append((terms, frozenset(_NUMBER.findall(passage)), passage))
                document_frequency.update(terms)
                count += 1
            self._passages[number] = units
        self._df = document_frequency
        self._n = count

    def weight(self, term: str) -> float:
        return math.log((self._n + 1) / (self._df[term] + 0.5)) + 1.0

    def unknown_names(self, text: str, numbers: Iterable[int]) -> set[str]:
        """The capitalised words (names) of ``text`` that none of the pages ``numbers`` mentions anywhere."""
        names = terms_of(" ".join(w for w in _WORD.findall(_CITATION.sub(" ", text)) if w[0].isupper()))
        known = frozenset().union(*(self._page_terms.get(n, frozenset()) for n in numbers))
        return set(names - known)

    def best(self, text: str, numbers: Iterable[int] | None = None, *, weighted: bool = True) -> float:
        """The best share of ``text``'s content words that one passage holds (0..1), each word weighted
        by its rarity (or, unweighted, counted once).

        Only the sources ``numbers`` are searched (all of them when None). A passage that lacks a
        number the text states scores 0.
        """
        return self.best_passage(text, numbers, weighted=weighted)[0]

    def best_passage(
        self, text: str, numbers: Iterable[int] | None = None, *, weighted: bool = True
    ) -> tuple[float, str]:
        """The best share (as :meth:`best`) and the passage that holds it ("" when none holds any)."""
        terms = set(terms_of(_CITATION.sub(" ", text)))
        if not terms:
            return 0.0, ""
        stated = set(_NUMBER.findall(_CITATION.sub(" ", text)))
        weight = self.weight if weighted else (lambda _: 1.0)
        total = sum(weight(t) for t in terms)
        wanted = self._passages.keys() if numbers is None else [n for n in numbers if n in self._passages]
        best, holder = 0.0, ""
        for number in wanted:
            for passage_terms, passage_numbers, passage in self._passages[number]:
                if not stated <= passage_numbers:
                    continue
                share = sum(weight(t) for t in terms & passage_terms) / total
                if share > best:
                    best, holder = share, passage
        return best, holder


def check(data: VerifyInput) -> VerifyOutput:
    """The verdict on every cited claim of ``data.text``, and the question's relevance to the sources."""
    usable = usable_sources(data.sources, data.pages)
    texts = {source.number: page.text for source, page in usable}
    index = SupportIndex(texts)
    # Relevance counts the question's words alike: a rare word shared with a page must not carry it.
    relevance = SupportIndex(texts, QUESTION_WINDOW).best(data.question, weighted=False) if usable else 0.0
    checks = []
    room = MAX_PASSAGES if data.with_passages else 0
    room_bytes = EVIDENCE_BYTES
    for position, claim in enumerate(split_claims(data.text)):
        statement = claim.statement
        if is_injection(claim.text):
            verdict, score = ClaimVerdict.INJECTED, 0.0
        else:
            score = index.best(statement, claim.numbers)
            # A name the cited pages never mention is not theirs to vouch for, however many words match.
            named = not index.unknown_names(statement, claim.numbers)
            verdict = ClaimVerdict.SUPPORTED if score >= SUPPORT_THRESHOLD and named else ClaimVerdict.UNSUPPORTED
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
            )
        )
    planted = [s.text.strip() for s in split_sentences(data.text) if not s.numbers and is_injection(s.text)]
    return VerifyOutput(
        claims=checks,
        planted=planted,
        relevance=round(relevance, 3),
        relevant=bool(usable) and relevance >= RELEVANCE_THRESHOLD,
    )


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
    """``verify_citations``, with the page store the full texts come back from."""

    def __init__(self, pages: PageStore | None = None) -> None:
        self._pages = pages

    @activity.defn(name=VERIFY_CITATIONS)
    async def verify_citations(self, data: VerifyInput) -> VerifyOutput:
        async with heartbeating():
            pages = await self._full_texts(data.pages)
            return await asyncio.to_thread(check, data.model_copy(update={"pages": pages}))

    async def _full_texts(self, pages: list[Page]) -> list[Page]:
        if self._pages is None or not any(page.stored for page in pages):
            return pages
        return await self._pages.restore(activity.info().workflow_id, pages)
