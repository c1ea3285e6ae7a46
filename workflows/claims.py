"""A draft's claims: its sentences and bullets, each with the [n] citations it carries.

Pure functions of text, so the workflow can split, mark and remove claims itself and replay gives
the same answer. Whether a claim is supported is decided by the ``verify_citations`` activity
(activities/verify.py), which reads the page texts; it uses the same splitting.
"""

from __future__ import annotations

import re
from collections.abc import Collection, Mapping
from dataclasses import dataclass

__all__ = ["UNVERIFIED_MARK", "Claim", "edit_claims", "split_claims", "split_sentences"]

UNVERIFIED_MARK = "⚠ unverified"

_CITATION = re.compile(r"\[(\d{1,3})\]")
# Citations (or a mark) after a sentence's full stop belong to that sentence.
_ONLY_CITATIONS = re.compile(r"^[\s.,;:!?]*(?:(?:\[\d{1,3}\]|" + UNVERIFIED_MARK + r")[\s.,;:!?]*)+$")
# A sentence ends at . ! or ? followed by a space and something that can start a sentence (or a citation),
# and after a mark.
_SENTENCE_END = re.compile(r"(?<=[.!?])\s+(?=[\"'(\[*_A-Z0-9\u26a0])|(?<=" + UNVERIFIED_MARK + r")\s+")
_LIST_MARK = re.compile(r"^\s*(?:[-*+•]|\d{1,3}[.)])\s+")
_FENCE = re.compile(r"^\s*```")


@dataclass(frozen=True)
class Claim:
    """One sentence or bullet of a draft: where it is (``start``..``end`` in the text), what it says, what it cites."""

    start: int
    end: int
    text: str
    numbers: tuple[int, ...]

    @property
    def statement(self) -> str:
        """The claim without its citations or a mark."""
        plain = _CITATION.sub("", self.text).replace(UNVERIFIED_MARK, "")
        return " ".join(plain.split()).strip(" *_")


def split_claims(text: str) -> list[Claim]:
    """Every sentence or bullet that cites at least one source, in order. Code blocks are not claims.

    A citation standing after a sentence's full stop ("... durable. [1]") belongs to that sentence.
    """
    return [sentence for sentence in split_sentences(text) if sentence.numbers]


def split_sentences(text: str) -> list[Claim]:
    """Every sentence or bullet outside code blocks, with the citations it carries (maybe none)."""
    claims: list[Claim] = []
    offset = 0
    in_code = False
    for line in text.splitlines(keepends=True):
        start_of_line = offset
        offset += len(line)
        if _FENCE.match(line):
            in_code = not in_code
            continue
        if in_code or not line.strip():
            continue
        body_start = start_of_line + (m.end() if (m := _LIST_MARK.match(line)) else 0)
        body = text[body_start : start_of_line + len(line.rstrip("\r\n"))]
        pieces: list[tuple[int, int]] = []
        cursor = 0
        for match in _SENTENCE_END.finditer(body):
            pieces.append((cursor, match.start()))
            cursor = match.end()
        pieces.append((cursor, len(body)))
        merged: list[tuple[int, int]] = []
        for start, end in pieces:
            if merged and _ONLY_CITATIONS.match(body[start:end]):
                merged[-1] = (merged[-1][0], end)
            else:
                merged.append((start, end))
        for start, end in merged:
            sentence = body[start:end]
            numbers = tuple(dict.fromkeys(int(n) for n in _CITATION.findall(sentence)))
            if sentence.strip():
                claims.append(Claim(body_start + start, body_start + end, sentence, numbers))
    return claims


def edit_claims(
    text: str,
    *,
    mark: set[int],
    remove: set[int],
    drop: Collection[str] = (),
    recite: Mapping[int, tuple[int, ...]] | None = None,
) -> str:
    """The text with claims (by their index in :func:`split_claims`) marked as unverified or removed, the
    uncited sentences whose text is in ``drop`` removed, and the claims in ``recite`` citing the sources
    given for them instead of their own.

    A bullet whose only sentence is removed goes whole, so no empty bullet is left behind.
    """
    recite = recite or {}
    sentences = split_sentences(text)
    cited = [sentence for sentence in sentences if sentence.numbers]
    edits = [(claim, i in remove) for i, claim in enumerate(cited) if i in mark | remove or recite.get(i)]
    edits += [(s, True) for s in sentences if not s.numbers and s.text.strip() in drop]
    for claim, removing in sorted(edits, key=lambda edit: -edit[0].start):
        if removing:
            line_start = text.rfind("\n", 0, claim.start) + 1
            line_end = text.find("\n", claim.end)
            line_end = len(text) if line_end < 0 else line_end
            lead = _LIST_MARK.sub("", text[line_start : claim.start])
            if not (lead + text[claim.end : line_end]).strip():  # the claim was the whole line: drop the line
                text = text[:line_start] + text[line_end + 1 :]
            elif not lead.strip():  # the first sentence of its line: the next one moves up
                text = text[: claim.start] + text[claim.end :].lstrip(" ")
            else:
                text = text[: claim.start].rstrip(" ") + text[claim.end :]
            continue
        index = cited.index(claim)
        rewritten = _recited(claim.text, recite[index]) if recite.get(index) else claim.text
        if index in mark and UNVERIFIED_MARK not in rewritten:
            rewritten += f" {UNVERIFIED_MARK}"
        text = text[: claim.start] + rewritten + text[claim.end :]
    return text


def _recited(sentence: str, numbers: tuple[int, ...]) -> str:
    """``sentence`` citing ``numbers``: its first citation becomes theirs, the others go."""
    new = "".join(f"[{n}]" for n in numbers)
    first = _CITATION.search(sentence)
    if first is None:
        return sentence
    rest = _CITATION.sub("", sentence[first.end() :])
    return sentence[: first.start()] + new + rest
