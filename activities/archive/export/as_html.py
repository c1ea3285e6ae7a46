"""A report as one self-contained HTML page: the report, its sources, the evidence appendix.

Model and page text is untrusted. The report's Markdown is first made safe the way Slack's is
(slack_ui.mrkdwn.markdown_for_slack: mentions defused, images as text, links to non-sources as code),
then parsed by markdown-it with raw HTML off, so a ``<script>`` in it is text, and with a link check
that lets through the run's http(s) sources and nothing else. All other text is escaped. The page's
Content-Security-Policy allows no script, no fetch and no form, should anything get past.
"""

from __future__ import annotations

from html import escape

from markdown_it import MarkdownIt

from activities.archive.export.document import ExportClaim, ExportSource, ReportDocument
from slack_ui.mrkdwn import markdown_for_slack, neutralise_mentions

__all__ = ["to_html"]

_CSP = "default-src 'none'; style-src 'unsafe-inline'; form-action 'none'; base-uri 'none'"
_STYLE = """
body { font-family: "DejaVu Sans", system-ui, sans-serif; max-width: 48rem; margin: 2rem auto; padding: 0 1rem;
       line-height: 1.5; color: #1d1c1d; }
.meta, .how { color: #616061; font-size: 0.9rem; }
.evidence h3 { margin-bottom: 0.25rem; }
.claim { margin: 0.5rem 0 0.75rem; }
.supported { color: #007a5a; } .unsupported { color: #e01e5a; }
blockquote { margin: 0.25rem 0 0 1rem; padding-left: 0.75rem; border-left: 3px solid #ddd; }
code { overflow-wrap: anywhere; }
"""


def to_html(document: ReportDocument) -> str:
    parts = [
        "<!DOCTYPE html>",
        '<html lang="en">',
        "<head>",
        '<meta charset="utf-8">',
        f'<meta http-equiv="Content-Security-Policy" content="{_CSP}">',
        '<meta name="referrer" content="no-referrer">',
        f"<title>{_text(document.title)}</title>",
        f"<style>{_STYLE}</style>",
        "</head>",
        "<body>",
        f"<h1>{_text(document.title)}</h1>",
        f'<p class="meta">{_text(document.outcome.capitalize())} · run <code>{_text(document.workflow_id)}</code>'
        f" · asked by {_text(document.requested_by)} · finished {_text(document.finished)}</p>",
        f'<article class="report">{_report(document)}</article>',
        '<section class="sources"><h2>Sources</h2>',
        _sources(document.sources),
        "</section>",
        '<section class="evidence"><h2>Evidence appendix</h2>',
        f'<p class="verdict">{_text(document.verdict)}</p>',
        *(_evidence(source) for source in document.cited),
        "</section>",
        "</body>",
        "</html>",
    ]
    return "\n".join(parts) + "\n"


def _text(text: str) -> str:
    return escape(neutralise_mentions(text), quote=True)


def _report(document: ReportDocument) -> str:
    parser = MarkdownIt("commonmark", {"html": False, "linkify": False})
    parser.disable("image")
    allowed = {parser.normalizeLink(url) for url in document.link_urls}
    parser.validateLink = lambda url: url in allowed  # type: ignore[method-assign]
    parser.add_render_rule("link_open", _link_open)
    return parser.render(markdown_for_slack(document.report, document.link_urls))


def _link_open(self, tokens, idx, options, env) -> str:  # type: ignore[no-untyped-def]
    """Links open away from the report and tell the source nothing about it."""
    tokens[idx].attrSet("rel", "noopener noreferrer nofollow")
    return self.renderToken(tokens, idx, options, env)


def _anchor(source: ExportSource) -> str:
    """The source's title, a link if its address is http(s); the address shown beside it either way."""
    title, url = _text(source.title), _text(source.url)
    if not source.linkable:
        return f'{title} · <code class="url">{url}</code>'
    href = escape(source.url, quote=True)
    return f'<a href="{href}" rel="noopener noreferrer nofollow">{title}</a> · <code class="url">{url}</code>'


def _address(source: ExportSource) -> str:
    """The source's address, a link to itself if it is http(s)."""
    url = f'<code class="url">{_text(source.url)}</code>'
    if not source.linkable:
        return url
    return f'<a href="{escape(source.url, quote=True)}" rel="noopener noreferrer nofollow">{url}</a>'


def _sources(sources: list[ExportSource]) -> str:
    if not sources:
        return "<p>No sources.</p>"
    items = "".join(f'<li id="source-{s.number}"><b>[{s.number}]</b> {_anchor(s)}</li>' for s in sources)
    return f'<ul class="source-list">{items}</ul>'


def _evidence(source: ExportSource) -> str:
    rows = [
        f'<div class="source-evidence" id="evidence-{source.number}">',
        f"<h3>[{source.number}] {_text(source.title)}</h3>",
        f'<p class="how">URL: {_address(source)}<br>Fetched: {_text(source.how_read)}<br>'
        f"SHA-256: <code>{_text(source.sha256 or 'unknown')}</code></p>",
    ]
    if source.note:
        rows.append(f'<p class="how">Note: {_text(source.note)}</p>')
    if not source.claims:
        rows.append("<p>Claims: none archived (the citation check did not run on the published text)</p>")
    rows += [_claim(claim) for claim in source.claims]
    rows.append("</div>")
    return "\n".join(rows)


def _claim(claim: ExportClaim) -> str:
    verdict_class = "supported" if claim.supported else "unsupported"
    passage = (
        f"<blockquote>{_text(claim.passage)}</blockquote>" if claim.passage else "<p>none found in this source</p>"
    )
    return (
        f'<div class="claim"><b>Claim:</b> {_text(claim.claim)}'
        f'<br><span class="{verdict_class}">Verdict: {_text(claim.verdict)}</span>'
        f"<br>Passage: {passage}</div>"
    )
