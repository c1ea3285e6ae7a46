"""Where Slack says a file is shared, from its ``files.info`` answer
(https://docs.slack.dev/reference/methods/files.info): ``channels``, ``groups`` and ``ims`` list the
conversations, ``shares`` maps public and private ones to the messages that share it."""

from __future__ import annotations

from typing import Any

__all__ = ["shared_in"]


def shared_in(info: dict[str, Any]) -> set[str]:
    """The ids of the conversations ``info``'s file is shared in; junk in the answer counts for none."""
    where: set[str] = set()
    for key in ("channels", "groups", "ims"):
        where.update(c for c in info.get(key) or [] if isinstance(c, str))
    shares = info.get("shares")
    if isinstance(shares, dict):
        for kind in shares.values():
            if isinstance(kind, dict):
                where.update(str(c) for c in kind)
    return where
