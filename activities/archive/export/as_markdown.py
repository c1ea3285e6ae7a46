"""A report as a Markdown file: the report, its sources, the evidence appendix.

The report's own Markdown goes through the rules Slack's Markdown does (slack_ui.mrkdwn.markdown_for_slack):
raw HTML escaped, mentions defused, only the run's http(s) sources linked. Every other text (titles,
claims, passages) is plain text made inert: Markdown syntax escaped, and anything a renderer would link
by itself (a URL, a bare ``www.`` address, an e-mail address) shown as code.
"""

from __future__ import annotations

import re
from urllib.parse import quote

from activities.archive.export.document import ExportClaim, ExportSource, ReportDocument
from slack_ui.mrkdwn import markdown_for_slack, neutralise_mentions

__all__ = ["md_plain", "to_markdown"]

# What a Markdown renderer (GitHub's autolinks included) would turn into a link by itself.
_LINKABLE = re.compile(r"(?i)(?:\b[a-z][a-z0-9+.-]*://[^\s`]+|\bwww\.[^\s`]+|[\w.+-]+@[\w-]+(?:\.[\w-]+)+)")
# Kept as they are in a link's target; anything else (< > spaces) is percent-encoded, so the target stays one.
_URL_SAFE = "/:?#[]@!$&'()*+,;=%~-._"
_SPECIAL = re.compile(r"([\\`*_\[\]<>&!|~#])")


def to_markdown(document: ReportDocument) -> str:
    lines = [
        f"# {md_plain(document.title)}",
        "",
        f"{document.outcome.capitalize()} · run {_code(document.workflow_id)} · asked by "
        f"{md_plain(document.requested_by)} · finished {document.finished}",
        "",
        markdown_for_slack(document.report, document.link_urls),
        "",
        "## Sources",
        "",
    ]
    lines += [f"- **[{source.number}]** {_linked(source)}" for source in document.sources] or ["No sources."]
    lines += ["", "## Evidence appendix", "", md_plain(document.verdict)]
    for source in document.cited:
        lines += ["", f"### [{source.number}] {md_plain(source.title)}", "", *_evidence(source)]
    return "\n".join(lines).rstrip("\n") + "\n"


def md_plain(text: str) -> str:
    """Plain text that reads the same in Markdown and does nothing: no emphasis, link, HTML or mention."""
    text = neutralise_mentions(text)
    pieces: list[str] = []
    end = 0
    for match in _LINKABLE.finditer(text):
        pieces += [_SPECIAL.sub(r"\\\1", text[end : match.start()]), _code(match.group())]
        end = match.end()
    pieces.append(_SPECIAL.sub(r"\\\1", text[end:]))
    return "".join(pieces)


def _code(text: str) -> str:
    """A code span that holds ``text`` whatever backticks it contains."""
    longest = max((len(run) for run in re.findall(r"`+", text)), default=0)
    fence = "`" * (longest + 1)
    pad = " " if text.startswith("`") or text.endswith("`") else ""
    return f"{fence}{pad}{text}{pad}{fence}"


def _linked(source: ExportSource) -> str:
    """``[title](<url>) · `url` `` for an http(s) source; the title and the address as text for any other."""
    if not source.linkable:
        return f"{md_plain(source.title)} · {_code(source.url)}"
    return f"[{md_plain(source.title)}](<{quote(source.url, safe=_URL_SAFE)}>) · {_code(source.url)}"


def _address(source: ExportSource) -> str:
    """The source's address, a link to itself if it is http(s)."""
    if not source.linkable:
        return _code(source.url)
    return f"[{_code(source.url)}](<{quote(source.url, safe=_URL_SAFE)}>)"


def _evidence(source: ExportSource) -> list[str]:
    lines = [
        f"- URL: {_address(source)}",
        f"- Fetched: {source.how_read}",
        f"- SHA-256: {_code(source.sha256) if source.sha256 else 'unknown'}",
    ]
    if source.note:
        lines.append(f"- Note: {md_plain(source.note)}")
    if not source.claims:
        lines.append("- Claims: none archived (the citation check did not run on the published text)")
    for claim in source.claims:
        lines += _claim(claim)
    return lines


def _claim(claim: ExportClaim) -> list[str]:
    passage = md_plain(claim.passage) if claim.passage else "none found in this source"
    return [f"- Claim: {md_plain(claim.claim)}", f"  - Verdict: {claim.verdict}", f"  - Passage: {passage}"]
