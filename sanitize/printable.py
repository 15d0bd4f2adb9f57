"""Text from history (a ref name, a path, an author) as it may be shown on one line.

A name may hold a newline, an escape sequence or a bidi override; shown raw it would split a
one-line error, forge a second line of a notice or repaint the terminal. Every control (and other
non-printing) character is shown as an escape instead, never acted on.
"""

from __future__ import annotations

import unicodedata


def printable(text: str) -> str:
    """``text`` with every control character escaped (no line breaks); a space stays a space."""
    return "".join(ch if unicodedata.category(ch)[0] != "C" or ch == " " else _escape(ch) for ch in text)


def _escape(ch: str) -> str:
    code = ord(ch)
    return f"\\x{code:02x}" if code <= 0xFF else f"\\u{code:04x}" if code <= 0xFFFF else f"\\U{code:08x}"


__all__ = ["printable"]
