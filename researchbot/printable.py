"""Text from pages, models and people made safe for a terminal: no control characters, so a page title
cannot move the cursor, clear the screen or forge a line with ANSI escapes."""

from __future__ import annotations

import unicodedata

__all__ = ["printable"]


def printable(text: str, *, keep_lines: bool = False) -> str:
    """``text`` with tabs and line breaks as spaces (``keep_lines``: line breaks kept) and every other
    control character as U+FFFD."""

    def one(c: str) -> str:
        if c == "\n" and keep_lines:
            return c
        if c in "\t\r\n":
            return " "
        return "\ufffd" if unicodedata.category(c) == "Cc" else c

    return "".join(map(one, text))
