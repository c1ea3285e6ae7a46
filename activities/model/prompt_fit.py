"""Page text cut to fit a prompt by relevance, not from the end.

Each page is split into passages (sentences and lines, long ones chopped); when a page is over its
allowance, the passages that best match the query (BM25 over the stems retrieval uses) are kept, in the
page's own order, with ``[...]`` where text was left out, so a page whose answer is at its end still
has it. The allowance is shared fairly across pages: each gets an equal share, and a page that needs
less leaves the rest to the others.
"""

from __future__ import annotations

import math
import re
from collections import Counter
from dataclasses import dataclass

from activities.model.context_window import estimate_tokens
from activities.search.retrieval import BM25_B, BM25_K1, stems

__all__ = ["GAP", "PromptCannotFit", "cut_pages", "relevance"]

GAP = " [...] "
_PIECE_CHARS = 400  # a passage longer than this (a page without punctuation) is chopped at words
_BREAK = re.compile(r"(?<=[.!?])\s+|\s*\n\s*")


class PromptCannotFit(Exception):
    """Even with all page text cut, the prompt needs ``needed`` tokens, more than the ``budget`` the
    model's context window leaves for it."""

    def __init__(self, needed: int, budget: int) -> None:
        super().__init__(f"the prompt needs {needed} tokens without its page text; the window leaves {budget}")
        self.needed = needed
        self.budget = budget


@dataclass(frozen=True)
class _Piece:
    start: int
    end: int
    chars: int
    tokens: int
    counts: Counter[str]


def cut_pages(texts: list[str], query: str, *, chars: int, tokens: int | None = None) -> list[str]:
    """Each text within ``chars`` characters, and all of them together within ``tokens`` (estimated),
    keeping the passages most relevant to ``query``."""
    pieces = [_pieces(text) for text in texts]
    score = _Scorer(pieces, query)
    cut = [_select(text, own, score, chars, math.inf) for text, own in zip(texts, pieces, strict=True)]
    if tokens is None or sum(estimate_tokens(c) for c in cut) <= tokens:
        return cut
    shares = _fair_shares([estimate_tokens(c) for c in cut], tokens)
    return [_select(t, own, score, chars, share) for t, own, share in zip(texts, pieces, shares, strict=True)]


def relevance(texts: list[str], query: str) -> list[float]:
    """How well each text's best passage matches ``query`` (BM25)."""
    pieces = [_pieces(text) for text in texts]
    score = _Scorer(pieces, query)
    return [max((score(p) for p in own), default=0.0) for own in pieces]


def _pieces(text: str) -> list[_Piece]:
    spans: list[tuple[int, int]] = []
    at = 0
    for found in [*_BREAK.finditer(text), None]:
        end = found.start() if found else len(text)
        while end - at > _PIECE_CHARS:  # chop at the last space before the limit
            cut = text.rfind(" ", at + 1, at + _PIECE_CHARS)
            cut = cut if cut > at else at + _PIECE_CHARS
            spans.append((at, cut))
            at = cut
        if text[at:end].strip():
            spans.append((at, end))
        at = found.end() if found else end
    return [_Piece(s, e, e - s, estimate_tokens(text[s:e]), Counter(stems(text[s:e]))) for s, e in spans]


class _Scorer:
    """BM25 of a passage for the query, with statistics over every passage of the prompt's pages."""

    def __init__(self, pieces: list[list[_Piece]], query: str) -> None:
        every = [p for own in pieces for p in own]
        self._query = set(stems(query))
        self._df = Counter(term for p in every for term in p.counts.keys() & self._query)
        self._n = len(every)
        self._average = sum(sum(p.counts.values()) for p in every) / self._n if self._n else 1.0

    def __call__(self, piece: _Piece) -> float:
        norm = BM25_K1 * (1 - BM25_B + BM25_B * sum(piece.counts.values()) / (self._average or 1.0))
        score = 0.0
        for term in self._query:
            if tf := piece.counts.get(term, 0):
                idf = math.log((self._n + 1) / (self._df[term] + 0.5)) + 1.0
                score += idf * tf * (BM25_K1 + 1) / (tf + norm)
        return score


def _select(text: str, pieces: list[_Piece], score: _Scorer, chars: float, tokens: float) -> str:
    """The text whole when it fits; else its best passages that do, in the page's order."""
    whole = text.strip()
    if len(whole) <= chars and estimate_tokens(whole) <= tokens:
        return whole
    gap = len(GAP), estimate_tokens(GAP)
    ranked = sorted(range(len(pieces)), key=lambda i: (-score(pieces[i]), i))
    kept: set[int] = set()
    used_chars, used_tokens = 0, gap[1]  # a cut page ends with a gap mark
    for i in ranked:
        piece = pieces[i]
        if used_chars + piece.chars + gap[0] <= chars and used_tokens + piece.tokens + gap[1] <= tokens:
            kept.add(i)
            used_chars += piece.chars + gap[0]
            used_tokens += piece.tokens + gap[1]
    return _render(text, pieces, kept)


def _render(text: str, pieces: list[_Piece], kept: set[int]) -> str:
    parts: list[str] = []
    for i in sorted(kept):
        if i - 1 in kept:  # a neighbour: a line break or a space between them, as the page has it
            between = text[pieces[i - 1].end : pieces[i].start]
            parts[-1] += ("\n" if "\n" in between else " ") + text[pieces[i].start : pieces[i].end].strip()
        else:
            parts.append(text[pieces[i].start : pieces[i].end].strip())
    body = GAP.join(part.strip() for part in parts)
    if not parts:
        return GAP.strip()
    head = "" if 0 in kept else GAP.lstrip()
    tail = "" if len(pieces) - 1 in kept else GAP.rstrip()
    return head + body + tail


def _fair_shares(needs: list[int], total: int) -> list[int]:
    """``total`` split across needs: equal shares, what a small need leaves going to the others."""
    shares = [0] * len(needs)
    left = total
    for k, i in enumerate(sorted(range(len(needs)), key=needs.__getitem__)):
        shares[i] = min(needs[i], left // (len(needs) - k))
        left -= shares[i]
    return shares
