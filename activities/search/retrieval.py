"""Finding the passages of a run's pages that could say a given text: BM25 over sentences and runs of
neighbouring sentences, with content words cut to short stems so "verify", "verifies" and "verification"
meet.

Retrieval finds candidates and ranks them; it does not decide. It is tuned for recall: a claim that
paraphrases its source must still find the passage it paraphrases among the first few. Whether a
passage says the claim is decided by the model's judge, or offline by the word check
(activities/verify.py). The offline writer picks its sentences with it too (activities/model/offline_text.py).
"""

from __future__ import annotations

import math
import re
from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass

from activities.model.offline_text import key_terms

__all__ = ["MAX_PASSAGES_PER_PAGE", "Passage", "PassageIndex", "numbers_in", "passages", "stem", "terms_of"]

MAX_PASSAGES_PER_PAGE = 2_000
STEM_CHARS = 5
# BM25's usual constants: term frequency saturates at about k1, and b = 0.75 of the length normalisation.
BM25_K1 = 1.2
BM25_B = 0.75

_SENTENCE_END = re.compile(r"(?<=[.!?])\s+|\n\s*\n|\n(?=\s*(?:[-*+#|>]|\d+[.)])\s)")
_NUMBER = re.compile(r"\b\d+(?:[.,/]\d+)*\b")
# Numbers written as words count as numbers ("seven days" is "7 days"); magnitudes are kept as words.
# "one" is not among them: "one lamp" is "a single lamp" more often than a count.
_NUMBER_WORDS = {
    word: str(value)
    for value, word in enumerate(
        [
            "zero",
            "",
            "two",
            "three",
            "four",
            "five",
            "six",
            "seven",
            "eight",
            "nine",
            "ten",
            "eleven",
            "twelve",
            "thirteen",
            "fourteen",
            "fifteen",
            "sixteen",
            "seventeen",
            "eighteen",
            "nineteen",
            "twenty",
        ]
    )
} | {"thirty": "30", "forty": "40", "fifty": "50", "sixty": "60", "ninety": "90", "twice": "2", "half": "1/2"}
_MAGNITUDES = frozenset({"hundred", "hundreds", "thousand", "thousands", "million", "millions", "billion", "dozen"})
# Units a number is counted in: "seven seconds" is not "seven milliseconds".
_UNITS = frozenset(
    [
        "ms",
        "millisecond",
        "milliseconds",
        "second",
        "seconds",
        "minute",
        "minutes",
        "hour",
        "hours",
        "day",
        "days",
        "week",
        "weeks",
        "month",
        "months",
        "year",
        "years",
        "kb",
        "mb",
        "gb",
        "tb",
        "kib",
        "mib",
        "gib",
        "bytes",
        "byte",
        "characters",
        "character",
        "percent",
        "events",
        "tokens",
    ]
)
_WORDS = re.compile(r"[a-z]+")
_CITATION = re.compile(r"\[\d{1,3}\]")
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


def passages(text: str, width: int = 2) -> list[str]:
    """A page's sentences, and each run of up to ``width`` neighbouring sentences."""
    sentences = [" ".join(s.split()) for s in _SENTENCE_END.split(text) if s and s.strip()]
    sentences = sentences[:MAX_PASSAGES_PER_PAGE]
    runs = [" ".join(sentences[i : i + size]) for size in range(2, width + 1) for i in range(len(sentences) - size + 1)]
    return sentences + runs


def stem(word: str) -> str:
    for suffix, replacement in _SUFFIXES:
        if word.endswith(suffix) and len(word) - len(suffix) >= 3:
            word = word[: -len(suffix)] + replacement
            break
    return word[:STEM_CHARS]


def stems(text: str) -> list[str]:
    """Every content word of ``text`` (repeats kept, citations left out), as a stem."""
    words = re.findall(r"[a-z0-9][a-z0-9+#'-]*", _CITATION.sub(" ", text.replace("\u2019", "'")).lower())
    # "what's" is "what", "can't" is "can": the rest of a contraction says nothing about the topic.
    words = [word.removesuffix("n't").split("'", 1)[0] for word in words]
    return [stem(term) for word in words for term in key_terms(word)]


# Words of how people ask, not of what they ask about: "what happens if…", "is it OK to…", "a big deal".
QUESTION_FILLER = frozenset(
    stems(
        "lot go ok okay am deal enough ever box kill blow hit really actually good best way point thing happen "
        "happens difference anyone someone allowed setup latest advance advances keep keeps still wrong doing "
        "matter need want tell know"
    )
)


def what_is_asked(question: str) -> str:
    """The question without the words of how it is asked (QUESTION_FILLER)."""
    words = re.findall(r"[A-Za-z0-9][A-Za-z0-9+#'-]*", question)
    return " ".join(word for word in words if not set(stems(word)) & QUESTION_FILLER)


def terms_of(text: str) -> frozenset[str]:
    """The distinct stems of ``text``'s content words."""
    return frozenset(stems(text))


def numbers_in(text: str) -> frozenset[str]:
    """The numbers ``text`` states, digits or words, with the magnitudes and units it counts in."""
    plain = _CITATION.sub(" ", text)
    words = _WORDS.findall(plain.lower())
    found = set(_NUMBER.findall(plain)) | {_NUMBER_WORDS[w] for w in words if w in _NUMBER_WORDS}
    found |= {w for w in words if w in _MAGNITUDES or w in _UNITS}
    return frozenset(found)


@dataclass(frozen=True)
class Passage:
    """A sentence or a run of neighbouring sentences of source ``number``."""

    number: int
    text: str
    counts: Counter[str]
    numbers: frozenset[str]

    @property
    def terms(self) -> frozenset[str]:
        return frozenset(self.counts)


class PassageIndex:
    """The passages of a run's readable pages, by source number, with BM25 statistics over all of them.

    ``keep`` leaves passages out of the index (planted instructions are evidence of nothing).
    """

    def __init__(
        self, pages_by_number: dict[int, str], width: int = 2, keep: Callable[[str], bool] = lambda _: True
    ) -> None:
        self.by_number: dict[int, list[Passage]] = {}
        self.page_terms: dict[int, frozenset[str]] = {}
        frequency: Counter[str] = Counter()
        lengths = 0
        for number, text in pages_by_number.items():
            self.page_terms[number] = terms_of(text)
            units = []
            for piece in passages(text, width):
                if not keep(piece):
                    continue
                counts = Counter(stems(piece))
                units.append(Passage(number, piece, counts, numbers_in(piece)))
                frequency.update(counts.keys())
                lengths += sum(counts.values())
            self.by_number[number] = units
        self._df = frequency
        self._n = sum(len(units) for units in self.by_number.values())
        self._average = lengths / self._n if self._n else 1.0

    def weight(self, term: str) -> float:
        """How rare ``term`` is across the passages (an IDF that stays positive)."""
        return math.log((self._n + 1) / (self._df[term] + 0.5)) + 1.0

    def all_passages(self, numbers: Iterable[int] | None = None) -> Iterable[Passage]:
        wanted = self.by_number.keys() if numbers is None else [n for n in numbers if n in self.by_number]
        for number in wanted:
            yield from self.by_number[number]

    def bm25(self, query: Iterable[str], passage: Passage) -> float:
        length = sum(passage.counts.values())
        norm = BM25_K1 * (1 - BM25_B + BM25_B * length / self._average)
        score = 0.0
        for term in set(query):
            tf = passage.counts.get(term, 0)
            if tf:
                score += self.weight(term) * tf * (BM25_K1 + 1) / (tf + norm)
        return score

    def ranked(
        self,
        text: str,
        numbers: Iterable[int] | None = None,
        *,
        limit: int = 3,
        context: str = "",
        besides: Iterable[Passage] = (),
    ) -> list[Passage]:
        """The ``limit`` passages of the sources ``numbers`` (all when None) that best match ``text``, by
        BM25, best first; with ``context`` (the question a claim answers), its words count too. A passage
        that only repeats a better one's sentences, or one of ``besides``, is left out."""
        query, around = terms_of(text), terms_of(context)
        if not query:
            return []
        scored = [(self.bm25(query, p) + self.bm25(around, p), p) for p in self.all_passages(numbers)]
        scored.sort(key=lambda item: -item[0])
        found: list[Passage] = []
        kept = list(besides)
        for score, passage in scored:
            if score <= 0 or len(found) >= limit:
                break
            if any(passage.text in other.text or other.text in passage.text for other in kept):
                continue
            found.append(passage)
            kept.append(passage)
        return found

    def share(self, text: str, passage: Passage, *, weighted: bool = True) -> float:
        """The share of ``text``'s content words that ``passage`` holds (0..1), each weighted by rarity."""
        terms = terms_of(text)
        if not terms:
            return 0.0
        weight = self.weight if weighted else (lambda _: 1.0)
        return sum(weight(t) for t in terms & passage.terms) / sum(weight(t) for t in terms)
