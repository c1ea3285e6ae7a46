"""Slack mrkdwn from text we do not control: a model's Markdown, a person's question.

Everything that reaches a mrkdwn field goes through here, so such text cannot notify a
channel, mention someone, or turn into a link Slack renders from ``<url|label>``:
``&``, ``<`` and ``>`` are escaped, and mention syntax is defused before that.
"""

from __future__ import annotations

import re
from collections.abc import Collection
from urllib.parse import quote, urlsplit

from workflows.guardrails import neutralise_mentions

__all__ = [
    "escape",
    "link",
    "markdown_for_slack",
    "markdown_to_mrkdwn",
    "mention",
    "neutralise_mentions",
    "safe",
    "split_text",
    "unescape",
    "unlinked",
]

_USER_ID = re.compile(r"^[UW][A-Z0-9]{2,30}$")
_SAFE_SCHEMES = ("http://", "https://", "mailto:")
# What Slack turns into a link by itself: a URL with a scheme, an e-mail address, a bare domain.
_LINKABLE = re.compile(
    r"(?i)(?:[a-z][a-z0-9+.-]*:(?://)?[^\s`]+"
    r"|[\w.+-]+@[\w-]+(?:\.[\w-]+)+"
    r"|(?<!\w)(?:[\w-]+\.)+[a-z]{2,}(?::\d+)?(?:/[^\s`]*)?)"
)


def escape(text: str) -> str:
    """Slack's three control characters: & < > (nothing else needs escaping)."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def unescape(text: str) -> str:
    """Undo Slack's entities (``&amp;`` ``&lt;`` ``&gt;``) in text Slack sends us, such as a command's text."""
    return text.replace("&lt;", "<").replace("&gt;", ">").replace("&amp;", "&")


def safe(text: str, limit: int | None = None) -> str:
    """Plain text made safe for a mrkdwn field; cut (ending in …) to at most ``limit`` characters."""
    result = escape(neutralise_mentions(text))
    if limit is None or len(result) <= limit:
        return result
    raw = text[:limit]
    result = escape(neutralise_mentions(raw))
    while len(result) > limit - 1:  # escaping makes a character up to 5 long: cut the source, measure again
        raw = raw[: len(raw) - max(1, (len(result) - limit + 1) // 5)]
        result = escape(neutralise_mentions(raw))
    return result + "…"


def unlinked(text: str, limit: int | None = None) -> str:
    """``safe`` text in which nothing becomes a link: each URL, bare domain or e-mail address is shown as
    code (Slack links none inside code). For text that may quote a page or a model: gap queries,
    pages that could not be read, a draft's problems."""
    raw = text if limit is None or len(text) <= limit else text[: limit - 1] + "…"
    raw = raw.replace("`", "'")  # a stray backtick could pair with ours and let an address out of its code
    pieces: list[str] = []
    end = 0
    for match in _LINKABLE.finditer(raw):
        found = match.group().rstrip(".,;:!?)'\"")
        if not found or not any(mark in found for mark in ("//", ".", "@")):
            continue  # "why:" or "note:" is a word with a colon, not an address
        pieces.append(safe(raw[end : match.start()]))
        pieces.append(f"`{safe(found)}`")
        end = match.start() + len(found)
    pieces.append(safe(raw[end:]))
    return "".join(pieces)


def mention(user: str) -> str:
    """``<@U123>`` for a Slack user id; anything else (a CLI user name) as safe text."""
    return f"<@{user}>" if _USER_ID.match(user) else safe(user, 80)


def link(url: str, label: str, limit: int | None = None) -> str:
    """``<url|label>`` for an http(s)/mailto URL, the label cut to ``limit``; any other URL is shown, not linked."""
    url = url.strip()
    if url.lower().startswith("mcp://"):  # read through an MCP server: its title and the server, no address
        return f"{safe(label, limit)} (via MCP server {safe(urlsplit(url).hostname or '?', 80)})"
    if not url.lower().startswith(_SAFE_SCHEMES):
        return f"{safe(label, limit)} ({safe(url)})"
    target = quote(url, safe="/:?#[]@!$&'()*+,;=%~-._").replace("&", "&amp;")
    return f"<{target}|{safe(label, limit)}>"


# ------------------------------------------------------------------ Markdown → mrkdwn

_FENCE = re.compile(r"^\s*```")
_HEADING = re.compile(r"^\s{0,3}#{1,6}\s+(.*?)\s*#*\s*$")
_RULE = re.compile(r"^\s{0,3}([-*_])(?:\s*\1){2,}\s*$")
_BULLET = re.compile(r"^(\s*)[-*+]\s+(.*)$")
_QUOTE = re.compile(r"^\s{0,3}>\s?(.*)$")
# Code spans and links are taken out before escaping, and put back after.
_PROTECTED = re.compile(
    r"(`+)(.+?)\1|\[([^\]\n]+)\]\(\s*<?([^()\s<>]+(?:\([^()\s]*\))?)>?\s*\)"
    r"|(?<![\w/])((?:https?://|www\.)[^\s<>()\[\]`|]+[^\s<>()\[\]`|.,;:!?'\"])"
)
_BOLD = re.compile(r"(\*\*|__)(?=\S)(.+?)(?<=\S)\1")
_ITALIC = re.compile(r"(?<![*\w])\*(?=[^\s*])(.+?)(?<=[^\s*])\*(?![*\w])")
_STRIKE = re.compile(r"~~(?=\S)(.+?)(?<=\S)~~")
_HOLE = "\x00"


def _url_key(url: str) -> str:
    return url.strip().rstrip("/").lower()


def _inline(text: str, links_to: frozenset[str] | None = None) -> str:
    kept: list[str] = []

    def allowed(url: str) -> bool:
        return links_to is None or _url_key(url) in links_to

    def keep(match: re.Match[str]) -> str:
        if match.group(1):
            kept.append("`" + safe(match.group(2)) + "`")
        elif match.group(5):  # a bare URL: Slack links it by itself, so one that is not a source becomes code
            url = match.group(5)
            kept.append(safe(url) if allowed(url) else "`" + safe(url) + "`")
        elif allowed(match.group(4)):
            kept.append(link(match.group(4), match.group(3)))
        else:  # a link to somewhere that is not a source: its label, and the address as text that is not a link
            kept.append(f"{safe(match.group(3))} (`{safe(match.group(4).strip())}`)")
        return f"{_HOLE}{len(kept) - 1}{_HOLE}"

    text = safe(_PROTECTED.sub(keep, text.replace(_HOLE, "").replace("\x01", "")))
    text = _BOLD.sub("\x01\\2\x01", text)
    text = _ITALIC.sub(r"_\1_", text)
    text = _STRIKE.sub(r"~\1~", text).replace("\x01", "*")
    return re.sub(f"{_HOLE}(\\d+){_HOLE}", lambda m: kept[int(m.group(1))], text)


def _line(line: str, links_to: frozenset[str] | None) -> str:
    if match := _HEADING.match(line):
        return f"*{_inline(match.group(1).replace('**', '').replace('__', ''), links_to)}*"
    if _RULE.match(line):
        return "──────────"
    if match := _BULLET.match(line):
        indent = match.group(1).replace("\t", "    ")
        return f"{indent}{'◦' if indent else '•'} {_inline(match.group(2), links_to)}"
    if match := _QUOTE.match(line):
        return "> " + _inline(match.group(1), links_to)
    return _inline(line, links_to)


def markdown_to_mrkdwn(md: str, links_to: Collection[str] | None = None) -> str:
    """Convert a model's Markdown to Slack mrkdwn, escaping everything first so the text
    cannot inject links, mentions or broadcasts. Code spans and fenced blocks stay code.

    With ``links_to`` (a run's source URLs), only those URLs become links: any other link shows its
    label and its address as code, and a bare URL that is not a source is code too (Slack would link it)."""
    allowed = None if links_to is None else frozenset(_url_key(url) for url in links_to)
    out: list[str] = []
    in_code = False
    for line in md.replace("\r\n", "\n").split("\n"):
        if _FENCE.match(line):
            out.append("```")  # a language tag after the fence would show as text in Slack
            in_code = not in_code
        else:
            out.append(safe(line) if in_code else _line(line, allowed))
    if in_code:
        out.append("```")
    return re.sub(r"\n{3,}", "\n\n", "\n".join(out)).strip("\n")


# ------------------------------------------------------------------ Markdown → Markdown Slack may render

_IMAGE = re.compile(r"!\[([^\]\n]*)\]\(([^)\n]*)\)")


def markdown_for_slack(md: str, links_to: Collection[str]) -> str:
    """A model's Markdown made safe to hand to Slack as Markdown (a canvas, a ``markdown`` block): the
    same rules as :func:`markdown_to_mrkdwn`, in Markdown. Mentions are defused and ``& < >`` escaped,
    so nothing notifies anyone or becomes a Slack-style ``<url|label>`` link; only the run's sources
    (``links_to``) become links, other addresses show as code; images (and a canvas's ``![](@U123)``
    mentions) show as their text. Code spans and fenced blocks stay code."""
    allowed = frozenset(_url_key(url) for url in links_to)

    def inline(text: str) -> str:
        kept: list[str] = []

        def keep(match: re.Match[str]) -> str:
            if match.group(1):
                code = neutralise_mentions(match.group(0))
                kept.append(code.replace("<", "‹").replace(">", "›"))  # a code span shows as it is, defused
            elif match.group(5):
                url = match.group(5)
                kept.append(escape(url) if _url_key(url) in allowed else f"`{url}`")
            elif _url_key(match.group(4)) in allowed and match.group(4).lower().startswith(_SAFE_SCHEMES):
                kept.append(f"[{_plain(match.group(3))}]({match.group(4).strip()})")
            else:
                kept.append(f"{_plain(match.group(3))} (`{match.group(4).strip()}`)")
            return f"{_HOLE}{len(kept) - 1}{_HOLE}"

        text = _IMAGE.sub(
            lambda m: f"{m.group(1)} (`{m.group(2).strip()}`)" if m.group(2).strip() else m.group(1), text
        )
        text = _plain(_PROTECTED.sub(keep, text.replace(_HOLE, "")))
        return re.sub(f"{_HOLE}(\\d+){_HOLE}", lambda m: kept[int(m.group(1))], text)

    out: list[str] = []
    in_code = False
    for line in md.replace("\r\n", "\n").split("\n"):
        if _FENCE.match(line):
            out.append("```")
            in_code = not in_code
        else:
            out.append(neutralise_mentions(line) if in_code else inline(line))
    if in_code:
        out.append("```")
    return re.sub(r"\n{3,}", "\n\n", "\n".join(out)).strip("\n")


def _plain(text: str) -> str:
    return escape(neutralise_mentions(text))


# ------------------------------------------------------------------ splitting

_SEPARATORS = ("\n\n", "\n", " ")


def split_text(text: str, limit: int = 3000) -> list[str]:
    """Cut ``text`` into pieces of at most ``limit`` characters, at paragraph breaks if it can,
    else at line breaks, else between words; a code block cut in two is closed and reopened."""
    if limit < 32:
        raise ValueError("limit must be at least 32 characters")
    if not text:
        return []
    if len(text) <= limit:
        return [text]
    fenced = "```" in text
    pieces = [p for p in _split(text, limit - 8 if fenced else limit, 0) if p.strip()]
    return _balance_fences(pieces) if fenced else pieces  # (8: room to close and reopen a fence)


def _split(text: str, limit: int, level: int) -> list[str]:
    if len(text) <= limit:
        return [text]
    if level == len(_SEPARATORS):
        return _hard_cut(text, limit)
    separator = _SEPARATORS[level]
    pieces: list[str] = []
    for part in text.split(separator):
        for piece in _split(part, limit, level + 1):
            if pieces and len(pieces[-1]) + len(separator) + len(piece) <= limit:
                pieces[-1] += separator + piece
            else:
                pieces.append(piece)
    return pieces


def _hard_cut(text: str, limit: int) -> list[str]:
    """Cut a run without spaces, never inside an &entity; or a <link>."""
    pieces = []
    while len(text) > limit:
        cut = limit
        amp = text.rfind("&", cut - 6, cut)
        if amp > 0 and ";" not in text[amp:cut]:
            cut = amp
        opening = text.rfind("<", 0, cut)
        if opening > 0 and ">" not in text[opening:cut]:
            cut = opening
        pieces.append(text[:cut])
        text = text[cut:]
    return [*pieces, text] if text else pieces


def _balance_fences(pieces: list[str]) -> list[str]:
    balanced, open_fence = [], False
    for piece in pieces:
        if open_fence:
            piece = "```\n" + piece
        open_fence = piece.count("```") % 2 == 1
        balanced.append(piece + "\n```" if open_fence else piece)
    return balanced
