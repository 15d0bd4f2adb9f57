"""Text from history (a ref name, a path, an author) as it may be shown on one line.

A name may hold a newline, an escape sequence or a bidi override; shown raw it would split a
one-line error, forge a second line of a notice or repaint the terminal. Every control (and other
non-printing) character is shown as an escape instead, never acted on.
"""

from __future__ import annotations

import unicodedata


def printable(text: str) -> str:
    """``text`` with every control character and line separator escaped (no line breaks)."""
    return "".join(_escape(ch) if _breaks(ch) else ch for ch in text)


def _breaks(ch: str) -> bool:
    """A control, format or private character, or a line/paragraph separator (U+2028/9 end a line too)."""
    cat = unicodedata.category(ch)
    return cat[0] == "C" or cat in ("Zl", "Zp")


def _escape(ch: str) -> str:
    code = ord(ch)
    return f"\\x{code:02x}" if code <= 0xFF else f"\\u{code:04x}" if code <= 0xFFFF else f"\\U{code:08x}"


__all__ = ["printable"]
