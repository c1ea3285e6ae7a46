"""Words and sentences for the offline model: key terms, and the page sentences that share the most of them."""

from __future__ import annotations

import re

from workflows.models import Page, Source

__all__ = [
    "STYLE_WORDS",
    "Pick",
    "candidates",
    "cited_bullets",
    "find_gaps",
    "key_terms",
    "pick_for_feedback",
    "topic_of",
]

FEEDBACK_SENTENCES = 2
# A sub-question is covered when one readable page holds at least this share of its content words.
GAP_COVERAGE = 0.5
GAP_CONTEXT_WORDS = 3
MAX_SENTENCES_PER_PAGE = 300

_STOP = frozenset(
    [
        "a",
        "an",
        "the",
        "and",
        "or",
        "but",
        "of",
        "to",
        "in",
        "on",
        "for",
        "with",
        "by",
        "from",
        "at",
        "as",
        "is",
        "are",
        "was",
        "were",
        "be",
        "been",
        "being",
        "it",
        "its",
        "this",
        "that",
        "these",
        "those",
        "what",
        "which",
        "who",
        "whom",
        "whose",
        "when",
        "where",
        "why",
        "how",
        "do",
        "does",
        "did",
        "can",
        "could",
        "should",
        "would",
        "will",
        "shall",
        "may",
        "might",
        "must",
        "i",
        "you",
        "we",
        "they",
        "he",
        "she",
        "me",
        "my",
        "our",
        "your",
        "their",
        "them",
        "about",
        "into",
        "over",
        "than",
        "then",
        "there",
        "here",
        "not",
        "no",
        "so",
        "if",
        "vs",
        "versus",
        "between",
        "compare",
        "explain",
        "tell",
        "give",
        "please",
        "also",
        "more",
        "add",
        "include",
        "some",
        "any",
        "other",
        "such",
        "just",
        "very",
        "use",
        "used",
        "using",
        "get",
        "make",
        "like",
        "answer",
        "draft",
        "section",
        "part",
        "bit",
    ]
)
# Words about how the answer reads, not what it covers: they pick no sentences and ask for no new research.
STYLE_WORDS = frozenset(
    [
        "shorter",
        "short",
        "brief",
        "briefly",
        "briefer",
        "concise",
        "condense",
        "trim",
        "tl",
        "dr",
        "tldr",
        "long",
        "less",
        "longer",
        "tone",
        "wording",
        "formatting",
        "format",
        "readable",
        "clearer",
        "clear",
        "typo",
        "typos",
        "fix",
        "good",
        "great",
        "looks",
        "nice",
        "thanks",
        "ok",
        "okay",
    ]
)
_WORD = re.compile(r"[A-Za-z0-9][A-Za-z0-9+#'-]*")
_CITE_MARK = re.compile(r"\s*\[(?:\d+(?:\s*[,\u2013-]\s*\d+)*|citation needed|note \d+|[a-z])\]", re.I)
_CODE_BLOCK = re.compile(r"```.*?(```|$)", re.DOTALL)
_SENTENCE_END = re.compile(r"(?<=[.!?])\s+(?=[\"'(\[A-Z0-9])|\n+")


def key_terms(text: str, *, extra_stop: frozenset[str] = frozenset()) -> list[str]:
    """Lower-cased content words (plural 's' dropped), in order of first appearance."""
    seen: dict[str, None] = {}
    for word in _WORD.findall(text.lower()):
        word = word.strip("'-")
        if len(word) < 2 or word in _STOP or word in extra_stop:
            continue
        if len(word) > 3 and word.endswith("s") and not word.endswith("ss"):
            word = word[:-1]
        seen.setdefault(word, None)
    return list(seen)


def topic_of(question: str) -> str:
    words = [w for w in _WORD.findall(question) if w.lower() not in _STOP]
    return " ".join(words[:6]) or question.strip().rstrip("?.!").strip()


# ---------------------------------------------------------------- gaps


def find_gaps(question: str, sub_questions: list[str], pages: list[Page], limit: int) -> list[str]:
    """Follow-up queries for the sub-questions no read page covers, at most ``limit``, in order.

    A sub-question is a gap when no readable page holds GAP_COVERAGE of its content words. Its
    follow-up query is the question's first content words for context, then the sub-question's words
    that no page holds at all (all of them when each is somewhere). A query already searched is not
    repeated, so a follow-up that found nothing new ends the loop.
    """
    held = [set(key_terms(f"{page.title} {page.text}")) for page in pages if page.ok and page.text.strip()]
    anywhere = set().union(*held)
    topic = key_terms(question)
    seen = {_query_key(q) for q in sub_questions}
    queries: list[str] = []
    for sub in sub_questions:
        terms = key_terms(sub)
        if not terms or max((len(set(terms) & page) for page in held), default=0) >= GAP_COVERAGE * len(terms):
            continue
        missing = [term for term in terms if term not in anywhere] or terms
        context = [term for term in topic if term not in missing][:GAP_CONTEXT_WORDS]
        query = " ".join([*context, *missing])
        if _query_key(query) not in seen and len(queries) < limit:
            seen.add(_query_key(query))
            queries.append(query)
    return queries


def _query_key(query: str) -> str:
    return " ".join(key_terms(query))


# ---------------------------------------------------------------- sentence picking

# A candidate: (source position, sentence position, source number, sentence text).
Pick = tuple[int, int, int, str]


def candidates(usable: list[tuple[Source, Page]]) -> list[Pick]:
    """The sentences of the pages that could be quoted as statements, in page order."""
    return _candidates(usable)


def _candidates(usable: list[tuple[Source, Page]]) -> list[Pick]:
    found: list[Pick] = []
    seen: set[str] = set()
    for index, (source, page) in enumerate(usable):
        prose = _CODE_BLOCK.sub("\n", page.text)
        for position, raw in enumerate(_SENTENCE_END.split(prose)[:MAX_SENTENCES_PER_PAGE]):
            sentence = " ".join(_CITE_MARK.sub("", raw).split()).removeprefix("- ").removeprefix("* ")
            letters = sum(ch.isalpha() for ch in sentence)
            if not 30 <= len(sentence) <= 400 or letters < 0.6 * len(sentence):
                continue
            # Headings, table rows and code fences are structure, not statements to quote.
            if raw.lstrip().startswith(("#", "|", "```")):
                continue
            if len(sentence.split()) < 5 or sentence.lower() in seen:
                continue
            seen.add(sentence.lower())
            found.append((index, position, source.number, sentence))
    return found


def _overlap(sentence: str, terms: set[str]) -> int:
    return len(set(key_terms(sentence)) & terms)


def pick_for_feedback(usable: list[tuple[Source, Page]], feedback: str, already: list[Pick]) -> list[Pick]:
    terms = set(key_terms(feedback, extra_stop=STYLE_WORDS))
    scored = [(_overlap(c[3], terms), c) for c in _candidates(usable) if c not in already]
    ranked = sorted((s for s in scored if s[0] > 0), key=lambda s: (-s[0], s[1][1], s[1][0]))
    return [c for _, c in ranked[:FEEDBACK_SENTENCES]]


def cited_bullets(picked: list[Pick], *, in_page_order: bool = True) -> list[str]:
    ordered = sorted(picked) if in_page_order else picked
    return [f"- {sentence} [{number}]" for _, _, number, sentence in ordered]
