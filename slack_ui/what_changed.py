"""The section a scheduled run's draft opens with: what changed since the schedule's previous run
(workflows/changes.py), so a reviewer reads the difference first.

Counts, then the first few of each list, each cut, and "and N more": the section always fits one Block
Kit section (MAX_SECTION_CHARS). Claims are model text, shown escaped with every address as code; new
sources are the run's own, and so links.
"""

from __future__ import annotations

from collections.abc import Sequence

from slack_ui.blocks import Block, section
from slack_ui.mrkdwn import link, unlinked
from workflows.models import WhatChanged

__all__ = ["FIRST_RUN", "what_changed_blocks", "what_changed_text"]

FIRST_RUN = "First run of this schedule: nothing earlier to compare with."
SHOWN = 3  # items shown per list
CLAIM_CHARS = 240
TITLE_CHARS = 120
# Each of the three lists' items take at most this much of the section (MAX_SECTION_CHARS); with its head
# line, its "and N more" and the section's title, the three always fit.
LIST_ROOM = 850


def what_changed_blocks(changes: WhatChanged | None) -> list[Block]:
    """One section, or none for a draft no schedule's run compared."""
    return [section(what_changed_text(changes))] if changes is not None else []


def what_changed_text(changes: WhatChanged, shown: int = SHOWN) -> str:
    """The section's mrkdwn: at most ``shown`` items per list, as many as fit in its third of a section."""
    return _text(changes, shown)


def _text(changes: WhatChanged, shown: int) -> str:
    if changes.problem is not None:
        why = unlinked(changes.problem, 200)
        return f"*What changed since the previous run:* not known, the comparison failed ({why})."
    if changes.previous_workflow_id is None:
        if changes.earlier_runs == 0:
            return f"*What changed:* {FIRST_RUN}"
        runs = "earlier run" if changes.earlier_runs == 1 else f"{changes.earlier_runs} earlier runs"
        return f"*What changed:* no earlier report of this schedule to compare with (its {runs} published none)."
    when = f"{changes.previous_at:%-d %b %Y %H:%M} UTC" if changes.previous_at else "the previous run"
    lines = [f"*What changed since {when} (previous run)*"]
    if not (changes.new_sources_total or changes.new_claims_total or changes.dropped_claims_total):
        lines.append("Nothing: the same sources and claims as then.")
        return "\n".join(lines)
    sources = [link(s.url, s.title.strip() or s.url, TITLE_CHARS) for s in changes.new_sources]
    lines += _listed(changes.new_sources_total, ("new source", "new sources"), sources, shown)
    lines += _listed(changes.new_claims_total, ("new claim", "new claims"), _claims(changes.new_claims), shown)
    gone = ("claim that no longer holds", "claims that no longer hold")
    lines += _listed(changes.dropped_claims_total, gone, _claims(changes.dropped_claims), shown)
    return "\n".join(lines)


def _claims(claims: Sequence[str]) -> list[str]:
    return [f"“{_claim(claim)}”" for claim in claims]


def _claim(claim: str) -> str:
    """A claim as shown: unlinked, and cut so that, escaped, it is at most CLAIM_CHARS long."""
    limit = CLAIM_CHARS
    while len(shown := unlinked(claim, limit)) > CLAIM_CHARS:
        limit -= max(1, (len(shown) - CLAIM_CHARS) // 5)  # escaping makes a character up to 5 long
    return shown


def _listed(total: int, names: tuple[str, str], items: list[str], shown: int) -> list[str]:
    """``• 3 new claims:`` and the first ``shown`` items that fit in LIST_ROOM, then how many more there are."""
    if total == 0:
        return []
    listed: list[str] = []
    room = LIST_ROOM
    for item in items[:shown]:
        line = f"    ◦ {item}"
        if len(line) + 1 > room:
            break
        listed.append(line)
        room -= len(line) + 1
    lines = [f"• {total} {names[0] if total == 1 else names[1]}{':' if listed else ''}", *listed]
    if listed and (more := total - len(listed)):
        lines.append(f"    ◦ _and {more} more_")
    return lines
